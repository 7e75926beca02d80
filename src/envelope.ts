/**
 * The envelope every event travels in: CloudEvents 1.0 JSON field names where they fit, plus
 * Herald's routing and tracing extensions.
 *
 * @module
 */
import { EnvelopeTooLargeError } from "./errors.ts";
import { newId } from "./id.ts";

/**
 * The largest encoded envelope Herald accepts, in bytes. Deno KV stores at most 64 KiB per
 * value; the rest is headroom for what a backend adds around it.
 */
export const MAX_ENVELOPE_BYTES = 60_000;

/**
 * An event as stored and delivered.
 *
 * @typeParam T The payload type.
 */
export interface Envelope<T = unknown> {
  /** CloudEvents spec version: always `"1.0"`. */
  specversion: "1.0";
  /** Time-sortable unique id (see `newId`). */
  id: string;
  /** The service that published it. */
  source: string;
  /** The event type, such as `user.created`. */
  type: string;
  /** When it was published, as an RFC 3339 timestamp. */
  time: string;
  /** Always `application/json`. */
  datacontenttype: "application/json";
  /** The payload. */
  data: T;
  /** The stream it was published on. */
  stream: string;
  /** Optional ordering key: events with one key are handled in order. */
  key?: string;
  /** W3C trace context of the publisher, when there was one. */
  traceparent?: string;
  /** The id of the first event of the chain this one belongs to. */
  correlationid: string;
  /** The id of the event whose handler published this one, if any. */
  causationid?: string;
  /**
   * The version of the payload's contract (Herald's extension attribute), when above 1: a
   * consumer on a newer contract upcasts the payload from it. Absent means version 1.
   */
  dataversion?: number;
}

/** Per-event options when publishing. */
export interface PublishOptions {
  /** Ordering key: events with the same key are handled one at a time, in order. */
  key?: string;
  /** Correlation id to carry; defaults to the event's own id. */
  correlationid?: string;
  /** The id of the event that caused this one. */
  causationid?: string;
  /** W3C `traceparent` to carry. */
  traceparent?: string;
  /**
   * Publish later: the event enters its stream this many milliseconds from now, and no group
   * sees it before (see docs/delay.md). At most 365 days; `0` publishes at once. Not with `at`.
   */
  delay?: number;
  /**
   * Publish at this time: the event enters its stream then, and no group sees it before. A time
   * past publishes at once; at most 365 days ahead. Not with `delay`.
   */
  at?: Date;
}

/**
 * Builds an envelope for a payload that has already been validated, and checks its size.
 *
 * @param stream The stream.
 * @param type The event type.
 * @param data The payload.
 * @param source The publishing service.
 * @param options Key and tracing fields.
 * @returns The envelope.
 * @throws {EnvelopeTooLargeError} when it encodes to more than `MAX_ENVELOPE_BYTES`.
 *
 * @example
 * ```ts
 * import { createEnvelope } from "@herald/herald";
 * const e = createEnvelope("users", "user.created", { id: "u1" }, "users-service");
 * console.log(e.correlationid === e.id); // true
 * ```
 */
export function createEnvelope<T>(
  stream: string,
  type: string,
  data: T,
  source: string,
  options: PublishOptions = {},
): Envelope<T> {
  return encodeEnvelope(stream, type, data, source, options).envelope;
}

/**
 * {@linkcode createEnvelope}, also returning the JSON that the size check encoded, so that a
 * publish need not encode the envelope a second time (see {@linkcode envelopeJson}).
 */
export function encodeEnvelope<T>(
  stream: string,
  type: string,
  data: T,
  source: string,
  options: PublishOptions & { dataversion?: number } = {},
): { envelope: Envelope<T>; json: string } {
  const now = Date.now();
  const id = newId(now);
  const envelope: Envelope<T> = {
    specversion: "1.0",
    id,
    source,
    type,
    time: isoTime(now),
    datacontenttype: "application/json",
    data,
    stream,
    correlationid: options.correlationid ?? id,
  };
  if (options.key !== undefined) envelope.key = options.key;
  if (options.causationid !== undefined) envelope.causationid = options.causationid;
  if (options.traceparent !== undefined) envelope.traceparent = options.traceparent;
  if (options.dataversion !== undefined && options.dataversion > 1) {
    envelope.dataversion = options.dataversion;
  }
  const json = JSON.stringify(envelope);
  // A UTF-16 code unit takes at most 3 bytes in UTF-8: short JSON needs no encoding to measure.
  if (json.length * 3 > MAX_ENVELOPE_BYTES) {
    const bytes = encoder.encode(json).byteLength;
    if (bytes > MAX_ENVELOPE_BYTES) throw new EnvelopeTooLargeError(id, bytes, MAX_ENVELOPE_BYTES);
  }
  return { envelope, json };
}

let isoAt = NaN;
let isoText = "";

/** `new Date(ms).toISOString()`, kept for the last millisecond asked: a batch shares one. */
function isoTime(ms: number): string {
  if (ms !== isoAt) {
    isoText = new Date(ms).toISOString();
    isoAt = ms;
  }
  return isoText;
}

const encoder = new TextEncoder();

/** The size of an envelope encoded as JSON, in bytes. */
export function encodedSize(envelope: Envelope): number {
  return encoder.encode(JSON.stringify(envelope)).byteLength;
}

// The JSON of envelopes on their way to a backend in a publish (see withJson).
const encodings = new WeakMap<Envelope, string>();

/**
 * Runs `append` with the JSON of `envelopes` known to {@linkcode envelopeJson}, then forgets it:
 * nobody else holds these envelopes until the publish returns them, so the JSON stays true.
 */
export async function withJson<R>(
  encoded: readonly { envelope: Envelope; json: string }[],
  append: () => Promise<R>,
): Promise<R> {
  for (const e of encoded) encodings.set(e.envelope, e.json);
  try {
    return await append();
  } finally {
    for (const e of encoded) encodings.delete(e.envelope);
  }
}

/** For backends: an envelope as JSON, encoded once per publish (see {@linkcode withJson}). */
export function envelopeJson(envelope: Envelope): string {
  return encodings.get(envelope) ?? JSON.stringify(envelope);
}

/**
 * Tells whether a stored value has the shape of an envelope. Backends use it on what they read,
 * because anyone can write into a stream.
 *
 * @param value What was read.
 * @returns A reason it is not an envelope, or `undefined` when it is one.
 *
 * @example
 * ```ts
 * import { envelopeProblem } from "@herald/herald";
 * console.log(envelopeProblem({ hello: "world" })); // "specversion must be \"1.0\""
 * ```
 */
export function envelopeProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return "an envelope must be an object";
  const v = value as Record<string, unknown>;
  if (v.specversion !== "1.0") return 'specversion must be "1.0"';
  for (const field of ["id", "source", "type", "time", "stream", "correlationid"]) {
    if (typeof v[field] !== "string" || (v[field] as string).length === 0) {
      return `${field} must be a non-empty string`;
    }
  }
  if (!("data" in v)) return "data is missing";
  const version = v.dataversion;
  if (version !== undefined && !(Number.isInteger(version) && (version as number) >= 1)) {
    return "dataversion must be an integer >= 1";
  }
  return undefined;
}
