import { execFileSync } from "node:child_process";
import { expect, type Browser, type Locator, type Page, type TestInfo } from "@playwright/test";
import { mailDir, python } from "../mail-server";

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

/** The event page path of `code`, as `routes::event`. */
export const eventPath = (code: string): string => `/e/${code}`;

/** `YYYY-MM-DDTHH:MM` of `instant` in the page's own time zone: a `datetime-local` value. */
export async function localInputValue(page: Page, instant: Date): Promise<string> {
  return page.evaluate((ms) => {
    const d = new Date(ms);
    const pad = (n: number) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }, instant.getTime());
}

/** `YYYY-MM-DD HH:mm` of `instant` in the page's time zone: the text answer format. */
export async function localTextTime(page: Page, instant: Date): Promise<string> {
  return (await localInputValue(page, instant)).replace("T", " ");
}

/** The next whole minute at least `leadSeconds` away: a deadline the minute-precise form can hold. */
export function deadlineAtLeast(leadSeconds: number): Date {
  const earliest = Date.now() + leadSeconds * 1000;
  return new Date(Math.ceil(earliest / 60_000) * 60_000);
}

/** Creates an event through the form; returns its code (read from the page it opens). */
export async function createEventInForm(
  page: Page,
  testInfo: TestInfo,
  event: { name: string; deadline: Date; duration?: string; capacity?: number },
): Promise<string> {
  await page.goto("/new");
  await page.getByLabel("Name").fill(event.name);
  await page.getByLabel("Answers until").fill(await localInputValue(page, event.deadline));
  await page.getByLabel("Meeting length").selectOption({ label: event.duration ?? "1 hour" });
  if (event.capacity !== undefined) await page.getByLabel("Most participants").fill(String(event.capacity));
  await press(page.getByRole("button", { name: "Create event" }), testInfo);
  await expect(page).toHaveURL(/\/e\/[1-9A-HJ-NP-Za-km-z]{10}$/);
  return (await page.getByTestId("event-code").textContent())!.trim();
}

/** Creates an event over REST with the page's session (deadline to the second). */
export async function createEventByApi(
  page: Page,
  event: { name: string; deadline: Date; durationMinutes?: number; capacity?: number },
): Promise<string> {
  const response = await page.request.post("/api/v1/events", {
    data: {
      name: event.name,
      deadline: event.deadline.toISOString(),
      duration_minutes: event.durationMinutes ?? 60,
      capacity: event.capacity,
    },
  });
  expect(response.status()).toBe(201);
  return (await response.json()).code;
}

/** Waits until the event page is hydrated (the grid only exists then). */
export async function openEventPage(page: Page, code: string): Promise<void> {
  await page.goto(eventPath(code));
  await expect(page.locator(".answer-grid")).toBeVisible({ timeout: 30_000 });
}

/** Opens an event page by its link and joins there; the page comes back with the grid. */
export async function joinOnEventPage(page: Page, testInfo: TestInfo, link: string): Promise<void> {
  await page.goto(link);
  await press(page.getByRole("button", { name: "Join event" }), testInfo);
  await expect(page.locator(".answer-grid")).toBeVisible({ timeout: 30_000 });
}

/** The centre of a grid cell on screen. */
async function centre(cell: Locator): Promise<{ x: number; y: number }> {
  await cell.scrollIntoViewIfNeeded();
  const box = (await cell.boundingBox())!;
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/**
 * Drags across the answer grid from one cell to another: with the mouse on desktop, with a real
 * touch (Chromium's touch events, through the DevTools protocol) on the phone project.
 */
export async function dragGrid(page: Page, testInfo: TestInfo, from: Locator, to: Locator): Promise<void> {
  const start = await centre(from);
  const end = await centre(to);
  const steps = 8;
  const along = (i: number) => ({ x: start.x + ((end.x - start.x) * i) / steps, y: start.y + ((end.y - start.y) * i) / steps });
  if (testInfo.project.use.hasTouch) {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [start] });
    for (let i = 1; i <= steps; i++) await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: [along(i)] });
    // A finger rests before it lifts. Lifting mid-motion would start a fling, and Chromium spends
    // the next tap on stopping the fling instead of clicking.
    await page.waitForTimeout(150);
    await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: [end] });
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
    await cdp.detach();
  } else {
    await page.mouse.move(start.x, start.y);
    await page.mouse.down();
    for (let i = 1; i <= steps; i++) await page.mouse.move(along(i).x, along(i).y);
    await page.mouse.up();
  }
}

/** The cell of the answer grid at (row, column): rows are quarter hours from 08:00. */
export const answerCell = (page: Page, row: number, column: number): Locator => page.locator(`#answer-${row}-${column}`);

/** The heatmap cell starting at the same instant as `cell` of the answer grid. */
export async function heatCellLike(page: Page, cell: Locator): Promise<Locator> {
  const start = await cell.getAttribute("data-start");
  return page.locator(`.heat-grid [data-start="${start}"]`);
}

/** Saves a text answer from the "Type your times instead" form. */
export async function answerWithText(page: Page, testInfo: TestInfo, text: string): Promise<void> {
  const details = page.locator("details.text-answer-box");
  if (!(await details.evaluate((element) => (element as HTMLDetailsElement).open))) {
    await press(page.getByText("Type your times instead"), testInfo);
  }
  await page.getByLabel("Free times, one per line").fill(text);
  await press(page.getByRole("button", { name: "Save text answer" }), testInfo);
}

/** The mails the test SMTP server received for `address` (decoded by Python's `email`), in order. */
export function mailsTo(address: string): { subject: string; text: string }[] {
  const script = `
import email, email.policy, json, os, sys
directory, address = sys.argv[1], sys.argv[2].lower()
found = []
for name in sorted(n for n in os.listdir(directory) if n.endswith(".eml")):
    with open(os.path.join(directory, name), "rb") as file:
        message = email.message_from_binary_file(file, policy=email.policy.default)
    if address in str(message["To"]).lower():
        found.append({"subject": str(message["Subject"]), "text": message.get_body(("plain",)).get_content()})
print(json.dumps(found))
`;
  return JSON.parse(execFileSync(python, ["-c", script, mailDir, address]).toString());
}

/** Waits for the `count`-th mail to `address` and returns it. */
export async function waitForMail(address: string, count = 1): Promise<{ subject: string; text: string }> {
  for (let i = 0; i < 300; i++) {
    const mails = mailsTo(address);
    if (mails.length >= count) return mails[count - 1];
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no mail #${count} to ${address} within 30 s`);
}

/** The path and query of the first link in `text` to `path` (links point at the test server). */
export function linkTo(text: string, path: string): string {
  const match = text.match(new RegExp(`https?://[^/\\s]+(${path}\\?token=[^\\s>"]+)`));
  if (!match) throw new Error(`no ${path} link in ${text}`);
  return match[1];
}

/** A signed-up user in a browser context of their own, with the page's errors logged. */
export async function newUser(browser: Browser, testInfo: TestInfo, prefix: string): Promise<{ page: Page; name: string }> {
  const context = await browser.newContext(testInfo.project.use);
  const page = await context.newPage();
  const name = uniqueUsername(prefix);
  page.on("pageerror", (error) => console.log(`[${prefix}] page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") console.log(`[${prefix}] console: ${message.text().slice(0, 500)}`);
  });
  await signUp(page, testInfo, name, "correct horse battery");
  return { page, name };
}
