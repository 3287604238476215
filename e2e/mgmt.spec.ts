// Wiki management in a real browser (acceptance.md §18 scenarios 10–20, 23, 26–28), signed in
// through the real local PDS, on the dev topology (http://127.0.0.1, loopback client).
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { addPlatformCookie, cookieNamed, expect, loginBrowserless, test, topology } from "./support/fixtures";

const t = () => topology();
const dev = () => t().dev.url;
const devDb = () => path.join(t().dev.dataDir, "robot.db");
const sha256 = (s: string) => crypto.createHash("sha256").update(s, "utf8").digest("hex");
function row<T>(sql: string, ...args: unknown[]): T | undefined {
  const db = new Database(devDb(), { readonly: true });
  try {
    return db.prepare(sql).get(...args) as T | undefined;
  } finally {
    db.close();
  }
}

async function signIn(context: import("@playwright/test").BrowserContext, name: string) {
  const account = t().accounts[name];
  await addPlatformCookie(context, dev(), await loginBrowserless(dev(), account));
  return account;
}

/** Remove client-side validation so the server's checks are what is tested. */
const dropValidation = (page: import("@playwright/test").Page, selector: string) =>
  page.locator(selector).evaluate((el) => {
    el.removeAttribute("pattern");
    el.removeAttribute("required");
  });

