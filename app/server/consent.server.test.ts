import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.server";
import {
  approvalRedirectUrl,
  consentPath,
  denyRedirectUrl,
  isAcceptableRedirectUri,
  mcpIssuer,
  parseConsentQuery,
  parseRedirectUris,
  redirectTarget,
  scopeList,
  signApprovalToken,
  signConsentForm,
  verifyConsentForm,
  visibleText,
  wikiDbPathForRepo,
  type ConsentFormPayload,
  type OAuthParams,
} from "./consent.server";

const base = {
  client_id: "c1",
  redirect_uri: "https://app.example/cb",
  code_challenge: "abc",
  code_challenge_method: "S256",
  state: "s",
  scope: "read write",
  response_type: "code",
  wiki_slug: "alice",
};
const query = (over: Record<string, string | undefined> = {}) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...base, ...over })) if (v !== undefined) q.append(k, v);
  return q;
};
const errorOf = (over: Record<string, string | undefined>) => {
  const r = parseConsentQuery(query(over));
  return r.ok ? "ok" : `${r.status} ${r.error}`;
};

describe("parseConsentQuery (auth.md §8.2 checks 1–7)", () => {
  it("accepts the MCP's query and keeps the present parameters", () => {
    const r = parseConsentQuery(query({ resource: "https://alice.robot.wtf/mcp" }));
    const { wiki_slug: _slug, ...oauth } = base;
    expect(r).toEqual({ ok: true, wikiSlug: "alice", params: { ...oauth, resource: "https://alice.robot.wtf/mcp" } });
  });

  it.each([
    [{ client_id: undefined }, "400 Missing required OAuth parameters (client_id, redirect_uri)"],
    [{ redirect_uri: undefined }, "400 Missing required OAuth parameters (client_id, redirect_uri)"],
    [{ client_id: "" }, "400 Missing required OAuth parameters (client_id, redirect_uri)"],
    [{ wiki_slug: undefined }, "400 Missing wiki_slug parameter"],
    [{ wiki_slug: "" }, "400 Missing wiki_slug parameter"],
    [{ wiki_slug: "a.b" }, "400 Invalid wiki_slug parameter"],
    [{ wiki_slug: "a_b" }, "400 Invalid wiki_slug parameter"],
    [{ wiki_slug: "x".repeat(64) }, "400 Invalid wiki_slug parameter"],
    [{ code_challenge: undefined }, "400 Missing code_challenge parameter"],
    [{ code_challenge: "" }, "400 Missing code_challenge parameter"],
    [{ code_challenge_method: "plain" }, "400 Unsupported code_challenge_method"],
    [{ code_challenge_method: "s256" }, "400 Unsupported code_challenge_method"],
    [{ response_type: "token" }, "400 Unsupported response_type"],
    [{ redirect_uri: "javascript:alert(1)" }, "400 Invalid redirect_uri"],
    [{ redirect_uri: "/relative/cb" }, "400 Invalid redirect_uri"],
  ])("%j → %s", (over, expected) => {
    expect(errorOf(over)).toBe(expected);
  });

  it("runs the checks in order: the first failure wins", () => {
    const everythingWrong = { client_id: undefined, wiki_slug: undefined, code_challenge: undefined, code_challenge_method: "plain", redirect_uri: "javascript:x" };
    expect(errorOf(everythingWrong)).toBe("400 Missing required OAuth parameters (client_id, redirect_uri)");
    expect(errorOf({ ...everythingWrong, client_id: "c" })).toBe("400 Missing wiki_slug parameter");
    expect(errorOf({ wiki_slug: "bad.slug", code_challenge: undefined })).toBe("400 Invalid wiki_slug parameter");
    expect(errorOf({ code_challenge: undefined, code_challenge_method: "plain" })).toBe("400 Missing code_challenge parameter");
    expect(errorOf({ code_challenge_method: "plain", response_type: "token" })).toBe("400 Unsupported code_challenge_method");
    expect(errorOf({ response_type: "token", redirect_uri: "javascript:x" })).toBe("400 Unsupported response_type");
  });

  it("treats empty optional values as absent and lowercases the slug", () => {
    const r = parseConsentQuery(query({ state: "", scope: "", code_challenge_method: "", response_type: "", wiki_slug: "ALICE" }));
    expect(r.ok && r.params).toEqual({ client_id: "c1", redirect_uri: "https://app.example/cb", code_challenge: "abc" });
    expect(r.ok && r.wikiSlug).toBe("alice");
  });
});

