/**
 * Hono glue for Herald services: an error handler that answers a {@linkcode ValidationError}
 * (a payload that failed its event contract when published from a route) with 400 and every
 * issue, instead of the 500 Hono gives any unknown error.
 *
 * @example Using it as the app's error handler
 * ```ts
 * import { Hono } from "hono";
 * import { heraldErrorHandler } from "@herald/herald/hono";
 *
 * const app = new Hono();
 * app.onError(heraldErrorHandler);
 * ```
 *
 * @module
 */
import { HTTPException } from "hono/http-exception";
import { ValidationError } from "../errors.ts";
import { defaultLogger } from "../telemetry/log.ts";

const log = defaultLogger("herald");

/** One problem in a {@linkcode ValidationErrorBody}: where, and what. */
export interface ValidationIssue {
  /** Where in the payload: object keys and array indexes. */
  path: (string | number)[];
  /** What went wrong, in words. */
  message: string;
  /** The schema's machine-readable code, such as `invalid_type`, when it gives one. */
  code?: string;
}

/** The JSON body of the 400 answer {@linkcode heraldErrorHandler} gives a `ValidationError`. */
export interface ValidationErrorBody {
  /** The error's message, naming the event type and the first issues. */
  error: string;
  /** The error's stable code: `VALIDATION_FAILED` (see Herald's error family). */
  code: string;
  /** Every issue the contract's schema found. */
  issues: ValidationIssue[];
}

/**
 * A Hono error handler (`app.onError`): a {@linkcode ValidationError} becomes 400 with a JSON
 * body of its issues; Hono's `HTTPException` answers its own response; anything else is
 * logged and answered 500, as Hono does by default. To handle errors of your own too, call it
 * last from your handler.
 *
 * @param err The error a route threw.
 * @returns The answer.
 *
 * @example Beside errors of your own
 * ```ts
 * import { Hono } from "hono";
 * import { heraldErrorHandler } from "@herald/herald/hono";
 *
 * class GoneError extends Error {}
 * const app = new Hono();
 * app.onError((err, c) =>
 *   err instanceof GoneError ? c.json({ error: err.message }, 410) : heraldErrorHandler(err)
 * );
 * ```
 */
export function heraldErrorHandler(err: Error): Response {
  if (err instanceof ValidationError) {
    const body: ValidationErrorBody = {
      error: err.message,
      code: err.code,
      issues: err.issues.map((i) => ({
        path: i.path.map((p) => typeof p === "number" ? p : String(p)),
        message: i.message,
        ...(i.code === undefined ? {} : { code: i.code }),
      })),
    };
    return Response.json(body, { status: 400 });
  }
  if (err instanceof HTTPException) return err.getResponse();
  log.error("request failed", { error: err });
  return new Response("Internal Server Error", { status: 500 });
}
