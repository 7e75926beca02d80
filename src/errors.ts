/**
 * The errors Herald throws for conditions a caller is expected to handle, and the errors a
 * handler throws to steer what happens to a delivery. Every one is a {@linkcode HeraldError}
 * with a stable {@linkcode HeraldErrorCode}.
 *
 * @module
 */

/** The stable code of each Herald error: branch on it rather than on messages. */
export type HeraldErrorCode =
  | "VALIDATION_FAILED"
  | "UNKNOWN_EVENT"
  | "MALFORMED_EVENT"
  | "ENVELOPE_TOO_LARGE"
  | "INVALID_OPTIONS"
  | "LEASE_LOST"
  | "BACKEND_UNAVAILABLE"
  | "REDIS_REPLY"
  | "RETRY_LATER"
  | "DO_NOT_RETRY"
  | "NOT_FOUND";

const BRAND = Symbol.for("herald.error");

/** Marks `err` as a Herald error with `code` (for the ones that extend a built-in error). */
function brand(err: Error, code: HeraldErrorCode): void {
  Object.defineProperty(err, BRAND, { value: true });
  Object.defineProperty(err, "code", { value: code, enumerable: true });
}

/**
 * The base of every error Herald throws. `code` is stable across versions. Errors about bad
 * arguments also stay what they were ({@linkcode InvalidOptionsError} and
 * {@linkcode MalformedEventError} are `TypeError`s, {@linkcode EnvelopeTooLargeError} a
 * `RangeError`) and still pass `instanceof HeraldError`.
 *
 * @example Telling Herald's errors apart by code
 * ```ts
 * import { defineEvent, HeraldError } from "@herald/herald";
 * try {
 *   defineEvent({ stream: "", type: "t", schema: null as never });
 * } catch (err) {
 *   if (err instanceof HeraldError) console.log(err.code); // INVALID_OPTIONS
 * }
 * ```
 */
export class HeraldError extends Error {
  /** What went wrong, as a stable code. */
  declare readonly code: HeraldErrorCode;

  /**
   * Makes the error.
   *
   * @param code The stable code.
   * @param message What went wrong, in words.
   * @param options The underlying error as `cause`.
   */
  constructor(code: HeraldErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    brand(this, code);
  }

  /** Herald's `TypeError`s and `RangeError`s are Herald errors too. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== HeraldError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === "object" && value !== null && BRAND in value;
  }
}

/** A schema issue as zod (or another schema library) reports it. */
interface RawIssue {
  readonly message: string;
  readonly path?: readonly PropertyKey[];
  readonly code?: string;
}

/** Every schema issue in the one shape {@linkcode ValidationError.issues} holds. */
export function schemaIssues(issues: readonly RawIssue[]): SchemaIssue[] {
  return issues.map((i) => {
    const issue: { message: string; path: PropertyKey[]; code?: string } = {
      message: i.message,
      path: [...(i.path ?? [])],
    };
    if (i.code !== undefined) issue.code = i.code;
    return issue;
  });
}

/** One problem found by a schema, in the shape zod reports it. */
export interface SchemaIssue {
  /** What went wrong, in words. */
  readonly message: string;
  /** Where in the payload: object keys and array indexes. */
  readonly path: readonly PropertyKey[];
  /** zod's machine-readable code, such as `invalid_type`. */
  readonly code?: string;
}

/**
 * A payload did not match its event contract's schema. Nothing was written.
 *
 * @example Catching a validation failure
 * ```ts
 * import { ValidationError } from "@herald/herald";
 * try {
 *   throw new ValidationError("users", "user.created", [{ message: "Required", path: ["id"] }]);
 * } catch (err) {
 *   if (err instanceof ValidationError) console.log(err.issues[0].path); // ["id"]
 * }
 * ```
 */
export class ValidationError extends HeraldError {
  /** The stream of the contract that rejected the payload. */
  readonly stream: string;
  /** The event type of the contract that rejected the payload. */
  readonly type: string;
  /** Every problem the schema found. */
  readonly issues: readonly SchemaIssue[];

  /**
   * Makes the error for a payload its contract rejected.
   *
   * @param stream The contract's stream.
   * @param type The contract's event type.
   * @param raw The schema's issues (kept as `message`, `path` and `code` only).
   */
  constructor(stream: string, type: string, raw: readonly SchemaIssue[]) {
    const issues = schemaIssues(raw);
    const first = issues.slice(0, 3).map((i) => `${formatPath(i.path)}: ${i.message}`);
    super(
      "VALIDATION_FAILED",
      `Invalid "${type}" event on stream "${stream}": ${first.join("; ")}${
        issues.length > 3 ? ` (and ${issues.length - 3} more)` : ""
      }`,
    );
    this.name = "ValidationError";
    this.stream = stream;
    this.type = type;
    this.issues = issues;
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? "(root)" : path.map(String).join(".");
}

/**
 * An event named a stream and type that no registered contract describes.
 *
 * @example
 * ```ts
 * import { UnknownEventError } from "@herald/herald";
 * const err = new UnknownEventError("users", "user.renamed");
 * console.log(err.message); // No contract for event "user.renamed" on stream "users"
 * ```
 */
export class UnknownEventError extends HeraldError {
  /** The stream named by the event. */
  readonly stream: string;
  /** The type named by the event. */
  readonly type: string;

