import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { answerCell, createEventByApi, newUser, openEventPage, press, saveScreenshot } from "./support";

/** `YYYYMMDD` of the day `offset` days after the day of `from`, in the page's zone (by the calendar, so a DST night does not skip or repeat a day). */
async function localDay(page: Page, from: Date, offset: number): Promise<string> {
  return page.evaluate(
    ([from, offset]) => {
      const day = new Date(from);
      day.setHours(12, 0, 0, 0);
      day.setDate(day.getDate() + offset);
      return `${day.getFullYear()}${String(day.getMonth() + 1).padStart(2, "0")}${String(day.getDate()).padStart(2, "0")}`;
    },
    [from.getTime(), offset] as const,
  );
}

/**
 * A calendar as an app exports it, in the page's own zone: the day after the deadline's (the
 * grid's second column) a meeting 10:00–11:00, a tentative lunch 13:00–14:00 and a transparent
 * all-day reminder, and a daily series at 15:00–16:00 that began weeks ago.
 */
async function workCalendar(page: Page, deadline: Date): Promise<Buffer> {
  const zone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  const [tomorrow, dayAfter, weeksAgo] = [await localDay(page, deadline, 1), await localDay(page, deadline, 2), await localDay(page, deadline, -27)];
  const lines = [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//Whenly tests//EN",
    "BEGIN:VEVENT",
    "UID:meeting@example.com",
    `DTSTART;TZID=${zone}:${tomorrow}T100000`,
    `DTEND;TZID=${zone}:${tomorrow}T110000`,
    "SUMMARY:Budget meeting",
    "END:VEVENT",
    "BEGIN:VEVENT",
    "UID:lunch@example.com",
    `DTSTART;TZID=${zone}:${tomorrow}T130000`,
    `DTEND;TZID=${zone}:${tomorrow}T140000`,
    "STATUS:TENTATIVE",
    "SUMMARY:Lunch, maybe",
    "END:VEVENT",
    "BEGIN:VEVENT",
    "UID:reminder@example.com",
    `DTSTART;VALUE=DATE:${tomorrow}`,
    `DTEND;VALUE=DATE:${dayAfter}`,
    "TRANSP:TRANSPARENT",
    "SUMMARY:Water the plants",
    "END:VEVENT",
    "BEGIN:VEVENT",
    "UID:series@example.com",
    `DTSTART;TZID=${zone}:${weeksAgo}T150000`,
    `DTEND;TZID=${zone}:${weeksAgo}T160000`,
    "RRULE:FREQ=DAILY",
    "SUMMARY:Daily review",
    "END:VEVENT",
    "END:VCALENDAR",
  ];
  return Buffer.from(lines.join("\r\n") + "\r\n");
}

/** Rows are quarter hours from 08:00. */
const row = (hour: number, minute = 0) => (hour - 8) * 4 + minute / 15;

test("a calendar file fills the grid for review: busy times stay busy, tentative ones become if need be, then it is saved", async ({ browser }, testInfo) => {
  test.setTimeout(120_000);
  const alice = await newUser(browser, testInfo, "alice");
  const page = alice.page;
  const deadline = new Date(Date.now() + 10 * 60_000);
  const code = await createEventByApi(page, { name: "Quarterly planning", deadline });
  await openEventPage(page, code);

  await press(page.getByText("Fill from your calendar"), testInfo);
  await page.getByLabel("Calendar file (.ics)").setInputFiles({ name: "work.ics", mimeType: "text/calendar", buffer: await workCalendar(page, deadline) });
  await expect(page.getByTestId("calendar-file-status")).toContainText("Read work.ics", { timeout: 15_000 });
  await expect(page.getByTestId("answer-state")).toHaveText("Unsaved changes.");

  // The day after the deadline's (column 1): free around the meeting and the series, if need be over the lunch.
  const cell = (hour: number, minute = 0) => answerCell(page, row(hour, minute), 1);
  for (const [hour, minute, state] of [
    [9, 45, "free"],
    [10, 0, "busy"],
    [10, 45, "busy"],
    [11, 0, "free"],
    [13, 0, "if-need-be"],
    [13, 45, "if-need-be"],
    [14, 0, "free"],
    [15, 0, "busy"],
    [16, 0, "free"],
  ] as const) {
    await expect(cell(hour, minute), `${hour}:${minute}`).toHaveAttribute("data-state", state);
  }
  // The day after has the daily series too, and nothing else.
  await expect(answerCell(page, row(15), 2)).toHaveAttribute("data-state", "busy");
  await expect(answerCell(page, row(10), 2)).toHaveAttribute("data-state", "free");
  await saveScreenshot(page, testInfo, "calendar-file-review");
  await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze().then((results) => {
    const grave = results.violations.filter((violation) => violation.impact === "serious" || violation.impact === "critical").map((violation) => violation.id);
    expect(grave, "axe with the calendar file read").toEqual([]);
  });

  // Undo goes back to the saved (empty) answer; reading again and saving keeps it.
  await press(page.getByRole("button", { name: "Undo changes" }), testInfo);
  await expect(cell(11)).toHaveAttribute("data-state", "busy");
  await expect(page.getByTestId("calendar-file-status")).not.toContainText("Read work.ics");
  await page.getByLabel("Calendar file (.ics)").setInputFiles({ name: "work.ics", mimeType: "text/calendar", buffer: await workCalendar(page, deadline) });
  await expect(cell(11)).toHaveAttribute("data-state", "free", { timeout: 15_000 });
  await press(page.getByRole("button", { name: "Save availability" }), testInfo);
  await expect(page.getByTestId("answer-state")).toContainText("Your answer is saved");
  await page.reload();
  await expect(cell(11)).toHaveAttribute("data-state", "free", { timeout: 30_000 });
  await expect(cell(13)).toHaveAttribute("data-state", "if-need-be");
  await expect(cell(10)).toHaveAttribute("data-state", "busy");

  // A file that is not a whole calendar: the reason, and the grid untouched.
  await press(page.getByText("Fill from your calendar"), testInfo);
  const cut = (await workCalendar(page, deadline)).subarray(0, 200);
  await page.getByLabel("Calendar file (.ics)").setInputFiles({ name: "cut.ics", mimeType: "text/calendar", buffer: cut });
  await expect(page.getByRole("alert").filter({ hasText: "cut short" })).toBeVisible({ timeout: 15_000 });
  await expect(page.getByTestId("answer-state")).toContainText("Your answer is saved");
  await expect(cell(11)).toHaveAttribute("data-state", "free");
});