describe("isAcceptableRedirectUri (check 7)", () => {
  it.each([
    "https://claude.ai/api/mcp/auth_callback",
    "http://localhost:33418/callback",
    "http://127.0.0.1:8080/cb?x=1",
    "cursor://anysphere.cursor-retrieval/oauth/callback",
    "com.example.app:/oauth2redirect",
  ])("accepts %s", (uri) => expect(isAcceptableRedirectUri(uri)).toBe(true));

  it.each([
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "blob:https://evil.example/1",
    "vbscript:msgbox",
    "/cb",
    "//evil.example/cb",
    "not a url",
  ])("refuses %s", (uri) => expect(isAcceptableRedirectUri(uri)).toBe(false));
});

describe("redirectTarget (what the page shows prominently)", () => {
  it.each([
    ["https://claude.ai/api/mcp/auth_callback", "claude.ai"],
    ["https://app.example:8443/cb", "app.example:8443"],
    ["http://localhost:33418/callback", "an app on this computer (localhost:33418)"],
    ["http://127.0.0.1:6274/oauth/callback", "an app on this computer (127.0.0.1:6274)"],
    ["http://[::1]:9000/cb", "an app on this computer ([::1]:9000)"],
    ["cursor://anysphere.cursor-retrieval/oauth/callback", "cursor://anysphere.cursor-retrieval"],
    ["com.example.app:/oauth2redirect", "com.example.app:"],
    ["http://plain.example/cb", "http://plain.example"],
  ])("%s → %s", (uri, shown) => expect(redirectTarget(uri)).toBe(shown));
});

describe("visibleText (client-supplied text on the consent page, security.md #9)", () => {
  it.each([
    ["plain ASCII", "mcp-client-123", "mcp-client-123"],
    ["letters of any script and emoji stay", "Zürich Клиент 客户端 🤖", "Zürich Клиент 客户端 🤖"],
    ["right-to-left override", "evil\u202Eia.edualc", "evil\\u202Eia.edualc"],
    ["every bidi embedding, override and isolate", "\u202A\u202B\u202C\u202D\u2066\u2067\u2068\u2069", "\\u202A\\u202B\\u202C\\u202D\\u2066\\u2067\\u2068\\u2069"],
    ["bidi marks", "a\u200Eb\u200Fc\u061Cd", "a\\u200Eb\\u200Fc\\u061Cd"],
    ["zero-width characters and BOM", "Cl\u200Bau\u200Cd\u200De\u2060\uFEFF", "Cl\\u200Bau\\u200Cd\\u200De\\u2060\\uFEFF"],
    ["soft hyphen", "Cla\u00ADude", "Cla\\u00ADude"],
    ["C0 and C1 controls, DEL", "a\u0000b\u0007c\nd\u007Fe\u0085f\u009Bg", "a\\u0000b\\u0007c\\u000Ad\\u007Fe\\u0085f\\u009Bg"],
    ["line and paragraph separators", "a\u2028b\u2029c", "a\\u2028b\\u2029c"],
    ["astral format characters (tags)", "x\u{E0041}\u{E007F}", "x\\u{E0041}\\u{E007F}"],
    ["empty", "", ""],
  ])("%s", (_name, input, shown) => expect(visibleText(input)).toBe(shown));

  it("leaves nothing invisible or reordering behind, and is idempotent", () => {
    const all = Array.from({ length: 0x3000 }, (_, i) => String.fromCodePoint(i)).join("");
    const out = visibleText(all);
    expect(out).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
    expect(visibleText(out)).toBe(out);
  });
});

