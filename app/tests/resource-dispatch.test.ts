// Resource routes are answered by their loader or action directly, without React Router's
// request handler (ADR 010). That is only right if every answer is the one React Router gives:
// the same status, body and headers for every route, method, spelling of the path and failure.
// Each request below goes to the pipeline twice — direct, then through React Router — on the
// same platform, and the answers are compared.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Handler } from "~/server/http.server";
import { loadBuild, startTestPlatform, type TestPlatform } from "./support/platform";

let tp: TestPlatform;
let viaReactRouter: Handler;
let owner: { did: string; jwt: string };
let stranger: { did: string; jwt: string };

beforeAll(async () => {
  tp = await startTestPlatform();
  const b = await loadBuild();
  viaReactRouter = b.createHandler(tp.platform, b.build, { clientDir: path.join(process.cwd(), "build/client"), reactRouterOnly: true });
  owner = await tp.createUser("owner.test", "did:plc:resourceowner");
  stranger = await tp.createUser("stranger.test", "did:plc:resourcestranger");
  const made = await tp.request("/api/wikis", {
    method: "POST",
    headers: { Authorization: `Bearer ${owner.jwt}`, "Content-Type": "application/json" },
    body: JSON.stringify({ slug: "alice", display_name: "Alice" }),
  });
  expect(made.status).toBe(201);
});
afterAll(() => tp.close());

const bearer = (jwt: string) => ({ Authorization: `Bearer ${jwt}` });
const json = { "Content-Type": "application/json" };

