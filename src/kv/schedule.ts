/**
 * The Deno KV backend's schedule of delayed events (see `schedule.ts`): each waits under
 * `["herald", "due", dueMs, id]`, listed in due order, with `["herald", "sched", id]` naming its
 * due time for a cancel. A promotion reads `["herald", "promote"]`, then the due entries, and
 * deletes them and appends their events in one atomic operation (the appender's `appendAtomic`)
 * that checks and sets that key; a cancel checks and sets it too. So another promoter or a cancel
 * that committed in between fails the check, and nothing is appended twice or after its cancel.
 * One check for the whole batch, where one per entry would cap a promotion at Deno KV's 100
 * checks: a batch is then bounded by mutations and bytes instead.
 *
 * @module
 */
import { type Envelope, envelopeJson, envelopeProblem, MAX_ENVELOPE_BYTES } from "../envelope.ts";
import { EnvelopeTooLargeError } from "../errors.ts";
import type { Promotion, ScheduledEvent } from "../schedule.ts";
import type { Appender } from "./append.ts";
import { dueKey, duePrefix, promoteKey, schedKey } from "./keys.ts";
import { commit, get, getMany, keyBytes, type KvStats, LIMITS, utf8Bytes } from "./store.ts";

/** The bytes one promotion moves at most, under Deno KV's limit of one atomic operation. */
const PROMOTE_BYTES = Math.floor(LIMITS.mutationBytes * 0.4);
/** The events one promotion moves at most: each costs up to five of Deno KV's 1,000 mutations. */
const PROMOTE_EVENTS = 180;
/** Headroom under Deno KV's byte limit for one scheduling write. */
const SCHEDULE_BYTES = Math.floor(LIMITS.mutationBytes * 0.85);

/** One process's access to the schedule. */
export class KvSchedule {
  constructor(
    private readonly kv: Deno.Kv,
    private readonly stats: KvStats,
    private readonly appender: Appender,
  ) {}

  /**
   * Writes events not scheduled yet, all or none.
   *
   * @returns the earliest due time among them.
   * @throws {TypeError} for a malformed envelope or due time.
   * @throws {RangeError} when they do not fit in one Deno KV atomic operation.
   */
  async schedule(events: readonly ScheduledEvent[]): Promise<number> {
    const earliest = checkEvents(events);
    const found = await getMany(this.stats, this.kv, events.map((e) => schedKey(e.envelope.id)));
    const fresh = events.filter((_, i) => found[i].versionstamp === null);
    if (fresh.length === 0) return earliest;
    await commit(this.stats, this.kv, (op) => {
      for (const { envelope, dueAt } of fresh) {
        op.check({ key: schedKey(envelope.id), versionstamp: null });
        op.set(dueKey(dueAt, envelope.id), envelope);
        op.set(schedKey(envelope.id), dueAt);
      }
    }).then((r) => {
      if (!r.ok) throw new TypeError("An event id was scheduled twice at the same moment");
    });
    return earliest;
  }

  /** Removes a scheduled event; `false` when it is not in the schedule (any more). */
  async cancel(id: string): Promise<boolean> {
    for (;;) {
      const [turn, entry] = await getMany<unknown>(this.stats, this.kv, [promoteKey, schedKey(id)]);
      if (entry.versionstamp === null) return false;
      const result = await commit(this.stats, this.kv, (op) => {
        op.check(turn, entry);
        op.set(promoteKey, Date.now());
        op.delete(schedKey(id));
        op.delete(dueKey(entry.value as number, id));
      });
      if (result.ok) return true;
    }
  }

  /** Moves up to `max` due events into their streams in one atomic operation. */
  async promote(now: number, max: number): Promise<Promotion> {
    const turn = await get(this.stats, this.kv, promoteKey);
    const due: Deno.KvEntry<Envelope>[] = [];
    let next: number | undefined;
    let bytes = 0;
    const streams = new Set<string>();
    const limit = Math.min(max, PROMOTE_EVENTS);
    const iter = this.kv.list<Envelope>({ prefix: duePrefix }, { limit: limit + 1 });
    for await (const entry of iter) {
      const at = entry.key[2] as number;
      const s = new Set(streams).add(entry.value.stream);
      const size = utf8Bytes(envelopeJson(entry.value)) + 2 * keyBytes(entry.key);
      // One check per stream and the promotion's own; the bytes of the event, deletes and index.
      const fits = due.length < limit && 1 + s.size <= LIMITS.checks &&
        (due.length === 0 || bytes + size <= PROMOTE_BYTES);
      if (at > now || !fits) {
        next = at;
        break;
      }
      due.push(entry);
      streams.add(entry.value.stream);
      bytes += size;
    }
    if (due.length === 0) return { moved: 0, next };
    const result = await this.appender.appendAtomic((op) => {
      op.check(turn).set(promoteKey, Date.now());
      for (const e of due) {
        op.delete(e.key);
        op.delete(schedKey(e.value.id));
      }
    }, due.map((e) => e.value));
    if (!result.ok) return { moved: 0, lost: true };
    return { moved: due.length, next };
  }
}

/** Checks what is to be scheduled; returns the earliest due time. */
function checkEvents(events: readonly ScheduledEvent[]): number {
  let earliest = Infinity, bytes = 0;
  for (const { envelope, dueAt } of events) {
    const problem = envelopeProblem(envelope);
    if (problem) throw new TypeError(`Cannot schedule a malformed envelope: ${problem}`);
    if (!Number.isSafeInteger(dueAt)) throw new TypeError("dueAt must be an integer (ms)");
    const size = utf8Bytes(envelopeJson(envelope));
    if (size > MAX_ENVELOPE_BYTES) {
      throw new EnvelopeTooLargeError(envelope.id, size, MAX_ENVELOPE_BYTES);
    }
    bytes += size + keyBytes(dueKey(dueAt, envelope.id)) + 2 * keyBytes(schedKey(envelope.id));
    earliest = Math.min(earliest, dueAt);
  }
  if (events.length > LIMITS.checks || bytes > SCHEDULE_BYTES) {
    throw new RangeError(
      `${events.length} delayed events (~${bytes} bytes) do not fit in one Deno KV atomic ` +
        `operation (at most ${LIMITS.checks} events, ${SCHEDULE_BYTES} bytes): schedule them ` +
        "in smaller batches",
    );
  }
  return earliest;
}
