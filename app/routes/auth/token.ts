import { json, methodNotAllowed } from "~/server/responses.server";
import type { Route } from "./+types/token";

// Advertised by the stub metadata; the platform issues no tokens (auth.md §7.2).
export function action({ request }: Route.ActionArgs) {
  if (request.method !== "POST") return methodNotAllowed(["POST"]);
  return json(
    {
      error: "unsupported_grant_type",
      error_description: "This server does not issue tokens; MCP clients use the wiki's own authorization server.",
    },
    400,
    { "Cache-Control": "no-store" },
  );
}

export const loader = () => methodNotAllowed(["POST"]);
