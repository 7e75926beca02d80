/**
 * Bearer-token access to the admin API: a write token for everything, an optional read-only
 * token for the routes that change nothing. Tokens are compared in constant time.
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { AdminHttpError } from "./errors.ts";

/** What a request's token lets it do. */
export type Access = "read" | "write";

const encoder = new TextEncoder();

/** SHA-256 of a token: equal lengths for `timingSafeEqual`, whatever was sent. */
async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/**
 * Checks the `Authorization: Bearer …` header, sets `access` on the context, and refuses a write
 * (any method but GET and HEAD) to the read-only token.
 */
export function bearer(
  token: string,
  readToken: string | undefined,
): MiddlewareHandler<{ Variables: { access: Access } }> {
  const write = digest(token);
  const read = readToken === undefined ? undefined : digest(readToken);
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      throw new AdminHttpError(401, "unauthorized", "Send Authorization: Bearer <token>");
    }
    const sent = await digest(match[1]);
    let access: Access | undefined;
    if (timingSafeEqual(sent, await write)) access = "write";
    else if (read && timingSafeEqual(sent, await read)) access = "read";
    if (!access) throw new AdminHttpError(401, "unauthorized", "The token is not valid");
    const method = c.req.method;
    if (access === "read" && method !== "GET" && method !== "HEAD") {
      throw new AdminHttpError(403, "forbidden", "The read-only token cannot change anything");
    }
    c.set("access", access);
    await next();
  };
}