/** Status, body and headers, minus what differs on every request by design. */
async function answerOf(response: Response) {
  const headers = Object.fromEntries(
    [...response.headers].filter(([k]) => k !== "x-request-id" && k !== "date").map(([k, v]) => [k, v.replace(/'nonce-[^']+'/g, "'nonce-…'")]),
  );
  return { status: response.status, headers, body: await response.text() };
}

function send(handler: Handler, target: string, init: RequestInit = {}) {
  return handler(new Request(tp.origin + target, { redirect: "manual", ...init }), "127.0.0.1");
}

type Case = [string, string, () => RequestInit];
const reads: Case[] = [
  ["GET", "/healthz", () => ({})],
  ["GET", "/readyz", () => ({})],
  ["HEAD", "/readyz", () => ({})],
  ["GET", "/.well-known/jwks.json", () => ({})],
  ["HEAD", "/.well-known/jwks.json", () => ({})],
  ["GET", "/.well-known/oauth-authorization-server", () => ({})],
  ["GET", "/auth/client-metadata.json", () => ({})],
  ["GET", "/auth/token", () => ({})],
  ["GET", "/api/internal/check-slug?domain=alice.127.0.0.1:5173", () => ({})],
  ["GET", "/api/me", () => ({ headers: bearer(owner.jwt) })],
  ["GET", "/api/me", () => ({})],
  ["GET", "/api/me", () => ({ headers: { Authorization: "Bearer not.a.jwt" } })],
  ["GET", "/api/me", () => ({ headers: { Authorization: "Basic b3duZXI6cHc=" } })],
  ["GET", "/api/wikis", () => ({ headers: bearer(owner.jwt) })],
  ["HEAD", "/api/wikis", () => ({ headers: bearer(owner.jwt) })],
  ["GET", "/api/wikis", () => ({ headers: bearer(stranger.jwt) })],
  ["GET", "/api/wikis", () => ({})],
  ["GET", "/API/Wikis/", () => ({ headers: bearer(owner.jwt) })],
  ["GET", "/api/wikis/alice", () => ({ headers: bearer(owner.jwt) })],
  ["GET", "/api/wikis/alice", () => ({ headers: bearer(stranger.jwt) })],
  ["GET", "/api/wikis/ALICE", () => ({ headers: bearer(owner.jwt) })],
  ["GET", "/api/wikis/al%69ce", () => ({ headers: bearer(owner.jwt) })],
  ["GET", "/api/wikis/alice/", () => ({ headers: bearer(owner.jwt) })],
  ["GET", "/api/wikis/al%2Fice", () => ({ headers: bearer(owner.jwt) })],
  ["GET", "/api/wikis/%E2%80%A8", () => ({ headers: bearer(owner.jwt) })],
  ["GET", "/api/wikis/nosuch", () => ({ headers: bearer(owner.jwt) })],
  ["GET", "/api/wikis/alice/token", () => ({ headers: bearer(owner.jwt) })],
  ["GET", "/api/wikis/alice/git", () => ({ headers: bearer(owner.jwt) })],
  ["GET", "/api/wikis/alice/extra/parts", () => ({ headers: bearer(owner.jwt) })],
  ["GET", "/api/nothing-here", () => ({})],
  ["POST", "/api/nothing-here", () => ({ headers: json, body: "{}" })],
  ["GET", "/api/wikis.data", () => ({ headers: bearer(owner.jwt) })],
  ["GET", "/healthz.data", () => ({})],
];
const refusedWrites: Case[] = [
  ["POST", "/api/wikis", () => ({ headers: { ...bearer(owner.jwt), ...json }, body: "{not json" })],
  ["POST", "/api/wikis", () => ({ headers: { ...bearer(owner.jwt), ...json }, body: JSON.stringify({ slug: "alice", display_name: "Again" }) })],
  ["POST", "/api/wikis", () => ({ headers: { ...bearer(owner.jwt), ...json }, body: JSON.stringify({ slug: "-bad-", display_name: "Bad" }) })],
  ["POST", "/api/wikis", () => ({ headers: json, body: JSON.stringify({ slug: "nobody", display_name: "Nobody" }) })],
  ["POST", "/api/wikis", () => ({ headers: { ...bearer(owner.jwt), "Content-Type": "text/plain" }, body: "slug=x" })],
  ["DELETE", "/api/wikis/nosuch", () => ({ headers: { ...bearer(owner.jwt), ...json }, body: "{}" })],
  ["DELETE", "/api/wikis/alice", () => ({ headers: { ...bearer(stranger.jwt), ...json }, body: "{}" })],
  ["DELETE", "/api/wikis/alice", () => ({ headers: { ...bearer(owner.jwt), ...json }, body: "[1," })],
  ["POST", "/api/wikis/alice/token", () => ({ headers: { ...bearer(stranger.jwt), ...json }, body: "{}" })],
  ["POST", "/api/wikis/alice/git", () => ({ headers: { ...bearer(owner.jwt), ...json }, body: JSON.stringify({ enabled: "yes" }) })],
  ["POST", "/auth/token", () => ({ headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "grant_type=nope" })],
  ["POST", "/auth/token", () => ({ headers: json, body: "{}" })],
  ["PUT", "/api/wikis", () => ({ headers: bearer(owner.jwt) })],
  ["OPTIONS", "/api/wikis/alice", () => ({})],
];

describe("a resource route answers directly as React Router answers it", () => {
  it.each([...reads, ...refusedWrites])("%s %s", async (method, target, init) => {
    const direct = await answerOf(await send(tp.handle, target, { method, ...init() }));
    const reference = await answerOf(await send(viaReactRouter, target, { method, ...init() }));
    expect(direct).toEqual(reference);
    expect(direct.status).toBeLessThan(500);
  });

  it("a state change answers the same and changes the same", async () => {
    const makers = [await tp.createUser("direct.test"), await tp.createUser("viarr.test")];
    const handlers = [tp.handle, viaReactRouter];
    const made = await Promise.all(
      ["direct", "viarr"].map((slug, i) =>
        send(handlers[i], "/api/wikis", { method: "POST", headers: { ...bearer(makers[i].jwt), ...json }, body: JSON.stringify({ slug, display_name: slug }) }),
      ),
    );
    expect(made.map((r) => r.status)).toEqual([201, 201]);
    const [bodyA, bodyB] = await Promise.all(made.map((r) => r.json()));
    expect(Object.keys(bodyA).sort()).toEqual(Object.keys(bodyB).sort());
    expect([bodyA.wiki.slug, bodyB.wiki.slug]).toEqual(["direct", "viarr"]);
    expect(await tp.platform.db.wiki.count({ where: { slug: { in: ["direct", "viarr"] } } })).toBe(2);
    for (const [i, slug] of ["direct", "viarr"].entries()) {
      const gone = await send(handlers[i], `/api/wikis/${slug}`, { method: "DELETE", headers: { ...bearer(makers[i].jwt), ...json }, body: "{}" });
      expect(await answerOf(gone)).toMatchObject({ status: 200, body: JSON.stringify({ deleted: true }) });
    }
    expect(await tp.platform.db.wiki.count({ where: { slug: { in: ["direct", "viarr"] } } })).toBe(0);
  });
});