test.describe.serial("a wiki's life: create, settings, token, delete", () => {
  const slug = "bobs-notes";
  let firstToken = "";

  test("10. create a wiki via the form: the token is shown once and the URL stays /app/create", async ({ page, context }) => {
    await signIn(context, "bob");
    await page.goto(`${dev()}/app/create`);
    await expect(page.getByRole("heading", { name: "Create a new wiki" })).toBeVisible();
    await expect(page.locator("#slug")).toHaveValue("bob");
    await page.locator("#slug").fill(slug);
    await page.getByLabel("Display name").fill("Bob's Notes");
    await page.locator("#purpose").fill("Notes for agents and people");
    await page.getByRole("button", { name: "Create wiki" }).click();
    await expect(page.getByText("Wiki created!")).toBeVisible();
    await expect(page).toHaveURL(`${dev()}/app/create`);
    const display = page.locator(`.token-display#mcp-token-${slug}`);
    await expect(display).toBeVisible();
    firstToken = (await display.textContent())!.trim();
    expect(firstToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(row<{ h: string }>("SELECT mcp_token_hash AS h FROM wikis WHERE slug = ?", slug)?.h).toBe(sha256(firstToken));
    expect(fs.existsSync(path.join(t().dev.dataDir, "wikis", slug, "repo", ".git"))).toBe(true);
    await page.getByRole("link", { name: "Go to wiki settings" }).click();
    await expect(page).toHaveURL(`${dev()}/app/wiki/${slug}`);
    await expect(page.locator(".token-display")).toHaveCount(0);
  });

  test("14. the dashboard shows a card whose Settings link opens the wiki's settings", async ({ page, context }) => {
    await signIn(context, "bob");
    await page.goto(`${dev()}/app/`);
    await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
    await expect(page.getByText("Bob's Notes").first()).toBeVisible();
    await page.getByRole("link", { name: "Settings" }).first().click();
    await expect(page).toHaveURL(`${dev()}/app/wiki/${slug}`);
  });

  test("11, 27, 28. rename, access levels and git access persist", async ({ page, context }) => {
    await signIn(context, "bob");
    await page.goto(`${dev()}/app/wiki/${slug}`);
    await expect(page.locator(".token-display")).toHaveCount(0); // 18: steady state
    await expect(page.getByRole("button", { name: "Regenerate token" })).toBeVisible();
    await page.getByLabel("Display name").fill("Bob's Agent Memory");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await expect(page.getByText("Settings updated.")).toBeVisible();
    await expect(page).toHaveURL(`${dev()}/app/wiki/${slug}`);
    await page.reload();
    await expect(page.getByLabel("Display name")).toHaveValue("Bob's Agent Memory");

    await page.locator("#read_access").selectOption("ANONYMOUS");
    await page.getByRole("button", { name: "Save access settings" }).click();
    await expect(page.getByText("Access settings updated.")).toBeVisible();
    await page.reload();
    await expect(page.locator("#read_access")).toHaveValue("ANONYMOUS");

    await expect(page.getByText("Git access is off.")).toBeVisible();
    await page.getByRole("button", { name: "Turn git access on" }).click();
    await expect(page.getByText("Git access is on.").first()).toBeVisible();
    await expect(page.locator("body")).toContainText(`x-token:TOKEN@${slug}.`);
    await expect(page.getByRole("button", { name: "Turn git access off" })).toBeVisible();
  });

  test("13. regenerate: confirm, a new token shown once, the old one no longer matches", async ({ page, context }) => {
    await signIn(context, "bob");
    await page.goto(`${dev()}/app/wiki/${slug}`);
    page.once("dialog", (d) => d.accept());
    await page.getByRole("button", { name: "Regenerate token" }).click();
    await expect(page.getByText("Token regenerated.")).toBeVisible();
    await expect(page).toHaveURL(`${dev()}/app/wiki/${slug}`);
    const token = (await page.locator(".token-display").textContent())!.trim();
    expect(token).not.toBe(firstToken);
    const hash = row<{ h: string }>("SELECT mcp_token_hash AS h FROM wikis WHERE slug = ?", slug)?.h;
    expect(hash).toBe(sha256(token));
    expect(row("SELECT slug FROM wikis WHERE mcp_token_hash = ?", sha256(firstToken))).toBeUndefined();
    await page.reload();
    await expect(page.locator(".token-display")).toHaveCount(0);
  });

  test("26. a cross-site form post cannot delete the wiki", async ({ page, context }) => {
    await signIn(context, "bob");
    const evil = new URL(`http://127.0.0.1:${t().mcpHostPort}/cross-site-form`);
    evil.searchParams.set("action", `${dev()}/app/wiki/${slug}`);
    evil.searchParams.set("intent", "delete");
    evil.searchParams.set("confirm_slug", slug);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${dev()}/app/wiki/${slug}` && r.request().method() === "POST"),
      page.goto(evil.href),
    ]);
    expect(response.status()).toBe(403);
    expect(row("SELECT slug FROM wikis WHERE slug = ?", slug)).toBeTruthy();
  });

  test("15. a wrong delete confirmation (pattern removed) keeps the wiki", async ({ page, context }) => {
    await signIn(context, "bob");
    await page.goto(`${dev()}/app/wiki/${slug}`);
    await page.getByText("Danger zone").click();
    await dropValidation(page, "#confirm_slug");
    await page.locator("#confirm_slug").fill("definitely-wrong");
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST"),
      page.getByRole("button", { name: `Permanently delete ${slug}` }).click(),
    ]);
    expect(response.status()).toBe(400);
    await expect(page.getByText("did not match").first()).toBeVisible();
    expect((await page.goto(`${dev()}/app/wiki/${slug}`))?.status()).toBe(200);
  });

  test("12. the correct confirmation deletes the wiki and frees the slug", async ({ page, context }) => {
    await signIn(context, "bob");
    await page.goto(`${dev()}/app/wiki/${slug}`);
    await page.getByText("Danger zone").click();
    await page.locator("#confirm_slug").fill(slug);
    await page.getByRole("button", { name: `Permanently delete ${slug}` }).click();
    await expect(page).toHaveURL(`${dev()}/app/`);
    await expect(page.locator("body")).toContainText("deleted");
    expect(row("SELECT slug FROM wikis WHERE slug = ?", slug)).toBeUndefined();
    expect(fs.existsSync(path.join(t().dev.dataDir, "wikis", slug))).toBe(false);
    // The slug (and the free-tier slot) can be used again at once.
    await page.goto(`${dev()}/app/create`);
    await page.locator("#slug").fill(slug);
    await page.getByLabel("Display name").fill("Again");
    await page.getByRole("button", { name: "Create wiki" }).click();
    await expect(page.getByText("Wiki created!")).toBeVisible();
  });
});

test.describe("refusals and the account", () => {
  test("16–17. duplicate and invalid slugs are refused by the server (JS validation removed)", async ({ page, context }) => {
    await signIn(context, "carol");
    await page.goto(`${dev()}/app/create`);
    await dropValidation(page, "#slug");
    await page.locator("#slug").fill("bobs-notes");
    await page.getByLabel("Display name").fill("Mine");
    await page.getByRole("button", { name: "Create wiki" }).click();
    await expect(page.locator("body")).toContainText("That slug is already taken.");
    await expect(page.locator(".token-display")).toHaveCount(0);
    await dropValidation(page, "#slug");
    await page.locator("#slug").fill("AB");
    await page.getByRole("button", { name: "Create wiki" }).click();
    await expect(page.locator("body")).toContainText("Invalid slug");
    await expect(page).toHaveURL(`${dev()}/app/create`);
  });

  test("19–20. the account page shows handle and DID; a wrong confirmation is refused", async ({ page, context }) => {
    const carol = await signIn(context, "carol");
    await page.goto(`${dev()}/app/account`);
    await expect(page.getByRole("heading", { name: "Account", exact: true })).toBeVisible();
    await expect(page.getByRole("cell", { name: "carol.test", exact: true }).first()).toBeVisible();
    await expect(page.locator("code", { hasText: carol.did })).toBeVisible();
    await page.getByText("Delete account").click();
    await page.locator("#confirm_handle").fill("wrong-handle");
    await page.getByRole("button", { name: "Permanently delete my account" }).click();
    await expect(page.getByText("Confirmation did not match.").first()).toBeVisible();
    await expect(page).toHaveURL(`${dev()}/app/account`);
    expect(row("SELECT did FROM users WHERE did = ?", carol.did)).toBeTruthy();
  });

  test("23. deleting a throwaway account clears the cookie and removes its wikis and session", async ({ page, context }) => {
    const dave = await signIn(context, "dave");
    await page.goto(`${dev()}/app/create`);
    await page.locator("#slug").fill("daves-wiki");
    await page.getByLabel("Display name").fill("Dave");
    await page.getByRole("button", { name: "Create wiki" }).click();
    await expect(page.getByText("Wiki created!")).toBeVisible();
    expect(row("SELECT key FROM atproto_oauth_session WHERE key = ?", dave.did)).toBeTruthy();
    await page.goto(`${dev()}/app/account`);
    await page.getByText("Delete account").click();
    await page.locator("#confirm_handle").fill("@Dave.test");
    await page.getByRole("button", { name: "Permanently delete my account" }).click();
    await expect(page).toHaveURL(`${dev()}/`);
    await expect(page.getByText("Account deleted.")).toBeVisible();
    expect((await cookieNamed(context, "platform_token"))?.value ?? "").toBe("");
    expect(row("SELECT did FROM users WHERE did = ?", dave.did)).toBeUndefined();
    expect(row("SELECT slug FROM wikis WHERE slug = 'daves-wiki'")).toBeUndefined();
    expect(fs.existsSync(path.join(t().dev.dataDir, "wikis", "daves-wiki"))).toBe(false);
    expect(row("SELECT key FROM atproto_oauth_session WHERE key = ?", dave.did)).toBeUndefined();
  });
});
