/**
 * Tracing a request on Redis: the correlation index (see the append script) names each event's
 * stream entry; `XINFO GROUPS`, `XPENDING`, the group's redrive stream and dead-letter stream
 * tell where the event stands in each group.
 *
 * On Redis a lease and a scheduled retry look alike (both are an entry in the pending list with
 * a timer), so both read as `pending`, with the delivery count as the attempt.
 *
 * @module
 */
import type { Envelope } from "../envelope.ts";
import {
  type Reach,
  type Trace,
  type TracedEvent,
  traceLimit,
  type TraceOptions,
} from "../trace.ts";
import type { RedisArg } from "./client.ts";
import { parseDeadLetter } from "./dead.ts";
import { fieldsObject, type Keys, readEntry } from "./keys.ts";
import type { TrimPolicy } from "./options.ts";

/** How long the index of a stream trimmed by length is kept: its events' age is not known. */
export const INDEX_TTL_MS = 7 * 86_400_000;
/** The most dead letters or redriven entries read to find one event. */
const SEARCH_MAX = 2_000;
const PAGE = 500;

type Command = (args: readonly RedisArg[]) => Promise<unknown>;

/** The index's expiry for a trim policy, in ms: the stream's age limit, or none when untrimmed. */
export function indexTtlMs(trim: TrimPolicy): number {
  if (trim === "none") return 0;
  return "maxAgeMs" in trim ? trim.maxAgeMs : INDEX_TTL_MS;
}

/** Finds the events of a correlation and where each stands in every group of its stream. */
export async function redisTrace(
  command: Command,
  keys: Keys,
  id: string,
  options?: TraceOptions,
  streams?: () => Promise<string[]>,
): Promise<Trace> {
  const limit = traceLimit(options);
  // Cluster mode keeps the index per stream (see cluster_keys.ts): look in every stream's.
  const names = keys.cluster && streams ? await streams() : [undefined];
  let correlationId = id;
  for (const s of names) {
    const caused = await command(["GET", keys.caused(id, s)]);
    if (typeof caused === "string") {
      correlationId = caused;
      break;
    }
  }
  const refs: string[] = [];
  for (const s of names) {
    const first = await command(["GET", keys.correlation(correlationId, s)]);
    if (typeof first === "string") refs.push(first);
    refs.push(
      ...await command(["LRANGE", keys.correlated(correlationId, s), 0, limit]) as string[],
    );
  }
  if (names.length > 1) refs.sort((a, b) => compareIds(a.split("|")[0], b.split("|")[0]));
  const groups = new Map<string, Promise<[string, string][]>>();
  const events: TracedEvent[] = [];
  for (const ref of refs.slice(0, limit)) {
    const bar = ref.indexOf("|");
    const entryId = ref.slice(0, bar), streamKey = ref.slice(bar + 1);
    const [entry] = await command(["XRANGE", streamKey, entryId, entryId]) as [
      string,
      unknown[],
    ][];
    const envelope = entry && readEntry(fieldsObject(entry[1])).envelope;
    if (!envelope) continue; // trimmed
    if (!groups.has(streamKey)) groups.set(streamKey, groupsOf(command, streamKey));
    const reached: Reach[] = [];
    for (const [group, last] of await groups.get(streamKey)!) {
      reached.push(await reachOf(command, keys, { streamKey, entryId, envelope, group, last }));
    }
    events.push({ envelope, position: entryId, reached });
  }
  return { correlationId, events, truncated: refs.length > limit };
}

/** The groups of a stream, each with its last delivered entry id. */
async function groupsOf(command: Command, key: string): Promise<[string, string][]> {
  let reply: unknown[][];
  try {
    reply = await command(["XINFO", "GROUPS", key]) as unknown[][];
  } catch (err) {
    if (/no such key/i.test((err as Error).message)) return [];
    throw err;
  }
  return reply.map((flat) => {
    const g = fieldsObject(flat);
    return [g.name, g["last-delivered-id"]] as [string, string];
  }).sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

interface Where {
  streamKey: string;
  entryId: string;
  envelope: Envelope;
  group: string;
  last: string;
}

async function reachOf(command: Command, keys: Keys, w: Where): Promise<Reach> {
  const { group, envelope } = w;
  const stream = w.streamKey.slice(keys.stream("").length);
  const dead = await findDead(command, keys.dead(group, stream), group, envelope);
  if (dead) return dead;
  const held = await pendingCount(command, w.streamKey, group, w.entryId);
  if (held !== undefined) return { group, state: "pending", attempt: held };
  const redriven = await findRedriven(command, keys.redrive(stream, group), group, envelope.id);
  if (redriven) return redriven;
  return { group, state: compareIds(w.entryId, w.last) <= 0 ? "handled" : "waiting" };
}

async function pendingCount(
  command: Command,
  key: string,
  group: string,
  entryId: string,
): Promise<number | undefined> {
  try {
    const [p] = await command(["XPENDING", key, group, entryId, entryId, 1]) as unknown[][];
    return p ? Number(p[3]) : undefined;
  } catch (err) {
    if (/no such key|NOGROUP/i.test((err as Error).message)) return undefined;
    throw err;
  }
}

/** Its dead letter: entries of the dead-letter stream from the event's time on. */
async function findDead(
  command: Command,
  key: string,
  group: string,
  e: Envelope,
): Promise<Reach | undefined> {
  const t = Date.parse(e.time);
  let from = Number.isNaN(t) ? "-" : `${Math.max(0, t - 60_000)}-0`;
  for (let read = 0; read < SEARCH_MAX; read += PAGE) {
    const page = await command(["XRANGE", key, from, "+", "COUNT", PAGE]) as [string, unknown[]][];
    for (const entry of page) {
      const { letter } = parseDeadLetter(group, entry);
      if (letter.id !== e.id) continue;
      return { group, state: "dead", attempt: letter.attempts, at: letter.at, error: letter.error };
    }
    if (page.length < PAGE) break;
    from = `(${page[page.length - 1][0]}`;
  }
  return undefined;
}

/** A redriven copy not handled yet (handled copies are deleted from the redrive stream). */
async function findRedriven(
  command: Command,
  key: string,
  group: string,
  eventId: string,
): Promise<Reach | undefined> {
  const page = await command(["XRANGE", key, "-", "+", "COUNT", SEARCH_MAX]) as [
    string,
    unknown[],
  ][];
  for (const [entryId, fields] of page) {
    if (readEntry(fieldsObject(fields)).envelope?.id !== eventId) continue;
    const held = await pendingCount(command, key, group, entryId);
    return held === undefined
      ? { group, state: "waiting" }
      : { group, state: "pending", attempt: held };
  }
  return undefined;
}

/** Compares two stream entry ids (`ms-seq`). */
function compareIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(BigInt), [bm, bs] = b.split("-").map(BigInt);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}
