// Integration: the management UI (management.md §2–§3; acceptance U1–U21, SEC1, T3, D9, D12).
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { setAccessLevels, setGitAccess } from "~/server/wikis.server";
import { cookieHeader, startTestPlatform, type TestPlatform } from "./support/platform";
import {
  createWikiApi,
  elements,
  exists,
  findElement,
  followFlash,
  getPage,
  pageText,
  postForm,
  setCookieValue,
  tokenOnPage,
  wikiCount,
  wikiDir,
  wikiPrefs,
  type TestUser,
} from "./support/mgmt";

const ADMIN_DID = "did:plc:uiadmin000001";
const sha256 = (s: string) => crypto.createHash("sha256").update(s, "utf8").digest("hex");

type WikiUserRow = Record<"name" | "email", string> &
  Record<"is_admin" | "is_approved" | "allow_read" | "allow_write" | "allow_upload" | "email_confirmed", number>;

/** The `"user"` rows of a wiki's wiki.db (the owner row and collaborators). */
function wikiUsers(t: TestPlatform, slug: string): WikiUserRow[] {
  const db = new Database(path.join(wikiDir(t, slug), "wiki.db"), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare('SELECT name, email, is_admin, is_approved, allow_read, allow_write, allow_upload, email_confirmed FROM "user" ORDER BY id')
      .all() as WikiUserRow[];
  } finally {
    db.close();
  }
}

let tp: TestPlatform;
let seq = 0;
const newUser = (prefix = "ui") => tp.createUser(`${prefix}${++seq}.bsky.social`);

beforeAll(async () => {
  tp = await startTestPlatform({ PLATFORM_ADMIN_DIDS: ADMIN_DID });
});
afterAll(() => tp.close());

describe("authentication and layout (U1, U20, U21)", () => {
  it("U1: every /app page redirects to login with the encoded path (and query) as return_to", async () => {
    for (const p of ["/app/", "/app/create", "/app/account", "/app/wiki/x", "/app/admin/stats"]) {
      const res = await tp.request(p);
      expect(res.status).toBe(302);
      expect(res.headers.get("location")).toBe(`/auth/login?return_to=${encodeURIComponent(p)}`);
    }
    const deep = await tp.request("/app/wiki/x?tab=mcp&a=1");
    expect(deep.headers.get("location")).toBe(`/auth/login?return_to=${encodeURIComponent("/app/wiki/x?tab=mcp&a=1")}`);
    // A POST returns to the page's own path.
    const post = await postForm(tp, "/app/wiki/x?y=1", undefined, { intent: "rename", display_name: "n" });
    expect(post.status).toBe(302);
    expect(post.headers.get("location")).toBe(`/auth/login?return_to=${encodeURIComponent("/app/wiki/x")}`);
    // An expired or garbage cookie is no better.
    const u = await newUser();
    const expired = await tp.mintJwt(u, Math.floor(Date.now() / 1000) - 90_000);
    expect((await tp.request("/app/", { headers: cookieHeader(expired) })).status).toBe(302);
    expect((await tp.request("/app/", { headers: cookieHeader("garbage") })).status).toBe(302);
  });

  it("the layout: title, brand, handle, POST logout form, sidebar with active wiki, no-store", async () => {
    const u = await newUser();
    await createWikiApi(tp, u, `side-${seq}`, "Side Wiki");
    const { res, html } = await getPage(tp, `/app/wiki/side-${seq}`, u);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(html).toContain("<title>Side Wiki — Settings – robot.wtf</title>");
    findElement(html, "a", { class: "brand", href: "/app/" });
    expect(pageText(html)).toContain(`Signed in as @${u.handle}`);
    expect(findElement(html, "form", { method: "post", action: "/auth/logout" }).text).toBe("Logout");
    expect(findElement(html, "h2", { id: "sidebar-wikis" }).text).toBe("Your wikis");
    findElement(html, "a", { href: `/app/wiki/side-${seq}`, class: "active", "aria-current": "page" }, "Side Wiki");
    findElement(html, "a", { href: "/app/create" }, "Create wiki");
    findElement(html, "a", { href: "/app/account" }, "Account");
    expect(html).not.toContain("System status");
    // On another page the wiki link is not active.
    const dash = await getPage(tp, "/app/", u);
    expect(findElement(dash.html, "a", { href: `/app/wiki/side-${seq}` }, "Side Wiki").attrs.class).toBeUndefined();
  });

  it("U20: admins see System status in the sidebar", async () => {
    const admin = await tp.createUser("sidebar-admin.bsky.social", ADMIN_DID);
    const { html } = await getPage(tp, "/app/", admin);
    findElement(html, "a", { href: "/app/admin/stats" }, "System status");
    await tp.platform.db.user.delete({ where: { did: ADMIN_DID } });
  });

  it("U21: a flash shows once and is gone on the next load", async () => {
    const u = await newUser();
    await createWikiApi(tp, u, `flash-${seq}`);
    const res = await postForm(tp, `/app/wiki/flash-${seq}`, u, { intent: "rename", display_name: "Renamed" });
    expect(res.status).toBe(302);
    const flash = setCookieValue(res, "flash");
    expect(flash).toBeTruthy();
    expect(res.headers.getSetCookie().find((c) => c.startsWith("flash="))).toMatch(/Max-Age=60;.*HttpOnly; SameSite=Lax/);
    const first = await getPage(tp, res.headers.get("location")!, u, `flash=${flash}`);
    expect(pageText(first.html)).toContain("Settings updated.");
    expect(first.res.headers.getSetCookie().some((c) => c.startsWith("flash=;") && c.includes("Max-Age=0"))).toBe(true);
    const second = await getPage(tp, res.headers.get("location")!, u);
    expect(pageText(second.html)).not.toContain("Settings updated.");
    // A tampered flash is ignored (SEC5).
    const tampered = await getPage(tp, "/app/", u, `flash=${flash!.slice(0, -3)}abc`);
    expect(tampered.res.status).toBe(200);
    expect(pageText(tampered.html)).not.toContain("Settings updated.");
  });
});

