// MCP consent in a real browser (acceptance.md §18 scenarios 21, 22, 24, 25), in the
// production-shaped topology: the approve redirect goes through Caddy to a stand-in MCP server on
// the wiki subdomain, which verifies the approval token as the real one would.
import path from "node:path";
import Database from "better-sqlite3";
import { addPlatformCookie, expect, loginBrowserless, test, topology } from "./support/fixtures";

const t = () => topology();
const base = () => t().https.url;
const dbFile = () => path.join(t().https.dataDir, "robot.db");
const now = () => new Date().toISOString().replace("Z", "000+00:00");

function exec(sql: string, ...args: unknown[]) {
  const db = new Database(dbFile());
  try {
    db.prepare(sql).run(...args);
  } finally {
    db.close();
  }
}

/** A wiki row owned by `ownerDid` (the owner check needs only the row). */
function seedWiki(slug: string, ownerDid: string, displayName: string) {
  exec(
    `INSERT OR IGNORE INTO wikis (slug, owner_did, display_name, repo_path, mcp_token_hash, is_public, created_at, last_accessed)
     VALUES (?, ?, ?, ?, ?, 0, ?, ?)`,
    slug, ownerDid, displayName, `/nonexistent/${slug}/repo`, slug.padEnd(64, "0").slice(0, 64).replace(/[^0-9a-f]/g, "a"), now(), now(),
  );
}

const mcpPort = () => t().mcpHostPort;
const clientRedirect = () => `http://127.0.0.1:${mcpPort()}/client-callback`;
function consentUrl(slug: string, extra: Record<string, string> = {}) {
  const q = new URLSearchParams({
    client_id: "https://client.example/metadata.json",
    redirect_uri: clientRedirect(),
    code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    code_challenge_method: "S256",
    state: "state-|-123",
    scope: "wiki:read wiki:write",
    response_type: "code",
    wiki_slug: slug,
    ...extra,
  });
  return `${base()}/auth/oauth/consent?${q}`;
}

async function signedIn(context: import("@playwright/test").BrowserContext, name: string) {
  const account = t().accounts[name];
  // Browserless login against the https platform directly (same DB, same keys as behind Caddy).
  const jwt = await loginBrowserless(t().https.platformUrl, account).catch(() => undefined);
  if (!jwt) throw new Error("browserless login failed");
  await addPlatformCookie(context, base(), jwt);
  return account;
}

