// Integration: the management limits with small budgets (security.md §5; RL2): the request
// just inside each budget passes, the one just past it gets 429 with Retry-After.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWiki } from "~/server/wikis.server";
import { cookieHeader, startTestPlatform, type TestPlatform } from "./support/platform";
import { formBody, pageText, type TestUser } from "./support/mgmt";

let tp: TestPlatform;
let seq = 0;
const newUser = () => tp.createUser(`rl${++seq}.bsky.social`);

beforeAll(async () => {
  tp = await startTestPlatform({
    RATE_LIMITS_ENABLED: "true",
    RATE_LIMIT_CREATE: "2/60",
    RATE_LIMIT_SETTINGS: "3/60",
    RATE_LIMIT_WIKI_DANGER: "2/60",
    RATE_LIMIT_ACCOUNT_DELETE: "2/60",
    RATE_LIMIT_API_READ: "3/60",
    RATE_LIMIT_API_WRITE: "2/60",
  });
});
afterAll(() => tp.close());

const post = (p: string, u: TestUser, fields: Record<string, string>, ip: string) =>
  tp.request(p, {
    method: "POST",
    ip,
    headers: { ...cookieHeader(u.jwt), Origin: tp.origin, "Content-Type": "application/x-www-form-urlencoded" },
    body: formBody(fields),
  });

/** A wiki made through the domain function, so no request budget is spent on it. */
async function seedWiki(u: TestUser, slug: string) {
  const user = { did: u.did, handle: u.handle, is_admin: false };
  const r = await createWiki(tp.platform, user, { slug, display_name: "Seeded" });
  if (!r.ok) throw new Error(r.error.api);
}

async function expectHtml429(res: Response) {
  expect(res.status).toBe(429);
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect(res.headers.get("content-type")).toContain("text/html");
  const text = pageText(await res.text());
  expect(text).toContain("Too Many Requests");
  expect(text).toContain("Please slow down and try again later.");
  expect(text).toContain("429");
}

async function expectJson429(res: Response) {
  expect(res.status).toBe(429);
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect(await res.json()).toEqual({ error: "Rate limit exceeded" });
}

