/**
 * Delayed events on Redis Cluster. The schedule (see schedule.ts) is one pair of keys per stream,
 * under the stream's hash tag, so scheduling, cancelling and the move into the stream each stay in
 * one slot and atomic, as on one node.
 *
 * - **Who promotes**: a process promotes the schedules of the streams it publishes delayed events
 *   to or consumes (subscribes a group to): a consumer of a stream moves its due events even when
 *   their publisher has stopped.
 * - **Cancel by id**: an index key per scheduled event (`<prefix>sched|i|<id>`, in the id's own
 *   slot) names its stream. It is written before the event enters the schedule, removed after the
 *   event is moved or cancelled, and expires {@linkcode INDEX_GRACE_MS} after the event's due time
 *   at the latest. Without it (lost, or expired), `cancel` looks in the schedules of the streams
 *   this process knows.
 *
 * @module
 */
import type { Promotion, ScheduledEvent } from "../schedule.ts";
import type { RedisArg } from "./client.ts";
import { byStream, type KeysCluster } from "./cluster_keys.ts";
import { CANCEL, PROMOTE, promotion, SCHEDULE, scheduleArgs } from "./schedule.ts";

/** How long after its due time the index of a scheduled event is kept at most (7 days). */
export const INDEX_GRACE_MS = 7 * 86_400_000;

type Run = (script: string, keys: readonly string[], args: readonly RedisArg[]) => Promise<unknown>;
type Command = (args: readonly RedisArg[]) => Promise<unknown>;

/** The per-stream schedules of one backend in cluster mode, and the streams it promotes. */
export class ClusterSchedule {
  #streams = new Set<string>();

  constructor(
    private readonly keys: KeysCluster,
    private readonly run: Run,
    private readonly command: Command,
  ) {}

  /** Streams this process publishes delayed events to or consumes: it promotes their schedules. */
  watch(streams: Iterable<string>): void {
    for (const stream of streams) this.#streams.add(stream);
  }

  /** Writes `events` into their streams' schedules: one atomic write per stream. */
  async schedule(events: readonly ScheduledEvent[]): Promise<void> {
    const parts = byStream(events, (e) => e.envelope.stream).map((part) => ({
      stream: part[0].envelope.stream,
      part,
      // Every event is checked before anything is written.
      args: scheduleArgs(this.keys, part),
    }));
    this.watch(parts.map((p) => p.stream));
    const now = Date.now();
    await Promise.all(parts.map(async ({ stream, part, args }) => {
      // The index first: an event in the schedule without one could be cancelled only by a
      // process that knows its stream.
      await Promise.all(part.map(({ envelope, dueAt }) =>
        this.command([
          "SET",
          this.keys.scheduled(envelope.id),
          stream,
          "PX",
          Math.max(0, dueAt - now) + INDEX_GRACE_MS,
        ])
      ));
      await this.run(SCHEDULE, this.keys.schedule(stream), args);
    }));
  }

  /** Removes a scheduled event, found through its index or in the streams this process knows. */
  async cancel(id: string): Promise<boolean> {
    const index = this.keys.scheduled(id);
    const named = await this.command(["GET", index]);
    const streams = typeof named === "string" && named !== "" ? [named] : [...this.#streams];
    const removed = await Promise.all(
      streams.map(async (s) => Number(await this.run(CANCEL, this.keys.schedule(s), [id])) === 1),
    );
    if (!removed.includes(true)) return false;
    await this.command(["DEL", index]);
    return true;
  }

  /**
   * Moves up to `max` due events of each known stream into it; `tail` is the trim and index
   * arguments of {@linkcode PROMOTE}. The next due time is the earliest over those streams.
   */
  async promote(now: number, max: number, tail: readonly RedisArg[]): Promise<Promotion> {
    const replies = await Promise.allSettled(
      [...this.#streams].map(async (s) =>
        promotion(await this.run(PROMOTE, this.keys.schedule(s), [now, max, ...tail, "ids"]))
      ),
    );
    let moved = 0, next: number | undefined;
    const ids: string[] = [];
    for (const r of replies) {
      if (r.status !== "fulfilled") continue;
      moved += r.value.moved;
      ids.push(...r.value.ids);
      if (r.value.next !== undefined) next = Math.min(next ?? Infinity, r.value.next);
    }
    // The moved events' index keys, each in its own slot; one left behind expires by itself.
    await Promise.all(
      ids.map((id) => this.command(["DEL", this.keys.scheduled(id)]).catch(() => {})),
    );
    const failed = replies.find((r) => r.status === "rejected");
    // A stream whose master is unreachable: the promoter reports it and looks again soon.
    if (failed) throw failed.reason;
    return { moved, next };
  }
}