  /**
   * Makes the error for an event no contract or handler knows.
   *
   * @param stream The stream named by the event.
   * @param type The type named by the event.
   */
  constructor(stream: string, type: string) {
    super("UNKNOWN_EVENT", `No contract for event "${type}" on stream "${stream}"`);
    this.name = "UnknownEventError";
    this.stream = stream;
    this.type = type;
  }
}

/**
 * An encoded envelope is larger than Herald accepts (see `MAX_ENVELOPE_BYTES`). Nothing was
 * written.
 *
 * @example
 * ```ts
 * import { EnvelopeTooLargeError } from "@herald/herald";
 * const err = new EnvelopeTooLargeError("01J…", 70_000, 60_000);
 * console.log(err.bytes > err.limit); // true
 * ```
 */
export class EnvelopeTooLargeError extends RangeError {
  /** Always `ENVELOPE_TOO_LARGE`. */
  declare readonly code: "ENVELOPE_TOO_LARGE";
  /** The id of the event that was too large. */
  readonly id: string;
  /** Its encoded size in bytes. */
  readonly bytes: number;
  /** The largest size accepted, in bytes. */
  readonly limit: number;

  /**
   * Makes the error for an envelope over the size limit.
   *
   * @param id The event id.
   * @param bytes The encoded size.
   * @param limit The largest size accepted.
   */
  constructor(id: string, bytes: number, limit: number) {
    super(`Event ${id} is ${bytes} bytes encoded; the limit is ${limit} bytes`);
    this.name = "EnvelopeTooLargeError";
    brand(this, "ENVELOPE_TOO_LARGE");
    this.id = id;
    this.bytes = bytes;
    this.limit = limit;
  }
}

/**
 * Options given to a Herald constructor were malformed. Every problem is listed at once.
 *
 * @example
 * ```ts
 * import { InvalidOptionsError } from "@herald/herald";
 * const err = new InvalidOptionsError("createWorker", ["group must be a non-empty string"]);
 * console.log(err.problems.length); // 1
 * ```
 */
export class InvalidOptionsError extends TypeError {
  /** Always `INVALID_OPTIONS`. */
  declare readonly code: "INVALID_OPTIONS";
  /** Each problem, one sentence each. */
  readonly problems: readonly string[];

  /**
   * Makes the error listing every problem found in an options object.
   *
   * @param where The function or constructor whose options were checked.
   * @param problems Each problem found.
   */
  constructor(where: string, problems: readonly string[]) {
    super(`Invalid options for ${where}: ${problems.join("; ")}`);
    this.name = "InvalidOptionsError";
    brand(this, "INVALID_OPTIONS");
    this.problems = problems;
  }
}

/**
 * A value that should be an event envelope is not one (`decodeEvent`, or an entry a foreign
 * writer put in a stream). A `TypeError`, and a {@linkcode HeraldError}.
 *
 * @example
 * ```ts
 * import { decodeEvent, MalformedEventError } from "@herald/herald";
 * try {
 *   decodeEvent([], { hello: "world" });
 * } catch (err) {
 *   console.log(err instanceof MalformedEventError); // true
 * }
 * ```
 */
export class MalformedEventError extends TypeError {
  /** Always `MALFORMED_EVENT`. */
  declare readonly code: "MALFORMED_EVENT";
  /** What is wrong with it. */
  readonly problem: string;

  /**
   * Makes the error.
   *
   * @param problem What is wrong with the value.
   */
  constructor(problem: string) {
    super(`Not an event envelope: ${problem}`);
    this.name = "MalformedEventError";
    this.problem = problem;
    brand(this, "MALFORMED_EVENT");
  }
}

/**
 * A handler's lease on a delivery expired or was taken by another consumer, so its outcome was
 * not recorded; the event will be (or was) delivered again.
 *
 * @example
 * ```ts
 * import { LeaseLostError } from "@herald/herald";
 * console.log(new LeaseLostError("orders", "01J…").name); // LeaseLostError
 * ```
 */
export class LeaseLostError extends HeraldError {
  /** The consumer group that lost the lease. */
  readonly group: string;
  /** The event whose lease was lost. */
  readonly eventId: string;

