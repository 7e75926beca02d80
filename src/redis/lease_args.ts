/**
 * The arguments of the settle and extend scripts (lease_scripts.ts): deliveries grouped into
 * runs by source and consumer.
 *
 * @module
 */
import type { Delivery, Settlement } from "../backend.ts";
import type { RedisArg } from "./client.ts";
import { deadRecord } from "./dead.ts";
import { decodeRef, type Keys, type Ref } from "./keys.ts";

/** A script call: its KEYS and ARGV. */
export interface ScriptCall {
  keys: string[];
  args: RedisArg[];
}

const OUTCOME = { ack: "a", retry: "r", release: "l", dead: "d" } as const;

// One settlement of a run: the outcome's letter, and the values after id and count.
interface SettleEntry {
  entryId: string;
  count: number;
  outcome: "a" | "r" | "l" | "d";
  extra?: RedisArg[];
}

/**
 * The SETTLE call for `settlements` (dead letters trimmed to about `deadMaxLen`), and whether any of them changes timers (retry, release). */
export function settleCall(
  keys: Keys,
  group: string,
  settlements: readonly Settlement[],
  deadMaxLen: number,
): ScriptCall & { timersChanged: boolean } {
  let timersChanged = false;
  const runs = leaseRuns(
    keys,
    group,
    settlements,
    (s) => decodeRef(s.delivery.ref),
    (s, ref): SettleEntry => {
      const entry: SettleEntry = {
        entryId: ref.entryId,
        count: ref.count,
        outcome: OUTCOME[s.outcome],
      };
      if (s.outcome === "retry") entry.extra = [Math.max(0, Math.round(s.delayMs))];
      if (s.outcome === "dead") {
        const dead = deadRecord(s.delivery, ref.entryId, s.error);
        entry.extra = [dead.record, dead.fields];
      }
      if (s.outcome === "retry" || s.outcome === "release") timersChanged = true;
      return entry;
    },
  );
  // In cluster mode the settlements are of one stream (see RedisBackend.settle).
  const call: ScriptCall = { keys: [keys.dead(group, runs[0]?.stream)], args: [group, deadMaxLen] };
  for (const run of runs) {
    call.keys.push(...keys.keyed(run.stream, group));
    const n = run.entries.length;
    call.args.push(run.consumer, run.redrive ? "1" : "0", n);
    if (n <= 1000 && run.entries.every((e) => e.outcome === "a")) {
      // Acks only: the lease tokens, then the ids (see SETTLE).
      call.args.push("a");
      const tail = `|${run.consumer}`;
      for (const e of run.entries) call.args.push(`${e.entryId}|${e.count}${tail}`);
      for (const e of run.entries) call.args.push(e.entryId);
    } else {
      call.args.push("m");
      for (const e of run.entries) {
        call.args.push(e.outcome, e.entryId, e.count);
        if (e.extra) call.args.push(...e.extra);
      }
    }
  }
  return { ...call, timersChanged };
}

// One delivery of an EXTEND run, and its 1-based index in the call.
interface ExtendEntry {
  entryId: string;
  count: number;
  index: number;
}

/** The EXTEND call for `deliveries`; it answers with 1-based indexes into them. */
export function extendCall(
  keys: Keys,
  group: string,
  deliveries: readonly Delivery[],
  leaseMs: number,
): ScriptCall {
  let index = 0;
  const runs = leaseRuns(
    keys,
    group,
    deliveries,
    (d) => decodeRef(d.ref),
    (_, ref): ExtendEntry => ({ entryId: ref.entryId, count: ref.count, index: ++index }),
  );
  const call: ScriptCall = { keys: [], args: [group, leaseMs] };
  for (const run of runs) {
    call.keys.push(...run.keys);
    call.args.push(run.consumer, run.entries.length);
    for (const e of run.entries) call.args.push(e.entryId, e.count, e.index);
  }
  return call;
}

/** Entries sharing a source (stream key, timers key) and a consumer. */
export interface Run<E extends { entryId: string }> {
  source: Ref["source"];
  stream: string;
  consumer: string;
  keys: [string, string];
  /** The source is a redrive stream. */
  redrive: boolean;
  entries: E[];
}

/**
 * Groups items into runs by source and consumer, each run sorted by entry id (the scripts
 * check a run's leases at once, and the misses with one `XPENDING` over their id range).
 * Called for every settle: items mostly come in long runs, which are found without building
 * a key per item.
 */
export function leaseRuns<T, E extends { entryId: string }>(
  keys: Keys,
  group: string,
  items: readonly T[],
  refOf: (item: T) => Ref,
  entryOf: (item: T, ref: Ref) => E,
): Run<E>[] {
  const runs: Run<E>[] = [];
  let last: Run<E> | undefined;
  for (const item of items) {
    const ref = refOf(item);
    let run = last;
    if (
      !run || run.consumer !== ref.consumer || run.stream !== ref.stream ||
      run.source !== ref.source
    ) {
      run = runs.find((r) =>
        r.consumer === ref.consumer && r.stream === ref.stream && r.source === ref.source
      );
      if (!run) {
        run = {
          source: ref.source,
          stream: ref.stream,
          consumer: ref.consumer,
          keys: keys.source(ref.source, ref.stream, group),
          redrive: ref.source === "r",
          entries: [],
        };
        runs.push(run);
      }
      last = run;
    }
    run.entries.push(entryOf(item, ref));
  }
  for (const run of runs) {
    const entries = run.entries;
    // Deliveries mostly come back in the order they were handed out: sort only when needed.
    for (let i = 1; i < entries.length; i++) {
      if (compareIds(entries[i - 1].entryId, entries[i].entryId) > 0) {
        entries.sort((x, y) => compareIds(x.entryId, y.entryId));
        break;
      }
    }
  }
  return runs;
}

/**
 * Orders stream entry ids (`<ms>-<seq>`) as Redis does: negative, zero or positive. Compares
 * characters in place (called for each pair of a settle's entries): without leading zeros, a
 * longer number is a larger one, and numbers of one length compare as text.
 */
export function compareIds(x: string, y: string): number {
  if (x === y) return 0;
  const xd = x.indexOf("-"), yd = y.indexOf("-");
  if (xd !== yd) return xd - yd;
  for (let i = 0; i < xd; i++) {
    const d = x.charCodeAt(i) - y.charCodeAt(i);
    if (d !== 0) return d;
  }
  const xs = x.length - xd, ys = y.length - yd;
  if (xs !== ys) return xs - ys;
  for (let i = xd + 1; i < x.length; i++) {
    const d = x.charCodeAt(i) - y.charCodeAt(i);
    if (d !== 0) return d;
  }
  return 0;
}
