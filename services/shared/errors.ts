/**
 * The errors the services' cores throw; `app.onError` (see `http.ts`) turns each into its HTTP
 * status, so a core never knows about HTTP.
 *
 * @module
 */

/** A failure a caller can act on, with the HTTP status it maps to. */
export class AppError extends Error {
  /**
   * @param status The HTTP status.
   * @param message What went wrong, in sentence case.
   */
  constructor(readonly status: 400 | 401 | 403 | 404 | 409 | 429, message: string) {
    super(message);
    this.name = "AppError";
  }
}

/**
 * The thing asked for does not exist (404).
 *
 * @example
 * ```ts ignore
 * if (!group) throw new NotFoundError("Group not found");
 * ```
 */
export class NotFoundError extends AppError {
  /** @param message What was not found. */
  constructor(message: string) {
    super(404, message);
    this.name = "NotFoundError";
  }
}

/**
 * The caller may not do this (403), such as posting in a group they are not in.
 *
 * @example
 * ```ts ignore
 * if (!member) throw new ForbiddenError("Not a member of this group");
 * ```
 */
export class ForbiddenError extends AppError {
  /** @param message Why not. */
  constructor(message: string) {
    super(403, message);
    this.name = "ForbiddenError";
  }
}

/**
 * The request clashes with what exists (409), such as an email already registered.
 *
 * @example
 * ```ts ignore
 * if (!result.ok) throw new ConflictError("Email already registered");
 * ```
 */
export class ConflictError extends AppError {
  /** @param message What clashed. */
  constructor(message: string) {
    super(409, message);
    this.name = "ConflictError";
  }
}

/**
 * Missing or wrong credentials (401).
 *
 * @example
 * ```ts ignore
 * if (!ok) throw new UnauthorizedError("Wrong email or password");
 * ```
 */
export class UnauthorizedError extends AppError {
  /** @param message What was wrong. */
  constructor(message: string) {
    super(401, message);
    this.name = "UnauthorizedError";
  }
}

/**
 * Too many attempts (429); `retryAfterS` becomes the `Retry-After` header.
 *
 * @example
 * ```ts ignore
 * if (blocked) throw new TooManyRequestsError("Too many failed logins", 600);
 * ```
 */
export class TooManyRequestsError extends AppError {
  /**
   * @param message What was refused.
   * @param retryAfterS Seconds until a new attempt may succeed.
   */
  constructor(message: string, readonly retryAfterS: number) {
    super(429, message);
    this.name = "TooManyRequestsError";
  }
}
