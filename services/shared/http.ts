/**
 * What every service's Hono app shares: zod validation that answers 400 naming the field, JWT
 * authentication (401), a body size limit (413) and one error handler.
 *
 * @module
 */
import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { sign, verify } from "hono/jwt";
import { validator } from "hono/validator";
import type { z } from "zod";
import { jwtSecret } from "./config.ts";
import { AppError } from "./errors.ts";

/** The largest request body any service accepts, in bytes; larger ones get 413. */
export const MAX_BODY_BYTES = 16 * 1024;

/** How long a token is valid, in seconds. */
const TOKEN_TTL_S = 24 * 60 * 60;

/** Hono's variables a service's routes see: the authenticated user's id. */
export type Env = { Variables: { userId: string } };

/**
 * Makes a service's Hono app with the shared body limit and error handler.
 *
 * @returns The app; add routes to it.
 *
 * @example
 * ```ts ignore
 * const app = createApp().get("/hello", (c) => c.text("hi"));
 * ```
 */
export function createApp(): Hono<Env> {
  const app = new Hono<Env>();
  app.use(bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => c.json({ error: `Request body over ${MAX_BODY_BYTES} bytes` }, 413),
  }));
  app.onError((err, c) => {
    if (err instanceof AppError) return c.json({ error: err.message }, err.status);
    if (err instanceof HTTPException) return c.json({ error: err.message }, err.status);
    console.error(err);
    return c.json({ error: "Internal error" }, 500);
  });
  app.notFound((c) => c.json({ error: "Not found" }, 404));
  return app;
}

/**
 * Validates one part of the request with a zod schema; a 400 names the first bad field.
 *
 * @param target `json`, `param` or `query`.
 * @param schema The schema.
 * @returns Hono middleware; read the value with `c.req.valid(target)`.
 *
 * @example
 * ```ts ignore
 * app.post("/groups", valid("json", z.object({ name: z.string() })), (c) => {
 *   const { name } = c.req.valid("json");
 * });
 * ```
 */
export function valid<T extends "json" | "param" | "query", S extends z.ZodType>(
  target: T,
  schema: S,
) {
  return validator(target, (value, c) => {
    const result = schema.safeParse(value);
    if (result.success) return result.data as z.output<S>;
    const issue = result.error.issues[0];
    const field = issue.path.join(".") || target;
    return c.json({ error: `Invalid ${field}: ${issue.message}`, field }, 400);
  });
}

/**
 * Signs a token for a user, as Auth does at login.
 *
 * @param userId The user's id (the token's `sub`).
 * @returns The JWT.
 *
 * @example
 * ```ts ignore
 * const token = await signToken(user.id);
 * ```
 */
export function signToken(userId: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return sign({ sub: userId, iat: now, exp: now + TOKEN_TTL_S }, jwtSecret(), "HS256");
}

/**
 * Requires a valid token (`Authorization: Bearer …`, or `?token=` where a header cannot be
 * set, as in a browser's WebSocket); 401 otherwise. Sets `c.var.userId`.
 *
 * @returns Hono middleware.
 *
 * @example
 * ```ts ignore
 * app.get("/me", authenticated(), (c) => c.json({ id: c.var.userId }));
 * ```
 */
export function authenticated(): MiddlewareHandler<Env> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    const token = header?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? c.req.query("token");
    if (!token) return c.json({ error: "Missing bearer token" }, 401);
    try {
      const payload = await verify(token, jwtSecret(), "HS256");
      if (typeof payload.sub !== "string") throw new TypeError("no sub");
      c.set("userId", payload.sub);
    } catch {
      return c.json({ error: "Invalid or expired token" }, 401);
    }
    await next();
  };
}
