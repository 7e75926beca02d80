/**
 * Tracing a request on Deno KV: the correlation index (see keys.ts) names each event's stream
 * and sequence number, and a group's cursor, leases, retries and dead letters tell where the
 * event stands in it.
 *
 * @module
 */
import type { Envelope } from "../envelope.ts";
import type { PeekOptions, PeekPage } from "../inspect.ts";
import {
  type Reach,
  type Trace,
  type TracedEvent,
  traceLimit,
  type TraceOptions,
} from "../trace.ts";
import { readCursor } from "./claim.ts";
import {
  causedKey,
  corrPrefix,
  type DeadEntry,
  deadKey,
  type Lease,
  leasePrefix,
  type RetryEntry,
  retryPrefix,
} from "./keys.ts";
import { get, type KvStats, list } from "./store.ts";

/** Where one group stands on one stream. */
interface GroupState {
  group: string;
  taken: number;
  leases: Lease[];
  retries: { due: number; seq: number; entry: RetryEntry }[];
}

/** Finds the events of a correlation and where each stands in every group of its stream. */
export async function kvTrace(
  kv: Deno.Kv,
  stats: KvStats,
  peek: (stream: string, options: PeekOptions) => Promise<PeekPage>,
  id: string,
  options?: TraceOptions,
): Promise<Trace> {
  const limit = traceLimit(options);
  const caused = await get<string>(stats, kv, causedKey(id));
  const correlationId = typeof caused.value === "string" ? caused.value : id;
  const refs = await list<[string, number]>(stats, kv, { prefix: corrPrefix(correlationId) }, {
    limit: limit + 1,
  });
  const groups = new Map<string, Promise<GroupState[]>>();
  const events: TracedEvent[] = [];
  for (const ref of refs.slice(0, limit)) {
    const [stream, seq] = ref.value;
    const [found] = (await peek(stream, { after: String(seq - 1), limit: 1 })).events;
    if (!found?.envelope || found.position !== String(seq)) continue; // trimmed
    if (!groups.has(stream)) groups.set(stream, groupsOf(kv, stats, stream));
    const reached = await reachOf(kv, stats, await groups.get(stream)!, found.envelope, seq);
    events.push({ envelope: found.envelope, position: found.position, reached });
  }
  return { correlationId, events, truncated: refs.length > limit };
}

async function groupsOf(kv: Deno.Kv, stats: KvStats, stream: string): Promise<GroupState[]> {
  const cursors = await list(stats, kv, { prefix: ["herald", "cur"] });
  const out: GroupState[] = [];
  for (const c of cursors) {
    const [group, s] = [c.key[2] as string, c.key[3] as string];
    if (s !== stream) continue;
    const leases = await list<Lease>(stats, kv, { prefix: leasePrefix(group, stream) });
    const retries = await list<RetryEntry>(stats, kv, { prefix: retryPrefix(group, stream) });
    out.push({
      group,
      taken: readCursor(c.value)[0],
      leases: leases.map((l) => l.value),
      retries: retries.map((r) => ({
        due: r.key[4] as number,
        seq: r.key[5] as number,
        entry: r.value,
      })),
    });
  }
  return out.sort((a, b) => (a.group < b.group ? -1 : 1));
}

async function reachOf(
  kv: Deno.Kv,
  stats: KvStats,
  groups: GroupState[],
  e: Envelope,
  seq: number,
): Promise<Reach[]> {
  const out: Reach[] = [];
  for (const g of groups) {
    const dead = (await get<DeadEntry>(stats, kv, deadKey(g.group, e.id))).value;
    const lease = g.leases.find((l) => l.m.includes(seq));
    const retry = g.retries.find((r) => r.seq === seq);
    if (dead) {
      out.push({
        group: g.group,
        state: "dead",
        attempt: dead.attempts,
        at: dead.at,
        error: dead.error,
      });
    } else if (lease) out.push({ group: g.group, state: "pending", attempt: lease.a });
    else if (retry) {
      const r: Reach = {
        group: g.group,
        state: "retrying",
        attempt: retry.entry.a,
        at: new Date(retry.due).toISOString(),
      };
      if (retry.entry.e) r.error = retry.entry.e;
      out.push(r);
    } else out.push({ group: g.group, state: seq > g.taken ? "waiting" : "handled" });
  }
  return out;
}
