// A tiny stand-in for the wiki server (:8000) on wiki subdomains: it authenticates the
// `platform_token` cookie (or a Bearer JWT) exactly as contracts.md §1–§3 describe the real one:
// RS256 with the platform's public key, iss = aud = "robot.wtf", exp, and a users row for `sub`.
// It answers JSON describing who it sees, so browser tests can check the cookie reached it.
import http from "node:http";
import type { AddressInfo } from "node:net";
import Database from "better-sqlite3";
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from "jose";

export interface WikiHost {
  port: number;
  close(): Promise<void>;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return undefined;
}

export async function startWikiHost(opts: { port: number; jwksUrl: () => string; robotDbPath: () => string }): Promise<WikiHost> {
  let jwks: JSONWebKeySet | undefined;
  const server = http.createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const host = String(req.headers["x-forwarded-host"] ?? req.headers.host ?? "");
    const slug = host.split(".")[0];
    const bearer = /^Bearer (\S+\.\S+\.\S+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
    const token = bearer ?? cookieValue(req.headers.cookie, "platform_token");
    if (!token) return send(401, { host, slug, authenticated: false, reason: "no platform_token" });
    try {
      jwks ??= (await (await fetch(opts.jwksUrl())).json()) as JSONWebKeySet;
      const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: "robot.wtf", audience: "robot.wtf", algorithms: ["RS256"], requiredClaims: ["exp"] });
      const db = new Database(opts.robotDbPath(), { readonly: true, fileMustExist: true });
      const user = db.prepare("SELECT did, handle, display_name FROM users WHERE did = ?").get(payload.sub) as { did: string; handle: string } | undefined;
      db.close();
      if (!user) return send(401, { host, slug, authenticated: false, reason: "no users row" });
      return send(200, { host, slug, authenticated: true, did: user.did, handle: user.handle, actingAs: `@${user.handle}` });
    } catch (err) {
      return send(401, { host, slug, authenticated: false, reason: String((err as Error).message) });
    }
  });
  await new Promise<void>((r) => server.listen(opts.port, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
