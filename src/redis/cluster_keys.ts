/**
 * The key layout of the Redis backend on Redis Cluster: every key of one stream, its groups,
 * their dead letters, its dedupe markers and its correlation index carries the hash tag
 * `{<prefix>s|<stream>}`, the stream key's own name, so it lands in the stream key's slot and
 * every script touches one slot. The stream key itself keeps its single-node name. Only the
 * index of delayed events by id (`sched|i|<id>`, for `cancel(id)`) hashes by the id.
 *
 * @module
 */
import { Keys } from "./keys.ts";

/** {@linkcode Keys} for Redis Cluster: one hash slot per stream. */
export class KeysCluster extends Keys {
  override readonly cluster = true;

  /** The hash tag of a stream's keys. */
  tag(stream: string): string {
    return `{${this.stream(stream)}}`;
  }

  override timers(stream: string, group: string): string {
    return `${this.tag(stream)}t|${group}`;
  }

  override redrive(stream: string, group: string): string {
    return `${this.tag(stream)}r|${group}`;
  }

  override redriveTimers(stream: string, group: string): string {
    return `${this.tag(stream)}rt|${group}`;
  }

  override nudge(stream: string, group: string): string {
    return `${this.tag(stream)}n|${group}`;
  }

  override gate(stream: string, group: string): [string, string] {
    return [`${this.tag(stream)}h|${group}`, `${this.tag(stream)}p|${group}`];
  }

  /** A group's dead letters from one stream: settling stays in the stream's slot. */
  override dead(group: string, stream?: string): string {
    return `${this.tag(need(stream, "dead"))}d|${group}`;
  }

  /** Dedupe markers are per stream in cluster mode. */
  override dedupe(eventId: string, stream?: string): string {
    return `${this.tag(need(stream, "dedupe"))}id|${eventId}`;
  }

  override correlation(correlationId: string, stream?: string): string {
    return `${this.tag(need(stream, "correlation"))}c|${correlationId}`;
  }

  override correlated(correlationId: string, stream?: string): string {
    return `${this.tag(need(stream, "correlated"))}cc|${correlationId}`;
  }

  override caused(eventId: string, stream?: string): string {
    return `${this.tag(need(stream, "caused"))}ce|${eventId}`;
  }

  override push(stream: string): string {
    return `${this.tag(stream)}push`;
  }

  /** The schedule of delayed events is per stream in cluster mode: a promotion stays in its slot. */
  override schedule(stream?: string): [string, string] {
    const tag = this.tag(need(stream, "schedule"));
    return [`${tag}sched`, `${tag}sched|e`];
  }

  /**
   * Which stream's schedule holds a delayed event, by its id, for `cancel(id)`: a key in the
   * id's own slot (none names the stream), holding the stream's name.
   */
  scheduled(eventId: string): string {
    return `${this.prefix}sched|i|${eventId}`;
  }
}

function need(stream: string | undefined, key: string): string {
  if (stream === undefined) throw new Error(`the ${key} key needs a stream in cluster mode`);
  return stream;
}

/** Splits items by stream, keeping their order within each stream. */
export function byStream<T>(items: readonly T[], streamOf: (item: T) => string): T[][] {
  const parts = new Map<string, T[]>();
  for (const item of items) {
    const stream = streamOf(item);
    let part = parts.get(stream);
    if (!part) parts.set(stream, part = []);
    part.push(item);
  }
  return [...parts.values()];
}
