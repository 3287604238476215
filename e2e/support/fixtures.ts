// Shared fixtures for the browser suite: the topology, a login through the real PDS sign-in
// page, and a browserless login (the PDS's JSON endpoints) for tests that are not about login.
import fs from "node:fs";
import { expect, test as base, type BrowserContext, type Page } from "@playwright/test";
import { completePdsLogin } from "../harness/pds-login";
import type { Topology } from "./topology";
import { E2E_DOMAIN } from "./topology";

export type TopologyInfo = Omit<Topology, "procs"> & { mcpHostPort: number };
export const topology = (): TopologyInfo => JSON.parse(fs.readFileSync(process.env.E2E_TOPOLOGY!, "utf8"));

/** Chromium options for the https topology: resolve *.e2e.internal to loopback, trust Caddy's CA. */
export const httpsContextOptions = {
  ignoreHTTPSErrors: true,
};
export const httpsLaunchArgs = [`--host-resolver-rules=MAP *.e2e.internal 127.0.0.1, MAP e2e.internal 127.0.0.1`];

/** Sign in through the platform's login page and the PDS's own sign-in UI, as a person does. */
export async function loginInBrowser(page: Page, baseUrl: string, account: { handle: string; password: string }, opts: { startUrl?: string; identifier?: string } = {}) {
  await page.goto(opts.startUrl ?? `${baseUrl}/auth/login`);
  await page.locator("#username").fill(opts.identifier ?? account.handle);
  await page.getByRole("button", { name: "Login", exact: true }).click();
  const password = page.getByRole("textbox", { name: "Password", exact: true });
  await password.waitFor({ timeout: 20_000 });
  await password.fill(account.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  // A repeat login may skip the consent screen: race "Authorize" against the return.
  const authorize = page.getByRole("button", { name: "Authorize" });
  const back = new URL(baseUrl).host;
  await Promise.race([
    authorize.click({ timeout: 20_000 }).catch(() => undefined),
    page.waitForURL((u) => u.host === back, { timeout: 20_000 }),
  ]);
  await page.waitForURL((u) => u.host === back && !u.pathname.startsWith("/auth/callback"), { timeout: 20_000 });
}

/**
 * Log in without a browser (PDS JSON endpoints) and return the platform_token value. For the
 * https topology pass the platform's own http address: Node cannot resolve the .internal names,
 * and the platform answers for its configured origin whichever address the request came to.
 */
export async function loginBrowserless(baseUrl: string, account: { handle: string; password: string }): Promise<string> {
  const start = await fetch(`${baseUrl}/auth/login`, {
    method: "POST",
    body: new URLSearchParams({ username: account.handle }),
    redirect: "manual",
  });
  expect(start.status).toBe(302);
  const binding = start.headers.getSetCookie().find((c) => /login_state=/.test(c))!.split(";")[0];
  const back = await completePdsLogin(start.headers.get("location")!, { identifier: account.handle, password: account.password });
  const callback = new URL(back);
  const cb = await fetch(baseUrl + callback.pathname + callback.search, { headers: { Cookie: binding }, redirect: "manual" });
  expect(cb.status).toBe(302);
  const token = cb.headers.getSetCookie().find((c) => c.startsWith("platform_token="))!;
  return token.split(";")[0].slice("platform_token=".length);
}

export async function addPlatformCookie(context: BrowserContext, baseUrl: string, jwt: string) {
  await context.addCookies([{ name: "platform_token", value: jwt, url: baseUrl, httpOnly: true, sameSite: "Lax" }]);
}

export const cookieNamed = async (context: BrowserContext, name: string) => (await context.cookies()).find((c) => c.name === name);

export const test = base;
export { expect, E2E_DOMAIN };
