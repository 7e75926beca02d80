/**
 * A worker middleware that prints one line per handled event, so `deno task dev` shows where
 * every event went: which group handled it, what it was, who published it, and the correlation
 * id that ties it to the request that started it.
 *
 * @module
 */
import type { Middleware } from "@herald/herald";

/**
 * Logs each handled event (or its failure). Off with `HERALD_LOG_EVENTS=0`.
 *
 * @example
 * ```ts ignore
 * createWorker({ bus, group: "posts" }).use(logEvents).on(UserCreated, handler);
 * // posts.k3x9 ← user.created from users · corr …4Q7Z · 3 ms
 * ```
 */
export const logEvents: Middleware = async (event, ctx, next) => {
  if (Deno.env.get("HERALD_LOG_EVENTS") === "0") return await next();
  const t0 = performance.now();
  const what = `${ctx.group} ← ${event.type} from ${event.source} · corr …${
    event.correlationid.slice(-4)
  }`;
  try {
    await next();
    console.log(`${what} · ${(performance.now() - t0).toFixed(0)} ms`);
  } catch (err) {
    console.log(`${what} · failed (attempt ${ctx.attempt}): ${(err as Error).message}`);
    throw err;
  }
};
