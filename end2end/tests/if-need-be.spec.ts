import { expect, test, type Page } from "@playwright/test";
import {
  answerCell,
  answerWithText,
  createEventByApi,
  dragGrid,
  eventPath,
  heatCellLike,
  joinOnEventPage,
  localTextTime,
  newUser,
  openEventPage,
  press,
  saveScreenshot,
} from "./support";

const state = (page: Page, row: number, column: number) => answerCell(page, row, column);

test("three states: paint free and if need be (drag, touch, keys), type `?`, see the stripes, and the time names who would stretch", async ({ browser }, testInfo) => {
  test.setTimeout(180_000);
  const alice = await newUser(browser, testInfo, "alice");
  const bob = await newUser(browser, testInfo, "bob");
  const code = await createEventByApi(alice.page, { name: "Planning", deadline: new Date(Date.now() + 75_000) });
  await joinOnEventPage(bob.page, testInfo, eventPath(code));
  await openEventPage(alice.page, code);

  // Tomorrow (column 1) 09:00–10:00 free with the default brush (rows 4–7).
  await dragGrid(alice.page, testInfo, state(alice.page, 4, 1), state(alice.page, 7, 1));
  for (const row of [4, 7]) await expect(state(alice.page, row, 1)).toHaveAttribute("data-state", "free");
  // 10:00–11:00 if need be (rows 8–11), by a drag with the other brush.
  await press(alice.page.getByRole("radio", { name: "If need be" }), testInfo);
  await dragGrid(alice.page, testInfo, state(alice.page, 8, 1), state(alice.page, 11, 1));
  for (const row of [8, 11]) await expect(state(alice.page, row, 1)).toHaveAttribute("data-state", "if-need-be");
  await expect(state(alice.page, 7, 1)).toHaveAttribute("data-state", "free");
  // The keyboard paints with the brush too, and Space again clears back to busy.
  await state(alice.page, 12, 1).focus();
  await alice.page.keyboard.press("Space");
  await expect(state(alice.page, 12, 1)).toHaveAttribute("data-state", "if-need-be");
  await alice.page.keyboard.press("Space");
  await expect(state(alice.page, 12, 1)).toHaveAttribute("data-state", "busy");
  // Painting a free cell with the if-need-be brush turns it if need be (not busy).
  await state(alice.page, 7, 1).focus();
  await alice.page.keyboard.press("Space");
  await expect(state(alice.page, 7, 1)).toHaveAttribute("data-state", "if-need-be");
  await press(alice.page.getByRole("radio", { name: "Free", exact: true }), testInfo);
  await state(alice.page, 7, 1).focus();
  await alice.page.keyboard.press("Space");
  await expect(state(alice.page, 7, 1)).toHaveAttribute("data-state", "free");
  await press(alice.page.getByRole("button", { name: "Save availability" }), testInfo);
  await expect(alice.page.getByTestId("answer-state")).toContainText("Your answer is saved");

  // Saved as three states: after a reload, and in the text form as a `?` line.
  await alice.page.reload();
  await expect(state(alice.page, 5, 1)).toHaveAttribute("data-state", "free", { timeout: 30_000 });
  await expect(state(alice.page, 9, 1)).toHaveAttribute("data-state", "if-need-be");
  await expect(state(alice.page, 12, 1)).toHaveAttribute("data-state", "busy");
  const nine = new Date((await state(alice.page, 4, 1).getAttribute("data-start"))!);
  const ten = new Date(nine.getTime() + 3_600_000);
  const eleven = new Date(nine.getTime() + 7_200_000);
  await press(alice.page.getByText("Type your times instead"), testInfo);
  await expect(alice.page.getByLabel("Free times, one per line")).toHaveValue(
    `${await localTextTime(alice.page, nine)} - ${await localTextTime(alice.page, ten)}\n` +
      `${await localTextTime(alice.page, ten)} - ${await localTextTime(alice.page, eleven)} ?\n`,
  );

  // Bob types his answer: free 10:00–11:00, and 11:00–12:00 if need be.
  const noon = new Date(nine.getTime() + 3 * 3_600_000);
  await answerWithText(
    bob.page,
    testInfo,
    `${await localTextTime(bob.page, ten)} - ${await localTextTime(bob.page, eleven)}\n${await localTextTime(bob.page, eleven)} - ${await localTextTime(bob.page, noon)} ?`,
  );
  await expect(bob.page.getByTestId("answer-state")).toContainText("Your answer is saved");
  await expect(state(bob.page, 8, 1)).toHaveAttribute("data-state", "free");
  await expect(state(bob.page, 12, 1)).toHaveAttribute("data-state", "if-need-be");

  // The heatmap counts the free and, apart, those who would come only if need be.
  const heatTen = await heatCellLike(alice.page, state(alice.page, 9, 1));
  await expect(heatTen).toHaveAttribute("data-free", "1", { timeout: 15_000 });
  await expect(heatTen).toHaveAttribute("data-if-need-be", "1");
  await expect(heatTen).toHaveAttribute("title", "1 of 2 free, 1 more if need be");
  await expect(heatTen).toHaveClass(/maybe-some/);
  await saveScreenshot(alice.page, testInfo, "event-if-need-be");

  // Nobody is free at one time; 10:00–11:00 suits both if Alice stretches.
  for (const page of [alice.page, bob.page]) {
    await expect(page.getByTestId("meeting-time")).toBeVisible({ timeout: 120_000 });
    await expect(page.getByTestId("meeting-time")).toContainText(`${(await localTextTime(page, ten)).slice(11)} – ${(await localTextTime(page, eleven)).slice(11)}`);
    await expect(page.getByTestId("comes-if-need-be")).toHaveText(alice.name);
  }
  await saveScreenshot(bob.page, testInfo, "event-scheduled-if-need-be");
});
