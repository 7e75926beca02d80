/**
 * The Deno KV correlation index is bounded like the stream: retention that trims an event
 * deletes its index entries in the same pass.
 */
import { assertEquals } from "@std/assert";
import { createEnvelope } from "../../src/envelope.ts";
import { createKvBackend } from "../../src/kv/mod.ts";
import { tempDb } from "./_helpers.ts";

Deno.test("createKvBackend() trims the correlation index with the events retention trims", async () => {
  const db = await tempDb();
  const backend = createKvBackend({ path: db.path, retention: { maxLength: 2 }, journeys: true });
  try {
    const root = createEnvelope("jobs", "job.started", { n: 0 }, "tests");
    const caused = (n: number) =>
      createEnvelope("jobs", "job.step", { n }, "tests", {
        correlationid: root.id,
        causationid: root.id,
      });
    await backend.append([root]);
    await backend.append([caused(1), caused(2), caused(3)]);
    await backend.trim(["jobs"]);
    // One append's events are stored together and trimmed together: only the first append goes.
    const trace = await backend.trace(root.id);
    assertEquals(trace.events.map((e) => (e.envelope.data as { n: number }).n), [1, 2, 3]);
    const store = await backend.open();
    const index = await Array.fromAsync(store.list({ prefix: ["herald", "corr", root.id] }));
    const byEvent = await Array.fromAsync(store.list({ prefix: ["herald", "cev"] }));
    assertEquals(index.length, 3, "the root's index entry went with it");
    assertEquals(byEvent.length, 3);
    await backend.append([createEnvelope("jobs", "job.other", { n: 9 }, "tests")]);
    await backend.append([createEnvelope("jobs", "job.other", { n: 10 }, "tests")]);
    await backend.append([createEnvelope("jobs", "job.other", { n: 11 }, "tests")]);
    await backend.trim(["jobs"]);
    assertEquals((await backend.trace(root.id)).events, []);
    const left = await Array.fromAsync(store.list({ prefix: ["herald", "corr", root.id] }));
    const leftByEvent = await Array.fromAsync(store.list({ prefix: ["herald", "cev"] }));
    assertEquals([left.length, leftByEvent.length], [0, 0], "the index went with the events");
  } finally {
    await backend.close();
    await db.cleanup();
  }
});

Deno.test("createKvBackend() still appends 900 unrelated events in one call with their index entries", async () => {
  const db = await tempDb();
  const backend = createKvBackend({ path: db.path, journeys: true });
  try {
    const events = Array.from(
      { length: 900 },
      (_, n) => createEnvelope("bulk", "bulk.loaded", { n }, "tests"),
    );
    await backend.append(events);
    const trace = await backend.trace(events[899].id);
    assertEquals(trace.events.map((e) => e.position), ["900"]);
  } finally {
    await backend.close();
    await db.cleanup();
  }
});
