/**
 * Options of the Deno KV backend and their validation.
 *
 * @module
 */
import { InvalidOptionsError } from "../errors.ts";

/**
 * The events a Deno KV stream keeps when `retention` is not given, as Redis keeps about
 * 1,000,000 entries per stream: enough that a group rarely falls that far behind, few enough
 * that the file stays bounded (see docs/backends.md, "Scale and limits", for the disk it takes).
 *
 * @example Keeping twice the default
 * ```ts
 * import { createKvBackend, DEFAULT_MAX_LENGTH } from "@herald/herald";
 * const backend = createKvBackend({ path: ":memory:", retention: { maxLength: 2 * DEFAULT_MAX_LENGTH } });
 * await backend.close();
 * ```
 */
export const DEFAULT_MAX_LENGTH = 1_000_000;

/** The most dead letters a group keeps by default, as the Redis backend's `deadLetterMaxLen`. */
export const DEFAULT_DEAD_LETTER_MAX_LEN = 100_000;

/**
 * How much of a stream to keep. Both limits may be set; events go when either says so. The
 * events one append wrote to a stream are stored (and trimmed) together, so a stream may keep a
 * few more than `maxLength`, or events a little older than `maxAgeMs`, until the rest of their
 * append may go too.
 *
 * @example Keeping a day of events, and at most 10,000
 * ```ts
 * import type { RetentionOptions } from "@herald/herald";
 * const retention: RetentionOptions = { maxAgeMs: 24 * 3600_000, maxLength: 10_000 };
 * ```
 */
export interface RetentionOptions {
  /** Drop events older than this many milliseconds (judged by the envelope's `time`). */
  maxAgeMs?: number;
  /** Keep at most this many of the newest events. */
  maxLength?: number;
}

/**
 * Options of {@linkcode kv}.
 *
 * @example A database file next to the service
 * ```ts
 * import type { KvOptions } from "@herald/herald";
 * const options: KvOptions = { path: "./data/bus.db", pollMs: 1_000 };
 * ```
 */
export interface KvOptions {
  /**
   * The database file (its parent folders are created), or `":memory:"` for tests. Omit both
   * `path` and `kv` to use Deno's default database (on Deno Deploy: the app's KV).
   */
  path?: string;
  /**
   * An already open database to use instead of `path`; the backend does not close it. Events and
   * group state live under keys starting with `"herald"`, so the database can hold your data too.
   */
  kv?: Deno.Kv;
  /**
   * How much of each stream to keep, or `"none"` to keep every event (the file then grows
   * without limit). Trimming happens in the background after appends (at most once a second per
   * stream) and on `trim()`. It does not wait for groups that are behind: they skip what was
   * trimmed, and a retry or expired lease whose event was trimmed is dropped; each such loss is
   * counted per group (`stats.trimmedByGroup`) and logged. Dead letters keep their own copy, so
   * redrive still works.
   *
   * @default {{ maxLength: 1_000_000 }} (see {@linkcode DEFAULT_MAX_LENGTH})
   */
  retention?:
    | (RetentionOptions & {
      /** Limits for single streams, replacing the ones above for them; `"none"` keeps all. */
      streams?: Record<string, RetentionOptions | "none">;
    })
    | "none";
  /**
   * The most dead letters kept per group: past it the oldest (by event id, so by event time) are
   * deleted, counted in `stats.deadTrimmed` and logged. Inspect and redrive or purge them before
   * that. The count is kept as dead letters are written, redriven and purged.
   *
   * @default {100_000}
   */
  deadLetterMaxLen?: number;
  /**
   * The slowest a waiting `claim` notices events written by another process, in milliseconds.
   * On a local file, the doorbell watch (see `watch`) usually wakes it within a millisecond or
   * two; this poll is the backstop where file events do not exist. Where the watch works, an
   * idle consumer looks only every 10 polls without a ring (for a ring the watch missed, and for
   * leases of consumers in other processes that stopped).
   *
   * @default {1000}
   */
  pollMs?: number;
  /**
   * Wake waiting claims when another process writes to the same file, by watching the
   * database's doorbell folder (`<path>.wake/`, made next to the file): every process rings it
   * after each commit others may wait for. Only used with a file `path`. The database's own
   * folder is never watched: a watch there drops SQLite's file locks and corrupts the shared
   * WAL index of the other processes.
   *
   * @default {true}
   */
  watch?: boolean;
  /**
   * Index every appended event by its correlation id, in the append's atomic operation, so that
   * `trace()` (journeys: `herald trace`, `GET /herald/journeys/:id`) can follow a request. One or
   * two more writes per event, which slows publishing (see docs/operate.md for the cost). Off,
   * `trace()` rejects with a `NotFoundError` saying journeys are off.
   *
   * @default {false}
   */
  journeys?: boolean;
}

/** Checks options and lists every problem at once. */
export function validateKvOptions(options: KvOptions): void {
  const problems: string[] = [];
  if (typeof options !== "object" || options === null) {
    throw new InvalidOptionsError("kv", ["options must be an object"]);
  }
  const { path, kv, retention, pollMs, watch, deadLetterMaxLen } = options;
  if (path !== undefined && (typeof path !== "string" || path.length === 0)) {
    problems.push("path must be a non-empty string");
  }
  if (kv !== undefined && (typeof kv !== "object" || kv === null || !("atomic" in kv))) {
    problems.push("kv must be an open Deno.Kv");
  }
  if (path !== undefined && kv !== undefined) problems.push("give path or kv, not both");
  if (pollMs !== undefined && !(Number.isFinite(pollMs) && pollMs >= 5 && pollMs <= 60_000)) {
    problems.push("pollMs must be a number from 5 to 60000");
  }
  if (watch !== undefined && typeof watch !== "boolean") problems.push("watch must be a boolean");
  if (
    deadLetterMaxLen !== undefined &&
    !(Number.isSafeInteger(deadLetterMaxLen) && deadLetterMaxLen >= 1)
  ) {
    problems.push("deadLetterMaxLen must be a positive integer");
  }
  if (options.journeys !== undefined && typeof options.journeys !== "boolean") {
    problems.push("journeys must be a boolean");
  }
  if (retention !== undefined && retention !== "none") {
    if (typeof retention !== "object" || retention === null) {
      problems.push('retention must be an object or "none"');
    } else {
      checkRetention("retention", retention, problems);
      const streams = retention.streams;
      if (streams !== undefined) {
        if (typeof streams !== "object" || streams === null) {
          problems.push("retention.streams must be an object");
        } else {
          for (const [name, r] of Object.entries(streams)) {
            checkRetention(`retention.streams["${name}"]`, r, problems);
          }
        }
      }
    }
  }
  if (problems.length > 0) throw new InvalidOptionsError("kv", problems);
}

function checkRetention(where: string, r: RetentionOptions | "none", problems: string[]): void {
  if (r === "none" && where !== "retention") return;
  if (typeof r !== "object" || r === null) {
    problems.push(`${where} must be an object or "none"`);
    return;
  }
  if (r.maxAgeMs !== undefined && !(Number.isFinite(r.maxAgeMs) && r.maxAgeMs > 0)) {
    problems.push(`${where}.maxAgeMs must be a positive number`);
  }
  if (r.maxLength !== undefined && !(Number.isSafeInteger(r.maxLength) && r.maxLength >= 1)) {
    problems.push(`${where}.maxLength must be a positive integer`);
  }
}