describe("redirect targets", () => {
  const dev = loadConfig({ NODE_ENV: "test", PLATFORM_SCHEME: "http", PLATFORM_DOMAIN: "127.0.0.1:5173", DATA_DIR: "/tmp/x" });
  const prod = loadConfig({ NODE_ENV: "test", PLATFORM_SCHEME: "https", PLATFORM_DOMAIN: "robot.wtf", DATA_DIR: "/tmp/x" });
  const params: OAuthParams = {
    client_id: "c|1",
    redirect_uri: "https://app.example/cb?a=1",
    code_challenge: "ch",
    state: "a b",
    scope: "read write",
    response_type: "code",
    resource: "https://alice.robot.wtf/mcp",
    code_challenge_method: "S256",
  };

  it("approve: fixed order, only present parameters, then approval_token; form-urlencoded", () => {
    expect(approvalRedirectUrl(prod, "alice", params, "{}|ff")).toBe(
      "https://alice.robot.wtf/authorize/callback?client_id=c%7C1&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fa%3D1" +
        "&code_challenge=ch&code_challenge_method=S256&state=a+b&scope=read+write&response_type=code" +
        "&resource=https%3A%2F%2Falice.robot.wtf%2Fmcp&approval_token=%7B%7D%7Cff",
    );
    expect(approvalRedirectUrl(prod, "alice", { client_id: "c", redirect_uri: "x:/y", code_challenge: "z" }, "t")).toBe(
      "https://alice.robot.wtf/authorize/callback?client_id=c&redirect_uri=x%3A%2Fy&code_challenge=z&approval_token=t",
    );
  });

  it("approve in dev mode: the platform scheme and an IP domain, built as a string", () => {
    expect(approvalRedirectUrl(dev, "alice", { client_id: "c", redirect_uri: "x:/y", code_challenge: "z" }, "t")).toBe(
      "http://alice.127.0.0.1:5173/authorize/callback?client_id=c&redirect_uri=x%3A%2Fy&code_challenge=z&approval_token=t",
    );
  });

  it("deny: ? or & by the URI's query; state only when given; iss last", () => {
    expect(denyRedirectUrl("https://app.example/cb", "s 1", "https://alice.robot.wtf")).toBe(
      "https://app.example/cb?error=access_denied&state=s+1&iss=https%3A%2F%2Falice.robot.wtf",
    );
    expect(denyRedirectUrl("https://app.example/cb?x=1", undefined, "https://alice.robot.wtf")).toBe(
      "https://app.example/cb?x=1&error=access_denied&iss=https%3A%2F%2Falice.robot.wtf",
    );
  });

  it("the MCP issuer follows MCP_ISSUER_TEMPLATE", () => {
    expect(mcpIssuer(prod, "alice")).toBe("https://alice.robot.wtf");
    const custom = loadConfig({ NODE_ENV: "test", PLATFORM_SCHEME: "https", PLATFORM_DOMAIN: "robot.wtf", DATA_DIR: "/tmp/x", MCP_ISSUER_TEMPLATE: "https://{slug}.{domain}/mcp" });
    expect(mcpIssuer(custom, "bob")).toBe("https://bob.robot.wtf/mcp");
  });

  it("consentPath rebuilds the consent URL from the parameters", () => {
    expect(consentPath({ client_id: "c", redirect_uri: "x:/y", code_challenge: "z", state: "a&b" }, "alice")).toBe(
      "/auth/oauth/consent?client_id=c&redirect_uri=x%3A%2Fy&code_challenge=z&state=a%26b&wiki_slug=alice",
    );
  });
});

describe("parseRedirectUris (mcp_oauth_clients.redirect_uris)", () => {
  it.each([
    ['["https://a/cb","http://localhost:1/cb"]', ["https://a/cb", "http://localhost:1/cb"]],
    ["https://a/cb http://localhost:1/cb", ["https://a/cb", "http://localhost:1/cb"]],
    ["https://a/cb,http://localhost:1/cb", ["https://a/cb", "http://localhost:1/cb"]],
    [" https://a/cb ,\n http://b/cb ", ["https://a/cb", "http://b/cb"]],
    ['"https://a/cb"', ['"https://a/cb"']],
    ["[1,2]", ["[1", "2]"]],
    ["", []],
  ])("%j → %j", (text, uris) => expect(parseRedirectUris(text)).toEqual(uris));
});