describe("dashboard (U3, U4)", () => {
  it("U3: no wikis → 200 Dashboard with the create call to action", async () => {
    const u = await newUser();
    const { res, html } = await getPage(tp, "/app/", u);
    expect(res.status).toBe(200);
    expect(html).toContain("<title>Dashboard – robot.wtf</title>");
    const text = pageText(html);
    expect(text).toContain("Dashboard");
    expect(text).toContain("Create your wiki");
    expect(text).toContain("Get a wiki at yourname.127.0.0.1:5173 in seconds.");
    findElement(html, "a", { class: "button", href: "/app/create" }, "Create wiki");
    expect(text).not.toContain("Create another wiki");
    expect((await tp.request("/app", { headers: cookieHeader(u.jwt) })).status).toBe(200);
  });

  it("U4: a card per wiki with name, host, pages, usage, created date and both buttons", async () => {
    const u = await newUser();
    await createWikiApi(tp, u, `card-${seq}`, "Card Wiki");
    await tp.platform.db.wiki.update({ where: { slug: `card-${seq}` }, data: { page_count: 17, disk_usage_bytes: 3 * 1_048_576 } });
    const { html } = await getPage(tp, "/app/", u);
    const text = pageText(html);
    expect(text).toContain("Card Wiki");
    expect(text).toContain(`card-${seq}.127.0.0.1:5173`);
    expect(text).toContain("17 pages");
    expect(text).toContain("3.0 MiB of 50 MiB");
    expect(text).toMatch(/Created \d{4}-\d{2}-\d{2}/);
    findElement(html, "a", { href: `http://card-${seq}.127.0.0.1:5173`, target: "_blank" }, `card-${seq}.127.0.0.1:5173`);
    findElement(html, "a", { href: `http://card-${seq}.127.0.0.1:5173`, target: "_blank" }, "Open wiki");
    findElement(html, "a", { href: `/app/wiki/card-${seq}` }, "Settings");
    expect(text).not.toContain("Create your wiki");
    expect(text).not.toContain("Create another wiki"); // at the limit
  });

  it("admins see 'Create another wiki'; an over-quota wiki shows the note", async () => {
    const admin = await tp.createUser("dash-admin.bsky.social", ADMIN_DID);
    await createWikiApi(tp, admin, "dash-admin");
    await tp.platform.db.wiki.update({ where: { slug: "dash-admin" }, data: { page_count: 500 } });
    const text = pageText((await getPage(tp, "/app/", admin)).html);
    expect(text).toContain("Create another wiki");
    expect(text).toContain("Over quota: edits are blocked until usage drops.");
    await tp.request("/api/wikis/dash-admin", { method: "DELETE", headers: { Authorization: `Bearer ${admin.jwt}` } });
    await tp.platform.db.user.delete({ where: { did: ADMIN_DID } });
  });
});

