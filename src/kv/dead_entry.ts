/**
 * Building the stored form of a dead letter, kept small enough for one Deno KV value.
 *
 * @module
 */
import type { Delivery, ErrorInfo } from "../backend.ts";
import { type DeadEntry, malformedId } from "./keys.ts";
import { LIMITS, utf8Bytes } from "./store.ts";

/** The most of an error's message or stack kept, in characters. */
const MAX_TEXT = 4_000;

/** Makes the dead letter of a delivery. */
export function deadEntry(seq: number, d: Delivery, attempts: number, error: ErrorInfo): DeadEntry {
  const entry: DeadEntry = {
    id: d.envelope?.id ?? malformedId(d.stream, seq),
    stream: d.stream,
    seq,
    error: trimError(error),
    attempts,
    at: new Date().toISOString(),
  };
  if (d.envelope) entry.envelope = d.envelope;
  else if (deadSize(d) < LIMITS.valueBytes - 10_000) entry.raw = d.malformed?.raw;
  else entry.raw = "[omitted: too large to keep]";
  return entry;
}

/** About how many bytes a delivery's dead letter takes. */
export function deadSize(d: Delivery): number {
  try {
    return utf8Bytes(JSON.stringify(d.envelope ?? d.malformed?.raw ?? null) ?? "") + 2 * MAX_TEXT;
  } catch {
    return LIMITS.valueBytes; // not JSON (a bigint, a cycle): assume the worst
  }
}

/** Keeps an error small enough to store next to a 60 KB event. */
export function trimError(e: ErrorInfo): ErrorInfo {
  const out: ErrorInfo = {
    name: String(e?.name ?? "Error"),
    message: cut(String(e?.message ?? "")),
  };
  if (e?.stack) out.stack = cut(String(e.stack));
  if (Array.isArray(e?.issues)) out.issues = e.issues.slice(0, 20);
  return out;
}

function cut(s: string): string {
  return s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) + "…" : s;
}
