/**
 * Retention by entry ends: a chunk's end (its last sequence number and newest time) is written
 * with it, so trimming a stream reads those small entries instead of decoding the events it
 * deletes. Entries written before ends existed are trimmed by reading them, as before, and no end
 * or correlation index entry outlives its chunk.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { createKvBackend, type KvBackend, type KvOptions } from "../../src/kv/mod.ts";
import { claimN, events, indexOf } from "./_helpers.ts";

/** A backend on its own in-memory database, the database itself, and the lists it served. */
async function open(options: Omit<KvOptions, "path" | "kv">) {
  const kv = await Deno.openKv(":memory:");
  const lists: [Deno.KvListSelector, Deno.KvListOptions | undefined][] = [];
  const list = kv.list.bind(kv);
  kv.list = ((selector: Deno.KvListSelector, o?: Deno.KvListOptions) => {
    lists.push([selector, o]);
    return list(selector, o);
  }) as typeof kv.list;
  const backend = createKvBackend({ ...options, kv });
  return {
    kv,
    backend,
    lists,
    async [Symbol.asyncDispose]() {
      await backend.close();
      kv.close();
    },
  };
}

/** Trims `stream` now, and waits for the trims appends started in the background. */
async function trimAll(backend: KvBackend, stream: string): Promise<void> {
  await backend.trim([stream]);
  await backend.close();
}

/** The last key parts (sequence numbers) under a prefix. */
async function seqsUnder(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number[]> {
  const out: number[] = [];
  for await (const e of kv.list({ prefix })) out.push(e.key.at(-1) as number);
  return out;
}

/** Appends `chunks` appends of `size` events each to `stream`. */
async function appendChunks(b: KvBackend, stream: string, chunks: number, size = 5, from = 0) {
  for (let i = 0; i < chunks; i++) await b.append(events(stream, size, from + i * size));
}

/** The lists of `stream`'s events that read more than the oldest entry. */
function eventReads(lists: [Deno.KvListSelector, Deno.KvListOptions | undefined][], s: string) {
  return lists.filter(([selector, o]) => {
    const key = ("prefix" in selector ? selector.prefix : selector.start!).join("/");
    return key.startsWith(`herald/ev/${s}`) && o?.limit !== 1;
  });
}

Deno.test("retention trims chunks by their ends, without reading their events", async () => {
  await using db = await open({ retention: { maxLength: 12 } });
  await appendChunks(db.backend, "ends", 10);
  // Events 1-50 in chunks of 5: keep from 39, so the chunk 36-40 stays whole.
  await trimAll(db.backend, "ends");
  assertEquals(eventReads(db.lists, "ends"), []);
  assertEquals(await seqsUnder(db.kv, ["herald", "ev", "ends"]), [36, 41, 46]);
  assertEquals(await seqsUnder(db.kv, ["herald", "end", "ends"]), [36, 41, 46]);
});

Deno.test("retention trims entries written before ends existed by reading them", async () => {
  await using db = await open({ retention: { maxLength: 12 } });
  await appendChunks(db.backend, "old", 4);
  // As a database written before ends: the first four chunks have none.
  for (const seq of await seqsUnder(db.kv, ["herald", "end", "old"])) {
    await db.kv.delete(["herald", "end", "old", seq]);
  }
  await appendChunks(db.backend, "old", 6, 5, 20);
  await db.backend.append(events("old", 1, 50)); // a single event has no end either
  await db.backend.subscribe("late", ["old"], "earliest");
  // Events 1-51: keep from 40, so the chunk 36-40 stays.
  await db.backend.trim(["old"]);
  assertEquals(await seqsUnder(db.kv, ["herald", "ev", "old"]), [36, 41, 46, 51]);
  assertEquals(await seqsUnder(db.kv, ["herald", "end", "old"]), [36, 41, 46]);
  const got = await claimN(db.backend, "late", ["old"], 16);
  assertEquals(got.map(indexOf), Array.from({ length: 16 }, (_, i) => 35 + i));
});

Deno.test("retention by ends deletes the correlation index entries of what it trims", async () => {
  await using db = await open({ retention: { maxLength: 10 }, journeys: true });
  await appendChunks(db.backend, "traced", 6);
  await trimAll(db.backend, "traced");
  assertEquals(await seqsUnder(db.kv, ["herald", "ev", "traced"]), [21, 26]);
  let index = 0;
  for await (const _ of db.kv.list({ prefix: ["herald", "corr"] })) index++;
  assertEquals(index, 10);
});

Deno.test("retention by ends trims by age with the newest time each end holds", async () => {
  await using db = await open({ retention: { maxAgeMs: 60_000 } });
  const old = new Date(Date.now() - 120_000).toISOString();
  const aged = (from: number) => events("aged", 5, from).map((e) => ({ ...e, time: old }));
  await db.backend.append(aged(0));
  await db.backend.append(aged(5));
  await appendChunks(db.backend, "aged", 2, 5, 10);
  await trimAll(db.backend, "aged");
  assertEquals(eventReads(db.lists, "aged"), []);
  assertEquals(await seqsUnder(db.kv, ["herald", "ev", "aged"]), [11, 16]);
  assertEquals(await seqsUnder(db.kv, ["herald", "end", "aged"]), [11, 16]);
});