describe("create (U5–U9, D9)", () => {
  it("U5: the form with the default slug from the handle and the spec's fields", async () => {
    const cases: Array<[string, string]> = [
      ["alice.bsky.social", "alice"],
      ["ab.bsky.social", "abwiki"],
      ["test_user.bsky.social", "testuser"],
      ["admin.bsky.social", ""],
      ["user.bsky.social", ""],
    ];
    for (const [handle, slug] of cases) {
      const u = await tp.createUser(handle);
      const { res, html } = await getPage(tp, "/app/create", u);
      expect(res.status).toBe(200);
      expect(html).toContain("<title>Create Wiki – robot.wtf</title>");
      expect(pageText(html)).toContain("Create a new wiki");
      expect(findElement(html, "input", { id: "slug", name: "slug" }).attrs).toMatchObject({
        type: "text",
        required: "",
        title: "3-30 lowercase letters, digits, and hyphens. Cannot start or end with a hyphen.",
        value: slug,
      });
      await tp.platform.db.user.delete({ where: { did: u.did } });
    }
    const u = await newUser();
    const { html } = await getPage(tp, "/app/create", u);
    findElement(html, "label", { for: "slug" }, "Wiki slug");
    expect(findElement(html, "input", { id: "slug" }).attrs.pattern).toBe("[a-z0-9][a-z0-9\\-]{1,28}[a-z0-9]");
    expect(findElement(html, "span", { class: "input-suffix" }).text).toBe(".127.0.0.1:5173");
    expect(pageText(html)).toContain("3–30 characters. Lowercase letters, digits, and hyphens.");
    findElement(html, "label", { for: "display_name" }, "Display name");
    expect(findElement(html, "input", { id: "display_name" }).attrs).toMatchObject({
      name: "display_name",
      required: "",
      maxLength: "100",
      placeholder: "My Wiki",
    });
    findElement(html, "label", { for: "purpose" }, "Site description (optional)");
    expect(findElement(html, "input", { id: "purpose" }).attrs).toMatchObject({ name: "purpose", maxLength: "200", placeholder: "A wiki about..." });
    expect(findElement(html, "input", { id: "purpose" }).attrs.required).toBeUndefined();
    expect(pageText(html)).toContain("Shown in the browser tab, search results, and wiki navbar.");
    findElement(html, "form", { method: "post", action: "/app/create" });
    findElement(html, "button", { type: "submit" }, "Create wiki");
    findElement(html, "a", { href: "/app/" }, "Cancel");
  });

  it("U7/U8: a valid POST renders 'Wiki created!' with the token once (200, no redirect, no cookie)", async () => {
    const u = await newUser();
    const slug = `made-${seq}`;
    const res = await postForm(tp, "/app/create", u, { slug: ` ${slug.toUpperCase()} `, display_name: "Made Here", purpose: "Stuff" });
    expect(res.status).toBe(200);
    expect(res.headers.get("location")).toBeNull();
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    const text = pageText(html);
    expect(text).toContain("Wiki created! Your MCP bearer token is below.");
    expect(text).toContain("Your MCP bearer token — copy it now, it will not be shown again.");
    const token = tokenOnPage(html)!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(findElement(html, "code", { id: `mcp-token-${slug}`, class: "token-display" }).text).toBe(token);
    findElement(html, "button", { type: "button" }, "Copy token");
    findElement(html, "a", { href: `/app/wiki/${slug}` }, "Go to wiki settings");
    findElement(html, "a", { href: `http://${slug}.127.0.0.1:5173`, target: "_blank" }, "Open wiki");
    expect(text).toContain(`claude mcp add ${slug} http://${slug}.127.0.0.1:5173/mcp --transport http`);
    for (const c of res.headers.getSetCookie()) expect(c).not.toContain(token);
    expect((await tp.platform.db.wiki.findUnique({ where: { slug } }))?.mcp_token_hash).toBe(sha256(token));
    expect(wikiPrefs(tp, slug).SITE_DESCRIPTION).toBe("Stuff");
    expect(tp.logs.join("\n")).not.toContain(token);

    // U8: the settings page never shows a token again.
    for (let i = 0; i < 2; i++) {
      const page = await getPage(tp, `/app/wiki/${slug}`, u);
      expect(page.html).not.toContain("token-display");
      expect(page.html).not.toContain(token);
    }
  });

  it("U6: a non-admin at the limit sees the notice and no form", async () => {
    const u = await newUser();
    await createWikiApi(tp, u, `limit-${seq}`);
    const { res, html } = await getPage(tp, "/app/create", u);
    expect(res.status).toBe(200);
    expect(pageText(html)).toContain("You can only have one wiki on the free tier.");
    expect(html).toContain('href="/app/"');
    expect(html).not.toContain('name="slug"');
  });

  it("U9: failures re-render in place with the message, values kept", async () => {
    const owner = await newUser();
    await createWikiApi(tp, owner, `taken-${seq}`);
    const takenSlug = `taken-${seq}`;
    const u = await newUser();
    const cases: Array<[Record<string, string>, number, string]> = [
      [{ slug: "ab", display_name: "Kept Name" }, 400, "Invalid slug: slug must be at least 3 characters"],
      [{ slug: "AB", display_name: "Kept Name" }, 400, "Invalid slug: slug must be at least 3 characters"],
      [{ slug: "admin", display_name: "Kept Name" }, 400, "Invalid slug: slug is reserved"],
      [{ slug: "", display_name: "Kept Name" }, 400, "Invalid slug: slug is required"],
      [{ slug: "fine-slug", display_name: "" }, 400, "Display name is required."],
      [{ slug: "fine-slug" }, 400, "Display name is required."],
      [{ slug: "fine-slug", display_name: "x".repeat(101) }, 400, "Display name must be at most 100 characters."],
      [{ slug: takenSlug, display_name: "Kept Name" }, 409, "That slug is already taken."],
    ];
    for (const [fields, status, message] of cases) {
      const res = await postForm(tp, "/app/create", u, fields);
      expect({ fields, status: res.status }).toEqual({ fields, status });
      const html = await res.text();
      expect(pageText(html)).toContain(message);
      expect(html).toMatch(/role="alert"/);
      expect(tokenOnPage(html)).toBeUndefined();
      if (fields.display_name === "Kept Name") expect(html).toContain('value="Kept Name"');
    }
    expect(await tp.platform.db.wiki.count({ where: { owner_did: u.did } })).toBe(0);
    await createWikiApi(tp, u, `first-${seq}`);
    const second = await postForm(tp, "/app/create", u, { slug: `second-${seq}`, display_name: "Two" });
    expect(second.status).toBe(403);
    expect(pageText(await second.text())).toContain("You can only have one wiki on the free tier.");
  });

  it("U9/AM4: an admin's second wiki succeeds through the UI", async () => {
    const admin = await tp.createUser("create-admin.bsky.social", ADMIN_DID);
    await createWikiApi(tp, admin, "admin-one");
    const res = await postForm(tp, "/app/create", admin, { slug: "admin-two", display_name: "Two" });
    expect(res.status).toBe(200);
    expect(tokenOnPage(await res.text())).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const api3 = await tp.request("/api/wikis", {
      method: "POST",
      headers: { Authorization: `Bearer ${admin.jwt}`, "Content-Type": "application/json" },
      body: JSON.stringify({ slug: "admin-three", display_name: "Three" }),
    });
    expect(api3.status).toBe(201);
    expect(await wikiCount(tp, ADMIN_DID)).toBe(3);
    for (const slug of ["admin-one", "admin-two", "admin-three"]) {
      await tp.request(`/api/wikis/${slug}`, { method: "DELETE", headers: { Authorization: `Bearer ${admin.jwt}` } });
    }
    await tp.platform.db.user.delete({ where: { did: ADMIN_DID } });
  });

  it("a wrong method is a 405 page; intent is ignored on create", async () => {
    const u = await newUser();
    const put = await tp.request("/app/create", { method: "PUT", headers: { ...cookieHeader(u.jwt), Origin: tp.origin } });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, HEAD, POST");
    expect(put.headers.get("content-type")).toContain("text/html");
    const res = await postForm(tp, "/app/create", u, { intent: "delete", slug: `intent-${seq}`, display_name: "I" });
    expect(res.status).toBe(200);
    const dash = await tp.request("/app/", { method: "POST", headers: { ...cookieHeader(u.jwt), Origin: tp.origin } });
    expect(dash.status).toBe(405);
  });
});