describe("tokens", () => {
  const formKey = crypto.randomBytes(32);
  const payload: ConsentFormPayload = {
    client_id: "c",
    redirect_uri: "https://a/cb",
    code_challenge: "z",
    state: "s|t",
    wiki_slug: "alice",
    user_did: "did:plc:alice",
    csrf_nonce: "00".repeat(16),
    exp: 2_000_000_000,
  };

  it("consent form token: round trip; tampered, expired, foreign-key and malformed tokens fail", () => {
    const token = signConsentForm(formKey, payload);
    expect(token).not.toContain("|");
    expect(verifyConsentForm(formKey, token, 1_900_000_000)).toEqual(payload);
    expect(verifyConsentForm(formKey, token, 2_000_000_001)).toBeUndefined();
    expect(verifyConsentForm(crypto.randomBytes(32), token, 0)).toBeUndefined();
    const [body, mac] = token.split(".");
    const forged = Buffer.from(Buffer.from(body, "base64url").toString().replace("alice", "bobby"), "utf8").toString("base64url");
    expect(verifyConsentForm(formKey, `${forged}.${mac}`, 0)).toBeUndefined();
    expect(verifyConsentForm(formKey, "", 0)).toBeUndefined();
    expect(verifyConsentForm(formKey, "garbage", 0)).toBeUndefined();
  });

  it("consent form token: signed but mis-shaped payloads fail", () => {
    const sign = (value: unknown) => `${Buffer.from(JSON.stringify(value)).toString("base64url")}.${crypto.createHmac("sha256", formKey).update(Buffer.from(JSON.stringify(value)).toString("base64url")).digest("base64url")}`;
    expect(verifyConsentForm(formKey, sign(payload), 0)).toEqual(payload);
    expect(verifyConsentForm(formKey, sign([payload]), 0)).toBeUndefined();
    expect(verifyConsentForm(formKey, sign({ ...payload, exp: "2000000000" }), 0)).toBeUndefined();
    expect(verifyConsentForm(formKey, sign({ ...payload, exp: undefined }), 0)).toBeUndefined();
    expect(verifyConsentForm(formKey, sign({ ...payload, user_did: undefined }), 0)).toBeUndefined();
    expect(verifyConsentForm(formKey, sign({ ...payload, state: 5 }), 0)).toBeUndefined();
    expect(verifyConsentForm(formKey, sign({ ...payload, wiki_slug: "../x" }), 0)).toBeUndefined();
    // check 6 of §8.3 reports a missing nonce itself: verification does not require it
    expect(verifyConsentForm(formKey, sign({ ...payload, csrf_nonce: undefined }), 0)?.csrf_nonce).toBeUndefined();
  });

  it("approval token: compact JSON with sorted keys, absent fields omitted, lowercase hex HMAC", () => {
    const key = crypto.randomBytes(32);
    const token = signApprovalToken(key, {
      wiki_slug: "alice",
      user_did: "did:plc:a",
      client_id: "c|1",
      exp: 1700000120,
      redirect_uri: "https://a/cb",
      code_challenge: "z",
      scope: undefined,
      resource: "https://alice.robot.wtf/mcp",
      jti: "j",
    });
    const bar = token.lastIndexOf("|");
    const json = token.slice(0, bar);
    expect(json).toBe(
      '{"client_id":"c|1","code_challenge":"z","exp":1700000120,"jti":"j","redirect_uri":"https://a/cb",' +
        '"resource":"https://alice.robot.wtf/mcp","user_did":"did:plc:a","wiki_slug":"alice"}',
    );
    expect(token.slice(bar + 1)).toBe(crypto.createHmac("sha256", key).update(json).digest("hex"));
    expect(token.slice(bar + 1)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("small helpers", () => {
  it("scopes split on whitespace; wiki.db sits beside repo/", () => {
    expect(scopeList(" read\twrite  admin ")).toEqual(["read", "write", "admin"]);
    expect(scopeList(undefined)).toEqual([]);
    expect(wikiDbPathForRepo("/srv/data/wikis/alice/repo")).toBe("/srv/data/wikis/alice/wiki.db");
  });
});
