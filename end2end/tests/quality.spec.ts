import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page, type TestInfo } from "@playwright/test";
import { createEventByApi, eventPath, openEventPage, routes, saveScreenshot, signUp, uniqueUsername } from "./support";

const password = "correct horse battery";

/** axe-core over WCAG 2.1 A and AA: no serious or critical violation. */
async function expectAccessible(page: Page, name: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const grave = results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((violation) => `${violation.id}: ${violation.help} (${violation.nodes.map((node) => node.target.join(" ")).join(", ")})`);
  expect(grave, `axe on ${name}`).toEqual([]);
}

/** The layout shift the page accumulated since it loaded (CLS), hydration included. */
async function layoutShift(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        let total = 0;
        new PerformanceObserver((list) => {
          for (const entry of list.getEntries() as unknown as { value: number; hadRecentInput: boolean }[]) {
            if (!entry.hadRecentInput) total += entry.value;
          }
        }).observe({ type: "layout-shift", buffered: true });
        setTimeout(() => resolve(total), 500);
      }),
  );
}

/** Collects what the page's content security policy blocked (Chromium reports each as a console error). */
function watchPolicy(page: Page): string[] {
  const blocked: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error" && message.text().includes("Content Security Policy")) blocked.push(message.text());
  });
  return blocked;
}

/** Opens `path`, waits for hydration (`ready`), scans it, checks it did not jump and that the
 * page's content security policy blocked nothing of ours, saves a screenshot. */
async function checkPage(page: Page, testInfo: TestInfo, path: string, name: string, ready?: string): Promise<void> {
  const blocked = watchPolicy(page);
  await page.goto(path);
  if (ready) await expect(page.locator(ready)).toBeVisible({ timeout: 30_000 });
  await page.waitForLoadState("networkidle");
  await expectAccessible(page, name);
  expect(await layoutShift(page), `layout shift on ${name}`).toBeLessThan(0.1);
  await saveScreenshot(page, testInfo, name);
  expect(blocked, `content security policy on ${name}`).toEqual([]);
  page.removeAllListeners("console");
  // Down to 360 px wide nothing scrolls sideways.
  const viewport = page.viewportSize()!;
  await page.setViewportSize({ width: 360, height: 740 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, `horizontal overflow at 360 px on ${name}`).toBeLessThanOrEqual(0);
  await page.setViewportSize(viewport);
}

// Every page passes axe (WCAG 2.1 AA), does not jump when hydrated, and is screenshotted. One
// test per viewer, so each has its own time budget and the two workers share them.
test.describe("every page passes axe (WCAG 2.1 AA), does not jump when hydrated, and is screenshotted", () => {
  test("as a visitor", async ({ page }, testInfo) => {
    test.setTimeout(120_000);
    await checkPage(page, testInfo, routes.home, "a11y-home");
    await checkPage(page, testInfo, routes.signUp, "a11y-signup");
    await checkPage(page, testInfo, routes.logIn, "a11y-login");
    await checkPage(page, testInfo, "/forgot-password", "a11y-forgot-password");
    await checkPage(page, testInfo, "/reset-password?token=x", "a11y-reset-password");
    await checkPage(page, testInfo, "/unsubscribe?token=x", "a11y-unsubscribe");
  });

  test("as an organizer", async ({ browser }, testInfo) => {
    test.setTimeout(120_000);
    const organizer = await (await browser.newContext(testInfo.project.use)).newPage();
    await signUp(organizer, testInfo, uniqueUsername("org"), password);
    const code = await createEventByApi(organizer, { name: "Quarterly planning", deadline: new Date(Date.now() + 3_600_000) });
    await checkPage(organizer, testInfo, routes.userArea, "a11y-dashboard");
    await checkPage(organizer, testInfo, `${routes.userArea}?q=a&status=open`, "a11y-dashboard-search");
    await checkPage(organizer, testInfo, "/new", "a11y-new-event");
    await checkPage(organizer, testInfo, "/settings", "a11y-settings");
    await checkPage(organizer, testInfo, eventPath(code), "a11y-event-organizer", ".answer-grid");

    // The text form, opened, is part of the page too.
    await openEventPage(organizer, code);
    await organizer.getByText("Type your times instead").click();
    await expectAccessible(organizer, "event page with the text form open");
  });

  test("as someone invited", async ({ browser }, testInfo) => {
    test.setTimeout(120_000);
    const organizer = await (await browser.newContext(testInfo.project.use)).newPage();
    await signUp(organizer, testInfo, uniqueUsername("org"), password);
    const code = await createEventByApi(organizer, { name: "Quarterly planning", deadline: new Date(Date.now() + 3_600_000) });
    const visitor = await (await browser.newContext(testInfo.project.use)).newPage();
    await checkPage(visitor, testInfo, eventPath(code), "a11y-event-invited");

    const guest = await (await browser.newContext(testInfo.project.use)).newPage();
    await signUp(guest, testInfo, uniqueUsername("guest"), password);
    await checkPage(guest, testInfo, eventPath(code), "a11y-event-join");
    await checkPage(guest, testInfo, "/no/such/page", "a11y-not-found");
  });
});

test("an injected inline script does not run; the page's own scripts and its islands do", async ({ page }, testInfo) => {
  const blocked = watchPolicy(page);
  await signUp(page, testInfo, uniqueUsername("csp"), password);
  const code = await createEventByApi(page, { name: "Policy check", deadline: new Date(Date.now() + 3_600_000) });
  await openEventPage(page, code);
  // The head script ran (it carries the nonce): the zone cookie is set.
  expect((await page.context().cookies()).some((cookie) => cookie.name === "whenly_tz")).toBe(true);
  // Nothing of ours was blocked: not the hydration script, not the wasm.
  await page.waitForLoadState("networkidle");
  expect(blocked).toEqual([]);
  // A script added without the nonce (as an injection would be) is refused.
  const ran = await page.evaluate(
    () =>
      new Promise<boolean>((resolve) => {
        (window as unknown as { injected?: boolean }).injected = false;
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.head.appendChild(script);
        setTimeout(() => resolve((window as unknown as { injected?: boolean }).injected === true), 200);
      }),
  );
  expect(ran).toBe(false);
  await expect.poll(() => blocked.length).toBeGreaterThan(0);
});

test("the site package has hashed names, is cached for good, and the islands still hydrate", async ({ page }, testInfo) => {
  const packageResponses: { url: string; cacheControl: string | undefined }[] = [];
  page.on("response", (response) => {
    if (new URL(response.url()).pathname.startsWith("/pkg/")) {
      packageResponses.push({ url: response.url(), cacheControl: response.headers()["cache-control"] });
    }
  });
  await signUp(page, testInfo, uniqueUsername("pkg"), password);
  const code = await createEventByApi(page, { name: "Package check", deadline: new Date(Date.now() + 3_600_000) });
  await openEventPage(page, code);
  await page.waitForLoadState("networkidle");
  const hashed = /\/pkg\/whenly\.[A-Za-z0-9_-]{22}\.(js|wasm|css)$/;
  const kinds = new Set(packageResponses.map((response) => response.url.split(".").pop()));
  expect([...kinds].sort()).toEqual(["css", "js", "wasm"]);
  for (const response of packageResponses) {
    expect(response.url).toMatch(hashed);
    expect(response.cacheControl).toBe("public, max-age=31536000, immutable");
  }
});
