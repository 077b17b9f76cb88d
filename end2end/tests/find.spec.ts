import { expect, test } from "@playwright/test";
import { createEventByApi, newUser, press, routes } from "./support";

test("find events: each list shows a page and links to all of it; search by name and status, page by page", async ({ browser }, testInfo) => {
  test.setTimeout(120_000);
  const alice = await newUser(browser, testInfo, "alice");
  for (let index = 1; index <= 23; index++) {
    await createEventByApi(alice.page, { name: `Standup ${String(index).padStart(2, "0")}`, deadline: new Date(Date.now() + 3_600_000 + index * 60_000) });
  }
  await createEventByApi(alice.page, { name: "Offsite", deadline: new Date(Date.now() + 7_200_000) });
  await alice.page.goto(routes.userArea);

  const organized = alice.page.getByTestId("organized");
  await expect(organized.getByRole("listitem")).toHaveCount(20);
  await press(organized.getByRole("link", { name: "Show all (4 more)" }), testInfo);
  const results = alice.page.getByTestId("results");
  await expect(results.getByRole("heading")).toHaveText("You organize");
  await expect(results.getByRole("status")).toContainText("24 events, page 1 of 2.");
  await press(results.getByRole("link", { name: "Next →" }), testInfo);
  await expect(results.getByRole("status")).toContainText("page 2 of 2");
  await expect(results.getByRole("listitem")).toHaveCount(4);
  await expect(results.getByRole("listitem").last()).toContainText("Offsite");

  // By name, any case; then a status nothing has.
  await alice.page.getByLabel("Name contains").fill("OFFSITE");
  await press(alice.page.getByRole("button", { name: "Find" }), testInfo);
  await expect(results.getByRole("listitem")).toHaveCount(1);
  await expect(results).toContainText("Offsite");
  await alice.page.getByLabel("Status").selectOption("cancelled");
  await press(alice.page.getByRole("button", { name: "Find" }), testInfo);
  await expect(results.getByRole("status")).toContainText("No event matches.");
  await press(results.getByRole("link", { name: "Back to all lists" }), testInfo);
  await expect(alice.page.getByTestId("organized")).toBeVisible();
});
