/**
 * `createService()` mounts the admin API at `/herald` when told to, by option or environment.
 */
import { assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { Hono } from "hono";
import { createBus, createMemoryBackend, createService, InvalidOptionsError } from "@herald/herald";
import { createAdmin } from "@herald/herald/admin";

const TOKEN = "service-admin-token-0123456789";

function get(s: { fetch(r: Request): Promise<Response> }, path: string, token?: string) {
  const headers = token ? { authorization: `Bearer ${token}` } : undefined;
  return s.fetch(new Request(`http://localhost${path}`, { headers }));
}

Deno.test("createService() serves the admin API at /herald with the admin option", async () => {
  const bus = createBus({ backend: createMemoryBackend(), source: "svc" });
  const app = new Hono().get("/herald-not-admin", (c) => c.text("app"));
  const s = createService({ name: "svc", app, bus, admin: { token: TOKEN }, signals: false });
  try {
    assertEquals((await get(s, "/herald/streams")).status, 401);
    const res = await get(s, "/herald/streams", TOKEN);
    assertEquals([res.status, await res.json()], [200, { streams: [] }]);
    assertEquals(await (await get(s, "/herald-not-admin")).text(), "app");
  } finally {
    await s.shutdown();
  }
});

Deno.test("createService() serves the admin API when HERALD_ADMIN_TOKEN is set, and not otherwise", async () => {
  const bus = createBus({ backend: createMemoryBackend(), source: "svc" });
  const off = createService({ name: "svc", app: new Hono(), bus, signals: false });
  Deno.env.set("HERALD_ADMIN_TOKEN", TOKEN);
  let on;
  try {
    on = createService({ name: "svc", app: new Hono(), bus, signals: false });
  } finally {
    Deno.env.delete("HERALD_ADMIN_TOKEN");
  }
  try {
    assertEquals((await get(off, "/herald/groups", TOKEN)).status, 404);
    const res = await get(on, "/herald/groups", TOKEN);
    assertEquals([res.status, await res.json()], [200, { groups: [] }]);
  } finally {
    await off.shutdown();
    await on.shutdown();
  }
});

Deno.test("createService() and createAdmin() list every problem with the admin options", async () => {
  const err = assertThrows(() =>
    createService({ name: "svc", admin: { token: "short", readToken: "x" }, signals: false })
  );
  assertInstanceOf(err, InvalidOptionsError);
  assertEquals(err.problems.length, 3, err.problems.join("\n")); // token, readToken, no bus
  const bus = createBus({ backend: createMemoryBackend(), source: "svc" });
  const same = assertThrows(() => createAdmin({ bus, token: TOKEN, readToken: TOKEN }));
  assertInstanceOf(same, InvalidOptionsError);
  assertEquals(same.problems, ["the admin readToken must differ from token"]);
  await bus.close();
});
