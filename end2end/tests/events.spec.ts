import { expect, test, type Page } from "@playwright/test";
import {
  answerCell,
  answerWithText,
  createEventByApi,
  createEventInForm,
  deadlineAtLeast,
  dragGrid,
  eventPath,
  heatCellLike,
  joinOnEventPage,
  localTextTime,
  newUser,
  openEventPage,
  press,
  routes,
  saveScreenshot,
  uniqueUsername,
} from "./support";

const password = "correct horse battery";

/** The instant a grid cell starts at. */
async function cellStart(page: Page, row: number, column: number): Promise<Date> {
  return new Date((await answerCell(page, row, column).getAttribute("data-start"))!);
}

/** `YYYYMMDDTHHMMSSZ`, as in an .ics file. */
const icsTime = (instant: Date) => instant.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");

test("two people find a time: create, share, join, grid and text answers, heatmap, edit, outcome, .ics", async ({ browser }, testInfo) => {
  test.setTimeout(240_000);
  const alice = await newUser(browser, testInfo, "alice");
  const bob = await newUser(browser, testInfo, "bob");

  // Alice creates the event in the form; the deadline leaves time for everything below.
  const code = await createEventInForm(alice.page, testInfo, { name: "Team lunch", deadline: deadlineAtLeast(90) });
  const shareLink = await alice.page.getByLabel("Share link").inputValue();
  expect(shareLink).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+${eventPath(code)}$`));
  await expect(alice.page.getByTestId("countdown")).toContainText("closes in");

  // Bob opens the share link and joins.
  await joinOnEventPage(bob.page, testInfo, shareLink);
  await expect(alice.page.getByTestId("participants")).toContainText(bob.name, { timeout: 15_000 });

  // Alice paints tomorrow 09:00–11:00 (rows 4..11 of column 1) and saves.
  await openEventPage(alice.page, code);
  await dragGrid(alice.page, testInfo, answerCell(alice.page, 4, 1), answerCell(alice.page, 11, 1));
  for (const row of [4, 8, 11]) await expect(answerCell(alice.page, row, 1)).toHaveAttribute("aria-selected", "true");
  await expect(answerCell(alice.page, 12, 1)).toHaveAttribute("aria-selected", "false");
  await expect(alice.page.getByTestId("answer-state")).toHaveText("Unsaved changes.");
  await press(alice.page.getByRole("button", { name: "Save availability" }), testInfo);
  await expect(alice.page.getByTestId("answer-state")).toContainText("Your answer is saved");
  const nineThirty = answerCell(alice.page, 6, 1);
  const heatNineThirty = await heatCellLike(alice.page, nineThirty);
  await expect(heatNineThirty).toHaveAttribute("data-free", "1");
  await saveScreenshot(alice.page, testInfo, "event-answered");

  // Bob answers in text: tomorrow 09:30–12:00, in his own zone's wall-clock time.
  const from = await cellStart(alice.page, 6, 1);
  const noon = new Date(from.getTime() + 150 * 60_000);
  await answerWithText(bob.page, testInfo, `${await localTextTime(bob.page, from)} - ${await localTextTime(bob.page, noon)}`);
  await expect(bob.page.getByTestId("answer-state")).toContainText("Your answer is saved");
  // Bob's grid shows his text answer.
  await expect(answerCell(bob.page, 6, 1)).toHaveAttribute("aria-selected", "true");
  await expect(answerCell(bob.page, 5, 1)).toHaveAttribute("aria-selected", "false");

  // Alice's heatmap follows without a reload.
  await expect(heatNineThirty).toHaveAttribute("data-free", "2", { timeout: 15_000 });
  await expect(await heatCellLike(alice.page, answerCell(alice.page, 4, 1))).toHaveAttribute("data-free", "1");

  // Bob edits: from 10:00 only. The meeting must be 10:00–11:00.
  const ten = await cellStart(alice.page, 8, 1);
  const eleven = new Date(ten.getTime() + 60 * 60_000);
  await answerWithText(bob.page, testInfo, `${await localTextTime(bob.page, ten)} - ${await localTextTime(bob.page, noon)}`);
  await expect(answerCell(bob.page, 6, 1)).toHaveAttribute("aria-selected", "false");
  await expect(answerCell(bob.page, 8, 1)).toHaveAttribute("aria-selected", "true");
  await expect(heatNineThirty).toHaveAttribute("data-free", "1", { timeout: 15_000 });

  // The deadline passes: both pages show the same slot, with the inputs closed.
  const meeting = (page: Page) => page.getByTestId("meeting-time");
  await expect(meeting(alice.page)).toBeVisible({ timeout: 150_000 });
  await expect(meeting(bob.page)).toBeVisible({ timeout: 30_000 });
  const aliceSees = await meeting(alice.page).textContent();
  expect(aliceSees).toContain(`${await localTextTime(alice.page, ten).then((t) => t.slice(11))} – ${(await localTextTime(alice.page, eleven)).slice(11)}`);
  expect(await meeting(bob.page).textContent()).toBe(aliceSees);
  await expect(bob.page.getByText("Answers are closed: the deadline has passed")).toBeVisible();
  await expect(bob.page.getByRole("button", { name: "Save availability" })).toBeDisabled();
  await saveScreenshot(bob.page, testInfo, "event-scheduled");

  // The .ics download holds the slot in UTC.
  const [download] = await Promise.all([
    alice.page.waitForEvent("download"),
    press(alice.page.getByRole("link", { name: "Add to calendar (.ics)" }), testInfo),
  ]);
  const file = await (await download.createReadStream()).toArray().then((chunks) => Buffer.concat(chunks).toString("utf8"));
  expect(file).toContain(`DTSTART:${icsTime(ten)}\r\nDTEND:${icsTime(eleven)}`);
  expect(file).toContain("SUMMARY:Team lunch");

  // The dashboard lists it as finished, with the time.
  await bob.page.goto(routes.userArea);
  await expect(bob.page.getByTestId("finished")).toContainText("Team lunch");
  await expect(bob.page.getByTestId("finished")).toContainText("Meeting:");
  await saveScreenshot(bob.page, testInfo, "dashboard");
});

test("no common time: both see the best option and who can come", async ({ browser }, testInfo) => {
  test.setTimeout(120_000);
  const alice = await newUser(browser, testInfo, "alice");
  const bob = await newUser(browser, testInfo, "bob");
  const code = await createEventByApi(alice.page, { name: "Budget review", deadline: new Date(Date.now() + 40_000) });

  await joinOnEventPage(bob.page, testInfo, eventPath(code));
  await openEventPage(alice.page, code);

  const tomorrowAt = (hour: number) => {
    const day = new Date(Date.now() + 86_400_000);
    day.setHours(hour, 0, 0, 0);
    return day;
  };
  const line = async (page: Page, from: number, to: number) =>
    `${await localTextTime(page, tomorrowAt(from))} - ${await localTextTime(page, tomorrowAt(to))}`;
  await answerWithText(alice.page, testInfo, await line(alice.page, 9, 10));
  await expect(alice.page.getByTestId("answer-state")).toContainText("Your answer is saved");
  await answerWithText(bob.page, testInfo, await line(bob.page, 14, 15));
  await expect(bob.page.getByTestId("answer-state")).toContainText("Your answer is saved");

  for (const page of [alice.page, bob.page]) {
    await expect(page.getByText("No common time")).toBeVisible({ timeout: 60_000 });
    const clock = async (hour: number) => (await localTextTime(page, tomorrowAt(hour))).slice(11);
    await expect(page.getByTestId("best-effort")).toContainText(`${await clock(9)} – ${await clock(10)}`);
    await expect(page.getByTestId("can-come")).toHaveText(alice.name);
    await expect(page.getByTestId("cannot-come")).toHaveText(bob.name);
  }
  await saveScreenshot(bob.page, testInfo, "event-no-common-time");
});

test("unreadable lines of a text answer are named next to what was typed, and nothing is saved", async ({ browser }, testInfo) => {
  const alice = await newUser(browser, testInfo, "alice");
  const code = await createEventByApi(alice.page, { name: "Offsite", deadline: new Date(Date.now() + 600_000) });
  await openEventPage(alice.page, code);
  await answerWithText(alice.page, testInfo, "2030-01-08 09:00 - 2030-01-08 10:00\nnext tuesday\n2030-01-08 12:00 - 2030-01-08 11:00");
  const problems = alice.page.locator(".line-errors");
  await expect(problems.locator('[data-line="2"]')).toContainText("next tuesday");
  await expect(problems.locator('[data-line="2"]')).toContainText("expected `YYYY-MM-DD HH:mm - YYYY-MM-DD HH:mm`");
  await expect(problems.locator('[data-line="3"]')).toContainText("the end is not after the start");
  await expect(problems.locator("li")).toHaveCount(2);
  await expect(alice.page.getByTestId("answer-state")).toHaveText("You have not answered yet.");
  await saveScreenshot(alice.page, testInfo, "text-errors");
});

test("a full event refuses to join", async ({ browser }, testInfo) => {
  const alice = await newUser(browser, testInfo, "alice");
  const bob = await newUser(browser, testInfo, "bob");
  // Capacity 1: the organizer fills it.
  const code = await createEventInForm(alice.page, testInfo, { name: "One-on-one", deadline: deadlineAtLeast(3600), capacity: 1 });
  await expect(alice.page.getByText("1 of at most 1")).toBeVisible();

  await bob.page.goto(eventPath(code));
  await press(bob.page.getByRole("button", { name: "Join event" }), testInfo);
  await expect(bob.page.getByRole("alert")).toHaveText("This event is full: it has reached its maximum number of participants.");
  await expect(bob.page.locator(".answer-grid")).toHaveCount(0);
});

test("the organizer cancels; a participant who joined by code sees it cancelled", async ({ browser }, testInfo) => {
  const alice = await newUser(browser, testInfo, "alice");
  const bob = await newUser(browser, testInfo, "bob");
  const code = await createEventByApi(alice.page, { name: "Book club", deadline: new Date(Date.now() + 86_400_000) });

  // Bob joins by typing the code on his dashboard.
  await bob.page.getByLabel("Event code or link").fill(code);
  await press(bob.page.getByRole("button", { name: "Join", exact: true }), testInfo);
  await expect(bob.page).toHaveURL(eventPath(code));
  await expect(bob.page.locator(".answer-grid")).toBeVisible({ timeout: 30_000 });

  await openEventPage(alice.page, code);
  await press(alice.page.getByText("Cancel this event"), testInfo);
  await press(alice.page.getByRole("button", { name: "Yes, cancel the event" }), testInfo);
  await expect(alice.page.locator(".outcome")).toContainText("Cancelled");
  // Bob's open page notices by itself.
  await expect(bob.page.locator(".outcome")).toContainText("Cancelled", { timeout: 15_000 });
  await expect(bob.page.getByRole("button", { name: "Save availability" })).toBeDisabled();
  await bob.page.goto(routes.userArea);
  await expect(bob.page.getByTestId("finished")).toContainText("Book club");
  await expect(bob.page.getByTestId("finished")).toContainText("Cancelled");
});

test("the answer grid works from the keyboard", async ({ browser }, testInfo) => {
  const alice = await newUser(browser, testInfo, "alice");
  // Ten minutes ahead: tomorrow (column 1) is all after the deadline.
  const code = await createEventByApi(alice.page, { name: "Standup", deadline: new Date(Date.now() + 600_000) });
  await openEventPage(alice.page, code);
  // Focus the grid's one tab stop, move to tomorrow 08:15, mark it and the next quarter.
  await answerCell(alice.page, 0, 0).focus();
  for (const key of ["ArrowRight", "ArrowDown", "Space", "ArrowDown", "Enter"]) await alice.page.keyboard.press(key);
  await expect(answerCell(alice.page, 1, 1)).toHaveAttribute("aria-selected", "true");
  await expect(answerCell(alice.page, 2, 1)).toHaveAttribute("aria-selected", "true");
  await expect(answerCell(alice.page, 3, 1)).toHaveAttribute("aria-selected", "false");
  await alice.page.getByRole("button", { name: "Save availability" }).focus();
  await alice.page.keyboard.press("Enter");
  await expect(alice.page.getByTestId("answer-state")).toContainText("Your answer is saved");
  await alice.page.reload();
  await expect(answerCell(alice.page, 2, 1)).toHaveAttribute("aria-selected", "true", { timeout: 30_000 });
});

test("an invitation opened while logged out leads back to the event after signing up", async ({ browser, page }, testInfo) => {
  const alice = await newUser(browser, testInfo, "alice");
  const code = await createEventByApi(alice.page, { name: "Reunion", deadline: new Date(Date.now() + 600_000) });
  await page.goto(eventPath(code));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("You are invited to an event");
  await press(page.getByRole("main").getByRole("link", { name: "Sign up" }), testInfo);
  await page.getByLabel("Username").fill(uniqueUsername("carol"));
  await page.getByLabel("Password", { exact: true }).fill(password);
  await press(page.getByRole("button", { name: "Sign up" }), testInfo);
  await expect(page).toHaveURL(eventPath(code));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Reunion");
  await expect(page.getByRole("button", { name: "Join event" })).toBeVisible();
});

test("a participant leaves: the answer is withdrawn and the event leaves their lists", async ({ browser }, testInfo) => {
  const alice = await newUser(browser, testInfo, "alice");
  const bob = await newUser(browser, testInfo, "bob");
  const code = await createEventByApi(alice.page, { name: "Pub quiz", deadline: new Date(Date.now() + 86_400_000) });

  // Bob opens the link and joins on the event page; it reloads with him as a participant.
  await joinOnEventPage(bob.page, testInfo, eventPath(code));
  const from = deadlineAtLeast(2 * 86_400);
  const to = new Date(from.getTime() + 3_600_000);
  await answerWithText(bob.page, testInfo, `${await localTextTime(bob.page, from)} - ${await localTextTime(bob.page, to)}`);
  await expect(bob.page.getByTestId("answer-state")).toContainText("Your answer is saved");

  await openEventPage(alice.page, code);
  const participants = alice.page.getByTestId("participants");
  await expect(participants).toContainText(bob.name);
  const heat = alice.page.locator("section.heat");
  await expect(heat).toContainText("1 person has answered");

  await press(bob.page.getByText("Leave this event"), testInfo);
  await press(bob.page.getByRole("button", { name: "Yes, leave the event" }), testInfo);
  await expect(bob.page).toHaveURL(routes.userArea);
  for (const list of ["pending", "answered", "finished"]) await expect(bob.page.getByTestId(list)).not.toContainText("Pub quiz");

  // Alice's open page notices by itself: Bob and his answer are gone.
  await expect(participants).not.toContainText(bob.name, { timeout: 15_000 });
  await expect(participants.locator("li")).toHaveCount(1);
  await expect(heat).toContainText("Nobody has answered yet.");
  // He may come back until the deadline.
  await bob.page.goto(eventPath(code));
  await expect(bob.page.getByRole("button", { name: "Join event" })).toBeVisible();
});

test("an open page follows the event live: no reload, no polling, and the outcome appears by itself", async ({ browser }, testInfo) => {
  test.setTimeout(180_000);
  const alice = await newUser(browser, testInfo, "alice");
  const bob = await newUser(browser, testInfo, "bob");
  const code = await createEventByApi(alice.page, { name: "Live check", deadline: new Date(Date.now() + 40_000) });
  const polls: string[] = [];
  const streams: string[] = [];
  alice.page.on("request", (request) => {
    const path = new URL(request.url()).pathname;
    if (path.startsWith("/api/event_page")) polls.push(path);
    if (path === `/api/v1/events/${code}/live`) streams.push(path);
  });
  await openEventPage(alice.page, code);
  await expect.poll(() => streams.length).toBe(1);

  // Bob opens the link and joins on the page: only then does his page follow the event (a
  // non-member may not), with a stream of its own.
  const bobStreams: number[] = [];
  bob.page.on("response", (response) => {
    if (new URL(response.url()).pathname === `/api/v1/events/${code}/live`) bobStreams.push(response.status());
  });
  await joinOnEventPage(bob.page, testInfo, eventPath(code));
  await expect.poll(() => bobStreams).toEqual([200]);

  // Bob answers (through the API, from his own session): Alice's page shows it.
  const participants = alice.page.getByTestId("participants");
  await expect(participants).toContainText(bob.name, { timeout: 5_000 });
  const tomorrow = new Date(Date.now() + 86_400_000);
  const at = (hour: number) => new Date(Date.UTC(tomorrow.getUTCFullYear(), tomorrow.getUTCMonth(), tomorrow.getUTCDate(), hour)).toISOString();
  const answer = await bob.page.request.put(`/api/v1/events/${code}/availability`, { data: { intervals: [{ start: at(14), end: at(16) }] } });
  expect(answer.status()).toBe(200);
  await expect(participants.locator("li", { hasText: bob.name })).toContainText("answered", { timeout: 5_000 });
  await expect(alice.page.locator('.heat-grid [data-free="1"]').first()).toBeAttached({ timeout: 5_000 });

  // The deadline passes: the decided time appears by itself.
  await expect(alice.page.getByTestId("meeting-time")).toBeVisible({ timeout: 90_000 });
  expect(polls, "the page never asked for its data again").toEqual([]);
  expect(streams, "one stream for the whole time").toHaveLength(1);
});

test("an answer posted before the page came alive shows its error there, and the page still comes alive", async ({ browser }, testInfo) => {
  const alice = await newUser(browser, testInfo, "alice");
  const failures: string[] = [];
  alice.page.on("pageerror", (error) => failures.push(error.message));
  const code = await createEventByApi(alice.page, { name: "Early post", deadline: new Date(Date.now() + 3_600_000) });
  // The text form posted as a plain form (what a click does before the wasm has loaded): the
  // server sends the browser back to the page with the error in the address, sealed for it.
  const page = await (await alice.page.request.get(eventPath(code))).text();
  const action = page.match(/action="(\/api\/save_availability_text[^"]*)"/)![1];
  const posted = await alice.page.request.post(action, {
    form: { code, text: "not a time at all", time_zone: "UTC" },
    headers: { Accept: "text/html", Referer: new URL(eventPath(code), alice.page.url()).toString() },
    maxRedirects: 0,
  });
  expect(posted.status()).toBe(302);
  const location = posted.headers()["location"];
  expect(location).toContain("__seal=");
  await alice.page.goto(location);
  await expect(alice.page.locator(".answer-grid")).toBeVisible({ timeout: 30_000 });
  await expect(alice.page.locator(".line-errors li[data-line='1']")).toBeAttached();
  expect(failures, "the page hydrated without errors").toEqual([]);
});