describe("wiki settings (U10–U19)", () => {
  async function ownedWiki(displayName = "Settings Wiki") {
    const u = await newUser();
    const slug = `set-${seq}`;
    await createWikiApi(tp, u, slug, displayName);
    return { u, slug };
  }

  it("U10: the settings page shows every card", async () => {
    const { u, slug } = await ownedWiki();
    const { res, html } = await getPage(tp, `/app/wiki/${slug}`, u);
    expect(res.status).toBe(200);
    const text = pageText(html);
    const wiki = `http://${slug}.127.0.0.1:5173`;
    for (const needle of [
      "Settings Wiki",
      `${slug}.127.0.0.1:5173`,
      "Danger zone",
      "MCP",
      `MCP endpoint: ${wiki}/mcp`,
      `claude mcp add ${slug} ${wiki}/mcp --transport http --header "Authorization: Bearer TOKEN"`,
      "Replace TOKEN with your bearer token.",
      `Add a custom connector with the URL ${wiki}/mcp. You will sign in with Bluesky and approve access — no bearer token needed.`,
      `git clone https://x-token:TOKEN@${slug}.127.0.0.1:5173/.git ${slug}`,
      "Works only while git access is on.",
      "Git access is off.",
      "4 of 500 pages",
      "MiB of 50 MiB",
      "The owner and wiki admins always have full access.",
      "MCP tokens are not restricted by these settings.",
      "Deleting removes all pages and history. This cannot be undone.",
      `Type ${slug} to confirm:`,
    ]) {
      expect(text).toContain(needle);
    }
    findElement(html, "a", { href: `${wiki}/-/admin`, target: "_blank" }, "Manage users & settings");
    findElement(html, "a", { href: wiki }, "Open wiki");
    findElement(html, "button", { type: "submit" }, "Turn git access on");
    findElement(html, "input", { type: "hidden", name: "enabled", value: "true" });
    findElement(html, "button", { type: "submit" }, "Regenerate token");
    findElement(html, "button", { type: "submit" }, "Save");
    findElement(html, "button", { type: "submit" }, "Save access settings");
    findElement(html, "button", { type: "submit", class: "danger" }, `Permanently delete ${slug}`);
    expect(findElement(html, "input", { id: "confirm_slug" }).attrs).toMatchObject({ name: "confirm_slug", required: "", pattern: slug });
    expect(findElement(html, "input", { id: "display_name" }).attrs).toMatchObject({ required: "", maxLength: "100", value: "Settings Wiki" });
    for (const intent of ["rename", "access", "git", "regenerate", "delete"]) findElement(html, "input", { type: "hidden", name: "intent", value: intent });
    for (const name of ["read_access", "write_access", "attachment_access"]) {
      const options = elements(findElement(html, "select", { id: name, name }).inner, "option");
      expect(options.map((o) => [o.attrs.value, o.text, "selected" in o.attrs])).toEqual([
        ["ANONYMOUS", "Anyone", false],
        ["REGISTERED", "Any signed-in robot.wtf user", false],
        ["APPROVED", "Only users approved on this wiki", true],
      ]);
    }
    expect(findElement(html, "details", { class: "card danger-zone" }).inner).toMatch(/^<summary>Danger zone<\/summary>/);
    expect(findElement(html, "details", { class: "card danger-zone" }).attrs.open).toBeUndefined();
    expect(html).not.toContain("token-display");
  });

  it("U11: a missing wiki or someone else's (even for an admin) → 302 /app/ with a flash, for GET and POST", async () => {
    const { slug } = await ownedWiki();
    const other = await newUser();
    const admin = await tp.createUser("u11-admin.bsky.social", ADMIN_DID);
    for (const [p, who, message] of [
      ["/app/wiki/no-such-wiki", other, "Wiki not found."],
      [`/app/wiki/${slug}`, other, "Access denied."],
      [`/app/wiki/${slug}`, admin, "Access denied."],
    ] as const) {
      const get = await tp.request(p, { headers: cookieHeader(who.jwt) });
      expect(get.status).toBe(302);
      expect(get.headers.get("location")).toBe("/app/");
      expect((await followFlash(tp, get, who)).text).toContain(message);
      for (const intent of ["rename", "access", "git", "regenerate", "delete"]) {
        const post = await postForm(tp, p, who, { intent, display_name: "Hijack", confirm_slug: slug, enabled: "true" });
        expect({ intent, status: post.status }).toEqual({ intent, status: 302 });
        expect(post.headers.get("location")).toBe("/app/");
        expect((await followFlash(tp, post, who)).text).toContain(message);
      }
    }
    const row = await tp.platform.db.wiki.findUnique({ where: { slug } });
    expect(row?.display_name).toBe("Settings Wiki");
    expect(exists(wikiDir(tp, slug))).toBe(true);
    await tp.platform.db.user.delete({ where: { did: ADMIN_DID } });
  });

  it("U12: rename writes wikis.display_name and SITE_NAME; empty or 101 characters → 400 with nothing changed", async () => {
    const { u, slug } = await ownedWiki();
    const ok = await postForm(tp, `/app/wiki/${slug}`, u, { intent: "rename", display_name: "  New Name  " });
    expect(ok.status).toBe(302);
    expect(ok.headers.get("location")).toBe(`/app/wiki/${slug}`);
    expect((await followFlash(tp, ok, u)).text).toContain("Settings updated.");
    expect((await tp.platform.db.wiki.findUnique({ where: { slug } }))?.display_name).toBe("New Name");
    expect(wikiPrefs(tp, slug).SITE_NAME).toBe("New Name");

    for (const [value, message] of [
      ["", "Display name is required."],
      ["  \u0001 ", "Display name is required."],
      ["y".repeat(101), "Display name must be at most 100 characters."],
    ] as const) {
      const bad = await postForm(tp, `/app/wiki/${slug}`, u, { intent: "rename", display_name: value });
      expect(bad.status).toBe(400);
      const html = await bad.text();
      expect(pageText(html)).toContain(message);
      expect(html).toMatch(/role="alert"/);
    }
    expect((await tp.platform.db.wiki.findUnique({ where: { slug } }))?.display_name).toBe("New Name");
    expect(wikiPrefs(tp, slug).SITE_NAME).toBe("New Name");
  });

  it("U12: a rename whose database update fails → 500 and SITE_NAME is put back", async () => {
    const { u, slug } = await ownedWiki("Before");
    await tp.platform.db.$executeRawUnsafe(
      "CREATE TRIGGER fail_rename BEFORE UPDATE OF display_name ON wikis BEGIN SELECT RAISE(ABORT, 'injected rename fault'); END",
    );
    try {
      const res = await postForm(tp, `/app/wiki/${slug}`, u, { intent: "rename", display_name: "After" });
      expect(res.status).toBe(500);
      expect(pageText(await res.text())).toContain("Failed to update settings.");
    } finally {
      await tp.platform.db.$executeRawUnsafe("DROP TRIGGER fail_rename");
    }
    expect((await tp.platform.db.wiki.findUnique({ where: { slug } }))?.display_name).toBe("Before");
    expect(wikiPrefs(tp, slug).SITE_NAME).toBe("Before");
  });

  it("settings writes on a wiki whose directory is gone → 500 with the operation's message, cause logged", async () => {
    const { u, slug } = await ownedWiki();
    fs.rmSync(wikiDir(tp, slug), { recursive: true });
    const ui = await postForm(tp, `/app/wiki/${slug}`, u, { intent: "git", enabled: "true" });
    expect(ui.status).toBe(500);
    expect(pageText(await ui.text())).toContain("Failed to update settings.");
    const res = await tp.request(`/api/wikis/${slug}/git`, {
      method: "POST",
      headers: { Authorization: `Bearer ${u.jwt}`, "Content-Type": "application/json" },
      body: JSON.stringify({ enabled: true }),
    });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: "Failed to update git access setting" });
    expect(tp.logs.join("\n")).toContain("git access: writing wiki.db failed");
  });

  it("U13: a posted is_public is ignored", async () => {
    const { u, slug } = await ownedWiki();
    await postForm(tp, `/app/wiki/${slug}`, u, { intent: "rename", display_name: "Public?", is_public: "1" });
    expect((await tp.platform.db.wiki.findUnique({ where: { slug } }))?.is_public).toBe(0);
  });

  it("U14: access levels are upserted; PUBLIC → 400 Invalid access level.", async () => {
    const { u, slug } = await ownedWiki();
    const ok = await postForm(tp, `/app/wiki/${slug}`, u, {
      intent: "access",
      read_access: "ANONYMOUS",
      write_access: "REGISTERED",
      attachment_access: "APPROVED",
    });
    expect(ok.status).toBe(302);
    expect((await followFlash(tp, ok, u)).text).toContain("Access settings updated.");
    expect(wikiPrefs(tp, slug)).toMatchObject({ READ_ACCESS: "ANONYMOUS", WRITE_ACCESS: "REGISTERED", ATTACHMENT_ACCESS: "APPROVED" });
    const page = (await getPage(tp, `/app/wiki/${slug}`, u)).html;
    const selected = elements(findElement(page, "select", { id: "read_access" }).inner, "option").filter((o) => "selected" in o.attrs);
    expect(selected.map((o) => o.attrs.value)).toEqual(["ANONYMOUS"]);

    const invalid: Array<Record<string, string>> = [
      { read_access: "PUBLIC", write_access: "APPROVED", attachment_access: "APPROVED" },
      { read_access: "APPROVED", write_access: "approved", attachment_access: "APPROVED" },
      { read_access: "APPROVED", write_access: "APPROVED" },
    ];
    for (const fields of invalid) {
      const bad = await postForm(tp, `/app/wiki/${slug}`, u, { intent: "access", ...fields });
      expect(bad.status).toBe(400);
      expect(pageText(await bad.text())).toContain("Invalid access level.");
    }
    expect(wikiPrefs(tp, slug).READ_ACCESS).toBe("ANONYMOUS");
  });

  it("U14: a refused access post keeps the levels entered (a value that is no option shows the stored one)", async () => {
    const { u, slug } = await ownedWiki();
    const bad = await postForm(tp, `/app/wiki/${slug}`, u, {
      intent: "access",
      read_access: "ANONYMOUS",
      write_access: "PUBLIC",
      attachment_access: "REGISTERED",
    });
    expect(bad.status).toBe(400);
    const html = await bad.text();
    const selected = (id: string) =>
      elements(findElement(html, "select", { id }).inner, "option")
        .filter((o) => "selected" in o.attrs)
        .map((o) => o.attrs.value);
    expect(selected("read_access")).toEqual(["ANONYMOUS"]);
    expect(selected("write_access")).toEqual(["APPROVED"]);
    expect(selected("attachment_access")).toEqual(["REGISTERED"]);
    expect(wikiPrefs(tp, slug)).toMatchObject({ READ_ACCESS: "APPROVED", WRITE_ACCESS: "APPROVED", ATTACHMENT_ACCESS: "APPROVED" });
  });

  it("U15/FS9: git toggle true/false; 'yes' → 400; READ_ACCESS=ANONYMOUS survives", async () => {
    const { u, slug } = await ownedWiki();
    await postForm(tp, `/app/wiki/${slug}`, u, { intent: "access", read_access: "ANONYMOUS", write_access: "APPROVED", attachment_access: "APPROVED" });
    const on = await postForm(tp, `/app/wiki/${slug}`, u, { intent: "git", enabled: "true" });
    expect(on.status).toBe(302);
    const next = await followFlash(tp, on, u);
    expect(next.text).toContain("Git access enabled.");
    expect(next.text).toContain("Git access is on.");
    expect(next.text).toContain("Turn git access off");
    expect(wikiPrefs(tp, slug)).toMatchObject({ GIT_WEB_SERVER: "True", READ_ACCESS: "ANONYMOUS" });
    const off = await postForm(tp, `/app/wiki/${slug}`, u, { intent: "git", enabled: "false" });
    expect((await followFlash(tp, off, u)).text).toContain("Git access disabled.");
    expect(wikiPrefs(tp, slug).GIT_WEB_SERVER).toBe("False");
    for (const value of ["yes", "True", "1", ""]) {
      const bad = await postForm(tp, `/app/wiki/${slug}`, u, { intent: "git", enabled: value });
      expect(bad.status).toBe(400);
      expect(pageText(await bad.text())).toContain("Invalid value for git access.");
    }
    expect(wikiPrefs(tp, slug).GIT_WEB_SERVER).toBe("False");
  });

  it("FS10: rename and git toggle on a wiki whose wiki.db was deleted succeed and recreate it with seeds", async () => {
    const { u, slug } = await ownedWiki();
    const dbFile = path.join(wikiDir(tp, slug), "wiki.db");
    fs.rmSync(dbFile);
    expect((await postForm(tp, `/app/wiki/${slug}`, u, { intent: "rename", display_name: "Repaired" })).status).toBe(302);
    expect(wikiPrefs(tp, slug)).toMatchObject({ SITE_NAME: "Repaired", READ_ACCESS: "APPROVED", _schema_version: "3" });
    // Seeds include the owner row (contracts.md §7.3).
    expect(wikiUsers(tp, slug)).toEqual([
      { name: u.handle.split(".")[0], email: `@${u.handle}`, is_admin: 1, is_approved: 1, allow_read: 1, allow_write: 1, allow_upload: 1, email_confirmed: 0 },
    ]);
    fs.rmSync(dbFile);
    fs.rmSync(`${dbFile}-wal`, { force: true });
    fs.rmSync(`${dbFile}-shm`, { force: true });
    expect((await postForm(tp, `/app/wiki/${slug}`, u, { intent: "git", enabled: "true" })).status).toBe(302);
    expect(wikiPrefs(tp, slug)).toMatchObject({ GIT_WEB_SERVER: "True", SITE_NAME: "Repaired", AUTH_METHOD: "PROXY_HEADER" });
    expect(wikiUsers(tp, slug).map((r) => r.email)).toEqual([`@${u.handle}`]);
    // The settings page also reads a missing file as the seeded defaults.
    fs.rmSync(dbFile);
    const page = await getPage(tp, `/app/wiki/${slug}`, u);
    expect(page.res.status).toBe(200);
    expect(pageText(page.html)).toContain("Git access is off.");
  });

  it("FS10: the re-seeded owner row is the owner's, from the owner's users row, not the acting session's", async () => {
    const { u, slug } = await ownedWiki();
    const dbFile = path.join(wikiDir(tp, slug), "wiki.db");
    for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) fs.rmSync(f, { force: true });
    // The acting identity carries a stale handle; the owner's users row is the authority.
    const stale = { did: u.did, handle: "stale.example", is_admin: false };
    const r = await setAccessLevels(tp.platform, stale, slug, { read_access: "APPROVED", write_access: "APPROVED", attachment_access: "APPROVED" });
    expect(r.ok).toBe(true);
    expect(wikiUsers(tp, slug).map((row) => row.email)).toEqual([`@${u.handle}`]);
    // A handle displaced to another DID is stored as the owner's own DID: no "@did:…" row.
    for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) fs.rmSync(f, { force: true });
    await tp.platform.db.user.update({ where: { did: u.did }, data: { handle: u.did } });
    expect((await setGitAccess(tp.platform, stale, slug, true)).ok).toBe(true);
    expect(wikiUsers(tp, slug)).toEqual([]);
    expect(wikiPrefs(tp, slug).GIT_WEB_SERVER).toBe("True");
  });

  it("U16: regenerate renders the token with 200 (no redirect); the old hash matches no row", async () => {
    const { u, slug } = await ownedWiki();
    const before = (await tp.platform.db.wiki.findUnique({ where: { slug } }))!.mcp_token_hash;
    const res = await postForm(tp, `/app/wiki/${slug}`, u, { intent: "regenerate" });
    expect(res.status).toBe(200);
    expect(res.headers.get("location")).toBeNull();
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    expect(pageText(html)).toContain("Token regenerated. Copy it now -- it will not be shown again.");
    const token = tokenOnPage(html)!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(html).toContain(`id="mcp-token-${slug}"`);
    const after = (await tp.platform.db.wiki.findUnique({ where: { slug } }))!.mcp_token_hash;
    expect(after).toBe(sha256(token));
    expect(after).not.toBe(before);
    expect(await tp.platform.db.wiki.findUnique({ where: { mcp_token_hash: before } })).toBeNull();
    for (const c of res.headers.getSetCookie()) expect(c).not.toContain(token);
    expect(tp.logs.join("\n")).not.toContain(token);
    expect((await getPage(tp, `/app/wiki/${slug}`, u)).html).not.toContain("token-display");
  });

  it("U17/FS8: delete with the right slug → 302 /app/ and flash; row, directory and reindex rows gone", async () => {
    const { u, slug } = await ownedWiki();
    await tp.platform.db.reindexQueue.create({ data: { wiki_slug: slug, page_path: "Home.md", action: "upsert", queued_at: "2025-01-01T00:00:00+00:00" } });
    expect(await wikiCount(tp, u.did)).toBe(1);
    const res = await postForm(tp, `/app/wiki/${slug}`, u, { intent: "delete", confirm_slug: ` ${slug} ` });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/app/");
    expect((await followFlash(tp, res, u)).text).toContain(`Wiki '${slug}' has been deleted.`);
    expect(await tp.platform.db.wiki.findUnique({ where: { slug } })).toBeNull();
    expect(exists(wikiDir(tp, slug))).toBe(false);
    expect(await tp.platform.db.reindexQueue.count({ where: { wiki_slug: slug } })).toBe(0);
    expect(await tp.platform.db.wikiDiskJournal.count()).toBe(0);
    expect(await wikiCount(tp, u.did)).toBe(0);
    const trash = path.join(tp.platform.config.wikiBase, ".trash");
    expect((fs.existsSync(trash) ? fs.readdirSync(trash) : []).filter((n) => n.startsWith(`${slug}.`))).toEqual([]);
  });

  it("U18: a wrong confirmation → 400 in place; the wiki is intact", async () => {
    const { u, slug } = await ownedWiki();
    for (const confirm of ["definitely-wrong", slug.toUpperCase(), ""]) {
      const res = await postForm(tp, `/app/wiki/${slug}`, u, { intent: "delete", confirm_slug: confirm });
      expect(res.status).toBe(400);
      const html = await res.text();
      expect(pageText(html)).toContain("Slug confirmation did not match.");
      findElement(html, "details", { class: "card danger-zone", open: "" });
    }
    expect(await tp.platform.db.wiki.findUnique({ where: { slug } })).not.toBeNull();
    expect(exists(wikiDir(tp, slug))).toBe(true);
    expect((await getPage(tp, `/app/wiki/${slug}`, u)).res.status).toBe(200);
  });

  it("U19: a missing or unknown intent → 400 Unknown action.; other methods → 405", async () => {
    const { u, slug } = await ownedWiki();
    const bad: Array<Record<string, string>> = [{}, { intent: "explode" }, { intent: "toString" }, { intent: "__proto__" }];
    for (const fields of bad) {
      const res = await postForm(tp, `/app/wiki/${slug}`, u, fields);
      expect(res.status).toBe(400);
      expect(pageText(await res.text())).toContain("Unknown action.");
    }
    // The owner check comes first: an unknown intent on someone else's or a missing wiki goes to the dashboard.
    const other = await newUser();
    const notMine = await postForm(tp, `/app/wiki/${slug}`, other, { intent: "explode" });
    expect(notMine.status).toBe(302);
    expect((await followFlash(tp, notMine, other)).text).toContain("Access denied.");
    const missing = await postForm(tp, "/app/wiki/no-such-wiki", u, {});
    expect(missing.headers.get("location")).toBe("/app/");
    expect((await followFlash(tp, missing, u)).text).toContain("Wiki not found.");
    const put = await tp.request(`/app/wiki/${slug}`, { method: "PUT", headers: { ...cookieHeader(u.jwt), Origin: tp.origin } });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, HEAD, POST");
  });

  it("SEC1: a delete from a wiki subdomain or same-site context is refused; same-origin is accepted", async () => {
    const { u, slug } = await ownedWiki();
    for (const headers of [{ Origin: `http://${slug}.127.0.0.1:5173` }, { Origin: "null" }, { Origin: "" }]) {
      const res = await postForm(tp, `/app/wiki/${slug}`, u, { intent: "delete", confirm_slug: slug }, headers);
      expect(res.status).toBe(403);
      expect(await res.text()).toContain("Cross-site request blocked");
    }
    const sameSite = await tp.request(`/app/wiki/${slug}`, {
      method: "POST",
      headers: { ...cookieHeader(u.jwt), "Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-site" },
      body: `intent=delete&confirm_slug=${slug}`,
    });
    expect(sameSite.status).toBe(403);
    expect(exists(wikiDir(tp, slug))).toBe(true);
    const sameOrigin = await tp.request(`/app/wiki/${slug}`, {
      method: "POST",
      headers: { ...cookieHeader(u.jwt), "Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin" },
      body: `intent=delete&confirm_slug=${slug}`,
    });
    expect(sameOrigin.status).toBe(302);
    expect(exists(wikiDir(tp, slug))).toBe(false);
  });

  it("E1: a body that is not form data is a 400 page on every /app action, never a 500", async () => {
    const { u, slug } = await ownedWiki();
    for (const p of [`/app/wiki/${slug}`, "/app/create", "/app/account"]) {
      for (const [type, body] of [["application/json", "{"], ["text/plain", "intent=rename"], ["multipart/form-data; boundary=x", "--y"]]) {
        const res = await tp.request(p, { method: "POST", headers: { ...cookieHeader(u.jwt), Origin: tp.origin, "Content-Type": type }, body });
        expect({ p, type, status: res.status }).toEqual({ p, type, status: 400 });
        expect(pageText(await res.text())).toContain("Invalid form data.");
      }
    }
    expect(await tp.platform.db.user.findUnique({ where: { did: u.did } })).not.toBeNull();
  });

  it("a client-side (.data) submission reaches the same action", async () => {
    const { u, slug } = await ownedWiki();
    const res = await postForm(tp, `/app/wiki/${slug}.data`, u, { intent: "rename", display_name: "Via Data" });
    expect(res.status).toBeLessThan(400);
    expect((await tp.platform.db.wiki.findUnique({ where: { slug } }))?.display_name).toBe("Via Data");
    const blocked = await postForm(tp, `/app/wiki/${slug}.data`, u, { intent: "delete", confirm_slug: slug }, { Origin: `http://${slug}.127.0.0.1:5173` });
    expect(blocked.status).toBe(403);
  });
});

