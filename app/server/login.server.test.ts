import { describe, expect, it } from "vitest";
import { scrubbedErrorDetails } from "./login.server";

describe("scrubbedErrorDetails (callback refusals never log state or code, security.md §8)", () => {
  const state = "Zq3x_8m2PqLkT7vN-s9aBc";
  const code = "cod-AbCdEfGhIjKlMnOp";

  it("cuts the values out of the message, the stack and nested causes", () => {
    const inner = new Error(`token request failed for code ${code}`);
    const err = new Error(`Unknown authorization session "${state}"`, { cause: inner });
    const details = scrubbedErrorDetails(err, [state, code]);
    const text = JSON.stringify(details);
    expect(text).not.toContain(state);
    expect(text).not.toContain(code);
    expect(details.message).toBe('Unknown authorization session "[redacted]"');
    expect((details.cause as { message: string }).message).toBe("token request failed for code [redacted]");
  });

  it("finds values that JSON escapes, and leaves short made-up values alone", () => {
    const odd = 'st"ate\\with-quote';
    expect(JSON.stringify(scrubbedErrorDetails(new Error(`x ${odd} y`), [odd]))).not.toContain("ate");
    expect(scrubbedErrorDetails(new Error("expected an x"), ["x", ""]).message).toBe("expected an x");
  });

  it("handles thrown non-errors", () => {
    expect(scrubbedErrorDetails(`bad ${state}`, [state])).toEqual({ message: "bad [redacted]" });
  });
});
