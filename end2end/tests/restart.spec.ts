import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { createEventByApi, eventPath, openEventPage, uniqueUsername } from "./support";

// A server of this test's own (the shared one must stay up for the other tests), on the same
// build and the embedded default (SQLite, in-process nodes), killed and started again.
const targetDir = process.env.CARGO_TARGET_DIR ?? "../target";
const whenly = process.env.WHENLY_BINARY ?? `${targetDir}/debug/whenly`;
const password = "correct horse battery";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function startWhenly(port: number, dataDir: string): ChildProcess {
  const child = spawn(whenly, [], {
    cwd: "..",
    env: {
      ...process.env,
      WHENLY_LISTEN: `127.0.0.1:${port}`,
      WHENLY_DATA_DIR: dataDir,
      WHENLY_LOG: "warn",
      WHENLY_SIGN_UPS_PER_CLIENT: "100000",
      WHENLY_CONTROL_LISTEN: "127.0.0.1:0",
      WHENLY_METRICS_LISTEN: "127.0.0.1:0",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  return child;
}

async function waitUntilServing(baseURL: string): Promise<void> {
  await expect
    .poll(
      async () => {
        try {
          return (await fetch(`${baseURL}/healthz`)).status;
        } catch {
          return 0;
        }
      },
      { timeout: 60_000, intervals: [200] },
    )
    .toBe(200);
}

/** Stops the server with `signal`; resolves with its exit code (null when killed by the signal). */
async function stopped(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  return new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.kill(signal);
  });
}

const killed = (child: ChildProcess) => stopped(child, "SIGKILL");

// SIGKILL: the stream just breaks. SIGTERM: the server tells the page when to come back (a
// `retry:` of 1–5 s), ends the stream and exits 0; either way the page reconnects by itself.
for (const signal of ["SIGKILL", "SIGTERM"] as const) test(`an open page survives a server restart (${signal}): its stream comes back by itself and shows what changed`, async ({ browser }, testInfo) => {
  test.setTimeout(180_000);
  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), "whenly-restart-"));
  let server = startWhenly(port, dataDir);
  try {
    await waitUntilServing(baseURL);
    const alice = await browser.newContext({ ...testInfo.project.use, baseURL });
    const bob = await browser.newContext({ ...testInfo.project.use, baseURL });
    const [aliceName, bobName] = [uniqueUsername("alice"), uniqueUsername("bob")];
    for (const [context, username] of [[alice, aliceName], [bob, bobName]] as const) {
      expect((await context.request.post("/api/v1/users/signup", { data: { username, password } })).status()).toBe(201);
    }
    const page = await alice.newPage();
    const code = await createEventByApi(page, { name: "Restart check", deadline: new Date(Date.now() + 3_600_000) });
    expect((await bob.request.post(`/api/v1/events/${code}/join`)).status()).toBe(200);

    const streams: number[] = [];
    page.on("response", (response) => {
      if (new URL(response.url()).pathname === `/api/v1/events/${code}/live`) streams.push(response.status());
    });
    let navigations = 0;
    page.on("framenavigated", (frame) => {
      if (frame === page.mainFrame()) navigations += 1;
    });
    await openEventPage(page, code);
    await expect(page.getByTestId("participants")).toContainText(bobName);
    await expect.poll(() => streams).toEqual([200]);
    const loadsBefore = navigations;

    // The server stops mid-stream and comes back on the same port and data.
    const exitCode = await stopped(server, signal);
    if (signal === "SIGTERM") expect(exitCode, "a graceful stop exits 0").toBe(0);
    server = startWhenly(port, dataDir);
    await waitUntilServing(baseURL);

    // Bob answers on the new process (his session was kept in the database): Alice's page,
    // never reloaded, shows it once its stream is back.
    const tomorrow = new Date(Date.now() + 86_400_000);
    const at = (hour: number) => new Date(Date.UTC(tomorrow.getUTCFullYear(), tomorrow.getUTCMonth(), tomorrow.getUTCDate(), hour)).toISOString();
    const answer = await bob.request.put(`/api/v1/events/${code}/availability`, { data: { intervals: [{ start: at(14), end: at(16) }] } });
    expect(answer.status()).toBe(200);
    await expect(page.getByTestId("participants").locator("li", { hasText: bobName })).toContainText("answered", { timeout: 30_000 });
    await expect(page.locator('.heat-grid [data-free="1"]').first()).toBeAttached();
    expect(streams.length, "the page opened its stream again").toBeGreaterThanOrEqual(2);
    expect(streams.every((status) => status === 200)).toBe(true);
    expect(navigations, "the page was not reloaded").toBe(loadsBefore);
    expect(page.url()).toContain(eventPath(code));
    await alice.close();
    await bob.close();
  } finally {
    await killed(server);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