test.describe("consent (production-shaped topology)", () => {
  test("21. the owner sees the consent page; 25 (approve). the wiki's MCP verifies the approval token", async ({ page, context }) => {
    const bob = await signedIn(context, "bob");
    seedWiki("bobwiki", bob.did, "Bob's Notes");
    await page.goto(consentUrl("bobwiki"));
    await expect(page.getByRole("heading", { name: "Authorize Access" })).toBeVisible();
    await expect(page.locator("body")).toContainText("is requesting access to");
    await expect(page.locator("body")).toContainText(`bobwiki.wtf.e2e.internal`);
    await expect(page.locator("body")).toContainText("Bob's Notes");
    await expect(page.locator("body")).toContainText(`127.0.0.1:${mcpPort()}`);
    await expect(page.locator("body")).toContainText("@bob.test");
    await expect(page.getByRole("button", { name: "Deny" })).toBeVisible();
    await page.getByRole("button", { name: "Approve" }).click();
    await page.waitForURL((u) => u.hostname === "bobwiki.wtf.e2e.internal" && u.pathname === "/authorize/callback");
    const verdict = JSON.parse((await page.locator("body").textContent()) ?? "{}");
    expect(verdict).toMatchObject({ verified: true, payload: { wiki_slug: "bobwiki", client_id: "https://client.example/metadata.json", user_did: bob.did } });
    const q = new URL(page.url()).searchParams;
    expect(q.get("state")).toBe("state-|-123");
    expect([...q.keys()]).toEqual(["client_id", "redirect_uri", "code_challenge", "code_challenge_method", "state", "scope", "response_type", "approval_token"]);
  });

  test("22. deny with an unregistered client shows the denial page and does not redirect", async ({ page, context }) => {
    const bob = await signedIn(context, "bob");
    seedWiki("bobwiki", bob.did, "Bob's Notes");
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(consentUrl("bobwiki"));
    await page.getByRole("button", { name: "Deny" }).click();
    await expect(page.getByRole("heading", { name: "Access denied" })).toBeVisible();
    await expect(page.locator("body")).toContainText("access_denied");
    expect(new URL(page.url()).host).toBe(new URL(base()).host);
    expect(requests.some((u) => u.startsWith(clientRedirect()))).toBe(false);
  });

  test("22. deny with a registered client redirects with error=access_denied and the state", async ({ page, context }) => {
    const bob = await signedIn(context, "bob");
    seedWiki("bobwiki", bob.did, "Bob's Notes");
    exec(`INSERT OR REPLACE INTO mcp_oauth_clients (client_id, client_name, redirect_uris, created_at) VALUES (?, ?, ?, ?)`,
      "registered-client", "Registered Client", JSON.stringify([clientRedirect()]), now());
    await page.goto(consentUrl("bobwiki", { client_id: "registered-client" }));
    await expect(page.locator("body")).toContainText("Registered Client");
    await page.getByRole("button", { name: "Deny" }).click();
    await page.waitForURL((u) => u.href.startsWith(clientRedirect()));
    const landed = new URL(page.url()).searchParams;
    expect(landed.get("error")).toBe("access_denied");
    expect(landed.get("state")).toBe("state-|-123");
    expect(landed.get("iss")).toBe(`https://bobwiki.wtf.e2e.internal:${t().https.port}`);
  });

  test("24. a user who is neither owner nor approved gets the 403 page that says why", async ({ page, context }) => {
    const bob = t().accounts.bob;
    seedWiki("bobwiki", bob.did, "Bob's Notes");
    await signedIn(context, "carol");
    const res = await page.goto(consentUrl("bobwiki"));
    expect(res?.status()).toBe(403);
    await expect(page.getByRole("heading", { name: "You can't connect apps to this wiki" })).toBeVisible();
    await expect(page.locator("body")).toContainText("@carol.test");
    await expect(page.getByRole("button", { name: "Approve" })).toHaveCount(0);
  });

  test("25. logged out: consent → login → back with every parameter → approve → the MCP callback", async ({ page }) => {
    const erin = t().accounts.erin;
    // erin owns a wiki; she is not signed in in this browser.
    await loginBrowserless(t().https.platformUrl, erin); // creates her users row
    seedWiki("erinwiki", erin.did, "Erin's Wiki");
    const url = consentUrl("erinwiki", { resource: `https://erinwiki.wtf.e2e.internal:${t().https.port}/mcp` });
    await page.goto(url);
    await expect(page).toHaveURL(/\/auth\/login\?return_to=/);
    await page.locator("#username").fill(erin.handle);
    await page.getByRole("button", { name: "Login", exact: true }).click();
    await page.getByRole("textbox", { name: "Password", exact: true }).fill(erin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Authorize" }).click({ timeout: 10_000 }).catch(() => undefined);
    await page.waitForURL((u) => u.pathname === "/auth/oauth/consent");
    expect(page.url()).toBe(url);
    await page.getByRole("button", { name: "Approve" }).click();
    await page.waitForURL((u) => u.hostname === "erinwiki.wtf.e2e.internal" && u.pathname === "/authorize/callback");
    const verdict = JSON.parse((await page.locator("body").textContent()) ?? "{}");
    expect(verdict.verified).toBe(true);
    expect(verdict.payload).toMatchObject({ wiki_slug: "erinwiki", resource: `https://erinwiki.wtf.e2e.internal:${t().https.port}/mcp`, scope: "wiki:read wiki:write" });
  });
});
