/**
 * `createService()` in this process: options, roles, readiness, the in-isolate worker and shutdown.
 */
import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { Hono } from "hono";
import { createBus } from "../../src/bus.ts";
import { InvalidOptionsError } from "../../src/errors.ts";
import { createMemoryBackend } from "../../src/memory/mod.ts";
import { tickOf } from "../../src/runtime/cron.ts";
import { createService, type Service } from "../../src/runtime/mod.ts";
import { captureConsole } from "../_console.ts";
import { poll } from "./_serve.ts";
import { Ping } from "./fixtures/contracts.ts";
import { bus as memoryBus, handled } from "./fixtures/memory_bus.ts";

async function readyz(s: Service): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await s.fetch(new Request("http://localhost/readyz"));
  return { status: res.status, body: await res.json() };
}

Deno.test("`createService()` lists every problem with its options at once", () => {
  const err = assertThrows(() =>
    createService({
      name: "",
      app: {} as never,
      worker: "not a url",
      cron: { "bad!": { schedule: "", run: "no" as never } },
      shutdownGraceMs: -1,
      roles: ["web", "mailer" as never],
      isolate: "thread" as never,
      onStop: 1 as never,
    })
  );
  assertInstanceOf(err, InvalidOptionsError);
  assertEquals(err.problems.length, 10, err.problems.join("\n"));
});

Deno.test("`createService()` rejects an unknown role in HERALD_ROLE", () => {
  Deno.env.set("HERALD_ROLE", "web, mailer");
  try {
    const err = assertThrows(() => createService({ name: "roles-env", signals: false }));
    assertInstanceOf(err, InvalidOptionsError);
    assert(err.message.includes('"mailer"'), err.message);
  } finally {
    Deno.env.delete("HERALD_ROLE");
  }
});

Deno.test("`createService()` takes HERALD_ROLE as a comma-separated list", async () => {
  Deno.env.set("HERALD_ROLE", " Cron , web");
  try {
    const s = createService({ name: "roles-list", signals: false });
    assertEquals(s.roles, ["web", "cron"]);
    await s.shutdown();
  } finally {
    Deno.env.delete("HERALD_ROLE");
  }
});

Deno.test("`createService()` throws for a schedule Deno.cron rejects, leaving no cron behind", () => {
  const err = assertThrows(() =>
    createService({
      name: "bad-schedule",
      roles: ["cron"],
      cron: {
        ok: { schedule: "0 3 * * *", run: () => {} },
        nope: { schedule: "soon", run: () => {} },
      },
      signals: false,
    })
  );
  assertInstanceOf(err, InvalidOptionsError);
  assert(err.message.includes('"nope"'), err.message);
});

Deno.test("`createService()` serves /healthz, /readyz and the app, and 404 without the web role", async () => {
  const app = new Hono().get("/hi", (c) => c.text("hi"));
  const web = createService({ name: "web-only", app, roles: ["web"], signals: false });
  const none = createService({ name: "no-web", app, roles: ["cron"], signals: false });
  try {
    assertEquals(await readyz(web), {
      status: 200,
      body: { status: "ready", service: "web-only", roles: { web: "up" }, reasons: [] },
    });
    assertEquals(await (await web.fetch(new Request("http://localhost/hi"))).text(), "hi");
    const off = await none.fetch(new Request("http://localhost/hi"));
    assertEquals(off.status, 404);
    await off.body?.cancel();
    const health = await none.fetch(new Request("http://localhost/healthz"));
    assertEquals(await health.json(), { status: "alive", service: "no-web" });
  } finally {
    await Promise.all([web.shutdown(), none.shutdown()]);
  }
});

