// Bluesky login in a real browser against the real local PDS (acceptance.md §18, scenarios 1–9,
// and the production-shaped confidential client behind Caddy).
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { completePdsLogin } from "./harness/pds-login";
import { cookieNamed, expect, loginBrowserless, loginInBrowser, test, topology, addPlatformCookie } from "./support/fixtures";

const t = () => topology();
const dev = () => t().dev.url;
const devDb = () => path.join(t().dev.dataDir, "robot.db");
const query = <T>(dbFile: string, sql: string, ...args: unknown[]) => {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare(sql).get(...args) as T;
  } finally {
    db.close();
  }
};

test.describe("dev topology: loopback client on http://127.0.0.1", () => {
  test("1. the login page loads with #username and a Login button next to it", async ({ page }) => {
    await page.goto(`${dev()}/auth/login`);
    await expect(page.getByRole("heading", { name: "Login with Bluesky" })).toBeVisible();
    await expect(page.locator("#username")).toBeVisible();
    await expect(page.locator("#username + button")).toHaveText("Login");
    await expect(page.getByRole("button", { name: "Create Account with Bluesky Social" })).toBeVisible();
  });

  test("3. a full login by DID reaches the PDS and returns with platform_token, no login_state left", async ({ page, context }) => {
    const alice = t().accounts.alice;
    await loginInBrowser(page, dev(), alice, { identifier: alice.did });
    await expect(page).toHaveURL(`${dev()}/app/`);
    const token = await cookieNamed(context, "platform_token");
    expect(token?.value).toBeTruthy();
    expect(token).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/", secure: false, domain: "127.0.0.1" });
    expect(token!.expires - Date.now() / 1000).toBeGreaterThan(86_000);
    expect((await cookieNamed(context, "login_state"))?.value ?? "").toBe("");
    const row = query<{ handle: string }>(devDb(), "SELECT handle FROM users WHERE did = ?", alice.did);
    expect(row.handle).toBe("alice.test");
  });

  test("a full login by handle (typed with capitals) works too", async ({ page, context }) => {
    const bob = t().accounts.bob;
    await loginInBrowser(page, dev(), bob, { identifier: "  Bob.TEST " });
    expect((await cookieNamed(context, "platform_token"))?.value).toBeTruthy();
  });

  test("a wrong password shows the PDS error and sets no cookie", async ({ page, context }) => {
    await page.goto(`${dev()}/auth/login`);
    await page.locator("#username").fill("carol.test");
    await page.getByRole("button", { name: "Login", exact: true }).click();
    await page.getByRole("textbox", { name: "Password", exact: true }).fill("not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert").filter({ hasText: /Wrong identifier or password|Invalid identifier or password/ })).toBeVisible();
    expect(await cookieNamed(context, "platform_token")).toBeUndefined();
  });

  test("4. logout clears the cookie and revokes the ATProto session", async ({ page, context }) => {
    const dave = t().accounts.dave;
    await loginInBrowser(page, dev(), dave);
    expect(query<{ n: number }>(devDb(), "SELECT COUNT(*) AS n FROM atproto_oauth_session WHERE key = ?", dave.did).n).toBe(1);
    await page.goto(`${dev()}/auth/logout`);
    await expect(page).toHaveURL(`${dev()}/`);
    expect((await cookieNamed(context, "platform_token"))?.value ?? "").toBe("");
    expect(query<{ n: number }>(devDb(), "SELECT COUNT(*) AS n FROM atproto_oauth_session WHERE key = ?", dave.did).n).toBe(0);
  });

  test("5. a callback error lands on the login page with the message", async ({ page }) => {
    await page.goto(`${dev()}/auth/callback?error=access_denied&error_description=User+denied`);
    await expect(page).toHaveURL(`${dev()}/auth/login`);
    await expect(page.getByRole("alert")).toContainText("Authorization failed: access_denied: User denied");
    await expect(page.locator("body")).not.toContainText("Internal Server Error");
  });

  test("a foreign browser's callback and a replayed callback are refused (login CSRF)", async ({ page, context }) => {
    const erin = t().accounts.erin;
    // An attacker starts a login elsewhere (no browser) and gets a callback URL for it...
    const start = await fetch(`${dev()}/auth/login`, { method: "POST", body: new URLSearchParams({ username: erin.handle }), redirect: "manual" });
    const binding = start.headers.getSetCookie().find((c) => c.startsWith("login_state="))!.split(";")[0];
    const callbackUrl = await completePdsLogin(start.headers.get("location")!, { identifier: erin.handle, password: erin.password });
    // ...and makes the victim's browser open it: refused before any code exchange (D6).
    const res = await page.goto(callbackUrl);
    expect(res?.status()).toBe(400);
    await expect(page.locator("code")).toHaveText("Login session mismatch");
    expect(await cookieNamed(context, "platform_token")).toBeUndefined();
    // The flow is consumed: even the browser that started it now gets "not found".
    const replay = await fetch(callbackUrl, { headers: { Cookie: binding }, redirect: "manual" });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain("OAuth request not found");
  });

  test("6. unauthenticated /app/account goes to login with return_to and lands back there", async ({ page }) => {
    const frank = t().accounts.frank;
    await page.goto(`${dev()}/app/account`);
    await expect(page).toHaveURL(`${dev()}/auth/login?return_to=%2Fapp%2Faccount`);
    await page.locator("#username").fill(frank.handle);
    await page.getByRole("button", { name: "Login", exact: true }).click();
    await page.getByRole("textbox", { name: "Password", exact: true }).fill(frank.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Authorize" }).click({ timeout: 10_000 }).catch(() => undefined);
    await page.waitForURL(`${dev()}/app/account`);
  });

  test("7–8. /auth/login while logged in goes to /app/ or a safe return_to; unsafe ones never leave the site", async ({ page, context }) => {
    const jwt = await loginBrowserless(dev(), t().accounts.bob);
    await addPlatformCookie(context, dev(), jwt);
    await page.goto(`${dev()}/auth/login`);
    await expect(page).toHaveURL(`${dev()}/app/`);
    await page.goto(`${dev()}/auth/login?return_to=${encodeURIComponent("/app/create")}`);
    await expect(page).toHaveURL(`${dev()}/app/create`);
    for (const unsafe of ["//evil.example", "/\\evil.example", "https://evil.example/", "/%09/evil.example"]) {
      await page.goto(`${dev()}/auth/login?return_to=${encodeURIComponent(unsafe)}`);
      expect(new URL(page.url()).host).toBe(new URL(dev()).host);
    }
  });

  test("9. an unresolvable handle gives a 400 page with the typed handle kept", async ({ page }) => {
    await page.goto(`${dev()}/auth/login`);
    await page.locator("#username").fill("nobody-here.test");
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/auth/login") && r.request().method() === "POST"),
      page.getByRole("button", { name: "Login", exact: true }).click(),
    ]);
    expect(response.status()).toBe(400);
    await expect(page.getByRole("alert")).toContainText("Failed to resolve identity");
    await expect(page.locator("#username")).toHaveValue("nobody-here.test");
    await expect(page.locator("body")).not.toContainText("Internal Server Error");
  });
});

