// Reference (a): a bare node:http server doing the minimum equivalent work of each benchmarked
// endpoint on the same robot.db and the same keys — the machine's ceiling for that work.
// Env: PORT, ROBOT_DB_PATH, SIGNING_KEY_PATH, PLATFORM_DOMAIN.
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import Database from "better-sqlite3";
import { jwtVerify } from "jose";

const domain = process.env.PLATFORM_DOMAIN;
const db = new Database(process.env.ROBOT_DB_PATH, { readonly: true });
db.pragma("busy_timeout = 5000");
const bySlug = db.prepare("SELECT 1 FROM wikis WHERE slug = ?");
const byOwner = db.prepare("SELECT slug, display_name, created_at FROM wikis WHERE owner_did = ?");
const publicKey = crypto.createPublicKey(fs.readFileSync(process.env.SIGNING_KEY_PATH, "utf8"));
const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), use: "sig", alg: "RS256", kid: "k" }] });
const page = (body) => `<!doctype html><html><head><title>robot.wtf</title></head><body>${body}</body></html>`;
const loginPage = page('<form method="post"><input name="handle"><button>Sign in</button></form>');

async function claims(token) {
  if (!token) return null;
  try {
    return (await jwtVerify(token, publicKey, { algorithms: ["RS256"] })).payload;
  } catch {
    return null;
  }
}

const send = (res, status, type, body) => {
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
  res.end(body);
};

http
  .createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    switch (url.pathname) {
      case "/readyz":
      case "/healthz":
        return send(res, 200, "application/json", '{"status":"ok"}');
      case "/.well-known/jwks.json":
        return send(res, 200, "application/json", jwks);
      case "/auth/login":
        return send(res, 200, "text/html", loginPage);
      case "/api/internal/check-slug": {
        const host = (url.searchParams.get("domain") ?? "").toLowerCase();
        const slug = host.endsWith("." + domain) ? host.slice(0, -domain.length - 1) : "";
        res.writeHead(slug && !slug.includes(".") && bySlug.get(slug) ? 200 : 404);
        return res.end();
      }
      case "/api/wikis": {
        const c = await claims((req.headers.authorization ?? "").replace(/^Bearer /, ""));
        if (!c) return send(res, 401, "application/json", '{"error":"unauthorized"}');
        return send(res, 200, "application/json", JSON.stringify({ wikis: byOwner.all(c.sub) }));
      }
      default: {
        if (url.pathname.startsWith("/app/")) {
          const token = /(?:^|;\s*)platform_token=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];
          const c = await claims(token);
          if (!c) return send(res, 302, "text/plain", "");
          const rows = byOwner.all(c.sub);
          return send(res, 200, "text/html", page(rows.map((r) => `<a href="/app/wiki/${r.slug}">${r.display_name}</a>`).join("")));
        }
        if (url.pathname === "/") return send(res, 200, "text/html", page("<h1>robot.wtf</h1>"));
        return send(res, 404, "text/html", page("<h1>Not found</h1>"));
      }
    }
  })
  .listen(Number(process.env.PORT), "127.0.0.1");
