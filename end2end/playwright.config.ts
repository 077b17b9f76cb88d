import { defineConfig } from "@playwright/test";
import { mailDir, python, smtpPort } from "./mail-server";

// The server under test: `WHENLY_BINARY` (scripts/test.sh sets it to the unpacked release
// tarball's, so the suite tests what people install), else the debug build `cargo leptos
// build` made; on its own port and a throw-away data dir (SQLite), started and awaited by
// Playwright itself.
const port = process.env.WHENLY_E2E_PORT ?? "3100";
const targetDir = process.env.CARGO_TARGET_DIR ?? "../target";
const whenly = process.env.WHENLY_BINARY ?? `${targetDir}/debug/whenly`;
// A real SMTP server (aiosmtpd, scripts/setup.sh) the server mails through; the tests read
// what it received (support.ts `mailsTo`).

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  workers: 2,
  forbidOnly: !!process.env.CI,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      // Debian's Chromium; Playwright never downloads a browser here.
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [
    // Different zones on purpose: every time on the pages must follow the viewer's zone.
    { name: "desktop", use: { viewport: { width: 1280, height: 800 }, timezoneId: "Europe/Berlin" } },
    {
      name: "phone",
      use: {
        viewport: { width: 390, height: 844 },
        deviceScaleFactor: 3,
        isMobile: true,
        hasTouch: true,
        timezoneId: "America/New_York",
      },
    },
  ],
  webServer: [
  {
    command: `${python} server/tests/support/smtp_server.py ${smtpPort} ${mailDir} --until-killed`,
    cwd: "..",
    port: Number(smtpPort),
    timeout: 30_000,
    reuseExistingServer: false,
  },
  {
    command: whenly,
    cwd: "..",
    url: `http://127.0.0.1:${port}/healthz`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: "pipe",
    env: {
      WHENLY_LISTEN: `127.0.0.1:${port}`,
      WHENLY_DATA_DIR: process.env.WHENLY_E2E_DATA_DIR ?? "target/e2e-data",
      WHENLY_LOG: "info",
      // Every test signs up its own people, all from 127.0.0.1.
      WHENLY_SIGN_UPS_PER_CLIENT: "100000",
      // Any free port for the embedded nodes' control plane: never clash with a running Whenly.
      WHENLY_CONTROL_LISTEN: "127.0.0.1:0",
      WHENLY_METRICS_LISTEN: "127.0.0.1:0",
      WHENLY_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      WHENLY_PUBLIC_URL: `http://127.0.0.1:${port}`,
    },
  },
  ],
});
