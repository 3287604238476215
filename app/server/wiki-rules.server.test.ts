import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";

import {
  ACCESS_LEVELS,
  ACCESS_PREFERENCES,
  DEFAULT_ACCESS_LEVEL,
  DESCRIPTION_MAX_LENGTH,
  DISK_QUOTA_BYTES,
  DISPLAY_NAME_ERRORS,
  MCP_TOKEN_PATTERN,
  OVER_QUOTA_NOTE,
  PAGE_QUOTA,
  RESERVED_SLUGS,
  accessLevelLabel,
  cleanDescription,
  cleanDisplayName,
  defaultSlugFromHandle,
  formatUsage,
  generateMcpToken,
  hashMcpToken,
  isAccessPreference,
  isValidAccessLevel,
  normalizeSlug,
  validateSlug,
} from "./wiki-rules.server";

// prettier-ignore
const ALL_RESERVED = [
  "admin", "api", "app", "assets", "auth", "billing", "blog", "dev", "docs", "ftp",
  "git", "help", "imap", "mail", "mcp", "ns", "ns1", "ns2", "null", "pop",
  "smtp", "ssh", "static", "status", "support", "undefined", "user", "vpn", "wiki", "www",
];

describe("validateSlug", () => {
  describe("S1 valid slugs", () => {
    it.each([
      "abc",
      "my-wiki",
      "test123",
      "123",
      "a--b",
      "a".repeat(30),
      "a1b",
      "1-2",
      "0-0-0",
      "x".repeat(29) + "9",
    ])("%s is valid", (slug) => {
      expect(validateSlug(slug)).toBeNull();
    });

    it("accepts exactly 3 and exactly 30 characters", () => {
      expect(validateSlug("a0z")).toBeNull();
      expect(validateSlug("0".repeat(30))).toBeNull();
    });

    it("accepts legacy-looking but unreserved names such as test", () => {
      expect(validateSlug("test")).toBeNull();
    });
  });

  describe("S2 messages in order", () => {
    it.each([
      ["", "slug is required"],
      ["ab", "slug must be at least 3 characters"],
      ["a", "slug must be at least 3 characters"],
      ["-", "slug must be at least 3 characters"],
      ["a".repeat(31), "slug must be at most 30 characters"],
      ["a".repeat(100), "slug must be at most 30 characters"],
      ["-wiki", "slug must not start or end with a hyphen"],
      ["wiki-", "slug must not start or end with a hyphen"],
      ["-ab-", "slug must not start or end with a hyphen"],
      ["---", "slug must not start or end with a hyphen"],
      ["my_wiki", "slug must contain only lowercase letters, digits, and hyphens"],
      ["my wiki", "slug must contain only lowercase letters, digits, and hyphens"],
      ["my.wiki", "slug must contain only lowercase letters, digits, and hyphens"],
      ["wiki!", "slug must contain only lowercase letters, digits, and hyphens"],
      ["café", "slug must contain only lowercase letters, digits, and hyphens"],
      ["www", "slug is reserved"],
    ])("%j → %s", (slug, message) => {
      expect(validateSlug(slug)).toBe(message);
    });

    it("reports uppercase before any regex rule", () => {
      expect(validateSlug("MyWiki")).toBe("slug must be lowercase");
      expect(validateSlug("AB")).toBe("slug must be lowercase");
      expect(validateSlug("-Wiki_")).toBe("slug must be lowercase");
    });

    it("reports length before hyphen edges, and hyphen edges before the charset", () => {
      expect(validateSlug("-a")).toBe("slug must be at least 3 characters");
      expect(validateSlug("-" + "a".repeat(30))).toBe("slug must be at most 30 characters");
      expect(validateSlug("-my_wiki")).toBe("slug must not start or end with a hyphen");
    });

    it("checks the regex before reserved names", () => {
      // Not reserved-looking once invalid: the charset message wins.
      expect(validateSlug("ww_w")).toBe("slug must contain only lowercase letters, digits, and hyphens");
    });

    it("counts code points, not UTF-16 units", () => {
      // Two code points (one astral) → too short, not a charset error.
      expect(validateSlug("a😀")).toBe("slug must be at least 3 characters");
    });

    it("MyWiki via the API is treated as mywiki", () => {
      const slug = normalizeSlug("MyWiki");
      expect(slug).toBe("mywiki");
      expect(validateSlug(slug)).toBeNull();
    });

    it("whitespace-only input normalises to empty → required", () => {
      expect(validateSlug(normalizeSlug("   \t "))).toBe("slug is required");
    });
  });

  describe("S3 reserved names", () => {
    it("has exactly the 30 names of the spec", () => {
      expect(RESERVED_SLUGS.size).toBe(30);
      expect([...RESERVED_SLUGS].sort()).toEqual([...ALL_RESERVED].sort());
    });

    it.each(ALL_RESERVED)("%s is rejected as reserved", (slug) => {
      // Two-letter names such as "ns" fail the length rule first (§1.1 order).
      const expected = slug.length < 3 ? "slug must be at least 3 characters" : "slug is reserved";
      expect(validateSlug(slug)).toBe(expected);
    });

    it.each(ALL_RESERVED)("%s in capitals normalises and is still refused", (slug) => {
      expect(validateSlug(normalizeSlug(` ${slug.toUpperCase()} `))).not.toBeNull();
    });
  });
});

