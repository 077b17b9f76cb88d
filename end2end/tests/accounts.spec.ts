import { expect, test } from "@playwright/test";
import { expectInUserArea, fillCredentials, press, routes, saveScreenshot, signUp, uniqueUsername } from "./support";

const password = "correct horse battery";

test("sign up, land in the user area, log out, log in again", async ({ page }, testInfo) => {
  const username = uniqueUsername("flow");
  await page.goto(routes.home);
  await saveScreenshot(page, testInfo, "home");
  await press(page.getByRole("link", { name: "Sign up" }).first(), testInfo);
  await expect(page).toHaveURL(routes.signUp);
  await saveScreenshot(page, testInfo, "signup");

  await signUp(page, testInfo, username, password);
  await expect(page.getByRole("navigation", { name: "Account" })).toContainText(username);
  await saveScreenshot(page, testInfo, "user-area");

  await press(page.getByRole("button", { name: "Log out" }), testInfo);
  await expect(page).toHaveURL(routes.home);
  await expect(page.getByRole("navigation", { name: "Account" }).getByRole("link", { name: "Log in" })).toBeVisible();

  // The user area is closed to a logged-out visitor.
  await page.goto(routes.userArea);
  await expect(page).toHaveURL(routes.logIn);

  await fillCredentials(page, username, password);
  await saveScreenshot(page, testInfo, "login");
  await press(page.getByRole("button", { name: "Log in" }), testInfo);
  await expectInUserArea(page, username);
});

test("a wrong password shows the error and keeps the user out", async ({ page }, testInfo) => {
  const username = uniqueUsername("wrong");
  await signUp(page, testInfo, username, password);
  await press(page.getByRole("button", { name: "Log out" }), testInfo);
  await expect(page).toHaveURL(routes.home);

  await page.goto(routes.logIn);
  await fillCredentials(page, username, "not the password");
  await press(page.getByRole("button", { name: "Log in" }), testInfo);
  await expect(page.getByRole("alert")).toHaveText("Wrong username or password.");
  // Still on the log-in page (a form posted before hydration carries the error in the query).
  await expect(page).toHaveURL(new RegExp(`${routes.logIn}(\\?.*)?$`));
  await saveScreenshot(page, testInfo, "login-error");

  await page.goto(routes.userArea);
  await expect(page).toHaveURL(routes.logIn);
});

test("sign-up rules are explained in words", async ({ page }, testInfo) => {
  await page.goto(routes.signUp);
  // Past the browser's own checks (length), the server's rule message shows.
  await fillCredentials(page, "bad name!", password);
  await press(page.getByRole("button", { name: "Sign up" }), testInfo);
  await expect(page.getByRole("alert")).toHaveText(
    "Username may only contain letters a–z, digits, '_', '.' and '-', not a space.",
  );
});

test("without the wasm a rejected sign-up still explains the rule", async ({ page }, testInfo) => {
  // A form posted before hydration (or with scripts off) is answered by a redirect that carries
  // the error; the server-rendered page must show it.
  await page.route("**/*.wasm", (route) => route.abort());
  await page.goto(routes.signUp);
  await fillCredentials(page, "bad name!", password);
  await press(page.getByRole("button", { name: "Sign up" }), testInfo);
  await expect(page.getByRole("alert")).toHaveText(
    "Username may only contain letters a–z, digits, '_', '.' and '-', not a space.",
  );
  await expect(page).toHaveURL(new RegExp(`^[^?]*${routes.signUp}\\?`));
});

test("the page is hydrated: client-side interactions need the wasm", async ({ page }, testInfo) => {
  await page.goto(routes.logIn);
  const passwordInput = page.getByLabel("Password", { exact: true });
  const toggle = page.getByRole("button", { name: /password/ });
  await expect(passwordInput).toHaveAttribute("type", "password");
  // Clicks before hydration do nothing; once hydrated one click reveals the password.
  await expect(async () => {
    await press(toggle, testInfo);
    await expect(passwordInput).toHaveAttribute("type", "text", { timeout: 250 });
  }).toPass({ timeout: 20_000 });
});

test("without the wasm the same interaction does nothing", async ({ page }, testInfo) => {
  await page.route("**/*.wasm", (route) => route.abort());
  await page.goto(routes.logIn);
  const passwordInput = page.getByLabel("Password", { exact: true });
  await expect(passwordInput).toBeVisible();
  await page.waitForLoadState("networkidle");
  for (let i = 0; i < 3; i++) await press(page.getByRole("button", { name: /password/ }), testInfo);
  await expect(passwordInput).toHaveAttribute("type", "password");
});
