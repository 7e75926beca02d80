/**
 * `createService()` under a real `deno serve`: HTTP, health endpoints, the Web Worker, and shutdown.
 */
import { assert, assertEquals } from "@std/assert";
import { poll, serve, type Served, tempDb } from "./_serve.ts";

async function withService(
  env: Record<string, string>,
  fn: (s: Served) => Promise<void>,
): Promise<void> {
  const db = await tempDb();
  const s = await serve({ HERALD_TEST_KV: db.path, ...env });
  try {
    await fn(s);
  } finally {
    await s.close();
    await db.remove();
  }
}

Deno.test("`createService()` serves the app, /healthz and /readyz under deno serve", async () => {
  await withService({}, async (s) => {
    const health = await s.request("/healthz");
    assertEquals(health.status, 200);
    assertEquals(JSON.parse(health.body), { status: "alive", service: "fixture" });
    await s.ready();
    const ready = JSON.parse((await s.request("/readyz")).body);
    assertEquals(ready.roles, { web: "up", cron: "up", worker: "up" });
    assertEquals(await s.request("/hello"), { status: 200, body: "hello" });
    assertEquals((await s.request("/nope")).status, 404);
  });
});

Deno.test("`createService()` hands an event published over HTTP to the worker in a Web Worker", async () => {
  await withService({}, async (s) => {
    await s.ready();
    const res = await s.request("/ping/http-1", { method: "POST" });
    assertEquals(res.status, 202);
    await s.waitFor(/fixture: handled id=http-1 in=web-worker/);
    assert(s.matching(/\[fixture\] worker: ready/).length === 1, s.output());
  });
});

Deno.test("`createService()` exits 0 on SIGTERM after the in-flight handler finishes", async () => {
  await withService({}, async (s) => {
    await s.ready();
    await s.request("/ping/slow-1?slowMs=1500", { method: "POST" });
    await s.waitFor(/fixture: slow-start id=slow-1/);
    s.signal("SIGTERM");
    const status = await s.status;
    assertEquals(status.code, 0, s.output());
    assert(s.matching(/fixture: slow-done id=slow-1/).length === 1, s.output());
    assert(s.matching(/\[fixture\] shut down/).length === 1, s.output());
  });
});

Deno.test("`createService()` answers a request in flight at SIGTERM before it exits", async () => {
  await withService({}, async (s) => {
    await s.ready();
    const slow = s.request("/slow?ms=1500");
    await s.waitFor(/fixture: slow-request-start/);
    s.signal("SIGTERM");
    assertEquals(await slow, { status: 200, body: "slow done" });
    assertEquals((await s.status).code, 0, s.output());
  });
});

Deno.test("`createService()` exits 0 once the grace period is over, leaving a slow handler", async () => {
  await withService({ FIXTURE_GRACE_MS: "300" }, async (s) => {
    await s.ready();
    await s.request("/ping/slow-3?slowMs=60000", { method: "POST" });
    await s.waitFor(/fixture: slow-start id=slow-3/);
    s.signal("SIGTERM");
    assertEquals((await s.status).code, 0, s.output());
    assertEquals(s.matching(/slow-done id=slow-3/).length, 0, s.output());
    assert(s.matching(/\[fixture\] shut down/).length === 1, s.output());
  });
});

Deno.test("`createService()` exits at once with code 1 on a second signal during shutdown", async () => {
  await withService({}, async (s) => {
    await s.ready();
    await s.request("/ping/slow-2?slowMs=4000", { method: "POST" });
    await s.waitFor(/fixture: slow-start id=slow-2/);
    s.signal("SIGTERM");
    await s.waitFor(/\[fixture\] worker: stopping/);
    s.signal("SIGINT");
    assertEquals((await s.status).code, 1, s.output());
    assertEquals(s.matching(/slow-done id=slow-2/).length, 0, s.output());
  });
});

Deno.test("`createService()` exits 0 on SIGINT when idle", async () => {
  await withService({}, async (s) => {
    await s.ready();
    s.signal("SIGINT");
    assertEquals((await s.status).code, 0, s.output());
    await s.waitFor(/\[fixture\] SIGINT received/);
  });
});

Deno.test("`createService()` restarts a Web Worker that crashed, reporting it in /readyz meanwhile", async () => {
  // Under deno serve, so that the crash Deno prints goes to this test's pipe, where it is checked.
  await withService({
    FIXTURE_NAME: "crashing-worker",
    FIXTURE_WORKER: "./crash_worker.ts",
    HERALD_ROLE: "web,worker",
  }, async (s) => {
    const crashed = await poll(async () => {
      const r = await s.request("/readyz");
      return r.body.includes("worker crashed") ? r : undefined;
    }, 20_000);
    assert(crashed, s.output());
    assertEquals(crashed.status, 503);
    const body = JSON.parse(crashed.body);
    assertEquals(body.roles, { web: "up", worker: "failed" });
    assert(String(body.reasons).includes("restarting in 1000 ms"), crashed.body);
    await s.ready();
    await s.waitFor(/Uncaught \(in worker .*\) Error: crash after start/);
    await s.waitFor(
      /\[crashing-worker\] worker: crashed error="Uncaught Error: crash after start"/,
    );
  });
});