  /**
   * Makes the error for a lease that lapsed or was taken by another worker.
   *
   * @param group The consumer group.
   * @param eventId The event id.
   */
  constructor(group: string, eventId: string) {
    super("LEASE_LOST", `Group "${group}" lost its lease on event ${eventId}`);
    this.name = "LeaseLostError";
    this.group = group;
    this.eventId = eventId;
  }
}

/**
 * The backend could not be reached or refused the operation; nothing is known to be written.
 * The message names the backend, where it is (a URL without its password) and the cause.
 *
 * @example
 * ```ts
 * import { BackendUnavailableError } from "@herald/herald";
 * const err = new BackendUnavailableError("redis", "connection refused", {
 *   url: "redis://:s3cret@127.0.0.1:6379",
 * });
 * console.log(err.url); // redis://:***@127.0.0.1:6379
 * ```
 */
export class BackendUnavailableError extends HeraldError {
  /** Which backend failed. */
  readonly backend: string;
  /** Where the backend is, without its password; absent when it has no URL. */
  readonly url?: string;

  /**
   * Makes the error for a backend that could not be reached.
   *
   * @param backend Which backend failed.
   * @param detail What went wrong, in words a user can act on.
   * @param options The underlying error as `cause`, and the backend's URL (its password is
   *   hidden before it is kept or shown).
   */
  constructor(backend: string, detail: string, options?: ErrorOptions & { url?: string }) {
    const url = options?.url === undefined ? undefined : redactUrl(options.url);
    const where = url === undefined ? "" : ` at ${url}`;
    super("BACKEND_UNAVAILABLE", `The ${backend} backend${where} is unavailable: ${detail}`, {
      cause: options?.cause,
    });
    this.name = "BackendUnavailableError";
    this.backend = backend;
    if (url !== undefined) this.url = url;
  }
}

/** `url` with its password (and a `token` query parameter) replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    if (u.searchParams.has("token")) u.searchParams.set("token", "***");
    return u.toString().replace(/\/$/, "").replaceAll("%2A%2A%2A", "***");
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
  }
}

/**
 * Thrown by a handler to ask for the event again after `delayMs`, instead of the retry
 * policy's backoff. It still counts as an attempt.
 *
 * @example
 * ```ts
 * import { RetryLaterError } from "@herald/herald";
 * // inside a handler: the downstream API said "try again in 30 s"
 * const err = new RetryLaterError(30_000, "rate limited");
 * console.log(err.delayMs); // 30000
 * ```
 */
export class RetryLaterError extends HeraldError {
  /** How long to wait before the next attempt, in milliseconds. */
  readonly delayMs: number;

  /**
   * Makes the error a handler throws to be retried after `delayMs`.
   *
   * @param delayMs The wait before the next attempt.
   * @param message Why.
   * @param options The underlying error as `cause`.
   */
  constructor(delayMs: number, message = "Retry requested", options?: ErrorOptions) {
    super("RETRY_LATER", message, options);
    this.name = "RetryLaterError";
    this.delayMs = delayMs;
  }
}

/**
 * Thrown by a handler when retrying cannot help: the event is dead-lettered at once.
 *
 * @example
 * ```ts
 * import { DoNotRetryError } from "@herald/herald";
 * // inside a handler
 * const err = new DoNotRetryError("Account is closed");
 * console.log(err.name); // DoNotRetryError
 * ```
 */
export class DoNotRetryError extends HeraldError {
  /**
   * Makes the error a handler throws to be dead-lettered at once.
   *
   * @param message Why retrying cannot help.
   * @param options The underlying error as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("DO_NOT_RETRY", message, options);
    this.name = "DoNotRetryError";
  }
}

/**
 * An operator asked for something that is not there: a group to reset that does not exist on
 * the stream, an event id not found in a stream.
 *
 * @example
 * ```ts
 * import { NotFoundError } from "@herald/herald";
 * const err = new NotFoundError("group", 'No group "audit" on stream "users"');
 * console.log(err.code, err.what); // not_found group
 * ```
 */
export class NotFoundError extends HeraldError {
  /** What was not found: `group`, `stream`, `event` or `dead letter`. */
  readonly what: string;

  /**
   * Makes the error.
   *
   * @param what What was not found.
   * @param message Which one, in a sentence.
   */
  constructor(what: string, message: string) {
    super("NOT_FOUND", message);
    this.name = "NotFoundError";
    this.what = what;
  }
}

/**
 * A handler ran longer than its `timeoutMs`: its `ctx.signal` was aborted with this error, and the
 * delivery is retried like any failure.
 *
 * @example
 * ```ts
 * import { HandlerTimeoutError } from "@herald/herald";
 * const err = new HandlerTimeoutError("user.created", 5_000);
 * console.log(err.message); // Handler of "user.created" ran longer than 5000 ms
 * ```
 */
export class HandlerTimeoutError extends Error {
  /** The event type whose handler timed out. */
  readonly type: string;
  /** The handler's time limit, in milliseconds. */
  readonly timeoutMs: number;

  /**
   * Makes the error for a handler past its time limit.
   *
   * @param type The event type.
   * @param timeoutMs The limit.
   */
  constructor(type: string, timeoutMs: number) {
    super(`Handler of "${type}" ran longer than ${timeoutMs} ms`);
    this.name = "HandlerTimeoutError";
    this.type = type;
    this.timeoutMs = timeoutMs;
  }
}
