/**
 * `e2e_app.ts`'s stage breakdown: where a registration's time went, from the services' JSON
 * event lines (`HERALD_LOG_EVENTS=json`, see services/shared/log.ts) and the bench's own times.
 * All times are wall-clock milliseconds of one machine, so they compare across processes.
 *
 * @module
 */

/** One handler attempt, as a service's worker prints it. */
export interface Handled {
  /** The service (its consumer group's name before the epoch). */
  stage: string;
  type: string;
  /** The event's `data.id`: the user's id, for user events. */
  id?: string;
  /** The envelope's time: when the event was made, before its commit. */
  published: number;
  start: number;
  end: number;
  attempt: number;
  /** The error's name when the attempt failed. */
  error?: string;
}

/** One registration, as the bench saw it. */
export interface Registration {
  id: string;
  /** When Auth's 201 arrived. */
  t0: number;
  /** When Posts, and Chat, first answered 200. */
  posts: number;
  chat: number;
}

/** One registration's stages, in ms. */
interface Stages {
  total: number;
  /** From the event's making to the 201 (Auth's commit and answer; before the timed window). */
  auth: number;
  /** From the 201 until the first of Posts' and Chat's handlers starts on it. */
  pickup: number;
  /** From the 201 until the copy holds the user (Posts, then Chat). */
  applied: number;
  /**
   * From the later of the 201 and the copy holding the user until the bench's poll saw it, for
   * the service seen later: the bench's own poll, HTTP and reads.
   */
  seen: number;
}

function stagesOf(r: Registration, events: Handled[]): Stages | undefined {
  const registered = events.find((e) => e.type === "user.registered");
  if (!registered) return undefined;
  const applied = (service: string) => {
    const ok = events.filter((e) => e.stage === service && !e.error && e.type.startsWith("user."));
    return ok.toSorted((a, b) => a.end - b.end)[0];
  };
  const [p, c] = [applied("posts"), applied("chat")];
  if (!p || !c) return undefined;
  // The service seen later sets the total: its copy's write, then the poll that saw it.
  const later = r.posts >= r.chat ? { seen: r.posts, h: p } : { seen: r.chat, h: c };
  const starts = events.filter((e) => e.stage === "posts" || e.stage === "chat");
  return {
    total: Math.max(r.posts, r.chat) - r.t0,
    auth: r.t0 - registered.published,
    pickup: Math.min(...starts.map((e) => e.start)) - r.t0,
    applied: Math.max(p.end, c.end) - r.t0,
    seen: later.seen - Math.max(later.h.end, r.t0),
  };
}

const pct = (xs: number[], q: number) => {
  const s = xs.toSorted((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/**
 * Prints each stage's p50/p99/max, the failed attempts by error, and the slowest registrations.
 *
 * @example
 * ```ts ignore
 * printStages(registrations, handled);
 * ```
 */
export function printStages(regs: Registration[], handled: Handled[]): void {
  const byKey = Map.groupBy(handled.filter((h) => h.id !== undefined), (h) => h.id!);
  const rows = regs.map((r) => stagesOf(r, byKey.get(r.id) ?? [])).filter((s) => s !== undefined);
  if (rows.length === 0) return console.log("stages: no event lines read");
  const names = ["total", "auth", "pickup", "applied", "seen"] as const;
  console.log(`stages over ${rows.length} registrations (ms after Auth's 201; auth: before it):`);
  for (const n of names) {
    const xs = rows.map((r) => r[n]);
    console.log(
      `  ${n.padEnd(8)} p50 ${pct(xs, 0.5).toFixed(1).padStart(6)}  p99 ${
        pct(xs, 0.99).toFixed(1).padStart(6)
      }  max ${Math.max(...xs).toFixed(1).padStart(6)}`,
    );
  }
  const failed = Map.groupBy(
    handled.filter((h) => h.error),
    (h) => `${h.stage} ${h.type} ${h.error}`,
  );
  const retried = [...failed].map(([k, v]) => `${k} ×${v.length}`);
  console.log(`  failed attempts: ${retried.length === 0 ? "none" : retried.join(", ")}`);
  const slow = rows.toSorted((a, b) => b.total - a.total).slice(0, 3);
  for (const s of slow) {
    console.log(
      `  slow: total ${s.total.toFixed(1)} = pickup ${s.pickup.toFixed(1)}, applied ${
        s.applied.toFixed(1)
      }, seen +${s.seen.toFixed(1)}`,
    );
  }
}

/** One isolate's bus counters, printed when its bus closes (see services/shared/bus.ts). */
export interface BusStats {
  /** `<service>.web` or `<service>.worker`. */
  stats: string;
  lockedRetries: number;
  lockedWaitMs: number;
  claimConflicts: number;
  appendConflicts: number;
}

/**
 * Prints the Deno KV bus's "database is locked" retries (every service writes the one bus file),
 * and the time spent waiting them out, per isolate.
 *
 * @example
 * ```ts ignore
 * printBusStats(busStats);
 * ```
 */
export function printBusStats(lines: BusStats[]): void {
  const all = [...new Map(lines.map((s) => [s.stats, s])).values()]; // the last of each
  if (all.length === 0) return;
  const sum = (f: (s: BusStats) => number) => all.reduce((n, s) => n + f(s), 0);
  const each = all.toSorted((a, b) => a.stats < b.stats ? -1 : 1).filter((s) => s.lockedRetries)
    .map((s) => `${s.stats} ${s.lockedRetries}/${s.lockedWaitMs.toFixed(0)} ms`);
  console.log(
    `  bus "database is locked" retries: ${sum((s) => s.lockedRetries)}, waited ${
      sum((s) => s.lockedWaitMs).toFixed(0)
    } ms in all (${each.join(", ")}); claim conflicts ${sum((s) => s.claimConflicts)}`,
  );
}
