import { defineConfig } from "@playwright/test";

// Debian's Chromium (never `playwright install`); flags keep it off the closed network.
export const chromiumLaunch = {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    // The production-shaped topology's names (wtf.e2e.internal, {slug}.wtf.e2e.internal) → loopback.
    "--host-resolver-rules=MAP *.e2e.internal 127.0.0.1, MAP e2e.internal 127.0.0.1",
  ],
};

export default defineConfig({
  testDir: ".",
  testMatch: "**/*.spec.ts",
  globalSetup: "./global-setup.ts",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: true,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  use: {
    browserName: "chromium",
    launchOptions: chromiumLaunch,
    // Caddy's local CA is not in Chromium's trust store (it never touches system stores).
    ignoreHTTPSErrors: true,
    trace: "off",
  },
});
