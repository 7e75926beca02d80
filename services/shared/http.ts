/**
 * What every service's Hono app shares: zod validation that answers 400 with every issue (415
 * for a body that is not JSON), JWT authentication from the `Authorization` header only (401,
 * also for a deleted user's token), a body size limit (413), 404 and 405 before any
 * authentication, JSON bodies ending in a newline, and one error handler.
 *
 * @module
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { sign, verify } from "hono/jwt";
import { validator } from "hono/validator";
import type { z } from "zod";
import { heraldErrorHandler } from "@herald/herald/hono";
import { jwtSecret } from "./config.ts";
import { AppError, TooManyRequestsError } from "./errors.ts";

/** The largest request body any service accepts, in bytes; larger ones get 413. */
export const MAX_BODY_BYTES = 16 * 1024;

/** How long a token is valid, in seconds. */
export const TOKEN_TTL_S = 24 * 60 * 60;

/** Hono's variables a service's routes see: the authenticated user's id. */
export type Env = { Variables: { userId: string }; Bindings: Partial<Deno.ServeHandlerInfo> };

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Makes a service's Hono app with the shared body limit, answers and error handler.
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
  app.use(endJsonWithNewline);
  app.use(bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => c.json({ error: `Request body over ${MAX_BODY_BYTES} bytes` }, 413),
  }));
  app.onError((err, c) => {
    if (err instanceof TooManyRequestsError) {
      c.header("retry-after", String(err.retryAfterS));
    }
    if (err instanceof AppError) return c.json({ error: err.message }, err.status);
    if (err instanceof HTTPException && err.status < 500) {
      return c.json({ error: err.message }, err.status);
    }
    if (err instanceof HTTPException) return err.getResponse();
    const res = heraldErrorHandler(err);
    return res.status === 500 ? c.json({ error: "Internal error" }, 500) : res;
  });
  app.notFound((c) => {
    const allowed = allowedMethods(app, c.req.path);
    if (allowed.length === 0) return c.json({ error: "Not found" }, 404);
    c.header("allow", allowed.join(", "));
    return c.json({ error: `Method ${c.req.method} not allowed` }, 405);
  });
  return app;
}

/** Every JSON answer ends with a newline, so `curl` output and logs stay line by line. */
const endJsonWithNewline: MiddlewareHandler = async (c, next) => {
  await next();
  const type = c.res.headers.get("content-type") ?? "";
  if (!type.startsWith("application/json") || c.res.body === null) return;
  const text = await c.res.text();
  if (text.endsWith("\n")) return;
  const { status, headers } = c.res;
  const copy = new Headers(headers);
  copy.delete("content-length");
  // Cleared first: Hono's setter would otherwise copy the old headers over the new ones.
  c.res = undefined;
  c.res = new Response(text + "\n", { status, headers: copy });
};

/** The methods the app's routes answer on a path (empty: no route has the path). */
function allowedMethods(app: Hono<Env>, path: string): string[] {
  const methods = new Set<string>();
  for (const route of app.routes) {
    if (route.method === "ALL") continue;
    if (patternOf(route.path).test(path)) methods.add(route.method);
  }
  if (methods.has("GET")) methods.add("HEAD");
  return [...methods].sort();
}

function patternOf(path: string): RegExp {
  const source = path.split("/").map((part) =>
    part.startsWith(":")
      ? "[^/]+"
      : part === "*"
      ? ".*"
      : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  ).join("/");
  return new RegExp(`^${source}/?$`);
}

/**
 * Validates one part of the request with a zod schema: 400 with every issue (`issues`, and the
 * first one's `field` and `error`); for `json`, 415 unless the body is declared JSON.
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
  const check = validator(target, (value, c) => {
    const result = schema.safeParse(value);
    if (result.success) return result.data as z.output<S>;
    const issues = result.error.issues.map((i) => ({
      field: i.path.map(String).join(".") || target,
      message: i.message,
    }));
    const first = issues[0];
    return c.json(
      { error: `Invalid ${first.field}: ${first.message}`, field: first.field, issues },
      400,
    );
  });
  if (target !== "json") return check;
  const withType: typeof check = async (c, next) => {
    const type = (c.req.header("content-type") ?? "").split(";")[0].trim();
    if (!JSON_TYPE.test(type)) {
      throw new HTTPException(415, {
        message: "Send the body as JSON (content-type: application/json)",
      });
    }
    return await check(c, next);
  };
  return withType;
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
export async function signToken(userId: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return await sign({ sub: userId, iat: now, exp: now + TOKEN_TTL_S }, await jwtSecret(), "HS256");
}

/** Tokens already verified, by token: their user and expiry (ms). */
const verified = new Map<string, { sub: string; expMs: number }>();
/** How many verified tokens are remembered; the oldest is forgotten first. */
const VERIFIED_MAX = 10_000;

/**
 * Checks a token and returns its user's id, or `undefined` when it is not valid. A token once
 * verified is remembered until it expires, so a client's next requests skip the signature check
 * (revocation is checked on every request by {@linkcode authenticated}).
 *
 * @param token The JWT.
 * @returns The token's `sub`.
 */
export async function verifyToken(token: string): Promise<string | undefined> {
  const known = verified.get(token);
  if (known && known.expMs > Date.now()) return known.sub;
  try {
    const payload = await verify(token, await jwtSecret(), "HS256");
    if (typeof payload.sub !== "string" || typeof payload.exp !== "number") return undefined;
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
    verified.set(token, { sub: payload.sub, expMs: payload.exp * 1000 });
    return payload.sub;
  } catch {
    return undefined;
  }
}

/** Options of {@linkcode authenticated}. */
export interface AuthOptions {
  /** Tells whether a user was deleted: their still-unexpired tokens then get 401. */
  revoked?: (userId: string) => Promise<boolean>;
}

/**
 * Requires a valid token in `Authorization: Bearer …` (never in the URL, where logs and
 * browser history keep it), of a user not deleted; 401 otherwise. Sets `c.var.userId`. Put it
 * on each route, so unknown routes answer 404 without asking for a token.
 *
 * @param options How to tell a deleted user.
 * @returns Hono middleware.
 *
 * @example
 * ```ts ignore
 * const auth = authenticated({ revoked: (id) => isGone(db, id) });
 * app.get("/me", auth, (c) => c.json({ id: c.var.userId }));
 * ```
 */
export function authenticated(options: AuthOptions = {}): MiddlewareHandler<Env> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    const token = header?.match(/^Bearer\s+(\S+)$/i)?.[1];
    if (!token) return c.json({ error: "Missing bearer token" }, 401);
    const userId = await verifyToken(token);
    if (!userId || await options.revoked?.(userId)) {
      return c.json({ error: "Invalid or expired token" }, 401);
    }
    c.set("userId", userId);
    await next();
  };
}

/**
 * The client's address as the connection shows it (a proxy in front hides it: read its
 * forwarding header there instead).
 *
 * @param c The request's context.
 * @returns The remote IP address, or `"unknown"` outside `deno serve`.
 */
export function clientAddress(c: Context<Env>): string {
  const addr = c.env?.remoteAddr;
  return addr && "hostname" in addr ? addr.hostname : "unknown";
}
