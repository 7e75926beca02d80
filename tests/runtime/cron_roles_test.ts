/**
 * Cron leases across replicas and `HERALD_ROLE`, with real `deno serve` processes sharing one
 * Deno KV file.
 */
import { assert, assertEquals, assertGreater } from "@std/assert";
import { poll, serve, type Served, tempDb } from "./_serve.ts";

// Makes Deno.cron fire every second or so, whatever the schedule says.
const FAST_CRON = { DENO_CRON_TEST_SCHEDULE_OFFSET: "1000" };
const CRON_RAN = /fixture: cron-ran tick=(\S+) pid=(\d+)/;

async function closeAll(procs: Served[]): Promise<void> {
  await Promise.all(procs.map((p) => p.close()));
}

Deno.test("`createService()` runs each cron tick once across two replicas on one KV file", async () => {
  const db = await tempDb();
  const procs: Served[] = [];
  try {
    const env = { HERALD_TEST_KV: db.path, HERALD_ROLE: "cron", ...FAST_CRON };
    procs.push(await serve(env), await serve(env));
    const all = () => procs.flatMap((p) => p.matching(CRON_RAN));
    // Both replicas fire about every second: within a few ticks one must find its tick taken.
    const done = await poll(() => {
      const skipped = procs.some((p) => p.matching(/is run by another replica/).length > 0);
      return skipped && all().length >= 4 ? true : undefined;
    }, 30_000);
    assert(done, procs.map((p) => p.output()).join("\n---\n"));
    await closeAll(procs);
    const ticks = all().map((l) => l.match(CRON_RAN)![1]);
    assertEquals(ticks.length, new Set(ticks).size, `a tick ran twice: ${ticks.join(", ")}`);
  } finally {
    await closeAll(procs);
    await db.remove();
  }
});

Deno.test("`createService()` logs a cron job that throws and keeps running it", async () => {
  const db = await tempDb();
  const s = await serve({
    HERALD_TEST_KV: db.path,
    HERALD_ROLE: "cron",
    FIXTURE_CRON_THROW: "1",
    ...FAST_CRON,
  });
  try {
    const failed = await poll(
      () =>
        s.matching(/cron "tick": tick \S+ failed error="Error: cron boom"/).length >= 2 ||
        undefined,
      20_000,
    );
    assert(failed, s.output());
    assertEquals((await s.request("/healthz")).status, 200);
  } finally {
    await s.close();
    await db.remove();
  }
});

Deno.test("`createService()` runs only the roles named by HERALD_ROLE", async () => {
  const db = await tempDb();
  const procs: Served[] = [];
  try {
    const base = { HERALD_TEST_KV: db.path, ...FAST_CRON };
    const [web, worker, cron] = await Promise.all([
      serve({ ...base, HERALD_ROLE: "web" }),
      serve({ ...base, HERALD_ROLE: "worker" }),
      serve({ ...base, HERALD_ROLE: "cron" }),
    ]);
    procs.push(web, worker, cron);
    await Promise.all(procs.map((p) => p.ready()));
    const roles = async (s: Served) => JSON.parse((await s.request("/readyz")).body).roles;
    assertEquals(await roles(web), { web: "up" });
    assertEquals(await roles(worker), { worker: "up" });
    assertEquals(await roles(cron), { cron: "up" });

    // Web answers routes; the others serve health only.
    assertEquals((await web.request("/hello")).status, 200);
    assertEquals((await worker.request("/hello")).status, 404);
    assertEquals((await cron.request("/hello")).status, 404);
    assertEquals((await worker.request("/healthz")).status, 200);

    // An event published by the web process is handled by the worker process.
    assertEquals((await web.request("/ping/split-1", { method: "POST" })).status, 202);
    await worker.waitFor(/fixture: handled id=split-1 in=web-worker/);
    await cron.waitFor(CRON_RAN);

    await closeAll(procs);
    for (const s of [web, cron]) assertEquals(s.matching(/worker: /).length, 0, s.output());
    for (const s of [web, worker]) {
      assertEquals(s.matching(/cron-ran|cron: /).length, 0, s.output());
    }
    assertGreater(cron.matching(CRON_RAN).length, 0);
  } finally {
    await closeAll(procs);
    await db.remove();
  }
});
