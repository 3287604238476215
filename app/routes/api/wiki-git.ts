import { apiUser } from "~/server/guards.server";
import { apiFailure, jsonOk, methodNotAllowed, readJsonObject } from "~/server/responses.server";
import { getOwnedWiki, setGitAccess } from "~/server/wikis.server";
import type { Route } from "./+types/wiki-git";

/** The methods this route answers (405 and OPTIONS say so in `Allow`). */
export const allow = ["POST"];

// POST /api/wikis/{slug}/git {"enabled": true|false}: a strict JSON boolean (D10).
export async function action(args: Route.ActionArgs) {
  if (args.request.method !== "POST") return methodNotAllowed(allow);
  const user = await apiUser(args);
  const { platform, reqId } = args.context;
  // Who may change it is answered before the body is looked at.
  const owned = await getOwnedWiki(platform, user, args.params.slug, "git");
  if (!owned.ok) return apiFailure(owned);
  const body = await readJsonObject(args.request);
  const result = await setGitAccess(platform, user, args.params.slug, body.enabled, { reqId });
  if (!result.ok) return apiFailure(result);
  return jsonOk({ git_access_enabled: result.enabled });
}

export const loader = () => methodNotAllowed(allow);
