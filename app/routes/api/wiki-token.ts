import { apiUser } from "~/server/guards.server";
import { apiFailure, jsonOk, methodNotAllowed, readJsonObject } from "~/server/responses.server";
import { regenerateToken } from "~/server/wikis.server";
import type { Route } from "./+types/wiki-token";

/** The methods this route answers (405 and OPTIONS say so in `Allow`). */
export const allow = ["POST"];

// POST /api/wikis/{slug}/token: a new MCP token; the old one dies at once (D9: shown once).
export async function action(args: Route.ActionArgs) {
  if (args.request.method !== "POST") return methodNotAllowed(allow);
  const user = await apiUser(args);
  await readJsonObject(args.request); // no fields, but a body that is not JSON is a 400 (§4.1)
  const result = await regenerateToken(args.context.platform, user, args.params.slug, { reqId: args.context.reqId });
  if (!result.ok) return apiFailure(result);
  return jsonOk({ mcp_token: result.token });
}

export const loader = () => methodNotAllowed(allow);