describe("normalizeSlug", () => {
  it.each([
    ["  my-wiki  ", "my-wiki"],
    ["MyWiki", "mywiki"],
    ["\tABC\n", "abc"],
    ["", ""],
    ["a b", "a b"],
  ])("%j → %j", (input, expected) => {
    expect(normalizeSlug(input)).toBe(expected);
  });
});

describe("defaultSlugFromHandle (S4)", () => {
  it.each([
    ["alice.bsky.social", "alice"],
    ["Alice.bsky.social", "alice"],
    ["ab.bsky.social", "abwiki"],
    ["test_user.bsky.social", "testuser"],
    ["a-b.example.com", "a-b"],
    ["admin.bsky.social", ""],
    ["user.bsky.social", ""],
    ["----.example", ""],
    ["a.bsky.social", "awiki"],
    ["-bob-.bsky.social", "bob"],
    ["x_y.bsky.social", "xywiki"],
    ["nodots", "nodots"],
    ["", ""],
    ["WWW.example.com", ""],
    ["123.example.com", "123"],
    ["ns.example.com", "nswiki"],
    ["émile.example.com", "mile"],
  ])("%j → %j", (handle, expected) => {
    expect(defaultSlugFromHandle(handle)).toBe(expected);
  });

  it("cuts to 30 characters and trims a trailing hyphen the cut exposes", () => {
    const handle = `${"a".repeat(29)}-bcdef.bsky.social`;
    expect(defaultSlugFromHandle(handle)).toBe("a".repeat(29));
  });

  it("cuts a long label to exactly 30 characters", () => {
    expect(defaultSlugFromHandle(`${"b".repeat(40)}.example`)).toBe("b".repeat(30));
  });

  it('always returns a valid slug or ""', () => {
    const handles = ["a.b", "-.x", "ab-.x", "ab--cd.x", "wiki.x", "dev.x", "Z.x", "9-9.x", "__.x"];
    for (const handle of handles) {
      const slug = defaultSlugFromHandle(handle);
      if (slug !== "") expect(validateSlug(slug)).toBeNull();
    }
  });
});