Deno.test('`createService()` runs the worker in this isolate with `isolate: "same"`', async () => {
  const s = createService({
    name: "same-isolate",
    bus: memoryBus,
    worker: new URL("./fixtures/same_worker.ts", import.meta.url),
    isolate: "same",
    roles: ["worker"],
    signals: false,
  });
  try {
    assert(await poll(async () => (await readyz(s)).status === 200 || undefined, 10_000));
    await memoryBus.publish(Ping, { id: "same-1" });
    assert(await poll(() => handled.find((h) => h.id === "same-1"), 10_000));
    assertEquals(handled.find((h) => h.id === "same-1")?.where, "main");
  } finally {
    await s.shutdown();
  }
  const after = await readyz(s);
  assertEquals(after.status, 503);
  assertEquals(after.body.roles, { worker: "stopped" });
});

Deno.test('`createService()` with `isolate: "same"` starts a worker again after its start failed', async () => {
  const flaky = await import("./fixtures/flaky_same_worker.ts");
  const s = createService({
    name: "same-flaky",
    worker: new URL("./fixtures/flaky_same_worker.ts", import.meta.url),
    isolate: "same",
    roles: ["worker"],
    signals: false,
  });
  try {
    assert(await poll(async () => (await readyz(s)).status === 200 || undefined, 10_000));
    await flaky.bus.publish(Ping, { id: "flaky-1" });
    assert(await poll(() => flaky.handled.includes("flaky-1") || undefined, 10_000));
  } finally {
    await s.shutdown();
    await flaky.bus.close();
  }
});

Deno.test("`createService()` reports in /readyz a worker module that cannot start", async () => {
  const logs = captureConsole();
  const s = createService({
    name: "broken-worker",
    worker: new URL("./fixtures/not_a_worker.ts", import.meta.url),
    roles: ["worker"],
    signals: false,
  });
  try {
    const failed = await poll(async () => {
      const r = await readyz(s);
      return r.body.roles && (r.body.roles as { worker: string }).worker === "failed"
        ? r
        : undefined;
    }, 10_000);
    assert(failed);
    assertEquals(failed.status, 503);
    assert(String(failed.body.reasons).includes("not a Worker"), String(failed.body.reasons));
    assert(logs.has("[broken-worker] worker: start failed"), logs.lines.join("\n"));
    assert(logs.has("TypeError: The default export"), logs.lines.join("\n"));
  } finally {
    await s.shutdown();
    logs.restore();
  }
});

Deno.test("`createService()` shutdown() is idempotent and removes its signal listeners", async () => {
  const s = createService({ name: "idempotent", roles: ["web"] });
  const first = s.shutdown();
  assert(first === s.shutdown());
  await first;
  // The op sanitizer would flag a signal listener left behind.
  const app = await s.fetch(new Request("http://localhost/readyz"));
  assertEquals(app.status, 503);
  await app.body?.cancel();
});

Deno.test("`createService()` calls onStop once on shutdown, before it closes the bus", async () => {
  const steps: string[] = [];
  const backend = createMemoryBackend();
  const close = backend.close.bind(backend);
  backend.close = () => {
    steps.push("bus closed");
    return close();
  };
  const s = createService({
    name: "on-stop",
    bus: createBus({ backend, source: "on-stop" }),
    roles: ["web"],
    signals: false,
    onStop: () => {
      steps.push("onStop");
      throw new Error("logged, not thrown");
    },
  });
  const logs = captureConsole();
  try {
    await Promise.all([s.shutdown(), s.shutdown()]);
  } finally {
    logs.restore();
  }
  assertEquals(steps, ["onStop", "bus closed"]);
  assert(
    logs.has(`[on-stop] onStop failed error="Error: logged, not thrown"`),
    logs.lines.join("\n"),
  );
});

Deno.test("`tickOf()` gives replicas firing up to half a period apart the same tick", () => {
  const minute = 60_000;
  const at = Date.UTC(2025, 0, 1, 3, 0);
  const ticks = [at - 29_000, at, at + 1_500, at + 29_000].map((t) => tickOf(t, minute).getTime());
  assertEquals(new Set(ticks), new Set([at]));
  assertEquals(tickOf(at + 31_000, minute).getTime(), at + minute);
});