test.describe("production-shaped topology: confidential client over https behind Caddy", () => {
  test("2. the client metadata is valid and the PDS fetches it", async ({ request }) => {
    const res = await request.get(`${t().https.platformUrl}/auth/client-metadata.json`, { headers: { Host: new URL(t().https.url).host } });
    expect(res.status()).toBe(200);
    const doc = await res.json();
    expect(doc.client_id).toBe(`${t().https.url}/auth/client-metadata.json`);
    expect(doc.redirect_uris).toEqual([`${t().https.url}/auth/callback`]);
    expect(doc.token_endpoint_auth_method).toBe("private_key_jwt");
  });

  test("login sets a Domain cookie that a wiki subdomain receives and verifies", async ({ page, context }) => {
    const alice = t().accounts.alice;
    const base = t().https.url;
    await loginInBrowser(page, base, alice);
    await expect(page).toHaveURL(`${base}/app/`);
    // The PDS fetched our client metadata through Caddy (confidential client, private_key_jwt);
    // it caches the document, so an earlier login in this run may have been the one to fetch it.
    const log = fs.readFileSync(path.join(t().runDir, "platform-https.log"), "utf8");
    expect(log).toContain('"path":"/auth/client-metadata.json"');
    const token = await cookieNamed(context, "platform_token");
    expect(token).toMatchObject({ domain: ".wtf.e2e.internal", secure: true, httpOnly: true, sameSite: "Lax" });
    // A wiki subdomain needs a wikis row to get a certificate (check-slug).
    const db = new Database(path.join(t().https.dataDir, "robot.db"));
    const now = new Date().toISOString().replace("Z", "000+00:00");
    db.prepare(`INSERT OR IGNORE INTO wikis (slug, owner_did, display_name, repo_path, mcp_token_hash, is_public, created_at, last_accessed)
      VALUES ('alice', ?, 'Alice', '/nonexistent/alice/repo', ?, 0, ?, ?)`).run(alice.did, "e".repeat(64), now, now);
    db.close();
    const wiki = `https://alice.wtf.e2e.internal:${t().https.port}/`;
    await page.goto(wiki);
    const seen = JSON.parse((await page.locator("body").textContent()) ?? "{}");
    expect(seen).toMatchObject({ authenticated: true, slug: "alice", did: alice.did, handle: "alice.test" });
    // An unknown wiki subdomain gets no certificate.
    const unknown = await page.goto(`https://nosuchwiki.wtf.e2e.internal:${t().https.port}/`).then(() => "loaded", (e: Error) => e.message);
    expect(unknown).toMatch(/ERR_SSL|ERR_CONNECTION|net::/);
  });
});
