import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, redactSecrets } from "./log.server";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  return { log: createLogger("debug", sink), lines };
}

describe("log redaction (security.md §8)", () => {
  it("censors secret-named values at any depth and in any spelling", () => {
    const { log, lines } = capture();
    log.warn(
      {
        reqId: "r1",
        request: { headers: { Cookie: "platform_token=abc", Authorization: "Bearer xyz", "Set-Cookie": ["a=b"] } },
        a: { b: { token: "t1", c: { access_token: "at", refreshToken: "rt", dpop_private_jwk: { d: "dd" } } } },
        config: { sessionSecret: "s1", CONSENT_SECRET: "s2" },
        oauth: { code: "c1", code_verifier: "v1", state: "st" },
        list: [{ mcp_token: "m1" }, { password: "p" }],
        jwk: { kty: "EC", x: "xx", d: "privpart" },
        kept: { handle: "alice.test", status: 400 },
      },
      "something failed",
    );
    const text = JSON.stringify(lines[0]);
    for (const secret of ["abc", "xyz", "a=b", "t1", '"at"', '"rt"', '"dd"', "s1", "s2", "c1", "v1", '"st"', "m1", '"p"', "privpart"]) {
      expect(text, secret).not.toContain(secret);
    }
    expect(lines[0]).toMatchObject({ reqId: "r1", msg: "something failed", kept: { handle: "alice.test", status: 400 }, jwk: { kty: "EC", x: "xx", d: "[redacted]" } });
  });

  it("copes with cycles, Errors and Headers", () => {
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    const out = redactSecrets({ cyclic, err: new Error("boom"), h: new Headers({ cookie: "x=1", accept: "text/html" }) }) as Record<string, Record<string, unknown>>;
    expect(out.cyclic.self).toBe("[elided]");
    expect(out.err.message).toBe("boom");
    expect(out.h).toEqual({ cookie: "[redacted]", accept: "text/html" });
  });
});
