/**
 * A worker middleware that prints one line per handled event, so `deno task dev` shows where
 * every event went: which group handled it, what it was, who published it, and the correlation
 * id that ties it to the request that started it.
 *
 * @module
 */
import type { Middleware } from "@herald/herald";

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();

/**
 * Logs each handled event (or its failure). Off with `HERALD_LOG_EVENTS=0`; with
 * `HERALD_LOG_EVENTS=json`, one JSON line per attempt with its times (`bench/e2e_app.ts` reads
 * them to split a registration's latency into stages).
 *
 * @example
 * ```ts ignore
 * createWorker({ bus, group: "posts" }).use(logEvents).on(UserUpdated, handler);
 * // posts.k3x9 ← user.updated from users · corr …4Q7Z · 3 ms
 * ```
 */
export const logEvents: Middleware = async (event, ctx, next) => {
  const mode = Deno.env.get("HERALD_LOG_EVENTS");
  if (mode === "0") return await next();
  if (mode === "json") return await logJson(event, ctx, next);
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

const logJson: Middleware = async (event, ctx, next) => {
  const start = now();
  const line = (error?: string) =>
    console.log(JSON.stringify({
      stage: ctx.group.split(".")[0],
      type: event.type,
      id: (event.data as { id?: unknown }).id,
      published: Date.parse(event.time),
      start,
      end: now(),
      attempt: ctx.attempt,
      error,
    }));
  try {
    await next();
    line();
  } catch (err) {
    line((err as Error).name);
    throw err;
  }
};
