import { expect, type Locator, type Page, type TestInfo } from "@playwright/test";

/** Page paths, as in app/src/routes.rs. */
export const routes = { home: "/", signUp: "/signup", logIn: "/login", userArea: "/me" } as const;

/** A username no other test (or earlier run on the same server) has taken. */
export function uniqueUsername(prefix = "user"): string {
  return `${prefix}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** Tap on touch projects, click elsewhere: the phone project is driven by touch. */
export async function press(target: Locator, testInfo: TestInfo): Promise<void> {
  if (testInfo.project.use.hasTouch) await target.tap();
  else await target.click();
}

export async function fillCredentials(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(password);
}

export async function signUp(page: Page, testInfo: TestInfo, username: string, password: string): Promise<void> {
  await page.goto(routes.signUp);
  await fillCredentials(page, username, password);
  await press(page.getByRole("button", { name: "Sign up" }), testInfo);
  await expectInUserArea(page, username);
}

export async function expectInUserArea(page: Page, username: string): Promise<void> {
  await expect(page).toHaveURL(routes.userArea);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Hello, ${username}`);
}

/** Saves a full-page screenshot under test-results/screens/ as a test artifact. */
export async function saveScreenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  await page.screenshot({ path: `test-results/screens/${testInfo.project.name}-${name}.png`, fullPage: true });
}
