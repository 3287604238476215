import { describe, expect, it } from "vitest";
import { RESTART_BACKOFF, restartDelay } from "./cluster.server";

describe("restartDelay (replacing dead workers)", () => {
  it("starts at the first delay, doubles with every death in the window, and stops at the max", () => {
    expect([1, 2, 3, 4].map(restartDelay)).toEqual([1, 2, 4, 8].map((f) => f * RESTART_BACKOFF.firstMs));
    expect(restartDelay(50)).toBe(RESTART_BACKOFF.maxMs);
    expect(restartDelay(0)).toBe(RESTART_BACKOFF.firstMs);
  });
});
