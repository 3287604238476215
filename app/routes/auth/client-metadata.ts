import { clientIdInUse, confidentialClientMetadata } from "~/server/client-metadata.server";
import { json, methodNotAllowed } from "~/server/responses.server";
import type { Route } from "./+types/client-metadata";

/** The methods this route answers (405 and OPTIONS say so in `Allow`). */
export const allow = ["GET", "HEAD"];

// The confidential client's metadata, served without redirects at its client_id URL (auth.md §7.1).
// In dev mode the loopback client is what logs in; the header says so, the document keeps its shape.
export function loader({ context }: Route.LoaderArgs) {
  const { config, keys } = context.platform;
  const headers: Record<string, string> = { "Cache-Control": "public, max-age=300" };
  if (config.devMode) headers["X-Robot-Client-Id-In-Use"] = clientIdInUse(config, keys);
  return json(confidentialClientMetadata(config, keys), 200, headers);
}

export const action = () => methodNotAllowed(allow);