describe("cleanDisplayName", () => {
  it("trims and keeps ordinary text", () => {
    expect(cleanDisplayName("  My Wiki  ")).toEqual({ ok: true, value: "My Wiki" });
  });

  it("removes C0, DEL and C1 control characters before trimming", () => {
    expect(cleanDisplayName("\u0000My\u0007 Wiki\u007F\u0085\u009F\n")).toEqual({
      ok: true,
      value: "My Wiki",
    });
    expect(cleanDisplayName("\u001Fa\u0080b")).toEqual({ ok: true, value: "ab" });
  });

  it("keeps non-control Unicode (accents, emoji, NBSP inside)", () => {
    expect(cleanDisplayName("Café 🤖 wiki")).toEqual({ ok: true, value: "Café 🤖 wiki" });
  });

  it.each(["", "   ", "\n\t", "\u0000\u0001", " \u009F "])("%j is required", (input) => {
    expect(cleanDisplayName(input)).toEqual({ ok: false, reason: "required" });
  });

  it("allows exactly 100 characters and refuses 101", () => {
    expect(cleanDisplayName("x".repeat(100))).toEqual({ ok: true, value: "x".repeat(100) });
    expect(cleanDisplayName("x".repeat(101))).toEqual({ ok: false, reason: "too_long" });
  });

  it("measures the length after cleaning", () => {
    expect(cleanDisplayName(`  ${"x".repeat(100)}\u0000\u0000  `)).toEqual({
      ok: true,
      value: "x".repeat(100),
    });
  });

  it("counts emoji as one character each", () => {
    expect(cleanDisplayName("🤖".repeat(100)).ok).toBe(true);
    expect(cleanDisplayName("🤖".repeat(101))).toEqual({ ok: false, reason: "too_long" });
  });

  it("has the spec messages for both surfaces", () => {
    expect(DISPLAY_NAME_ERRORS.ui.required).toBe("Display name is required.");
    expect(DISPLAY_NAME_ERRORS.api.required).toBe("display_name is required");
    expect(DISPLAY_NAME_ERRORS.ui.too_long).toBe("Display name must be at most 100 characters.");
    expect(DISPLAY_NAME_ERRORS.api.too_long).toBe("display_name must be at most 100 characters");
  });
});

describe("cleanDescription", () => {
  it('returns "" for missing input', () => {
    expect(cleanDescription(undefined)).toBe("");
    expect(cleanDescription(null)).toBe("");
    expect(cleanDescription("   ")).toBe("");
  });

  it("removes control characters and trims", () => {
    expect(cleanDescription("  notes\u0000 for\u0085 the team\n")).toBe("notes for the team");
  });

  it("cuts to 200 characters without erroring", () => {
    expect(cleanDescription("d".repeat(250))).toBe("d".repeat(DESCRIPTION_MAX_LENGTH));
    expect(cleanDescription("d".repeat(200))).toBe("d".repeat(200));
  });

  it("never splits an emoji at the cut", () => {
    const cut = cleanDescription("🤖".repeat(201));
    expect(Array.from(cut)).toHaveLength(200);
    expect(cut).toBe("🤖".repeat(200));
  });
});

describe("access levels", () => {
  it("lists the three levels with their UI labels, default APPROVED", () => {
    expect(ACCESS_LEVELS).toEqual([
      { value: "ANONYMOUS", label: "Anyone" },
      { value: "REGISTERED", label: "Any signed-in robot.wtf user" },
      { value: "APPROVED", label: "Only users approved on this wiki" },
    ]);
    expect(DEFAULT_ACCESS_LEVEL).toBe("APPROVED");
    expect(accessLevelLabel("REGISTERED")).toBe("Any signed-in robot.wtf user");
  });

  it.each(["ANONYMOUS", "REGISTERED", "APPROVED"])("%s is valid", (value) => {
    expect(isValidAccessLevel(value)).toBe(true);
  });

  it.each(["approved", "Approved", "", "ADMIN", " APPROVED", null, undefined, 1, {}])(
    "%j is invalid",
    (value) => {
      expect(isValidAccessLevel(value)).toBe(false);
    },
  );

  it("knows the three access preferences", () => {
    expect(ACCESS_PREFERENCES).toEqual(["READ_ACCESS", "WRITE_ACCESS", "ATTACHMENT_ACCESS"]);
    expect(isAccessPreference("WRITE_ACCESS")).toBe(true);
    expect(isAccessPreference("SITE_NAME")).toBe(false);
  });
});

