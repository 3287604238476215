import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.server";
import { safeReturnTo } from "./return-to.server";

const prod = loadConfig({ NODE_ENV: "production", SESSION_SECRET: "x".repeat(40) });
const dev = loadConfig({ PLATFORM_DOMAIN: "127.0.0.1:5000" });
const e2e = loadConfig({ PLATFORM_SCHEME: "https", PLATFORM_DOMAIN: "wtf.e2e.internal:8443" });

describe("return_to (D5)", () => {
  it.each([
    ["/app/wiki/x", "/app/wiki/x"],
    ["/auth/oauth/consent?client_id=a&wiki_slug=b", "/auth/oauth/consent?client_id=a&wiki_slug=b"],
    ["/", "/"],
    ["https://robot.wtf/app/", "https://robot.wtf/app/"],
    ["https://gruen.robot.wtf/SomePage?edit=1", "https://gruen.robot.wtf/SomePage?edit=1"],
    ["https://ROBOT.wtf/app/", "https://robot.wtf/app/"],
    ["https://a-b.robot.wtf", "https://a-b.robot.wtf/"],
    // A Location header carries ASCII: beyond it, a relative value is sent percent-encoded.
    ["/wiki/é?q=é#é", "/wiki/%C3%A9?q=%C3%A9#%C3%A9"],
    ["/\u2028x", "/%E2%80%A8x"],
    ["/%C3%A9", "/%C3%A9"],
  ])("production accepts %s", (input, expected) => {
    expect(safeReturnTo(prod, input)).toBe(expected);
  });

  it.each([
    "",
    "//evil.example",
    "/\\evil.example",
    "/\t/evil",
    "/\n/evil",
    "/ evil",
    "https://evil.com/",
    "http://robot.wtf.evil.com/",
    "https://a.b.robot.wtf/",
    "https://x.robot.wtf:8443/",
    "https://user@x.robot.wtf/",
    "https://user:pw@robot.wtf/",
    "javascript:alert(1)",
    "http://robot.wtf/app/",
    "http://x.robot.wtf/",
    "https://-x.robot.wtf/",
    "http://localhost:3000/",
    "data:text/html,hi",
    "/" + "a".repeat(2048),
    "app/wiki",
  ])("production rejects %j", (input) => {
    expect(safeReturnTo(prod, input)).toBeUndefined();
  });

  it("dev mode accepts the platform origin and http localhost / 127.0.0.1", () => {
    expect(safeReturnTo(dev, "http://127.0.0.1:5000/app/")).toBe("http://127.0.0.1:5000/app/");
    expect(safeReturnTo(dev, "http://localhost:3000/cb")).toBe("http://localhost:3000/cb");
    expect(safeReturnTo(dev, "http://127.0.0.1:9/x")).toBe("http://127.0.0.1:9/x");
    expect(safeReturnTo(dev, "https://evil.com")).toBeUndefined();
  });

  it("a platform on a port accepts wiki subdomains on the same port only", () => {
    expect(safeReturnTo(e2e, "https://alice.wtf.e2e.internal:8443/Home")).toBe("https://alice.wtf.e2e.internal:8443/Home");
    expect(safeReturnTo(e2e, "https://alice.wtf.e2e.internal/Home")).toBeUndefined();
    expect(safeReturnTo(e2e, "https://wtf.e2e.internal:8443/app/")).toBe("https://wtf.e2e.internal:8443/app/");
  });
});
