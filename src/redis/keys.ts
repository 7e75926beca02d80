/**
 * Key names, delivery refs and stream entries of the Redis backend. Herald's names never hold
 * `|`, so it separates the parts of a key without ambiguity.
 *
 * @module
 */
import type { Delivery } from "../backend.ts";
import { type Envelope, envelopeProblem } from "../envelope.ts";

/** The keys of one backend, under its prefix. */
export class Keys {
  readonly prefix: string;
  /** Whether the keys are laid out for Redis Cluster (see `KeysCluster` in cluster_keys.ts). */
  readonly cluster: boolean = false;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** The stream of events. */
  stream(stream: string): string {
    return `${this.prefix}s|${stream}`;
  }

  /** A group's lease and retry timers on a stream (see scripts.ts). */
  timers(stream: string, group: string): string {
    return `${this.prefix}t|${stream}|${group}`;
  }

  /** Where redriven dead letters of a stream wait for one group. */
  redrive(stream: string, group: string): string {
    return `${this.prefix}r|${stream}|${group}`;
  }

  /** The timers of a redrive stream. */
  redriveTimers(stream: string, group: string): string {
    return `${this.prefix}rt|${stream}|${group}`;
  }

  /**
   * A group's nudge stream on a stream (see nudge.ts): one entry kept, appended when the group
   * changes in a way a blocked read of the stream would not see.
   */
  nudge(stream: string, group: string): string {
    return `${this.prefix}n|${stream}|${group}`;
  }

  /** A source's stream key and timers key: the stream itself (`s`) or its redrive stream. */
  source(kind: "s" | "r", stream: string, group: string): [string, string] {
    return kind === "s"
      ? [this.stream(stream), this.timers(stream, group)]
      : [this.redrive(stream, group), this.redriveTimers(stream, group)];
  }

  /**
   * A group's key-order state on a stream and its redrive stream (see key_scripts.ts): the hash
   * of keys held, their holders and the gate cursors, and the sorted set of entries parked
   * behind their key.
   */
  gate(stream: string, group: string): [string, string] {
    return [`${this.prefix}h|${stream}|${group}`, `${this.prefix}p|${stream}|${group}`];
  }

  /**
   * The six keys the scripts that hand out or settle keyed entries take for a stream: stream,
   * timers, redrive stream, its timers, holders and parked.
   */
  keyed(stream: string, group: string): string[] {
    return [
      this.stream(stream),
      this.timers(stream, group),
      this.redrive(stream, group),
      this.redriveTimers(stream, group),
      ...this.gate(stream, group),
    ];
  }

  /** A group's dead letters (in cluster mode, those of `stream`). */
  dead(group: string, _stream?: string): string {
    return `${this.prefix}d|${group}`;
  }

  /** The marker that an event id was appended (for deduplication). */
  dedupe(eventId: string, _stream?: string): string {
    return `${this.prefix}id|${eventId}`;
  }

  /** The correlation index of the event that starts a chain: `<entry id>|<stream key>`. */
  correlation(correlationId: string, _stream?: string): string {
    return `${this.prefix}c|${correlationId}`;
  }

  /** The correlation index of the other events of a chain: a list of `<entry id>|<stream key>`. */
  correlated(correlationId: string, _stream?: string): string {
    return `${this.prefix}cc|${correlationId}`;
  }

  /** The correlation id of an event that does not start its chain. */
  caused(eventId: string, _stream?: string): string {
    return `${this.prefix}ce|${eventId}`;
  }

  /**
   * The schedule of delayed events (see schedule.ts): a sorted set of event ids by due time, and
   * a hash of what each appends when due. One pair for every stream (in cluster mode, one pair
   * per stream: see cluster_keys.ts).
   */
  schedule(_stream?: string): [string, string] {
    return [`${this.prefix}sched`, `${this.prefix}sched|e`];
  }

  /** A named lock. */
  lock(name: string): string {
    return `${this.prefix}lock|${name}`;
  }

  /** A named rate-limit count. */
  rate(name: string): string {
    return `${this.prefix}rate|${name}`;
  }

  /** The push endpoints of the groups on a stream (a hash by group). */
  push(stream: string): string {
    return `${this.prefix}push|${stream}`;
  }
}

/** Where a delivery came from, and the lease it was handed out under. */
export interface Ref {
  /** `s` for the stream itself, `r` for the group's redrive stream. */
  source: "s" | "r";
  stream: string;
  entryId: string;
  /** The entry's delivery count when it was handed out: with the owner, the lease token. */
  count: number;
  consumer: string;
}

/** Encodes a ref into `Delivery.ref`. */
export function encodeRef(ref: Ref): string {
  return `${ref.source}|${ref.stream}|${ref.entryId}|${ref.count}|${ref.consumer}`;
}

/** Decodes `Delivery.ref`; throws `TypeError` for a ref this backend did not make. */
export function decodeRef(text: string): Ref {
  // Called for every settled delivery: indexOf rather than split and a regular expression.
  const a = text.indexOf("|");
  const b = text.indexOf("|", a + 1);
  const c = b < 0 ? -1 : text.indexOf("|", b + 1);
  const d = c < 0 ? -1 : text.indexOf("|", c + 1);
  const source = text.slice(0, a);
  const count = d < 0 ? NaN : Number(text.slice(c + 1, d));
  if ((source !== "s" && source !== "r") || !(Number.isSafeInteger(count) && count >= 0)) {
    throw new TypeError(`Not a Redis delivery ref: ${JSON.stringify(text)}`);
  }
  return {
    source,
    stream: text.slice(a + 1, b),
    entryId: text.slice(b + 1, c),
    count,
    consumer: text.slice(d + 1),
  };
}

/** Turns a stream entry's flat `[field, value, …]` list into an object. */
export function fieldsObject(fields: readonly unknown[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[String(fields[i])] = String(fields[i + 1]);
  return out;
}

/**
 * The delivery of a stream entry, from its flat `[field, value, …]` list. Called for every entry
 * a claim hands out: an entry as Herald writes it (one field, `e`) is parsed without the object
 * and the spread that {@linkcode readEntry} would cost.
 */
export function entryDelivery(
  stream: string,
  ref: string,
  attempt: number,
  fields: readonly unknown[],
): Delivery {
  if (fields.length === 2 && fields[0] === "e") {
    let value: unknown;
    try {
      value = JSON.parse(fields[1] as string);
    } catch {
      value = undefined;
    }
    if (value !== undefined && envelopeProblem(value) === undefined) {
      return { stream, ref, attempt, envelope: value as Envelope };
    }
  }
  return { stream, ref, attempt, ...readEntry(fieldsObject(fields)) };
}

/** Reads an entry's fields as an envelope, or says why they are not one. */
export function readEntry(
  fields: Record<string, string>,
): Pick<Delivery, "envelope" | "malformed"> {
  if (!("e" in fields)) {
    return { malformed: { reason: 'the entry has no "e" field', raw: fields } };
  }
  let value: unknown;
  try {
    value = JSON.parse(fields.e);
  } catch {
    return { malformed: { reason: 'the "e" field is not JSON', raw: fields } };
  }
  const problem = envelopeProblem(value);
  if (problem) return { malformed: { reason: problem, raw: fields } };
  return { envelope: value as Envelope };
}
