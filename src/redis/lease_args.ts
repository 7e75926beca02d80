/**
 * The arguments of the settle and extend scripts (lease_scripts.ts): deliveries grouped into
 * runs by source and consumer.
 *
 * @module
 */
import type { Delivery, Settlement } from "../backend.ts";
import type { RedisArg } from "./client.ts";
import { deadRecord } from "./dead.ts";
import { decodeRef, type Keys } from "./keys.ts";

/** A script call: its KEYS and ARGV. */
export interface ScriptCall {
  keys: string[];
  args: RedisArg[];
}

const OUTCOME = { ack: "a", retry: "r", release: "l", dead: "d" } as const;

/** The SETTLE call for `settlements`, and whether any of them changes timers (retry, release). */
export function settleCall(
  keys: Keys,
  group: string,
  settlements: readonly Settlement[],
): ScriptCall & { timersChanged: boolean } {
  let timersChanged = false;
  const runs = leaseRuns(settlements, (s) => {
    const ref = decodeRef(s.delivery.ref);
    const args: RedisArg[] = [OUTCOME[s.outcome], ref.entryId, ref.count];
    if (s.outcome === "retry") args.push(Math.max(0, Math.round(s.delayMs)));
    if (s.outcome === "dead") {
      const dead = deadRecord(s.delivery, ref.entryId, s.error);
      args.push(dead.record, dead.fields);
    }
    if (s.outcome === "retry" || s.outcome === "release") timersChanged = true;
    return {
      keys: keys.source(ref.source, ref.stream, group),
      consumer: ref.consumer,
      redrive: ref.source === "r",
      entry: { entryId: ref.entryId, args },
    };
  });
  const call: ScriptCall = { keys: [keys.dead(group)], args: [group] };
  for (const run of runs) {
    call.keys.push(...run.keys);
    const n = run.entries.length;
    call.args.push(run.consumer, run.redrive ? "1" : "0", n);
    if (n <= 1000 && run.entries.every((e) => e.args[0] === "a")) {
      // Acks only: the lease tokens, then the ids (see SETTLE).
      call.args.push("a");
      for (const e of run.entries) call.args.push(`${e.entryId}|${e.args[2]}|${run.consumer}`);
      for (const e of run.entries) call.args.push(e.entryId);
    } else {
      call.args.push("m");
      for (const e of run.entries) call.args.push(...e.args);
    }
  }
  return { ...call, timersChanged };
}

/** The EXTEND call for `deliveries`; it answers with 1-based indexes into them. */
export function extendCall(
  keys: Keys,
  group: string,
  deliveries: readonly Delivery[],
  leaseMs: number,
): ScriptCall {
  const runs = leaseRuns(deliveries.map((d, i) => ({ ref: decodeRef(d.ref), i })), (x) => ({
    keys: keys.source(x.ref.source, x.ref.stream, group),
    consumer: x.ref.consumer,
    redrive: x.ref.source === "r",
    entry: { entryId: x.ref.entryId, args: [x.ref.entryId, x.ref.count, x.i + 1] },
  }));
  const call: ScriptCall = { keys: [], args: [group, leaseMs] };
  for (const run of runs) {
    call.keys.push(...run.keys);
    call.args.push(run.consumer, run.entries.length);
    for (const e of run.entries) call.args.push(...e.args);
  }
  return call;
}

/** One entry of a run: its stream entry id, and what to send for it. */
export interface RunEntry {
  entryId: string;
  args: RedisArg[];
}

/** Entries sharing a source (stream key, timers key) and a consumer. */
export interface Run {
  keys: [string, string];
  consumer: string;
  /** The source is a redrive stream. */
  redrive: boolean;
  entries: RunEntry[];
}

/**
 * Groups entries into runs by source and consumer, each run sorted by entry id (the scripts
 * check a run's leases at once, and the misses with one `XPENDING` over their id range).
 */
export function leaseRuns<T>(
  items: readonly T[],
  describe: (item: T) => Omit<Run, "entries"> & { entry: RunEntry },
): Run[] {
  const runs = new Map<string, Run>();
  for (const item of items) {
    const { keys, consumer, redrive, entry } = describe(item);
    const key = `${keys[0]}\n${consumer}`;
    let run = runs.get(key);
    if (!run) runs.set(key, run = { keys, consumer, redrive, entries: [] });
    run.entries.push(entry);
  }
  for (const run of runs.values()) {
    const entries = run.entries;
    // Deliveries mostly come back in the order they were handed out: sort only when needed.
    for (let i = 1; i < entries.length; i++) {
      if (compareIds(entries[i - 1].entryId, entries[i].entryId) > 0) {
        entries.sort((x, y) => compareIds(x.entryId, y.entryId));
        break;
      }
    }
  }
  return [...runs.values()];
}

/** Orders stream entry ids (`<ms>-<seq>`) as Redis does. */
export function compareIds(x: string, y: string): number {
  if (x === y) return 0;
  const xd = x.indexOf("-"), yd = y.indexOf("-");
  // Without leading zeros, a longer number is a larger one.
  if (xd !== yd) return xd - yd;
  const ms = x.slice(0, xd), yms = y.slice(0, yd);
  if (ms !== yms) return ms < yms ? -1 : 1;
  const xs = x.slice(xd + 1), ys = y.slice(yd + 1);
  if (xs.length !== ys.length) return xs.length - ys.length;
  return xs < ys ? -1 : xs > ys ? 1 : 0;
}
