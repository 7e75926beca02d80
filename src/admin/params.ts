/**
 * Reading the admin API's query strings and JSON bodies into the arguments of the `Inspector`
 * calls, with a 400 answer that says what was wrong.
 *
 * @module
 */
import type { Context } from "hono";
import type { DeadLetterQuery, PeekOptions, Position, PurgeOptions } from "../inspect.ts";
import { AdminHttpError } from "./errors.ts";

/** The most items one page may ask for. */
export const MAX_LIMIT = 1_000;

function bad(message: string): AdminHttpError {
  return new AdminHttpError(400, "bad_request", message);
}

/** A `limit` query parameter, 1 to {@linkcode MAX_LIMIT}. */
export function limitOf(c: Context, fallback: number): number {
  const raw = c.req.query("limit");
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) {
    throw bad(`limit must be an integer from 1 to ${MAX_LIMIT}`);
  }
  return n;
}

/** A time parameter: RFC 3339 or milliseconds since the epoch. */
export function timeOf(name: string, raw: string | undefined): Date | undefined {
  if (raw === undefined || raw === "") return undefined;
  const t = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (Number.isNaN(t)) {
    throw bad(`${name} must be an RFC 3339 time or milliseconds since the epoch`);
  }
  return new Date(t);
}

/** A position: `earliest`, `latest`, a time, or `{ eventId }` (in a body) / `event:<id>`. */
export function positionOf(name: string, raw: unknown): Position {
  if (raw === "earliest" || raw === "latest") return raw;
  if (typeof raw === "object" && raw !== null) {
    const id = (raw as { eventId?: unknown }).eventId;
    if (typeof id === "string" && id !== "") return { eventId: id };
  }
  if (typeof raw === "string" && raw.startsWith("event:") && raw.length > 6) {
    return { eventId: raw.slice(6) };
  }
  if (typeof raw === "string" || typeof raw === "number") {
    const at = timeOf(name, String(raw));
    if (at) return at;
  }
  throw bad(`${name} must be "earliest", "latest", a time, or an event as { "eventId": … }`);
}

/** The query of a dead-letter listing. */
export function deadQueryOf(c: Context): DeadLetterQuery {
  const q: DeadLetterQuery = { limit: limitOf(c, 50) };
  const { after, type, error } = c.req.query();
  if (after) q.after = after;
  if (type) q.type = type;
  if (error) q.errorName = error;
  const since = timeOf("since", c.req.query("since"));
  const until = timeOf("until", c.req.query("until"));
  if (since) q.since = since;
  if (until) q.until = until;
  return q;
}

/** The options of a peek: `after`, or `from` (default `earliest`), and `limit`. */
export function peekOf(c: Context): PeekOptions {
  const after = c.req.query("after");
  const limit = limitOf(c, 50);
  if (after) return { after, limit };
  return { from: positionOf("from", c.req.query("from") ?? "earliest"), limit };
}

/** A JSON object body; `{}` when there is none. */
export async function bodyOf(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw bad("The body is not JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw bad("The body must be a JSON object");
  }
  return body as Record<string, unknown>;
}

/** `ids` from a body: absent, or a non-empty array of strings. */
export function idsOf(body: Record<string, unknown>): string[] | undefined {
  const ids = body.ids;
  if (ids === undefined) return undefined;
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((i) => typeof i === "string")) {
    throw bad("ids must be a non-empty array of strings");
  }
  return ids;
}

/**
 * What a redrive or purge acts on: `{ ids }`, `{ all: true }` or (purge) `{ before }`. Acting on
 * everything must be asked for by name.
 */
export function selectionOf(body: Record<string, unknown>, allowBefore: boolean): PurgeOptions {
  const ids = idsOf(body);
  const before = allowBefore ? timeOf("before", body.before as string | undefined) : undefined;
  if (body.before !== undefined && !allowBefore) throw bad("before is not accepted here");
  if (ids === undefined && before === undefined && body.all !== true) {
    throw bad(
      `Name what to act on: { "ids": [...] }${
        allowBefore ? ', { "before": time }' : ""
      } or { "all": true }`,
    );
  }
  const out: PurgeOptions = {};
  if (ids) out.ids = ids;
  if (before) out.before = before;
  return out;
}