describe("MAX_WIKIS_PER_USER=2 (§1.3)", () => {
  let two: TestPlatform;
  beforeAll(async () => {
    two = await startTestPlatform({ MAX_WIKIS_PER_USER: "2" });
  });
  afterAll(() => two.close());

  it("U6/U9: the create page's notice and its 403 give the configured number", async () => {
    const u = await two.createUser("two.bsky.social");
    await createWikiApi(two, u, "two-one");
    expect(findElement((await getPage(two, "/app/create", u)).html, "input", { id: "slug" })).toBeTruthy();
    await createWikiApi(two, u, "two-two");
    const { html } = await getPage(two, "/app/create", u);
    expect(pageText(html)).toContain("You can only have 2 wikis on the free tier.");
    expect(pageText(html)).not.toContain("one wiki");
    expect(html).not.toContain('name="slug"');
    const third = await postForm(two, "/app/create", u, { slug: "two-three", display_name: "Three" });
    expect(third.status).toBe(403);
    expect(pageText(await third.text())).toContain("You can only have 2 wikis on the free tier.");
  });
});

describe("https configuration", () => {
  let https: TestPlatform;
  let user: TestUser;
  beforeAll(async () => {
    https = await startTestPlatform({ PLATFORM_SCHEME: "https", PLATFORM_DOMAIN: "robot.test" });
    user = await https.createUser("alice.bsky.social");
  });
  afterAll(() => https.close());

  it("SEC1: Origin https://alice.robot.test cannot delete; the platform origin can", async () => {
    await createWikiApi(https, user, "alice");
    const res = await postForm(https, "/app/wiki/alice", user, { intent: "delete", confirm_slug: "alice" }, { Origin: "https://alice.robot.test" });
    expect(res.status).toBe(403);
    expect(exists(wikiDir(https, "alice"))).toBe(true);
    const ok = await postForm(https, "/app/wiki/alice", user, { intent: "delete", confirm_slug: "alice" });
    expect(ok.status).toBe(302);
    expect(ok.headers.getSetCookie().find((c) => c.startsWith("__Host-flash="))).toMatch(/; Secure; SameSite=Lax$/);
  });

  it("wiki URLs use https and PLATFORM_DOMAIN", async () => {
    await createWikiApi(https, user, "alice-two");
    const text = pageText((await getPage(https, "/app/wiki/alice-two", user)).html);
    expect(text).toContain("MCP endpoint: https://alice-two.robot.test/mcp");
    expect(text).toContain("git clone https://x-token:TOKEN@alice-two.robot.test/.git alice-two");
  });
});
