import { json, methodNotAllowed } from "~/server/responses.server";
import type { Route } from "./+types/jwks";

/** The methods this route answers (405 and OPTIONS say so in `Allow`). */
export const allow = ["GET", "HEAD"];

// The platform JWT's public key (contracts.md §3): one RSA key, same kid as the JWT header.
export function loader({ context }: Route.LoaderArgs) {
  return json({ keys: [context.platform.keys.signing.publicJwk] }, 200, { "Cache-Control": "public, max-age=300" });
}

export const action = () => methodNotAllowed(allow);
