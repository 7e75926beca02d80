/**
 * Chat's HTTP and WebSocket routes. Every route needs a token (`?token=` for a browser's
 * WebSocket) and membership of the room's group, by Chat's own copy of the memberships.
 *
 * @module
 */
import { upgradeWebSocket } from "hono/deno";
import type { WSContext } from "hono/ws";
import { z } from "zod";
import { MAX_MESSAGE_CHARS } from "../contracts/mod.ts";
import { AppError, NotFoundError } from "../shared/errors.ts";
import { authenticated, createApp, valid } from "../shared/http.ts";
import { getUser } from "../shared/replica.ts";
import type { Chat } from "./core.ts";
import type { Live } from "./live.ts";
import { CLOSE, type Rooms, type ServerFrame } from "./rooms.ts";

const Id = z.object({ id: z.string().min(1).max(100) });
/** Frames longer than this close the socket (4413), before any parsing. */
const MAX_FRAME_CHARS = 8 * 1024;
const NewMessage = z.object({ text: z.string().trim().min(1).max(MAX_MESSAGE_CHARS) });

/**
 * Chat's Hono app.
 *
 * - `GET /rooms/:id/ws` → a WebSocket in the group's room: send `{"text": "…"}`, receive
 *   `{"type":"message","message":{…}}` from every member on every Chat instance. Closed with
 *   4403 when you are removed from the group, 4410 when you or the group are deleted.
 * - `POST /rooms/:id/messages` `{ text }` → 201 the message (the same, without a socket).
 * - `GET /rooms/:id/messages` → the last 50 messages.
 * - `GET /users/:id` → Chat's copy of a user (404 when Chat does not know them).
 *
 * @param options Chat's core, database, sockets and live fan-out.
 * @returns The app.
 *
 * @example
 * ```ts ignore
 * export default createService({ name: "chat", app: chatRoutes({ chat, db, rooms, live }), ... });
 * ```
 */
export function chatRoutes(options: { chat: Chat; db: Deno.Kv; rooms: Rooms; live: Live }) {
  const { chat, db, rooms, live } = options;
  const send = (ws: WSContext, frame: ServerFrame) => ws.send(JSON.stringify(frame));
  return createApp()
    .use("*", authenticated())
    .get(
      "/rooms/:id/ws",
      valid("param", Id),
      async (c, next) => {
        await chat.admit(c.req.valid("param").id, c.var.userId);
        // Subscribed before the socket opens, so no message said after it opens is missed.
        await live.ensure();
        await next();
      },
      upgradeWebSocket((c) => {
        const groupId = c.req.param("id")!;
        const userId = c.get("userId") as string;
        return {
          async onOpen(_event, ws) {
            rooms.join(groupId, userId, ws);
            try {
              // Removed between the check above and now: the removal's event may have passed.
              await chat.admit(groupId, userId);
              send(ws, { type: "joined", groupId });
            } catch {
              ws.close(CLOSE.removed, "Not a member of this group");
            }
          },
          async onMessage(event, ws) {
            if (typeof event.data === "string" && event.data.length > MAX_FRAME_CHARS) {
              return ws.close(CLOSE.tooBig, "Message too big");
            }
            const parsed = NewMessage.safeParse(parseJson(event.data));
            if (!parsed.success) {
              return send(ws, { type: "error", error: 'Send JSON {"text": "…"}, 1–2000 chars' });
            }
            try {
              await chat.send(userId, groupId, parsed.data.text);
            } catch (err) {
              if (!(err instanceof AppError)) throw err;
              send(ws, { type: "error", error: err.message });
              if (err.status === 403) ws.close(CLOSE.removed, err.message);
            }
          },
          onClose(_event, ws) {
            rooms.leave(groupId, ws);
          },
        };
      }),
    )
    .post("/rooms/:id/messages", valid("param", Id), valid("json", NewMessage), async (c) => {
      const { id } = c.req.valid("param");
      return c.json(await chat.send(c.var.userId, id, c.req.valid("json").text), 201);
    })
    .get("/rooms/:id/messages", valid("param", Id), async (c) => {
      return c.json(await chat.history(c.req.valid("param").id, c.var.userId));
    })
    .get("/users/:id", valid("param", Id), async (c) => {
      const user = await getUser(db, c.req.valid("param").id);
      if (!user) throw new NotFoundError("User not found");
      return c.json(user);
    });
}

function parseJson(data: unknown): unknown {
  if (typeof data !== "string") return undefined;
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}
