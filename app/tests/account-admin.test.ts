// Integration: the account page and deletion (management.md §3.4, §6, D14; AD1–AD7) and the
// admin status page (§3.5; AM1–AM4).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { ADMIN_WIKI_ROWS, serviceStatuses, journalTail } from "~/server/admin.server";
import { normalizeHandleConfirmation } from "~/server/accounts.server";
import { isoNow } from "~/server/time.server";
import { startMockNetwork } from "./support/mock-atproto";
import { cookieHeader, startTestPlatform, type TestPlatform } from "./support/platform";
import {
  api,
  createWikiApi,
  elements,
  exists,
  findElement,
  followFlash,
  getPage,
  loginThroughMock,
  pageText,
  postForm,
  wikiDir,
  type TestUser,
} from "./support/mgmt";

const ADMIN_DID = "did:plc:statsadmin0001";

let tp: TestPlatform;
let seq = 0;
const newUser = (prefix = "acct") => tp.createUser(`${prefix}${++seq}.bsky.social`);

beforeAll(async () => {
  tp = await startTestPlatform({ PLATFORM_ADMIN_DIDS: ADMIN_DID, ADMIN_DISK_PATH: "/" });
});
afterAll(() => tp.close());

/** Seeds what login would have stored: an ATProto session row and consent nonces. */
async function seedSession(t: TestPlatform, did: string) {
  await t.platform.db.atprotoOauthSession.create({ data: { key: did, value: "{}", updated_at: isoNow() } });
  await t.platform.db.consentNonce.create({ data: { nonce: `n-${did}`, user_did: did, expires_at: Math.floor(Date.now() / 1000) + 600 } });
}

/** Records (and optionally fails) the revocations the platform asks its OAuth client for. */
function spyOnRevoke(t: TestPlatform, fail = false) {
  const calls: string[] = [];
  const client = t.platform.oauth as unknown as { revoke(did: string): Promise<void> };
  client.revoke = async (did: string) => {
    calls.push(did);
    if (fail) throw new Error("authorization server unreachable");
  };
  return calls;
}

describe("account page (AD1)", () => {
  it("shows the profile table and the delete form", async () => {
    const u = await tp.createUser("profile.bsky.social", undefined, "Pro File");
    const { res, html } = await getPage(tp, "/app/account", u);
    expect(res.status).toBe(200);
    expect(html).toContain("<title>Account – robot.wtf</title>");
    expect(findElement(html, "h1", {}).text).toBe("Account");
    const rows = Object.fromEntries(
      elements(findElement(html, "table", {}).inner, "tr").map((tr) => [elements(tr.inner, "th")[0].text, elements(tr.inner, "td")[0]]),
    );
    expect(rows["Bluesky handle"].text).toBe("profile.bsky.social");
    expect(rows["Display name"].text).toBe("Pro File");
    expect(rows["DID"].inner).toBe(`<code>${u.did}</code>`);
    expect(rows["Member since"].text).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(pageText(html)).toContain("This will delete your account and all associated wikis. This cannot be undone.");
    expect(findElement(html, "details", { class: "card danger-zone" }).inner).toMatch(/^<summary>Delete account<\/summary>/);
    expect(findElement(html, "label", { for: "confirm_handle" }).text).toBe("Type profile.bsky.social to confirm:");
    expect(findElement(html, "input", { id: "confirm_handle" }).attrs).toMatchObject({ name: "confirm_handle", required: "" });
    findElement(html, "input", { type: "hidden", name: "intent", value: "delete" });
    findElement(html, "button", { type: "submit" }, "Permanently delete my account");
  });

  it("'Member since' reads Unknown for an unparseable created_at", async () => {
    const u = await newUser();
    await tp.platform.db.user.update({ where: { did: u.did }, data: { created_at: "garbage" } });
    const rows = elements((await getPage(tp, "/app/account", u)).html, "tr").map((r) => r.text);
    expect(rows).toContain("Member since Unknown");
  });
});

