import { json, methodNotAllowed } from "~/server/responses.server";
import type { Route } from "./+types/token";

/** The methods this route answers (405 and OPTIONS say so in `Allow`). */
export const allow = ["POST"];

// Advertised by the stub metadata; the platform issues no tokens (auth.md §7.2).
export function action({ request }: Route.ActionArgs) {
  if (request.method !== "POST") return methodNotAllowed(allow);
  return json(
    {
      error: "unsupported_grant_type",
      error_description: "This server does not issue tokens; MCP clients use the wiki's own authorization server.",
    },
    400,
    { "Cache-Control": "no-store" },
  );
}

export const loader = () => methodNotAllowed(allow);
