// Measures what a first visit to an event page transfers (compressed, headers included), as
// Chromium's network layer counts it: the HTML, the JS glue, the wasm and the CSS.
// Run against a release build: `cargo leptos build --release`, start target/release/whenly,
// then `node end2end/page-weight.mjs http://127.0.0.1:3000`. See docs/BENCHMARKS.md.
import { chromium } from "@playwright/test";

const base = process.argv[2] ?? "http://127.0.0.1:3000";
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"],
});
const context = await browser.newContext({ baseURL: base });
const page = await context.newPage();
const username = `weight_${Date.now().toString(36)}`;
let response = await page.request.post("/api/v1/users/signup", { data: { username, password: "correct horse battery" } });
if (response.status() !== 201) throw new Error(`sign-up: ${response.status()}`);
response = await page.request.post("/api/v1/events", {
  data: { name: "Weight", deadline: new Date(Date.now() + 86_400_000).toISOString(), duration_minutes: 60 },
});
const { code } = await response.json();

const cdp = await context.newCDPSession(page);
await cdp.send("Network.enable");
await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
const urls = new Map();
const sizes = new Map();
cdp.on("Network.responseReceived", (event) => urls.set(event.requestId, event.response.url));
cdp.on("Network.loadingFinished", (event) => sizes.set(event.requestId, event.encodedDataLength));
await page.goto(`/e/${code}`);
await page.locator(".answer-grid").waitFor({ timeout: 30_000 });
await page.waitForLoadState("networkidle");

let total = 0;
for (const [id, url] of urls) {
  const bytes = sizes.get(id) ?? 0;
  total += bytes;
  console.log(`${(bytes / 1024).toFixed(1).padStart(8)} KB  ${new URL(url).pathname}`);
}
console.log(`${(total / 1024).toFixed(1).padStart(8)} KB  total (first load of /e/{code}, compressed)`);
await browser.close();
