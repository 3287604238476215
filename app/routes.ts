import { type RouteConfig, index, prefix, route } from "@react-router/dev/routes";

// Grouped by surface; each entry is one URL → one module → one app/server function.
export default [
  index("routes/landing.tsx"),

  // Health and the Caddy on-demand-TLS check: machine endpoints, no auth, no rate limit.
  route("healthz", "routes/health/healthz.ts"),
  route("readyz", "routes/health/readyz.ts"),

  // Well-known documents and the ATProto client metadata.
  route(".well-known/jwks.json", "routes/well-known/jwks.ts"),
  route(".well-known/oauth-authorization-server", "routes/well-known/oauth-authorization-server.ts"),
  ...prefix("auth", [
    route("login", "routes/auth/login.tsx"),
    route("callback", "routes/auth/callback.tsx"),
    route("logout", "routes/auth/logout.tsx"),
    route("client-metadata.json", "routes/auth/client-metadata.ts"),
    route("token", "routes/auth/token.ts"),
    route("oauth/consent", "routes/auth/consent.tsx"),
  ]),

  // JSON API.
  ...prefix("api", [
    route("internal/check-slug", "routes/api/check-slug.ts"),
    route("*", "routes/api/not-found.ts"),
  ]),

  // Everything else: a styled 404 page.
  route("*", "routes/not-found.tsx"),
] satisfies RouteConfig;
