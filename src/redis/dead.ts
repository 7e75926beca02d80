/**
 * Dead letters of the Redis backend: one stream per group, each entry holding the record
 * (`d`: id, stream, error, attempts, time) and the original entry's fields (`f`), so that a
 * redrive can put the very same entry back.
 *
 * @module
 */
import type { DeadLetter, Delivery, ErrorInfo } from "../backend.ts";
import { fieldsObject, readEntry } from "./keys.ts";

interface Record {
  id: string;
  stream: string;
  error: ErrorInfo;
  attempts: number;
  at: string;
}

/** The `d` and `f` values stored for a delivery going to the dead letters. */
export function deadRecord(
  delivery: Delivery,
  entryId: string,
  error: ErrorInfo,
): { record: string; fields: string } {
  const record: Record = {
    // A malformed entry has no event id: name it by where it was.
    id: delivery.envelope?.id ?? `${delivery.stream}/${entryId}`,
    stream: delivery.stream,
    error,
    attempts: delivery.attempt,
    at: new Date().toISOString(),
  };
  const fields = delivery.envelope
    ? ["e", JSON.stringify(delivery.envelope)]
    : Object.entries((delivery.malformed?.raw ?? {}) as { [k: string]: string }).flat();
  return { record: JSON.stringify(record), fields: JSON.stringify(fields) };
}

/** A dead-letter stream entry, read back. */
export interface StoredDeadLetter {
  /** Its id in the dead-letter stream. */
  entryId: string;
  letter: DeadLetter;
}

/** Reads one `XRANGE` reply entry of a dead-letter stream. */
export function parseDeadLetter(group: string, entry: [string, unknown[]]): StoredDeadLetter {
  const f = fieldsObject(entry[1]);
  const record = JSON.parse(f.d) as Record;
  const fields = fieldsObject(JSON.parse(f.f ?? "[]") as unknown[]);
  const read = readEntry(fields);
  const letter: DeadLetter = {
    id: record.id,
    group,
    stream: record.stream,
    error: record.error,
    attempts: record.attempts,
    at: record.at,
    ...(read.envelope ? { envelope: read.envelope } : { raw: fields }),
  };
  return { entryId: entry[0], letter };
}
