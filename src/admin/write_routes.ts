/**
 * The admin API's routes that change something: redrive, purge, reset and delete. Each one is
 * logged with what it did.
 *
 * @module
 */
import type { Hono } from "hono";
import type { Backend } from "../backend.ts";
import type { Access } from "./auth.ts";
import { AdminHttpError } from "./errors.ts";
import { bodyOf, positionOf, selectionOf } from "./params.ts";

/** The context variables of the admin app: what the request's token may do. */
export type AdminEnv = { Variables: { access: Access } };

/** Where write actions are logged. */
export interface AdminLog {
  /** One line per action. */
  info(message: string): void;
}

/** Adds the write routes to `app`. */
export function writeRoutes(app: Hono<AdminEnv>, backend: Backend, log: AdminLog): void {
  app.post("/groups/:group/redrive", async (c) => {
    const group = c.req.param("group");
    const { ids } = selectionOf(await bodyOf(c), false);
    const moved = await backend.redrive(group, ids);
    log.info(
      `admin: redrive group "${group}" ${ids ? `ids ${ids.join(",")}` : "all"}: ${moved} moved`,
    );
    return c.json({ moved });
  });

  app.post("/groups/:group/purge", async (c) => {
    const group = c.req.param("group");
    const selection = selectionOf(await bodyOf(c), true);
    const purged = await backend.purgeDeadLetters(group, selection);
    log.info(
      `admin: purge dead letters of group "${group}" ${describe(selection)}: ${purged} deleted`,
    );
    return c.json({ purged });
  });

  app.post("/groups/:group/reset", async (c) => {
    const group = c.req.param("group");
    const body = await bodyOf(c);
    if (typeof body.stream !== "string" || body.stream === "") {
      throw new AdminHttpError(400, "bad_request", "stream must be the name of a stream");
    }
    const to = positionOf("to", body.to);
    await backend.resetGroup(group, body.stream, to);
    log.info(`admin: reset group "${group}" on stream "${body.stream}" to ${JSON.stringify(to)}`);
    return c.json({ reset: true, group, stream: body.stream });
  });

  app.delete("/groups/:group", async (c) => {
    const group = c.req.param("group");
    const stream = c.req.query("stream") || undefined;
    const deleted = await backend.deleteGroup(group, stream);
    const where = stream ? `on stream "${stream}"` : "on every stream";
    if (!deleted) throw new AdminHttpError(404, "not_found", `No group "${group}" ${where}`);
    log.info(`admin: deleted group "${group}" ${where}`);
    return c.json({ deleted });
  });
}

function describe(s: { ids?: readonly string[]; before?: Date }): string {
  if (s.ids) return `ids ${s.ids.join(",")}`;
  if (s.before) return `before ${s.before.toISOString()}`;
  return "all";
}