describe("account deletion (AD2–AD7, D14)", () => {
  it("AD2: a wrong confirmation → 400 in place; nothing changes", async () => {
    const u = await newUser();
    await createWikiApi(tp, u, `keep-${seq}`);
    const calls = spyOnRevoke(tp);
    for (const confirm of ["wrong-handle", "", `${u.handle}x`, `@@${u.handle}`]) {
      const res = await postForm(tp, "/app/account", u, { intent: "delete", confirm_handle: confirm });
      expect(res.status).toBe(400);
      const html = await res.text();
      expect(pageText(html)).toContain("Confirmation did not match.");
      findElement(html, "details", { class: "card danger-zone", open: "" });
    }
    expect(calls).toEqual([]);
    expect(await tp.platform.db.user.findUnique({ where: { did: u.did } })).not.toBeNull();
    expect(exists(wikiDir(tp, `keep-${seq}`))).toBe(true);
    const unknown = await postForm(tp, "/app/account", u, { intent: "other", confirm_handle: u.handle });
    expect(unknown.status).toBe(400);
    expect(pageText(await unknown.text())).toContain("Unknown action.");
  });

  it("AD3: '@Alice.bsky.social' confirms 'alice.bsky.social'", () => {
    expect(normalizeHandleConfirmation("  @Alice.bsky.social ")).toBe("alice.bsky.social");
    expect(normalizeHandleConfirmation("@@alice")).toBe("@alice");
    expect(normalizeHandleConfirmation(undefined)).toBe("");
  });

  it("AD4/AD5: success revokes the real session at the AS, removes wikis and the user, clears the cookie host-only, flashes on /", async () => {
    const mock = await startMockNetwork();
    mock.addAccount({ did: "did:plc:alicedeleteaaaaaaaaaaaaa", handle: "alice.bsky.social" });
    const t = await startTestPlatform({ PLC_DIRECTORY_URL: mock.url, ATPROTO_HANDLE_RESOLVER: mock.url, BSKY_APPVIEW_URL: mock.url });
    try {
      const u = await loginThroughMock(t, mock, "alice.bsky.social");
      const db = t.platform.db;
      expect(await db.atprotoOauthSession.count({ where: { key: u.did } })).toBe(1);
      await createWikiApi(t, u, "alice-acct");
      await db.reindexQueue.create({ data: { wiki_slug: "alice-acct", page_path: "Home.md", action: "upsert", queued_at: isoNow() } });
      await db.consentNonce.create({ data: { nonce: "n-alice", user_did: u.did, expires_at: Math.floor(Date.now() / 1000) + 600 } });
      const revokedBefore = mock.revoked.length;

      const res = await postForm(t, "/app/account", u, { intent: "delete", confirm_handle: "@Alice.bsky.social" });
      expect(res.status).toBe(302);
      expect(res.headers.get("location")).toBe("/");
      const cleared = res.headers.getSetCookie().find((c) => c.startsWith("platform_token="));
      expect(cleared).toMatch(/^platform_token=; Path=\/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/);
      expect(mock.revoked.length).toBeGreaterThan(revokedBefore);
      expect(await db.user.findUnique({ where: { did: u.did } })).toBeNull();
      expect(await db.wiki.count({ where: { owner_did: u.did } })).toBe(0);
      expect(await db.reindexQueue.count({ where: { wiki_slug: "alice-acct" } })).toBe(0);
      expect(await db.atprotoOauthSession.findUnique({ where: { key: u.did } })).toBeNull();
      expect(await db.consentNonce.count({ where: { user_did: u.did } })).toBe(0);
      expect(await db.wikiDiskJournal.count()).toBe(0);
      expect(exists(wikiDir(t, "alice-acct"))).toBe(false);
      expect((await followFlash(t, res)).text).toContain("Account deleted.");

      // AD5: the old JWT stops working at once; the login page shows the form and clears it.
      const me = await t.request("/api/me", { headers: cookieHeader(u.jwt) });
      expect(me.status).toBe(401);
      expect(await me.json()).toEqual({ error: "User not found" });
      expect((await t.request("/app/", { headers: cookieHeader(u.jwt) })).status).toBe(302);
      const loginPage = await t.request("/auth/login", { headers: cookieHeader(u.jwt) });
      expect(loginPage.status).toBe(200);
      expect(loginPage.headers.getSetCookie().some((c) => c.startsWith("platform_token=;"))).toBe(true);

      // AD6: logging in again creates a fresh users row with wiki_count 0; the slug is free.
      const again = await loginThroughMock(t, mock, "alice.bsky.social");
      expect((await db.user.findUnique({ where: { did: u.did } }))?.wiki_count).toBe(0);
      await createWikiApi(t, again, "alice-acct");
    } finally {
      await t.close();
      await mock.close();
    }
  });

  it("a failing revocation is logged and the account is still deleted, session row included", async () => {
    const u = await newUser();
    await seedSession(tp, u.did);
    const calls = spyOnRevoke(tp, true);
    const res = await postForm(tp, "/app/account", u, { intent: "delete", confirm_handle: u.handle });
    expect(res.status).toBe(302);
    expect(calls).toEqual([u.did]);
    expect(await tp.platform.db.atprotoOauthSession.findUnique({ where: { key: u.did } })).toBeNull();
    expect(await tp.platform.db.user.findUnique({ where: { did: u.did } })).toBeNull();
    expect(tp.logs.join("\n")).toContain("revoking the ATProto session failed");
    expect(tp.logs.join("\n")).toContain("authorization server unreachable");
  });

  it("a session the OAuth client cannot restore is still deleted", async () => {
    const client = tp.platform.oauth as unknown as { revoke(did: string): Promise<void> };
    delete (client as { revoke?: unknown }).revoke; // back to the library's own method
    const u = await newUser();
    await seedSession(tp, u.did);
    expect((await postForm(tp, "/app/account", u, { intent: "delete", confirm_handle: u.handle })).status).toBe(302);
    expect(await tp.platform.db.atprotoOauthSession.findUnique({ where: { key: u.did } })).toBeNull();
  });

  it("a failing transaction → 500 'Failed to delete account.'; account and wikis unchanged, the session still gone", async () => {
    const u = await newUser();
    await createWikiApi(tp, u, `acct-fail-${seq}`);
    await seedSession(tp, u.did);
    await tp.platform.db.$executeRawUnsafe(
      "CREATE TRIGGER fail_user_delete BEFORE DELETE ON users BEGIN SELECT RAISE(ABORT, 'injected user delete fault'); END",
    );
    try {
      const res = await postForm(tp, "/app/account", u, { intent: "delete", confirm_handle: u.handle });
      expect(res.status).toBe(500);
      expect(pageText(await res.text())).toContain("Failed to delete account.");
      expect(res.headers.getSetCookie().some((c) => c.startsWith("platform_token="))).toBe(false);
    } finally {
      await tp.platform.db.$executeRawUnsafe("DROP TRIGGER fail_user_delete");
    }
    expect(await tp.platform.db.user.findUnique({ where: { did: u.did } })).not.toBeNull();
    expect(await tp.platform.db.wiki.count({ where: { owner_did: u.did } })).toBe(1);
    expect(exists(path.join(wikiDir(tp, `acct-fail-${seq}`), "repo"))).toBe(true);
    expect(await tp.platform.db.wikiDiskJournal.count()).toBe(0);
    expect(await tp.platform.db.atprotoOauthSession.findUnique({ where: { key: u.did } })).toBeNull();
    expect(await tp.platform.db.consentNonce.count({ where: { user_did: u.did } })).toBe(0);
  });

  it("AD7: a POST from a wiki subdomain is refused; the account is intact", async () => {
    const u = await newUser();
    for (const headers of [{ Origin: `http://acct.127.0.0.1:5173` }, { Origin: "https://evil.example" }]) {
      const res = await postForm(tp, "/app/account", u, { intent: "delete", confirm_handle: u.handle }, headers);
      expect(res.status).toBe(403);
    }
    expect(await tp.platform.db.user.findUnique({ where: { did: u.did } })).not.toBeNull();
  });

  it("AD4 (https): the cookie is cleared with Domain=.robot.test and Secure", async () => {
    const https = await startTestPlatform({ PLATFORM_SCHEME: "https", PLATFORM_DOMAIN: "robot.test" });
    try {
      const u = await https.createUser("bob.bsky.social");
      await createWikiApi(https, u, "bob");
      const res = await postForm(https, "/app/account", u, { intent: "delete", confirm_handle: "bob.bsky.social" });
      expect(res.status).toBe(302);
      const cleared = res.headers.getSetCookie().find((c) => c.startsWith("platform_token="));
      expect(cleared).toBe("platform_token=; Domain=.robot.test; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax");
      expect(res.headers.getSetCookie().some((c) => c.startsWith("__Host-flash="))).toBe(true);
      expect(exists(wikiDir(https, "bob"))).toBe(false);
    } finally {
      await https.close();
    }
  });
});

