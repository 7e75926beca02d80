/**
 * `ctx.atomic` "applied" markers are kept for the worker's dedupe window, then Deno KV deletes
 * them: the service's database stays bounded however many events it handles.
 *
 * @module
 */
import { assert, assertEquals, assertThrows } from "@std/assert";
import { DatabaseSync } from "node:sqlite";
import { z } from "zod";
import {
  createBus,
  createMemoryBackend,
  createWorker,
  defineEvent,
  InvalidOptionsError,
} from "@herald/herald";
import { until } from "../_until.ts";

const Noted = defineEvent({
  stream: "notes",
  type: "note.made",
  schema: z.object({ n: z.number() }),
});

/** Rows of the database file: all of them, and those Deno KV will delete at their expiry. */
function rows(path: string): { all: number; expiring: number; latestExpiry: number } {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const r = db.prepare(
      "select count(*) as all_, sum(expiration_ms >= 0) as expiring, max(expiration_ms) as latest from kv",
    ).get() as { all_: number; expiring: number | null; latest: number };
    return { all: r.all_, expiring: r.expiring ?? 0, latestExpiry: r.latest };
  } finally {
    db.close();
  }
}

Deno.test("ctx.atomic() markers expire after dedupeWindowMs: 2,000 events leave no markers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "herald-applied-" });
  const path = `${dir}/service.sqlite3`;
  const db = await Deno.openKv(path);
  const bus = createBus({ backend: createMemoryBackend(), source: "t" });
  const windowMs = 2_000;
  let handled = 0;
  const w = createWorker({
    bus,
    group: "notes",
    dedupeWindowMs: windowMs,
    leaseMs: 500,
    retry: { attempts: 2, baseMs: 100 },
    idleWaitMs: 20,
  }).on(Noted, async (event, ctx) => {
    const result = await ctx.atomic(db).set(["notes", event.data.n], event.data.n).commit();
    if (result.ok) handled++;
  });
  try {
    await w.start();
    const sent = Date.now();
    for (let i = 0; i < 2_000; i += 500) {
      await bus.publishMany(
        Array.from({ length: 500 }, (_, n) => ({ contract: Noted, data: { n: i + n } })),
      );
    }
    await until(() => handled === 2_000, 60_000);
    await w.stop();
    const before = rows(path);
    assertEquals(before.expiring, 2_000, "every marker carries an expiry");
    assert(before.latestExpiry <= Date.now() + windowMs && before.latestExpiry > sent);
    // Deno KV deletes expired keys on its own tick (about a minute on a local file).
    await until(() => rows(path).expiring === 0, 120_000, 1_000);
    assertEquals(rows(path).all, 2_000, "the service's own 2,000 keys are all that is left");
  } finally {
    db.close();
    await bus.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createWorker() refuses a dedupe window shorter than a retry policy's redeliveries", () => {
  const bus = createBus({ backend: createMemoryBackend(), source: "t" });
  assertThrows(
    () => createWorker({ bus, group: "g", dedupeWindowMs: 60_000 }),
    InvalidOptionsError,
    "dedupeWindowMs must cover",
  );
  const w = createWorker({ bus, group: "g", dedupeWindowMs: 3_600_000 });
  assertThrows(
    () => w.on(Noted, () => {}, { retry: { attempts: 30, maxMs: 600_000 } }),
    InvalidOptionsError,
    "dedupeWindowMs must cover",
  );
});
