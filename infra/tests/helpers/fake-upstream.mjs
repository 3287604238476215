#!/usr/bin/env node
// A stand-in HTTP upstream for the infra tests (no dependencies).
//
//   node fake-upstream.mjs --name NAME --port-file FILE [--host 127.0.0.1] [--port 0]
//        [--platform] [--apex DOMAIN] [--slugs a,b] [--break CHECKS]
//
// Every response is JSON {upstream, method, url, headers} (so a test can see where Caddy
// sent a request and with which X-Forwarded-* headers), except:
//   --platform  makes it answer like the platform for the smoke test: /, /auth/login,
//               /.well-known/oauth-authorization-server, /.well-known/jwks.json, /healthz,
//               /readyz and /api/internal/check-slug (200 only for --slugs under --apex);
//   --break     comma-separated checks to answer wrongly: root, login, as, jwks, healthz,
//               readyz, root500, root404 (a 404 page that still says robot.wtf), rootslow
//               (/ answers after 5.3 s).
// It writes the port it listens on to --port-file and stops on SIGTERM.
import http from "node:http";
import fs from "node:fs";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const flag = (name) => args.includes(`--${name}`);

const name = opt("name", "upstream");
const host = opt("host", "127.0.0.1");
const port = Number(opt("port", "0"));
const portFile = opt("port-file");
const platform = flag("platform");
const apex = (opt("apex", "") || "").toLowerCase();
const slugs = new Set((opt("slugs", "") || "").split(",").filter(Boolean));
const broken = new Set((opt("break", "") || "").split(",").filter(Boolean));

function send(res, status, type, body) {
  res.writeHead(status, { "content-type": type, "x-upstream": name });
  res.end(body);
}

function platformRoute(req, res, url) {
  const p = url.pathname;
  if (p === "/api/internal/check-slug") {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { "x-upstream": name, allow: "GET, HEAD" });
      return res.end();
    }
    let d = (url.searchParams.get("domain") || "").toLowerCase().replace(/\.$/, "");
    const suffix = "." + apex;
    const ok = apex && d.endsWith(suffix) && slugs.has(d.slice(0, -suffix.length));
    res.writeHead(ok ? 200 : 404, { "x-upstream": name });
    return res.end();
  }
  if (p === "/") {
    if (broken.has("root500")) return send(res, 500, "text/html", "<h1>boom robot.wtf</h1>");
    if (broken.has("root404")) return send(res, 404, "text/html", "<h1>robot.wtf: not found</h1>");
    if (broken.has("rootslow")) return setTimeout(() => send(res, 200, "text/html", "<h1>robot.wtf</h1>"), 5300);
    return send(res, 200, "text/html", broken.has("root") ? "<h1>hello</h1>" : "<h1>robot.wtf</h1>");
  }
  if (p === "/auth/login")
    return send(res, 200, "text/html", broken.has("login") ? "<p>nothing</p>" : '<FORM method="post">Sign in</FORM>');
  if (p === "/.well-known/oauth-authorization-server")
    return broken.has("as")
      ? send(res, 502, "application/json", '{"error":"bad gateway","issuer":"x"}')
      : send(res, 200, "application/json", '{"issuer":"https://robot.wtf"}');
  if (p === "/.well-known/jwks.json")
    return send(res, 200, "application/json", broken.has("jwks") ? '{"nokeys":[]}' : '{"keys":[]}');
  if (p === "/healthz")
    return broken.has("healthz") ? send(res, 404, "text/plain", "no") : send(res, 200, "application/json", '{"status":"ok"}');
  if (p === "/readyz")
    return broken.has("readyz")
      ? send(res, 503, "application/json", '{"status":"not ready","checks":{"database":"error"}}')
      : send(res, 200, "application/json", '{"status":"ready","checks":{"database":"ok","keys":"ok","wiki_base":"ok"}}');
  return null;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (platform && platformRoute(req, res, url) !== null) return;
  send(
    res,
    200,
    "application/json",
    JSON.stringify({ upstream: name, method: req.method, url: req.url, headers: req.headers }),
  );
});

server.listen(port, host, () => {
  const actual = server.address().port;
  if (portFile) fs.writeFileSync(portFile, String(actual));
  console.log(`${name} listening on ${host}:${actual}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
