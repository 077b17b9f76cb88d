import { expect, test, type Page, type TestInfo } from "@playwright/test";
import { createEventByApi, expectInUserArea, fillCredentials, linkTo, press, routes, signUp, uniqueUsername, waitForMail } from "./support";

/** Signs up through the form with an address; returns the address. */
async function signUpWithAddress(page: Page, testInfo: TestInfo, username: string): Promise<string> {
  const address = `${username}@example.org`;
  await page.goto(routes.signUp);
  await fillCredentials(page, username, "password123");
  await page.getByLabel("E-mail address").fill(address);
  await press(page.getByRole("button", { name: "Sign up" }), testInfo);
  await expectInUserArea(page, username);
  return address;
}

/** Opens the verification link mailed to `address` and confirms. */
async function verifyThroughTheLink(page: Page, testInfo: TestInfo, address: string): Promise<void> {
  const mail = await waitForMail(address, 1);
  expect(mail.subject).toBe("Confirm your e-mail address for Whenly");
  await page.goto(linkTo(mail.text, "/verify-email"));
  // Opening the link changes nothing (mail scanners open links too); the button does.
  await expect(page.getByTestId("email-verified")).toHaveCount(0);
  await press(page.getByRole("button", { name: "Confirm my address" }), testInfo);
  await expect(page.getByTestId("email-verified")).toBeVisible();
}

test("an address is verified through the link it is mailed", async ({ page }, testInfo) => {
  const username = uniqueUsername("verify");
  const address = await signUpWithAddress(page, testInfo, username);
  await page.goto("/settings");
  await expect(page.getByTestId("email-state")).toContainText("Not verified yet");
  await verifyThroughTheLink(page, testInfo, address);
  await page.goto("/settings");
  await expect(page.getByLabel("E-mail address")).toHaveValue(address);
  await expect(page.getByTestId("email-state")).toContainText("Verified");
  // A forged link says so.
  await page.goto("/verify-email?token=1.99999999999.forged");
  await press(page.getByRole("button", { name: "Confirm my address" }), testInfo);
  await expect(page.getByRole("alert")).toContainText("invalid or has expired");
});

test("a forgotten password is reset through the mailed link, once", async ({ page }, testInfo) => {
  const username = uniqueUsername("reset");
  const address = await signUpWithAddress(page, testInfo, username);
  await verifyThroughTheLink(page, testInfo, address);
  await press(page.getByRole("button", { name: "Log out" }), testInfo);
  await expect(page.getByRole("link", { name: "Log in" }).first()).toBeVisible();
  await page.goto(routes.logIn);
  await press(page.getByRole("link", { name: "Forgot your password?" }), testInfo);
  await page.getByLabel("Your verified e-mail address").fill(address);
  await press(page.getByRole("button", { name: "Mail me a link" }), testInfo);
  await expect(page.getByTestId("reset-sent")).toBeVisible();
  const mail = await waitForMail(address, 2);
  expect(mail.subject).toBe("Reset your Whenly password");
  const link = linkTo(mail.text, "/reset-password");
  await page.goto(link);
  await page.getByLabel("New password").fill("a brand new one");
  await press(page.getByRole("button", { name: "Set password" }), testInfo);
  await expectInUserArea(page, username);
  // Used once: the same link is refused now.
  await press(page.getByRole("button", { name: "Log out" }), testInfo);
  await expect(page.getByRole("link", { name: "Log in" }).first()).toBeVisible();
  await page.goto(link);
  await page.getByLabel("New password").fill("another new one");
  await press(page.getByRole("button", { name: "Set password" }), testInfo);
  await expect(page.getByRole("alert")).toContainText("invalid or has expired");
  // The new password works.
  await page.goto(routes.logIn);
  await fillCredentials(page, username, "a brand new one");
  await press(page.getByRole("button", { name: "Log in" }), testInfo);
  await expectInUserArea(page, username);
});

test("the bell counts unread notifications and the dashboard's list marks them read", async ({ page, browser }, testInfo) => {
  // Someone else organizes an event this user joined, and cancels it.
  const organizer = await browser.newContext(testInfo.project.use);
  const organizerPage = await organizer.newPage();
  await signUp(organizerPage, testInfo, uniqueUsername("org"), "password123");
  const code = await createEventByApi(organizerPage, { name: "Quarterly review", deadline: new Date(Date.now() + 3_600_000) });
  await signUp(page, testInfo, uniqueUsername("guest"), "password123");
  expect((await page.request.post(`/api/v1/events/${code}/join`)).status()).toBe(200);
  await expect(page.getByTestId("unread-count")).toHaveCount(0);
  expect((await organizerPage.request.delete(`/api/v1/events/${code}`)).status()).toBe(204);
  await organizer.close();

  await page.goto("/new");
  await expect(page.getByTestId("unread-count")).toHaveText("1");
  await expect(page.getByTestId("bell")).toHaveAttribute("aria-label", "Notifications, 1 unread");
  await press(page.getByTestId("bell"), testInfo);
  const list = page.getByTestId("notifications");
  await expect(list.getByRole("listitem")).toHaveCount(1);
  await expect(list.getByRole("listitem").first()).toContainText("“Quarterly review” was cancelled.");
  await expect(list.locator("li.unread")).toHaveCount(1);
  // Seen: once the page is live the count leaves the bell, and stays gone.
  await expect(page.getByTestId("unread-count")).toHaveCount(0, { timeout: 30_000 });
  await page.reload();
  await expect(page.getByTestId("unread-count")).toHaveCount(0);
  await expect(list.locator("li.unread")).toHaveCount(0);
  await expect(list.getByRole("listitem")).toHaveCount(1);
});
