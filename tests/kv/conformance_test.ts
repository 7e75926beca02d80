/**
 * The backend conformance suite against the Deno KV backend, in memory and on a file.
 *
 * @module
 */
import { createKvBackend } from "../../src/kv/mod.ts";
import { eventKey, seqKey } from "../../src/kv/keys.ts";
import { testBackendConformance } from "../../src/backend_mod.ts";
import type { KvBackend } from "../../src/kv/mod.ts";
import { tempDb } from "./_helpers.ts";

/** Writes a raw value into a stream the way the backend numbers entries. */
async function appendRaw(backend: KvBackend, stream: string, value: unknown): Promise<void> {
  const db = await backend.open();
  while (true) {
    const seq = await db.get<number>(seqKey(stream));
    const next = Number(seq.value ?? 0) + 1;
    const r = await db.atomic().check(seq).set(eventKey(stream, next), value).set(
      seqKey(stream),
      next,
    )
      .commit();
    if (r.ok) return;
  }
}

testBackendConformance({
  name: "kv (memory)",
  make: () => {
    const backend = createKvBackend({ path: ":memory:" });
    return Promise.resolve({ backend, appendRaw: (s, v) => appendRaw(backend, s, v) });
  },
  journeys: () => {
    const backend = createKvBackend({ path: ":memory:", journeys: true });
    return Promise.resolve({ backend, appendRaw: (s, v) => appendRaw(backend, s, v) });
  },
});

testBackendConformance({
  name: "kv (file)",
  make: async () => {
    const db = await tempDb();
    const backend = createKvBackend({ path: db.path });
    return { backend, appendRaw: (s, v) => appendRaw(backend, s, v), cleanup: db.cleanup };
  },
  journeys: async () => {
    const db = await tempDb();
    const backend = createKvBackend({ path: db.path, journeys: true });
    return { backend, appendRaw: (s, v) => appendRaw(backend, s, v), cleanup: db.cleanup };
  },
});
