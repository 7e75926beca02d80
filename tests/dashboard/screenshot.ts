/**
 * Makes the dashboard screenshots in docs/: the overview with some data at 1280×800
 * (docs/dashboard.png) and a registration's journey (docs/dashboard-journey.png).
 *
 * ```sh
 * deno run -A tests/dashboard/screenshot.ts
 * ```
 *
 * @module
 */
import { until } from "../_until.ts";
import { Registered, startServices } from "../journey/_services.ts";
import { browserOrSkip, launch } from "./_browser.ts";
import { Ordered, startApp, TOKEN } from "./_app.ts";

const chromium = browserOrSkip();
if (!chromium) Deno.exit(1);
const docs = new URL("../../docs/", import.meta.url);
const app = await startApp();
const services = await startServices(app.bus);
const browser = await launch(chromium);
try {
  const root = await app.bus.publish(Registered, { email: "ada@example.com" });
  for (const email of ["grace@example.com", "alan@example.com"]) {
    await app.bus.publish(Registered, { email });
  }
  await app.worker.start();
  await app.bus.publish(Ordered, { n: 1, note: "bad card" });
  await until(async () => (await app.bus.backend.deadLetters("billing")).length === 1);
  await app.worker.stop();
  await app.bus.publishMany(
    Array.from({ length: 900 }, (_, n) => ({ contract: Ordered, data: { n, note: "ok" } })),
  );
  await until(async () => (await app.bus.backend.deadLetters("chat")).length === 3);
  const { page } = browser;
  await page.goto(app.url);
  await page.fill("#token", TOKEN);
  await page.click("#login button[type=submit]");
  await page.locator('tr[data-group="billing"] td[data-field="lag"]').waitFor();
  await page.locator("#live.on").waitFor();
  await page.screenshot({ path: new URL("dashboard.png", docs).pathname });
  await page.goto(`${app.url}#/journey/${root.id}`);
  await page.locator('li.hop[data-type="user.created"] .state').first().waitFor();
  await page.screenshot({ path: new URL("dashboard-journey.png", docs).pathname });
  console.log("wrote docs/dashboard.png and docs/dashboard-journey.png");
} finally {
  await browser.close();
  await services.stop();
  await app.close();
}
