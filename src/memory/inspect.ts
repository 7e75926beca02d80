/**
 * Inspection and control of the in-memory backend: the same answers as the other backends give,
 * read from the backend's plain data structures.
 *
 * @module
 */
import type { DeadLetter } from "../backend.ts";
import { type Envelope, envelopeProblem } from "../envelope.ts";
import { NotFoundError } from "../errors.ts";
import {
  checkPosition,
  type DeadLetterQuery,
  type GroupInfo,
  matchesQuery,
  type PeekOptions,
  type PeekPage,
  type Position,
  type PurgeOptions,
  purgeSelects,
  type StreamEvent,
  type StreamInfo,
} from "../inspect.ts";
import {
  type Reach,
  type Trace,
  type TracedEvent,
  traceLimit,
  type TraceOptions,
} from "../trace.ts";

/** A stored entry of a stream. */
export interface MemoryEntry {
  seq: number;
  value: unknown;
  at: number;
}

/** What the inspector needs of a group's state. */
export interface MemoryGroup {
  cursors: Map<string, number>;
  leases: Map<string, { stream: string; seq: number; attempt: number }>;
  pending: { stream: string; seq: number; attempt: number; due: number }[];
  dead: Map<string, DeadLetter & { seq: number; n: number }>;
}

/** Reads and steers the in-memory backend's streams and groups. */
export class MemoryInspector {
  /** When each consumer of each group last claimed, in ms since the epoch. */
  readonly #seen = new Map<string, Map<string, number>>();

  constructor(
    private readonly streamsOf: Map<string, MemoryEntry[]>,
    private readonly groupsOf: Map<string, MemoryGroup>,
  ) {}

  /** The correlation index: each correlation id's events, as stream and sequence number. */
  readonly #correlated = new Map<string, { stream: string; seq: number }[]>();
  /** The correlation id of each event that does not start its chain. */
  readonly #correlationOf = new Map<string, string>();

  /** Indexes an appended event by its correlation id. */
  indexed(e: Envelope, seq: number): void {
    let refs = this.#correlated.get(e.correlationid);
    if (!refs) this.#correlated.set(e.correlationid, refs = []);
    refs.push({ stream: e.stream, seq });
    if (e.correlationid !== e.id) this.#correlationOf.set(e.id, e.correlationid);
  }

