/**
 * Cron jobs declared in the worker module (`worker.cron()` + `createService({ workerCron })`): the
 * tick registered by the entry, the work done in the worker's isolate; with real `deno serve`
 * processes sharing one Deno KV file.
 */
import { assert, assertEquals, assertGreater, assertInstanceOf, assertThrows } from "@std/assert";
import { createBus } from "../../src/bus.ts";
import { defineCron } from "../../src/cron.ts";
import { InvalidOptionsError } from "../../src/errors.ts";
import { createMemoryBackend } from "../../src/memory/mod.ts";
import { createService } from "../../src/runtime/mod.ts";
import { createWorker } from "../../src/worker.ts";
import { poll, serve, type Served, tempDb } from "./_serve.ts";

const FIXTURE = new URL("./fixtures/cron_main.ts", import.meta.url);
// Makes Deno.cron fire every second or so, whatever the schedule says.
const FAST_CRON = { DENO_CRON_TEST_SCHEDULE_OFFSET: "1000" };
const JOB_RAN = /fixture: job=(\w+) tick=(\S+) in=(\S+) pid=(\d+)/;

function jobRuns(procs: Served[], job: string): { tick: string; where: string }[] {
  return procs.flatMap((p) => p.matching(JOB_RAN))
    .map((l) => l.match(JOB_RAN)!)
    .filter((m) => m[1] === job)
    .map((m) => ({ tick: m[2], where: m[3] }));
}

async function closeAll(procs: Served[]): Promise<void> {
  await Promise.all(procs.map((p) => p.close()));
}

Deno.test("`worker.cron()` rejects a bad declaration and a name declared twice", () => {
  const bus = createBus({ backend: createMemoryBackend(), source: "cron-options" });
  const worker = createWorker({ bus, group: "cron-options" });
  const err = assertThrows(() => worker.cron("bad!", "soon", "no" as never));
  assertInstanceOf(err, InvalidOptionsError);
  assertEquals(err.problems.length, 3, err.problems.join("\n"));
  worker.cron(defineCron({ name: "purge", schedule: "0 3 * * *" }), () => {});
  assertThrows(() => worker.cron("purge", "* * * * *", () => {}), TypeError, "already declared");
  assertEquals([...worker.crons.keys()], ["purge"]);
});

Deno.test("`createService()` wants a worker for workerCron and one name per job", () => {
  const job = defineCron({ name: "purge", schedule: "0 3 * * *" });
  const err = assertThrows(() =>
    createService({
      name: "cron-options",
      cron: { purge: { schedule: "* * * * *", run: () => {} } },
      workerCron: [job, { name: "x!", schedule: "" }],
      signals: false,
    })
  );
  assertInstanceOf(err, InvalidOptionsError);
  assertEquals(err.problems.length, 4, err.problems.join("\n"));
});

