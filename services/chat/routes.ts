/**
 * Chat's HTTP and WebSocket routes. Every HTTP route needs a token in the `Authorization`
 * header; the socket needs a single-use ticket (see `tickets.ts`). Rooms need membership of the
 * group, by Chat's own copy of the memberships. A socket may send {@linkcode RATE_PER_S}
 * messages a second (bursts of {@linkcode BURST}; more are dropped, with an error frame), text
 * frames only, each at most {@linkcode MAX_FRAME_CHARS} characters.
 *
 * @module
 */
import { upgradeWebSocket } from "hono/deno";
import type { WSContext } from "hono/ws";
import { z } from "zod";
import { MAX_MESSAGE_CHARS } from "../contracts/mod.ts";
import {
  AppError,
  NotFoundError,
  TooManyRequestsError,
  UnauthorizedError,
} from "../shared/errors.ts";
import { authenticated, createApp, type Env, valid } from "../shared/http.ts";
import { visibleTo } from "../shared/privacy.ts";
import { getUser, isDeletedUser } from "../shared/replica.ts";
import type { Chat } from "./core.ts";
import { BURST, createBucket, MAX_DROPPED, MAX_SOCKETS_PER_USER, RATE_PER_S } from "./limits.ts";
import type { Live } from "./live.ts";
import { CLOSE, type Rooms, type ServerFrame } from "./rooms.ts";
import { issueTicket, redeemTicket, TICKET_TTL_MS } from "./tickets.ts";
import type { MiddlewareHandler } from "hono";
import type { Bus } from "@herald/herald";

const Id = z.object({ id: z.string().min(1).max(100) });
/** Frames longer than this close the socket (4413), before any parsing. */
export const MAX_FRAME_CHARS = 8 * 1024;
const NewMessage = z.object({ text: z.string().trim().min(1).max(MAX_MESSAGE_CHARS) });

/**
 * Chat's Hono app.
 *
 * - `POST /rooms/:id/tickets` → 201 `{ ticket, expiresInS }`: a single-use ticket for the socket.
 * - `GET /rooms/:id/ws?ticket=…` → a WebSocket in the group's room: send `{"text": "…"}`,
 *   receive `{"type":"message","message":{…}}` from every member on every Chat instance. Closed
 *   with 4403 when you are removed from the group, 4410 when you or the group are deleted, 4413
 *   for a frame over 8 KiB, 1003 for a binary frame. Over 20 messages a second (bursts of 40)
 *   they are dropped with an error frame, and after 1,000 dropped in a row closed with 4429.
 *   429 when you already hold 5 sockets here.
 * - `POST /rooms/:id/messages` `{ text }` → 201 the message (the same, without a socket).
 * - `GET /rooms/:id/messages` → the last 50 messages.
 * - `GET /users/:id` → Chat's copy of a user (404 when Chat does not know them).
 *
 * @param options Chat's core, bus, database, sockets and live fan-out.
 * @returns The app.
 *
 * @example
 * ```ts ignore
 * export default createService({ name: "chat", app: chatRoutes({ chat, bus, db, rooms, live }), ... });
 * ```
 */
export function chatRoutes(
  options: { chat: Chat; bus: Bus; db: Deno.Kv; rooms: Rooms; live: Live },
) {
  const { chat, bus, db, rooms, live } = options;
  const send = (ws: WSContext, frame: ServerFrame) => {
    if (ws.readyState === 1) ws.send(JSON.stringify(frame));
  };
  const revoked = (id: string) => isDeletedUser(db, id);
  const auth = authenticated({ revoked });
  const admitSocket: MiddlewareHandler<Env> = async (c, next) => {
    const groupId = c.req.param("id")!;
    const ticket = c.req.query("ticket");
    if (!ticket) throw new UnauthorizedError("Missing ticket: POST /rooms/:id/tickets first");
    const userId = await redeemTicket(bus, db, ticket, groupId);
    if (!userId || await revoked(userId)) {
      throw new UnauthorizedError("Invalid, used or expired ticket");
    }
    await chat.admit(groupId, userId);
    if (rooms.countOf(userId) >= MAX_SOCKETS_PER_USER) {
      throw new TooManyRequestsError(`At most ${MAX_SOCKETS_PER_USER} sockets per user`, 1);
    }
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return c.json({ error: "Open this as a WebSocket" }, 426);
    }
    c.set("userId", userId);
    // Subscribed before the socket opens, so no message said after it opens is missed.
    await live.ensure();
    await next();
  };
  return createApp()
    .post("/rooms/:id/tickets", auth, valid("param", Id), async (c) => {
      const { id } = c.req.valid("param");
      await chat.admit(id, c.var.userId);
      const ticket = await issueTicket(bus, db, c.var.userId, id);
      return c.json({ ticket, expiresInS: TICKET_TTL_MS / 1000 }, 201);
    })
    .get(
      "/rooms/:id/ws",
      valid("param", Id),
      admitSocket,
      upgradeWebSocket((c) => {
        const groupId = c.req.param("id")!;
        const userId = c.get("userId") as string;
        const bucket = createBucket(RATE_PER_S, BURST);
        let dropped = 0;
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
            // Frames already on their way when the socket was closed are dropped.
            if (ws.readyState !== 1) return;
            if (typeof event.data !== "string") {
              return ws.close(CLOSE.binary, "Binary frames are not accepted");
            }
            if (event.data.length > MAX_FRAME_CHARS) {
              return ws.close(CLOSE.tooBig, "Message too big");
            }
            if (!bucket.take()) {
              // Dropped, saying so once per burst; a client that never slows down is cut off.
              if (dropped++ === 0) {
                send(ws, { type: "error", error: "Too many messages; slow down" });
              }
              if (dropped >= MAX_DROPPED) ws.close(CLOSE.tooMany, "Too many messages");
              return;
            }
            dropped = 0;
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
    .post("/rooms/:id/messages", auth, valid("param", Id), valid("json", NewMessage), async (c) => {
      const { id } = c.req.valid("param");
      return c.json(await chat.send(c.var.userId, id, c.req.valid("json").text), 201);
    })
    .get("/rooms/:id/messages", auth, valid("param", Id), async (c) => {
      return c.json(await chat.history(c.req.valid("param").id, c.var.userId));
    })
    .get("/users/:id", auth, valid("param", Id), async (c) => {
      const user = await getUser(db, c.req.valid("param").id);
      if (!user) throw new NotFoundError("User not found");
      return c.json(visibleTo(user, c.var.userId));
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
