import { apiUser } from "~/server/guards.server";
import { apiFailure, jsonOk, methodNotAllowed, readJsonObject } from "~/server/responses.server";
import { deleteWiki, getOwnedWiki, publicWiki } from "~/server/wikis.server";
import type { Route } from "./+types/wiki";

/** The methods this route answers (405 and OPTIONS say so in `Allow`). */
export const allow = ["GET", "HEAD", "DELETE"];

// GET /api/wikis/{slug}: the owner's view of one wiki.
export async function loader(args: Route.LoaderArgs) {
  const user = await apiUser(args);
  const result = await getOwnedWiki(args.context.platform, user, args.params.slug, "get");
  if (!result.ok) return apiFailure(result);
  const wiki = publicWiki(args.context.platform, result.wiki);
  return jsonOk({ wiki, mcp_endpoint: wiki.mcp_endpoint });
}

// DELETE /api/wikis/{slug}: no confirmation field (management.md §4.2).
export async function action(args: Route.ActionArgs) {
  if (args.request.method !== "DELETE") return methodNotAllowed(allow);
  const user = await apiUser(args);
  await readJsonObject(args.request); // no fields, but a body that is not JSON is a 400 (§4.1)
  const result = await deleteWiki(args.context.platform, user, args.params.slug, { reqId: args.context.reqId });
  if (!result.ok) return apiFailure(result);
  return jsonOk({ deleted: true });
}