Deno.test("a worker-declared job runs in the Web Worker while requests are served", async () => {
  const db = await tempDb();
  const env = { HERALD_TEST_KV: db.path, FIXTURE_JOBS: "busy", ...FAST_CRON };
  const s = await serve(env, FIXTURE);
  try {
    await s.ready();
    let answered = 0;
    // A stream of requests until the busy job (500 ms of CPU a tick) has run three times.
    while (jobRuns([s], "busy").length < 3) {
      const res = await s.request("/hello");
      assertEquals(res, { status: 200, body: "hello" });
      answered++;
      assert(answered < 20_000, `the job never ran three times:\n${s.output()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const runs = jobRuns([s], "busy");
    assertEquals(runs.filter((r) => r.where !== "web-worker"), [], s.output());
    assertGreater(s.matching(/cron "busy": tick \S+ ran in the worker in \d+ ms/).length, 0);
    assertGreater(answered, 10);
  } finally {
    await s.close();
    await db.remove();
  }
});

Deno.test("HERALD_ROLE=cron alone runs each tick of a worker-declared job once across two replicas", async () => {
  const db = await tempDb();
  const procs: Served[] = [];
  try {
    const env = {
      HERALD_TEST_KV: db.path,
      HERALD_ROLE: "cron",
      FIXTURE_JOBS: "note",
      ...FAST_CRON,
    };
    procs.push(await serve(env, FIXTURE), await serve(env, FIXTURE));
    const done = await poll(() => {
      const skipped = procs.some((p) => p.matching(/is run by another replica/).length > 0);
      return skipped && jobRuns(procs, "note").length >= 4 ? true : undefined;
    }, 30_000);
    assert(done, procs.map((p) => p.output()).join("\n---\n"));
    await closeAll(procs);
    const runs = jobRuns(procs, "note");
    const ticks = runs.map((r) => r.tick);
    assertEquals(ticks.length, new Set(ticks).size, `a tick ran twice: ${ticks.join(", ")}`);
    assertEquals(runs.filter((r) => r.where !== "web-worker"), []);
    for (const p of procs) {
      assertEquals(p.matching(/worker: starting .* for its cron jobs/).length, 1);
    }
  } finally {
    await closeAll(procs);
    await db.remove();
  }
});

Deno.test("a worker-declared job that throws is logged, and the next tick runs", async () => {
  const db = await tempDb();
  const env = {
    HERALD_TEST_KV: db.path,
    FIXTURE_JOBS: "note",
    FIXTURE_JOB_THROW: "1",
    ...FAST_CRON,
  };
  const s = await serve(env, FIXTURE);
  try {
    const failed = /cron "note": tick (\S+) failed in the worker/;
    const ticks = await poll(() => {
      const seen = new Set(s.matching(failed).map((l) => l.match(failed)![1]));
      return seen.size >= 2 ? seen : undefined;
    }, 20_000);
    assert(ticks, s.output());
    assert(s.output().includes("Error: job boom"), s.output());
    assertEquals((await s.request("/healthz")).status, 200);
  } finally {
    await s.close();
    await db.remove();
  }
});

Deno.test("a tick handed to a restarting worker runs once it is back, or is skipped after its window", async () => {
  const db = await tempDb();
  const gate = `${db.path}.gate`;
  const env = {
    HERALD_TEST_KV: db.path,
    FIXTURE_JOBS: "note",
    FIXTURE_CRASH_STARTS: "1",
    FIXTURE_START_GATE: gate,
    ...FAST_CRON,
  };
  const s = await serve(env, FIXTURE);
  try {
    // The first start fails; the second waits at its gate: ticks meanwhile wait, then skip.
    await s.waitFor(/fixture: start 1 fails on purpose/);
    await s.waitFor(
      /cron "note": tick \S+ skipped, the worker was not up before the tick's window/,
    );
    const ticksOf = (pattern: RegExp) =>
      new Set(s.matching(pattern).map((l) => l.match(/tick (\S+)/)![1]));
    // The gate opens while a tick after the skipped one waits for the worker.
    const skippedFirst = ticksOf(/cron "note": tick \S+ skipped/);
    const waiting = await poll(() => {
      const waits = ticksOf(/cron "note": tick \S+ waits for the worker/);
      return [...waits].find((t) => !skippedFirst.has(t));
    }, 20_000);
    assert(waiting, s.output());
    await Deno.writeTextFile(gate, "go");
    // A tick that came while the worker was down and ran once it was back.
    const waitedAndRan = await poll(() => {
      const ran = ticksOf(/cron "note": tick \S+ ran in the worker/);
      return [...ticksOf(/cron "note": tick \S+ waits for the worker/)].find((t) => ran.has(t));
    }, 20_000);
    assert(waitedAndRan, s.output());
    await s.close();
    const ticks = jobRuns([s], "note").map((r) => r.tick);
    assertEquals(ticks.length, new Set(ticks).size, `a tick ran twice: ${ticks.join(", ")}`);
    assert(ticks.includes(waitedAndRan), s.output());
    for (const t of ticksOf(/cron "note": tick \S+ skipped/)) {
      assert(!ticks.includes(t), `skipped tick ${t} ran:\n${s.output()}`);
    }
  } finally {
    await s.close();
    await db.remove();
  }
});

Deno.test('with isolate: "same" a worker-declared job runs in the main isolate', async () => {
  const db = await tempDb();
  const env = {
    HERALD_TEST_KV: db.path,
    FIXTURE_JOBS: "note",
    FIXTURE_ISOLATE: "same",
    ...FAST_CRON,
  };
  const s = await serve(env, FIXTURE);
  try {
    await s.waitFor(/cron "note": tick \S+ ran in the worker/);
    await s.close();
    const runs = jobRuns([s], "note");
    assertGreater(runs.length, 0);
    assertEquals(runs.filter((r) => r.where !== "main"), [], s.output());
  } finally {
    await s.close();
    await db.remove();
  }
});

Deno.test("HERALD_ROLE=cron reports in /readyz a worker module that cannot start", async () => {
  const db = await tempDb();
  const env = {
    HERALD_TEST_KV: db.path,
    HERALD_ROLE: "cron",
    FIXTURE_JOBS: "note",
    FIXTURE_CRASH_STARTS: "100",
    ...FAST_CRON,
  };
  const s = await serve(env, FIXTURE);
  try {
    const body = await poll(async () => {
      const res = await s.request("/readyz");
      return res.status === 503 ? JSON.parse(res.body) : undefined;
    }, 20_000);
    assert(body, s.output());
    assertEquals(body.roles, { cron: "failed" });
    assert(String(body.reasons).includes("fails on purpose"), JSON.stringify(body));
  } finally {
    await s.close();
    await db.remove();
  }
});
