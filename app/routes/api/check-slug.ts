import { hostHasWiki } from "~/server/wikis.server";
import { methodNotAllowed } from "~/server/responses.server";
import type { Route } from "./+types/check-slug";

/** The methods this route answers (405 and OPTIONS say so in `Allow`). */
export const allow = ["GET", "HEAD"];

// Caddy on-demand TLS "ask" (contracts.md §9): 200 for an existing wiki host, else 404; empty bodies.
export async function loader({ request, context }: Route.LoaderArgs) {
  const { reads, config } = context.platform;
  const ok = hostHasWiki(reads, config, new URL(request.url).searchParams.get("domain"));
  return new Response(null, { status: ok ? 200 : 404, headers: { "Cache-Control": "no-store" } });
}

export const action = () => methodNotAllowed(allow);
