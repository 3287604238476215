import { apiUser } from "~/server/guards.server";
import { apiFailure, jsonOk, methodNotAllowed, readJsonObject } from "~/server/responses.server";
import { createWiki, listWikis, publicWiki } from "~/server/wikis.server";
import type { Route } from "./+types/wikis";

/** The methods this route answers (405 and OPTIONS say so in `Allow`). */
export const allow = ["GET", "HEAD", "POST"];

// GET /api/wikis: the caller's wikis, created_at ascending.
export async function loader(args: Route.LoaderArgs) {
  const user = await apiUser(args);
  const wikis = await listWikis(args.context.platform, user.did);
  return jsonOk({ wikis: wikis.map((w) => publicWiki(args.context.platform, w)) });
}

// POST /api/wikis {"slug","display_name","purpose"?} → 201 with the token, shown once (D9).
export async function action(args: Route.ActionArgs) {
  if (args.request.method !== "POST") return methodNotAllowed(allow);
  const user = await apiUser(args);
  const body = await readJsonObject(args.request);
  const { platform, reqId } = args.context;
  const result = await createWiki(platform, user, { slug: body.slug, display_name: body.display_name, purpose: body.purpose }, { reqId });
  if (!result.ok) return apiFailure(result);
  return jsonOk({ wiki: result.wiki, mcp_token: result.token, mcp_endpoint: result.wiki.mcp_endpoint }, 201);
}
