/**
 * The dashboard's routes without a browser: served without a token from where the admin API is
 * mounted, with a Content Security Policy that allows only the page's own script and style.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { Hono } from "hono";
import { createBus, createMemoryBackend } from "@herald/herald";
import { createAdmin } from "@herald/herald/admin";

Deno.test("createAdmin() serves the dashboard page, script and style without a token", async () => {
  const bus = createBus({ backend: createMemoryBackend(), source: "tests" });
  try {
    const admin = createAdmin({ bus, token: "dashboard-token-0123456789", log: { info() {} } });
    const app = new Hono().mount("/herald", admin.fetch);
    const page = await app.request("/herald/dashboard");
    assertEquals(page.status, 200);
    assertMatch(page.headers.get("content-type")!, /^text\/html/);
    const csp = page.headers.get("content-security-policy")!;
    assertMatch(csp, /script-src 'self'/);
    assert(!csp.includes("unsafe-inline"), csp);
    assertEquals(page.headers.get("x-content-type-options"), "nosniff");
    const html = await page.text();
    assertMatch(html, /<script src="dashboard\.js" defer><\/script>/);
    assert(!/<script>/.test(html), "no inline script");

    const script = await app.request("/herald/dashboard.js");
    assertMatch(script.headers.get("content-type")!, /^text\/javascript/);
    const js = await script.text();
    new Function(js); // it parses
    assert(
      !/innerHTML|insertAdjacentHTML|outerHTML|document\.write/.test(js),
      "no markup from data",
    );
    assertMatch((await app.request("/herald/dashboard.css")).headers.get("content-type")!, /css/);
    const slash = await app.request("/herald/dashboard/");
    assertEquals([slash.status, slash.headers.get("location")], [301, "../dashboard"]);
    assertEquals(
      (await app.request("/herald/streams")).status,
      401,
      "the data still needs a token",
    );
  } finally {
    await bus.close();
  }
});
