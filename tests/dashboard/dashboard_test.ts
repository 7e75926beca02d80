/**
 * The dashboard in a real browser (headless Chromium): sign-in with the token, a group's lag
 * going down live as a worker drains, a dead letter's payload shown as text, a redrive that
 * takes it off the list, and the layout at phone width.
 */
import { assert, assertEquals } from "@std/assert";
import { until } from "../_until.ts";
import { browserOrSkip, launch, withShot } from "./_browser.ts";
import { Ordered, startApp, TOKEN } from "./_app.ts";
import { Registered, startServices } from "../journey/_services.ts";

const chromium = browserOrSkip();
/** Records every lag the page shows for "billing", in `window.lags` (runs in the page). */
const RECORD_LAGS = `window.lags = [];
new MutationObserver(() => {
  const cell = document.querySelector('tr[data-group="billing"] td[data-field="lag"]');
  if (cell && cell.textContent) window.lags.push(cell.textContent);
}).observe(document.getElementById("groups"), { childList: true, subtree: true });`;
const XSS = `bad <img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`;

Deno.test({
  name: "dashboard shows lag going down live, and a redriven dead letter leaves the list",
  ignore: chromium === undefined,
  async fn() {
    const app = await startApp();
    const browser = await launch(chromium!);
    const { page } = browser;
    try {
      await withShot(page, "drain-and-redrive", async () => {
        await app.bus.publishMany(
          [...Array.from({ length: 40 }, (_, n) => ({ n, note: "ok" })), { n: 40, note: XSS }]
            .map((data) => ({ contract: Ordered, data })),
        );
        await page.goto(app.url);
        await page.fill("#token", TOKEN);
        await page.click("#login button[type=submit]");
        const lag = page.locator('tr[data-group="billing"] td[data-field="lag"]');
        await lag.filter({ hasText: /^41$/ }).waitFor();
        await page.evaluate(RECORD_LAGS);
        await app.worker.start();
        await lag.filter({ hasText: /^0$/ }).waitFor();
        const lags = await page.evaluate("window.lags") as string[];
        assertEquals(lags.at(-1), "0", "the page updated itself, without a reload");
        assert(lags.every((l, i) => i === 0 || Number(l) <= Number(lags[i - 1])), String(lags));
        const dead = page.locator('tr[data-group="billing"] td[data-field="dead"]');
        await dead.filter({ hasText: /^1$/ }).waitFor();

        await dead.locator("a").click();
        const letter = page.locator("article.letter");
        await letter.first().waitFor();
        assertEquals(await letter.count(), 1);
        const payload = await letter.locator("pre.payload").textContent();
        assert(payload?.includes(XSS.replaceAll('"', '\\"')), "the payload is shown as text");
        assertEquals(await page.locator("#main img, #main script").count(), 0);
        assertEquals(await page.evaluate("window.__xss"), undefined);

        app.flags.broken = false; // the fix is deployed: redrive
        await letter.locator('button[data-action="redrive"]').click();
        await page.locator("#confirm[open]").waitFor();
        await page.click("#confirm-ok");
        await page.locator("#dead-list .empty").waitFor();
        assertEquals(await letter.count(), 0);
        await until(async () => (await app.bus.backend.groups("orders"))[0].pending === 0);
        assertEquals((await app.bus.backend.deadLetters("billing")).length, 0);
      });
    } finally {
      await browser.close();
      await app.close();
    }
  },
});

Deno.test({
  name: "dashboard refuses a wrong token, asks before acting, and fits a phone's width",
  ignore: chromium === undefined,
  async fn() {
    const app = await startApp();
    const browser = await launch(chromium!, 390, 844);
    const { page } = browser;
    try {
      await withShot(page, "phone", async () => {
        await app.bus.publish(Ordered, { n: 1, note: "a rather long note ".repeat(20) });
        await page.goto(app.url);
        await page.fill("#token", "not-the-token-at-all");
        await page.click("#login button[type=submit]");
        await page.locator("#login-note", { hasText: "refused" }).waitFor();
        await page.fill("#token", TOKEN);
        await page.click("#login button[type=submit]");
        const row = page.locator('tr[data-group="billing"]');
        await row.waitFor();
        const thead = await page.evaluate(
          'getComputedStyle(document.querySelector("#groups thead")).display',
        );
        assertEquals(thead, "none", "the table turned into cards");
        const width = await page.evaluate("document.documentElement.scrollWidth") as number;
        assert(width <= 390, `the page is ${width}px wide at a 390px viewport`);

        await row.locator('button[data-action="delete"]').click();
        await page.locator("#confirm[open]").waitFor();
        await page.click("#confirm button[value=cancel]");
        await page.locator("#confirm[open]").waitFor({ state: "detached" });
        assertEquals((await app.bus.backend.groups("orders")).length, 1, "cancel deleted nothing");

        await page.reload(); // the token is kept for the tab
        await row.waitFor();
        await page.click("#logout");
        await page.locator("#login").waitFor();
        assertEquals(await page.evaluate("sessionStorage.length"), 0);
      });
    } finally {
      await browser.close();
      await app.close();
    }
  },
});

Deno.test({
  name: "dashboard follows a registration from its dead letter to its journey across services",
  ignore: chromium === undefined,
  async fn() {
    const app = await startApp();
    const services = await startServices(app.bus);
    const browser = await launch(chromium!);
    const { page } = browser;
    try {
      await withShot(page, "journey", async () => {
        const root = await app.bus.publish(Registered, { email: "ada@example.com" });
        await until(async () => (await app.bus.backend.deadLetters("chat")).length === 1);
        await page.goto(`${app.url}#/dead/chat`);
        await page.fill("#token", TOKEN);
        await page.click("#login button[type=submit]");
        await page.locator("article.letter a", { hasText: "Journey" }).click();
        const created = page.locator('li.hop[data-type="user.created"]');
        await created.locator('.state[data-group="chat"][data-state="dead"]').waitFor();
        await created.locator('.state[data-group="posts"][data-state="handled"]').waitFor();
        assertEquals(await created.getAttribute("class"), "hop focus", "the dead letter's event");
        const registered = page.locator('li.hop[data-type="user.registered"]');
        assertEquals(await registered.getAttribute("data-id"), root.id);
        await registered.locator('.state[data-group="users"][data-state="handled"]').waitFor();

        await page.goto(`${app.url}#/`);
        await page.fill("#find input", root.id);
        await page.click("#find button");
        await page.locator('li.hop.focus[data-type="user.registered"]').waitFor();
      });
    } finally {
      await browser.close();
      await services.stop();
      await app.close();
    }
  },
});