describe("admin status (AM1–AM4)", () => {
  let admin: TestUser;
  beforeAll(async () => {
    admin = await tp.createUser("stats-admin.bsky.social", ADMIN_DID);
  });

  it("AM1: anonymous → login redirect; non-admin → 403 'Admins only.'", async () => {
    const anon = await tp.request("/app/admin/stats");
    expect(anon.status).toBe(302);
    expect(anon.headers.get("location")).toBe("/auth/login?return_to=%2Fapp%2Fadmin%2Fstats");
    const u = await newUser();
    const res = await tp.request("/app/admin/stats", { headers: cookieHeader(u.jwt) });
    expect(res.status).toBe(403);
    expect(pageText(await res.text())).toContain("Admins only.");
  });

  it("AM1–AM3: 200 with every card; without systemd: unknown and (journal unavailable); wikis newest first", async () => {
    const a = await newUser();
    const b = await newUser();
    await createWikiApi(tp, a, "stats-old", "Old One");
    await createWikiApi(tp, b, "stats-new", "New One");
    await tp.platform.db.wiki.update({ where: { slug: "stats-old" }, data: { created_at: "2020-01-02T03:04:05.000000+00:00" } });
    // systemctl and journalctl cannot be found (this process's PATH is what execFile searches).
    const savedPath = process.env.PATH;
    process.env.PATH = fs.mkdtempSync(path.join(tp.dataDir, "empty-path-"));
    let page: Awaited<ReturnType<typeof getPage>>;
    try {
      page = await getPage(tp, "/app/admin/stats", admin);
    } finally {
      process.env.PATH = savedPath;
    }
    const { res, html } = page;
    expect(res.status).toBe(200);
    expect(html).toContain("<title>System Status – robot.wtf</title>");
    const text = pageText(html);
    for (const heading of ["System Status", "Services", "Disk Usage (/)", "Platform Counts", "All Wikis", "Journal (last 50 lines)"]) {
      expect(text).toContain(heading);
    }
    const services = elements(findElement(html, "section", { "aria-labelledby": "card-services" }).inner, "td").map((td) => td.text);
    expect(services).toEqual(["robot-otterwiki", "unknown", "robot-mcp", "unknown", "robot-platform", "unknown"]);
    expect(findElement(html, "pre", { class: "journal" }).text).toBe("(journal unavailable)");
    const counts = elements(findElement(html, "section", { "aria-labelledby": "card-counts" }).inner, "tr").map((tr) => tr.text);
    expect(counts).toEqual([`Wikis ${await tp.platform.db.wiki.count()}`, `Users ${await tp.platform.db.user.count()}`]);
    const disk = elements(findElement(html, "section", { "aria-labelledby": "card-disk" }).inner, "tr").map((tr) => tr.text);
    expect(disk[0]).toMatch(/^Used \d+\.\d GB$/);
    expect(disk[2]).toMatch(/^Total \d+\.\d GB$/);
    expect(disk[3]).toMatch(/^Usage \d+%$/);
    // Newest first, linked to the wiki itself (admins cannot open others' settings).
    const slugs = elements(findElement(html, "section", { "aria-labelledby": "card-wikis" }).inner, "a").map((a) => [a.text, a.attrs.href]);
    expect(slugs.indexOf(slugs.find(([s]) => s === "stats-new")!)).toBeLessThan(slugs.indexOf(slugs.find(([s]) => s === "stats-old")!));
    expect(slugs).toContainEqual(["stats-old", "http://stats-old.127.0.0.1:5173"]);
    expect(text).toContain("2020-01-02");
    expect(text).toContain(a.handle);
    expect(text).toContain(a.did);
    expect(tp.logs.join("\n")).toContain("admin: systemctl is-active gave no usable answer");
    expect(tp.logs.join("\n")).toContain("admin: journalctl gave no output");
  });

  it("'No wikis yet.' when there are none; a missing disk path shows zeros", async () => {
    const empty = await startTestPlatform({ PLATFORM_ADMIN_DIDS: ADMIN_DID, ADMIN_DISK_PATH: "/definitely/not/here" });
    try {
      const adm = await empty.createUser("empty-admin.bsky.social", ADMIN_DID);
      const { res, html } = await getPage(empty, "/app/admin/stats", adm);
      expect(res.status).toBe(200);
      const text = pageText(html);
      expect(text).toContain("No wikis yet.");
      expect(text).toContain("Used 0.0 GB Free 0.0 GB Total 0.0 GB Usage 0%");
    } finally {
      await empty.close();
    }
  });

  it("at scale the table holds the newest ADMIN_WIKI_ROWS wikis and says how many there are", async () => {
    const big = await startTestPlatform({ PLATFORM_ADMIN_DIDS: ADMIN_DID, ADMIN_DISK_PATH: "/" });
    try {
      const adm = await big.createUser("big-admin.bsky.social", ADMIN_DID);
      const db = new Database(big.platform.config.robotDbPath);
      const add = db.prepare(
        "INSERT INTO wikis (slug, owner_did, display_name, repo_path, mcp_token_hash, created_at, last_accessed) VALUES (?, ?, ?, ?, ?, ?, ?)",
      );
      db.transaction(() => {
        for (let i = 0; i < ADMIN_WIKI_ROWS + 5; i++) {
          const at = new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString().replace("Z", "000+00:00");
          add.run(`w${i}`, adm.did, `W ${i}`, `/x/w${i}/repo`, String(i).padStart(64, "0"), at, at);
        }
      })();
      db.close();
      const { res, html } = await getPage(big, "/app/admin/stats", adm);
      expect(res.status).toBe(200);
      expect(pageText(html)).toContain(`The newest ${ADMIN_WIKI_ROWS.toLocaleString("en-US")} of ${(ADMIN_WIKI_ROWS + 5).toLocaleString("en-US")} wikis.`);
      expect(new Set(html.match(/>w\d+</g)).size).toBe(ADMIN_WIKI_ROWS);
      expect(html).toContain(`>w${ADMIN_WIKI_ROWS + 4}<`);
      expect(html).not.toContain(">w4<");
    } finally {
      await big.close();
    }
  });

  it("service states and the journal come from systemctl/journalctl when they answer (no shell, capped output)", async () => {
    const dir = fs.mkdtempSync(path.join(tp.dataDir, "bin-"));
    const systemctl = path.join(dir, "systemctl");
    const journalctl = path.join(dir, "journalctl");
    const argsFile = path.join(dir, "args");
    // is-active exits 3 when a unit is not active but still prints every state.
    fs.writeFileSync(systemctl, `#!/bin/sh\necho "$@" > ${argsFile}\nprintf 'active\\ninactive\\nfailed\\n'\nexit 3\n`, { mode: 0o755 });
    fs.writeFileSync(journalctl, `#!/bin/sh\nhead -c 200000 /dev/zero | tr '\\\\0' x\n`, { mode: 0o755 });
    const commands = { systemctl, journalctl };
    expect(await serviceStatuses(tp.platform, commands)).toEqual([
      { unit: "robot-otterwiki", status: "active", active: true },
      { unit: "robot-mcp", status: "inactive", active: false },
      { unit: "robot-platform", status: "failed", active: false },
    ]);
    expect(fs.readFileSync(argsFile, "utf8").trim()).toBe("is-active robot-otterwiki robot-mcp robot-platform");
    const journal = await journalTail(tp.platform, commands);
    expect(journal.length).toBe(64 * 1024);
    // A semicolon in a unit name is an argument, never shell syntax.
    const injected = { ...tp.platform, config: { ...tp.platform.config, adminServices: ["a;touch " + path.join(dir, "pwned")] } };
    await serviceStatuses(injected, commands);
    expect(exists(path.join(dir, "pwned"))).toBe(false);
  });

  it("AM4: an admin may create a second wiki through the API", async () => {
    await createWikiApi(tp, admin, "admin-first");
    const res = await api(tp, "POST", "/api/wikis", admin, { slug: "admin-second", display_name: "Second" });
    expect(res.status).toBe(201);
  });
});
