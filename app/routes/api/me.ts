import { apiUser } from "~/server/guards.server";
import { jsonOk, methodNotAllowed } from "~/server/responses.server";
import type { Route } from "./+types/me";

/** The methods this route answers (405 and OPTIONS say so in `Allow`). */
export const allow = ["GET", "HEAD"];

// GET /api/me (D10): the caller, by Bearer JWT or cookie.
export async function loader(args: Route.LoaderArgs) {
  const user = await apiUser(args);
  return jsonOk({ did: user.did, handle: user.handle, display_name: user.display_name });
}

export const action = () => methodNotAllowed(allow);
