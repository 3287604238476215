import { json, methodNotAllowed } from "~/server/responses.server";
import type { Route } from "./+types/oauth-authorization-server";

/** The methods this route answers (405 and OPTIONS say so in `Allow`). */
export const allow = ["GET", "HEAD"];

// A compatibility stub (auth.md §7.2, D1): the platform is not an OAuth authorization server; MCP
// clients use each wiki's own. Kept for the smoke test and old readers.
export function loader({ context }: Route.LoaderArgs) {
  const origin = context.platform.config.origin;
  return json(
    {
      issuer: origin,
      authorization_endpoint: `${origin}/auth/login`,
      token_endpoint: `${origin}/auth/token`,
      jwks_uri: `${origin}/.well-known/jwks.json`,
      response_types_supported: ["code"],
      grant_types_supported: ["authorization_code", "refresh_token"],
      code_challenge_methods_supported: ["S256"],
    },
    200,
    { "Cache-Control": "public, max-age=300" },
  );
}

export const action = () => methodNotAllowed(allow);
