/**
 * The Deno KV backend, Herald's embedded default: events, consumer groups, leases, retries and
 * dead letters live in one Deno KV database — a local file (nothing to install), `":memory:"`
 * for tests, or Deno Deploy's KV.
 *
 * How it stores things (all keys start with `"herald"`, see `keys.ts`):
 * - each stream has a sequence number; an append checks it and writes its events under the next
 *   numbers in one atomic operation (the events of one append to one stream in one value), so
 *   groups never skip an event a slower publisher committed late;
 * - each group has a cursor per stream; a claim leases due retries, expired leases and new
 *   events in one atomic operation guarded by checks (one lease entry per claimed batch), so
 *   two consumers never hold one delivery; settlements and extensions made meanwhile in one
 *   process are written in one operation;
 * - waiting claims wake at once for appends in this process, within a millisecond or two for
 *   another process's appends to the same file (each process rings a doorbell file in
 *   `<path>.wake/` after its commits, and waiting processes watch that folder), and otherwise by
 *   a poll (`pollMs`);
 * - several processes may share one file: SQLite's "database is locked" is retried inside;
 * - each stream keeps its newest 1,000,000 events by default (`retention`; trim by age and/or
 *   length, per stream if needed, or `"none"` to keep all).
 *
 * @example Using the backend with a bus
 * ```ts
 * import { createBus, createKvBackend } from "@herald/herald";
 *
 * const bus = createBus({ backend: createKvBackend({ path: ":memory:" }), source: "docs" });
 * await bus.close();
 * ```
 *
 * @module
 */
import { KvBackend } from "./backend.ts";
import { type KvOptions, validateKvOptions } from "./options.ts";

export type { KvBackend } from "./backend.ts";
export { DEFAULT_MAX_LENGTH } from "./options.ts";
export type { KvOptions, RetentionOptions } from "./options.ts";
export type { KvStats } from "./store.ts";

/**
 * Makes a Deno KV backend. The database opens on first use (or on `await backend.open()`).
 *
 * @param options Where the database is, retention, and wake-up tuning.
 * @returns The backend.
 * @throws {InvalidOptionsError} listing every problem with the options.
 *
 * @example A file database shared with the service's own data
 * ```ts
 * import { createKvBackend } from "@herald/herald";
 *
 * const backend = createKvBackend({ path: await Deno.makeTempFile({ suffix: ".db" }) });
 * const db = await backend.open(); // the same database: keep your own keys in it too
 * await db.set(["users", "u1"], { name: "Ada" });
 * await backend.close();
 * ```
 *
 * @example Keeping a week of events, and only the last 1,000 of "audit"
 * ```ts
 * import { createKvBackend } from "@herald/herald";
 *
 * const backend = createKvBackend({
 *   path: ":memory:",
 *   retention: { maxAgeMs: 7 * 24 * 3600_000, streams: { audit: { maxLength: 1000 } } },
 * });
 * await backend.close();
 * ```
 */
export function createKvBackend(options: KvOptions = {}): KvBackend {
  validateKvOptions(options);
  return new KvBackend(options);
}
