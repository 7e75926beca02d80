/**
 * The admin API's error answers: JSON `{ error, code }` with the HTTP status that fits.
 *
 * @module
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { BackendUnavailableError, InvalidOptionsError, NotFoundError } from "../errors.ts";

/** A request the admin API refuses, with its status and a reason. */
export class AdminHttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "AdminHttpError";
  }
}

/** Turns anything thrown while answering into a JSON error answer. */
export function errorAnswer(err: unknown, c: Context): Response {
  if (err instanceof AdminHttpError) {
    if (err.status === 401) c.header("WWW-Authenticate", 'Bearer realm="herald"');
    return c.json({ error: err.message, code: err.code }, err.status);
  }
  if (err instanceof NotFoundError) return c.json({ error: err.message, code: "not_found" }, 404);
  if (err instanceof TypeError || err instanceof RangeError || err instanceof InvalidOptionsError) {
    return c.json({ error: err.message, code: "bad_request" }, 400);
  }
  if (err instanceof BackendUnavailableError) {
    return c.json({ error: err.message, code: "unavailable" }, 503);
  }
  const message = err instanceof Error ? err.message : String(err);
  return c.json({ error: message, code: "internal" }, 500);
}
