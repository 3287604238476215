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
    route("me", "routes/api/me.ts"),
    route("wikis", "routes/api/wikis.ts"),
    route("wikis/:slug", "routes/api/wiki.ts"),
    route("wikis/:slug/token", "routes/api/wiki-token.ts"),
    route("wikis/:slug/git", "routes/api/wiki-git.ts"),
    route("*", "routes/api/not-found.ts"),
  ]),

  // Management UI: one layout (navbar, sidebar, flashes) around every /app page.
  route("app", "routes/app/layout.tsx", [
    index("routes/app/dashboard.tsx"),
    route("create", "routes/app/create.tsx"),
    route("wiki/:slug", "routes/app/wiki.tsx"),
    route("account", "routes/app/account.tsx"),
    route("admin/stats", "routes/app/admin-stats.tsx"),
  ]),

  // Everything else: a styled 404 page.
  route("*", "routes/not-found.tsx"),
] satisfies RouteConfig;
