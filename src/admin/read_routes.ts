/**
 * The admin API's read-only routes: streams, a stream's events, groups, dead letters, and the
 * live view of groups as Server-Sent Events.
 *
 * @module
 */
import type { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { Backend, DeadLetter } from "../backend.ts";
import { sleep } from "../sleep.ts";
import { AdminHttpError } from "./errors.ts";
import { deadQueryOf, limitOf, peekOf } from "./params.ts";
import type { AdminEnv } from "./write_routes.ts";

/** How often the live route sends the groups, in milliseconds. */
export const LIVE_EVERY_MS = 1_000;

/** Adds the read routes to `app`. */
export function readRoutes(app: Hono<AdminEnv>, backend: Backend): void {
  app.get("/streams", async (c) => c.json({ streams: await backend.streams() }));

  app.get("/streams/:stream/events", async (c) => {
    return c.json(await backend.peek(c.req.param("stream"), peekOf(c)));
  });

  app.get("/groups", async (c) => {
    return c.json({ groups: await backend.groups(c.req.query("stream") || undefined) });
  });

  app.get("/groups/live", (c) => {
    const stream = c.req.query("stream") || undefined;
    return streamSSE(c, async (sse) => {
      const stop = new AbortController();
      sse.onAbort(() => stop.abort());
      for (let n = 0; !stop.signal.aborted; n++) {
        const groups = await backend.groups(stream);
        await sse.writeSSE({ event: "groups", id: String(n), data: JSON.stringify({ groups }) });
        await sleep(LIVE_EVERY_MS, stop.signal);
      }
    });
  });

  app.get("/groups/:group/dead", async (c) => {
    const query = deadQueryOf(c);
    const deadLetters = await backend.deadLetters(c.req.param("group"), query);
    const next = deadLetters.length === query.limit ? deadLetters.at(-1)?.cursor : undefined;
    return c.json({ deadLetters, next: next ?? null });
  });

  app.get("/groups/:group/dead/:id", async (c) => {
    const group = c.req.param("group"), id = c.req.param("id");
    const found = await findDead(backend, group, id, limitOf(c, 500));
    if (!found) {
      throw new AdminHttpError(404, "not_found", `No dead letter "${id}" in group "${group}"`);
    }
    return c.json(found);
  });
}

/** Looks a dead letter up by id, page by page. */
async function findDead(
  backend: Backend,
  group: string,
  id: string,
  page: number,
): Promise<DeadLetter | undefined> {
  let after: string | undefined;
  while (true) {
    const letters = await backend.deadLetters(group, { limit: page, after });
    const found = letters.find((d) => d.id === id);
    if (found) return found;
    if (letters.length < page || !letters.at(-1)?.cursor) return undefined;
    after = letters.at(-1)!.cursor;
  }
}