describe("UI limits", () => {
  it("create: the third POST /app/create within the window is 429; another IP is unaffected", async () => {
    const u = await newUser();
    const ip = "10.0.0.1";
    expect((await post("/app/create", u, { slug: `rl-create-${seq}`, display_name: "C" }, ip)).status).toBe(200);
    expect((await post("/app/create", u, { slug: `rl-create2-${seq}`, display_name: "C" }, ip)).status).toBe(403);
    await expectHtml429(await post("/app/create", u, { slug: `rl-create3-${seq}`, display_name: "C" }, ip));
    expect((await post("/app/create", await newUser(), { slug: `rl-other-${seq}`, display_name: "O" }, "10.0.0.2")).status).toBe(200);
  });

  it("settings (rename/access/git) share one budget; wiki_danger is separate", async () => {
    const u = await newUser();
    const slug = `rl-set-${seq}`;
    await seedWiki(u, slug);
    const ip = "10.0.1.1";
    expect((await post(`/app/wiki/${slug}`, u, { intent: "rename", display_name: "One" }, ip)).status).toBe(302);
    expect((await post(`/app/wiki/${slug}`, u, { intent: "git", enabled: "true" }, ip)).status).toBe(302);
    expect(
      (await post(`/app/wiki/${slug}`, u, { intent: "access", read_access: "APPROVED", write_access: "APPROVED", attachment_access: "APPROVED" }, ip)).status,
    ).toBe(302);
    await expectHtml429(await post(`/app/wiki/${slug}`, u, { intent: "rename", display_name: "Four" }, ip));
    expect((await tp.platform.db.wiki.findUnique({ where: { slug } }))?.display_name).toBe("One");
    // Failed requests count too, and the other limit still has its own budget.
    expect((await post(`/app/wiki/${slug}`, u, { intent: "regenerate" }, ip)).status).toBe(200);
  });

  it("wiki_danger (regenerate/delete): the third is 429 and the wiki survives", async () => {
    const u = await newUser();
    const slug = `rl-danger-${seq}`;
    await seedWiki(u, slug);
    const ip = "10.0.2.1";
    expect((await post(`/app/wiki/${slug}`, u, { intent: "regenerate" }, ip)).status).toBe(200);
    expect((await post(`/app/wiki/${slug}`, u, { intent: "delete", confirm_slug: "nope" }, ip)).status).toBe(400);
    await expectHtml429(await post(`/app/wiki/${slug}`, u, { intent: "delete", confirm_slug: slug }, ip));
    expect(await tp.platform.db.wiki.findUnique({ where: { slug } })).not.toBeNull();
    // An unknown intent counts against `settings`, which still has budget: a plain 400.
    expect((await post(`/app/wiki/${slug}`, u, { intent: "nope" }, ip)).status).toBe(400);
  });

  it("every POST /app/wiki/{slug} counts: unknown or missing intents and non-form bodies charge `settings`", async () => {
    const u = await newUser();
    const slug = `rl-any-${seq}`;
    await seedWiki(u, slug);
    const ip = "10.0.6.1";
    expect((await post(`/app/wiki/${slug}`, u, { intent: "nope" }, ip)).status).toBe(400);
    expect((await post(`/app/wiki/${slug}`, u, {}, ip)).status).toBe(400);
    const notAForm = await tp.request(`/app/wiki/${slug}`, {
      method: "POST",
      ip,
      headers: { ...cookieHeader(u.jwt), Origin: tp.origin, "Content-Type": "application/json" },
      body: "{",
    });
    expect(notAForm.status).toBe(400);
    // The settings budget (3) is spent: a valid rename is refused and changes nothing.
    await expectHtml429(await post(`/app/wiki/${slug}`, u, { intent: "rename", display_name: "Late" }, ip));
    await expectHtml429(await post(`/app/wiki/${slug}`, u, { intent: "bogus" }, ip));
    expect((await tp.platform.db.wiki.findUnique({ where: { slug } }))?.display_name).toBe("Seeded");
    // wiki_danger is a separate budget.
    expect((await post(`/app/wiki/${slug}`, u, { intent: "regenerate" }, ip)).status).toBe(200);
  });

  it("unauthenticated POSTs /app/wiki/{slug} count too, before authentication", async () => {
    const u = await newUser();
    const slug = `rl-anon-${seq}`;
    await seedWiki(u, slug);
    const ip = "10.0.7.1";
    const anon = (fields: Record<string, string>) =>
      tp.request(`/app/wiki/${slug}`, {
        method: "POST",
        ip,
        headers: { Origin: tp.origin, "Content-Type": "application/x-www-form-urlencoded" },
        body: formBody(fields),
      });
    const attempts: Array<Record<string, string>> = [{ intent: "rename", display_name: "x" }, { intent: "nope" }, {}];
    for (const fields of attempts) {
      const res = await anon(fields);
      expect(res.status).toBe(302);
      expect(res.headers.get("location")).toMatch(/^\/auth\/login\?return_to=/);
    }
    await expectHtml429(await post(`/app/wiki/${slug}`, u, { intent: "rename", display_name: "Late" }, ip));
    // Danger intents of an anonymous client spend wiki_danger.
    for (let i = 0; i < 2; i++) expect((await anon({ intent: "delete", confirm_slug: slug })).status).toBe(302);
    await expectHtml429(await post(`/app/wiki/${slug}`, u, { intent: "regenerate" }, ip));
    expect(await tp.platform.db.wiki.findUnique({ where: { slug } })).not.toBeNull();
    // Over the budget, an anonymous client gets the 429 too (not the login redirect).
    await expectHtml429(await anon({ intent: "rename", display_name: "y" }));
  });

  it("an intent's 429 is JSON when JSON is the best Accept match (D11)", async () => {
    const u = await newUser();
    const slug = `rl-json-${seq}`;
    await seedWiki(u, slug);
    const ip = "10.0.8.1";
    const jsonPost = () =>
      tp.request(`/app/wiki/${slug}`, {
        method: "POST",
        ip,
        headers: { ...cookieHeader(u.jwt), Origin: tp.origin, Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" },
        body: formBody({ intent: "regenerate" }),
      });
    await jsonPost();
    await jsonPost();
    await expectJson429(await jsonPost());
  });

  it("account_delete: the third POST /app/account is 429 and the account survives", async () => {
    const u = await newUser();
    const ip = "10.0.3.1";
    for (let i = 0; i < 2; i++) expect((await post("/app/account", u, { intent: "delete", confirm_handle: "wrong" }, ip)).status).toBe(400);
    await expectHtml429(await post("/app/account", u, { intent: "delete", confirm_handle: u.handle }, ip));
    expect(await tp.platform.db.user.findUnique({ where: { did: u.did } })).not.toBeNull();
  });
});

describe("API limits", () => {
  it("api_read: the fourth GET is 429 JSON", async () => {
    const u = await newUser();
    const get = () => tp.request("/api/wikis", { ip: "10.0.4.1", headers: { Authorization: `Bearer ${u.jwt}` } });
    for (let i = 0; i < 3; i++) expect((await get()).status).toBe(200);
    await expectJson429(await get());
  });

  it("api_write: the third POST/DELETE is 429 JSON", async () => {
    const u = await newUser();
    const call = (method: string, p: string, body?: unknown) =>
      tp.request(p, {
        method,
        ip: "10.0.5.1",
        headers: { Authorization: `Bearer ${u.jwt}`, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    expect((await call("POST", "/api/wikis", { slug: `rl-api-${seq}`, display_name: "A" })).status).toBe(201);
    expect((await call("POST", `/api/wikis/rl-api-${seq}/token`)).status).toBe(200);
    await expectJson429(await call("DELETE", `/api/wikis/rl-api-${seq}`));
    expect(await tp.platform.db.wiki.findUnique({ where: { slug: `rl-api-${seq}` } })).not.toBeNull();
  });
});
