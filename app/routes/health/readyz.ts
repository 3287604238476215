import { readiness } from "~/server/health.server";
import { json, methodNotAllowed } from "~/server/responses.server";
import type { Route } from "./+types/readyz";

/** The methods this route answers (405 and OPTIONS say so in `Allow`). */
export const allow = ["GET", "HEAD"];

export async function loader({ context }: Route.LoaderArgs) {
  const { ready, body } = await readiness(context.platform);
  return json(body, ready ? 200 : 503, { "Cache-Control": "no-store" });
}

export const action = () => methodNotAllowed(allow);