  trace(id: string, options?: TraceOptions): Trace {
    const limit = traceLimit(options);
    const correlationId = this.#correlationOf.get(id) ?? id;
    const refs = this.#correlated.get(correlationId) ?? [];
    const events: TracedEvent[] = [];
    for (const { stream, seq } of refs) {
      if (events.length >= limit) break;
      const entry = this.streamsOf.get(stream)?.find((e) => e.seq === seq);
      if (!entry || envelopeProblem(entry.value)) continue; // trimmed, or not an event
      const envelope = structuredClone(entry.value as Envelope);
      events.push({ envelope, position: String(seq), reached: this.#reached(envelope, seq) });
    }
    return { correlationId, events, truncated: refs.length > events.length };
  }

  #reached(e: Envelope, seq: number): Reach[] {
    const out: Reach[] = [];
    for (const [group, state] of [...this.groupsOf].sort(([a], [b]) => a < b ? -1 : 1)) {
      const cursor = state.cursors.get(e.stream);
      if (cursor === undefined) continue;
      const dead = state.dead.get(e.id);
      const lease = [...state.leases.values()].find((l) => l.stream === e.stream && l.seq === seq);
      const retry = state.pending.find((p) => p.stream === e.stream && p.seq === seq);
      if (dead) {
        out.push({ group, state: "dead", attempt: dead.attempts, at: dead.at, error: dead.error });
      } else if (lease) out.push({ group, state: "pending", attempt: lease.attempt });
      else if (retry) {
        const at = new Date(retry.due).toISOString();
        out.push({ group, state: "retrying", attempt: Math.max(1, retry.attempt - 1), at });
      } else out.push({ group, state: seq > cursor ? "waiting" : "handled" });
    }
    return out;
  }

  /** Records that a consumer claimed. */
  seen(group: string, consumer: string): void {
    let m = this.#seen.get(group);
    if (!m) this.#seen.set(group, m = new Map());
    m.set(consumer, Date.now());
  }

  streams(): StreamInfo[] {
    return [...this.streamsOf].sort(([a], [b]) => a < b ? -1 : 1).map(([stream, entries]) => {
      const info: StreamInfo = { stream, length: entries.length };
      if (entries.length > 0) {
        info.firstTime = timeOf(entries[0]);
        info.lastTime = timeOf(entries[entries.length - 1]);
      }
      return info;
    });
  }

  groups(stream?: string): GroupInfo[] {
    const out: GroupInfo[] = [];
    const now = Date.now();
    for (const [group, state] of [...this.groupsOf].sort(([a], [b]) => a < b ? -1 : 1)) {
      for (const [s, cursor] of state.cursors) {
        if (stream !== undefined && s !== stream) continue;
        const entries = this.streamsOf.get(s) ?? [];
        const held = [...state.leases.values(), ...state.pending].filter((p) => p.stream === s);
        const info: GroupInfo = {
          group,
          stream: s,
          position: cursor > 0 ? String(cursor) : null,
          lag: entries.filter((e) => e.seq > cursor).length,
          pending: held.length,
          consumers: [...this.#seen.get(group) ?? []].map(([name, at]) => ({
            name,
            lastSeen: new Date(at).toISOString(),
          })),
          deadLetters: state.dead.size,
        };
        const waiting = entries.find((e) => e.seq > cursor);
        if (waiting) info.oldestWaitingMs = Math.max(0, now - waiting.at);
        const oldest = Math.min(...held.map((p) => p.seq));
        const entry = entries.find((e) => e.seq === oldest);
        if (entry) info.oldestPendingMs = Math.max(0, now - entry.at);
        out.push(info);
      }
    }
    return out;
  }

  deadLetters(group: string, query: DeadLetterQuery = {}): DeadLetter[] {
    const after = query.after === undefined ? 0 : positionOf(query.after);
    const all = [...this.groupsOf.get(group)?.dead.values() ?? []]
      .filter((d) => d.n > after && matchesQuery(d, query))
      .sort((a, b) => a.n - b.n)
      .map(({ seq: _, n, ...d }) => ({ ...d, cursor: String(n) }));
    return all.slice(0, query.limit ?? all.length);
  }

  purgeDeadLetters(group: string, options: PurgeOptions = {}): number {
    const dead = this.groupsOf.get(group)?.dead;
    let n = 0;
    for (const [id, d] of dead ?? []) {
      if (!purgeSelects(d, options)) continue;
      dead!.delete(id);
      n++;
    }
    return n;
  }

  deleteGroup(group: string, stream?: string): boolean {
    const state = this.groupsOf.get(group);
    if (!state) return false;
    if (stream === undefined) {
      this.groupsOf.delete(group);
      this.#seen.delete(group);
      return true;
    }
    if (!state.cursors.delete(stream)) return false;
    for (const [k, l] of state.leases) if (l.stream === stream) state.leases.delete(k);
    state.pending = state.pending.filter((p) => p.stream !== stream);
    return true;
  }

  resetGroup(group: string, stream: string, to: Position): void {
    const state = this.groupsOf.get(group);
    if (!state?.cursors.has(stream)) {
      throw new NotFoundError("group", `No group "${group}" on stream "${stream}"`);
    }
    state.cursors.set(stream, this.#before(stream, checkPosition(to)));
  }

  peek(stream: string, options: PeekOptions = {}): PeekPage {
    const entries = this.streamsOf.get(stream) ?? [];
    const after = options.after !== undefined
      ? positionOf(options.after)
      : this.#before(stream, checkPosition(options.from ?? "earliest"));
    const limit = options.limit ?? 50;
    const events: StreamEvent[] = entries.filter((e) => e.seq > after).slice(0, limit).map((e) => {
      const problem = envelopeProblem(e.value);
      const value = structuredClone(e.value);
      return problem
        ? { position: String(e.seq), raw: value }
        : { position: String(e.seq), envelope: value as Envelope };
    });
    return { events, next: events.at(-1)?.position ?? String(after) };
  }

  /** The sequence number just before where `to` points. */
  #before(stream: string, to: Position): number {
    const entries = this.streamsOf.get(stream) ?? [];
    const last = entries.at(-1)?.seq ?? 0;
    if (to === "earliest") return 0;
    if (to === "latest") return last;
    if (to instanceof Date) {
      const first = entries.find((e) => e.at >= to.getTime());
      return first ? first.seq - 1 : last;
    }
    const found = entries.find((e) => (e.value as Partial<Envelope>)?.id === to.eventId);
    if (!found) throw new NotFoundError("event", `No event "${to.eventId}" on stream "${stream}"`);
    return found.seq - 1;
  }
}

/** Checks a position given back by a caller. */
function positionOf(text: string): number {
  const n = Number(text);
  if (typeof text !== "string" || !Number.isSafeInteger(n) || n < 0) {
    throw new TypeError(`Not a position: ${JSON.stringify(text)}`);
  }
  return n;
}

function timeOf(e: MemoryEntry): string {
  const t = (e.value as Partial<Envelope>)?.time;
  return typeof t === "string" && !Number.isNaN(Date.parse(t)) ? t : new Date(e.at).toISOString();
}