describe("formatUsage", () => {
  it("formats pages and MiB with one decimal", () => {
    expect(formatUsage({ page_count: 4, disk_usage_bytes: 1_572_864 })).toEqual({
      pages: "4 of 500 pages",
      disk: "1.5 MiB of 50 MiB",
      pagesOver: false,
      diskOver: false,
      overQuota: false,
    });
  });

  it("shows zero usage", () => {
    const usage = formatUsage({ page_count: 0, disk_usage_bytes: 0 });
    expect(usage.pages).toBe("0 of 500 pages");
    expect(usage.disk).toBe("0.0 MiB of 50 MiB");
  });

  it.each([
    [0, "0.0"],
    [52_428, "0.0"],
    [52_429, "0.1"], // 0.05000019 MiB rounds up
    [104_858, "0.1"],
    [1_048_576, "1.0"],
    [10_433_331, "9.9"], // 9.9499997 MiB,
    [10_433_332, "10.0"], // 9.9500007 MiB,
    [52_428_800, "50.0"],
    [104_857_600, "100.0"],
  ])("%d bytes → %s MiB", (bytes, mib) => {
    expect(formatUsage({ page_count: 0, disk_usage_bytes: bytes }).disk).toBe(`${mib} MiB of 50 MiB`);
  });

  it("is over the page quota at exactly 500 pages", () => {
    expect(formatUsage({ page_count: 499, disk_usage_bytes: 0 }).overQuota).toBe(false);
    const at = formatUsage({ page_count: PAGE_QUOTA, disk_usage_bytes: 0 });
    expect(at).toMatchObject({ pages: "500 of 500 pages", pagesOver: true, overQuota: true });
  });

  it("is over the disk quota only above 52,428,800 bytes", () => {
    expect(formatUsage({ page_count: 1, disk_usage_bytes: DISK_QUOTA_BYTES }).overQuota).toBe(false);
    const over = formatUsage({ page_count: 1, disk_usage_bytes: DISK_QUOTA_BYTES + 1 });
    expect(over).toMatchObject({ diskOver: true, pagesOver: false, overQuota: true });
  });

  it("treats null, negative and non-finite figures as 0", () => {
    expect(formatUsage({ page_count: null, disk_usage_bytes: undefined })).toMatchObject({
      pages: "0 of 500 pages",
      disk: "0.0 MiB of 50 MiB",
      overQuota: false,
    });
    expect(formatUsage({ page_count: -3, disk_usage_bytes: Number.NaN }).pages).toBe("0 of 500 pages");
  });

  it("has the over-quota note of the spec", () => {
    expect(OVER_QUOTA_NOTE).toBe("Over quota: edits are blocked until usage drops.");
  });
});

describe("MCP tokens (T1)", () => {
  it("every token is 43 base64url characters", () => {
    for (let i = 0; i < 500; i++) {
      const token = generateMcpToken();
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(token).toMatch(MCP_TOKEN_PATTERN);
      expect(token).not.toContain(".");
    }
  });

  it("decodes to 32 bytes", () => {
    expect(Buffer.from(generateMcpToken(), "base64url")).toHaveLength(32);
  });

  it("tokens and their hashes are unique", () => {
    const tokens = Array.from({ length: 1000 }, () => generateMcpToken());
    expect(new Set(tokens).size).toBe(1000);
    expect(new Set(tokens.map(hashMcpToken)).size).toBe(1000);
  });

  it("hash is lowercase hex SHA-256 of the UTF-8 bytes", () => {
    expect(hashMcpToken("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hashMcpToken("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    // UTF-8, not Latin-1: "é" is the two bytes C3 A9.
    const utf8 = createHash("sha256")
      .update(Buffer.from([0xc3, 0xa9]))
      .digest("hex");
    expect(hashMcpToken("é")).toBe(utf8);
  });

  it("hash of a generated token is 64 lowercase hex characters and stable", () => {
    const token = generateMcpToken();
    const hash = hashMcpToken(token);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hashMcpToken(token)).toBe(hash);
  });
});
