import { expect, test } from "@playwright/test";

import { topology } from "./support/fixtures";

const base = () => topology().dev.url;

test("the landing page renders with no console errors", async ({ page }) => {
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  const res = await page.goto(base() + "/");
  expect(res?.status()).toBe(200);
  await expect(page).toHaveTitle("robot.wtf — Memory for agents in a wiki for humans");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Memory for agents in a wiki for humans.");
  await expect(page.getByRole("link", { name: "Sign in with Bluesky" })).toHaveAttribute("href", "/auth/login");
  // Hydration done: a FAQ entry opens on click.
  await page.getByText("Is it free?").click();
  await expect(page.getByText("no paid tiers")).toBeVisible();
  await page.waitForLoadState("networkidle");
  expect(problems).toEqual([]);
});

test("an unknown path renders the styled 404 page", async ({ page }) => {
  const res = await page.goto(base() + "/definitely/not/here");
  expect(res?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Back to robot.wtf" })).toHaveAttribute("href", "/");
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(bg).toBe("rgb(247, 248, 251)"); // the stylesheet loaded under the CSP
});
