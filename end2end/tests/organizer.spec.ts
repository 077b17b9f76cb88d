import { expect, test } from "@playwright/test";
import { createEventByApi, eventPath, joinOnEventPage, localInputValue, newUser, openEventPage, press, saveScreenshot } from "./support";

test("the organizer hides answers, changes the event, moves the deadline and closes answers: the other page follows live", async ({ browser }, testInfo) => {
  test.setTimeout(180_000);
  const alice = await newUser(browser, testInfo, "alice");
  const bob = await newUser(browser, testInfo, "bob");
  const code = await createEventByApi(alice.page, { name: "Retro", deadline: new Date(Date.now() + 10 * 60_000) });
  await joinOnEventPage(bob.page, testInfo, eventPath(code));
  await openEventPage(alice.page, code);
  const organizer = alice.page.getByRole("region", { name: "Organizer" });
  await expect(organizer).toBeVisible();
  await expect(bob.page.getByRole("region", { name: "Organizer" })).toHaveCount(0);
  await expect(bob.page.getByTestId("participants")).toContainText(alice.name);

  // Both answer (through the API: the grid has its own tests).
  const tomorrow = (hour: number) => {
    const day = new Date(Date.now() + 86_400_000);
    day.setUTCHours(hour, 0, 0, 0);
    return day.toISOString();
  };
  for (const { page } of [alice, bob]) {
    const response = await page.request.put(`/api/v1/events/${code}/availability`, {
      data: { intervals: [{ start: tomorrow(9), end: tomorrow(12) }] },
    });
    expect(response.status()).toBe(200);
  }

  // Hidden answers: Bob's page shows counts, not who; Alice still sees names.
  await press(organizer.getByLabel(/Hide who answered/), testInfo);
  await expect(bob.page.getByTestId("answer-counts")).toHaveText(/2 taking part, 2 answered\./, { timeout: 15_000 });
  await expect(bob.page.getByTestId("participants")).not.toContainText(alice.name);
  await expect(alice.page.getByTestId("participants")).toContainText(bob.name);
  await saveScreenshot(bob.page, testInfo, "event-answers-hidden");

  // A new name and length, and a deadline two days on: Bob's page follows without a reload.
  await press(organizer.getByText("Change the event"), testInfo);
  await organizer.getByLabel("Name").fill("Sprint retro");
  await organizer.getByLabel("Meeting length (minutes)").fill("90");
  await organizer.getByLabel("Answers until").fill(await localInputValue(alice.page, new Date(Date.now() + 2 * 86_400_000 + 3_600_000)));
  await press(organizer.getByRole("button", { name: "Save changes" }), testInfo);
  await expect(organizer.getByText("Saved.")).toBeVisible();
  await expect(bob.page.getByRole("heading", { level: 1 })).toHaveText("Sprint retro", { timeout: 15_000 });
  await expect(bob.page.getByText("1 h 30 min")).toBeVisible();
  await expect(bob.page.getByTestId("countdown")).toContainText("closes in 2 d");
  await saveScreenshot(alice.page, testInfo, "event-organizer-controls");

  // A bad change (a window that ends before it starts) is named and changes nothing.
  const dayAfter = new Date(Date.now() + 3 * 86_400_000);
  await organizer.getByLabel("Earliest start").fill(await localInputValue(alice.page, dayAfter));
  await organizer.getByLabel("Latest end").fill(await localInputValue(alice.page, new Date(dayAfter.getTime() - 3_600_000)));
  await press(organizer.getByRole("button", { name: "Save changes" }), testInfo);
  await expect(organizer.getByRole("alert")).toContainText("The window must end after it starts.");
  await expect(bob.page.getByText("Between")).toHaveCount(0);

  // Close answers now: both pages show the time at once.
  await press(organizer.getByText("Close answers now"), testInfo);
  await press(organizer.getByRole("button", { name: "Yes, close answers and pick the time" }), testInfo);
  for (const { page } of [alice, bob]) {
    await expect(page.getByTestId("meeting-time")).toBeVisible({ timeout: 30_000 });
    await expect(page.getByRole("button", { name: "Save availability" })).toBeDisabled();
  }
  await expect(alice.page.getByRole("region", { name: "Organizer" })).toHaveCount(0);
});
