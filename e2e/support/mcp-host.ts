// A stand-in for the per-wiki MCP server (:8001) behind Caddy on wiki subdomains. At
// /authorize/callback it checks the platform's approval token exactly as contracts.md §5.4 says
// the MCP does — with the independent verifier of the test suite, keyed from the platform's
// signing key file as the MCP reads it — and answers JSON instead of issuing a code.
// /client-callback plays an MCP client's redirect_uri (where a registered deny lands).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mcpConsentKeyFromFile, verifyCallback } from "../../app/tests/support/mcp-verifier";

export async function startMcpHost(opts: { port: number; signingKeyPath: () => string }) {
  const seenJtis = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? "/", "http://stand-in");
    if (url.pathname === "/authorize/callback") {
      const host = String(req.headers.host ?? "");
      const outcome = verifyCallback(`https://${host}${req.url}`, { key: mcpConsentKeyFromFile(opts.signingKeyPath()), upgraded: true, seenJtis });
      return outcome.ok ? send(200, { verified: true, host, payload: outcome.payload }) : send(outcome.status, outcome);
    }
    if (url.pathname === "/client-callback") return send(200, { client: true, query: Object.fromEntries(url.searchParams) });
    // A page of another origin that auto-submits a form to the platform (CSRF scenario 26).
    if (url.pathname === "/cross-site-form") {
      const fields = [...url.searchParams].filter(([k]) => k !== "action");
      const inputs = fields.map(([k, v]) => `<input type="hidden" name="${k}" value="${v.replace(/"/g, "&quot;")}">`).join("");
      res.writeHead(200, { "Content-Type": "text/html" });
      return res.end(`<!doctype html><form id="f" method="post" action="${url.searchParams.get("action")}">${inputs}</form><script>document.getElementById("f").submit()</script>`);
    }
    send(404, { error: "not found" });
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
