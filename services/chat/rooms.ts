/**
 * The sockets this Chat instance holds, by room (a group). Other instances hold their own; the
 * bus brings every instance every message, and each sends it to its own sockets.
 *
 * @module
 */
import type { WSContext } from "hono/ws";
import type { Message } from "../contracts/mod.ts";

/** Close codes a client sees, in the range RFC 6455 leaves to applications. */
export const CLOSE = {
  /** You were removed from the group. */
  removed: 4403,
  /** Your account or the group was deleted. */
  gone: 4410,
  /** You sent a frame over the size limit. */
  tooBig: 4413,
  /** You sent messages faster than the rate limit. */
  tooMany: 4429,
  /** You sent a binary frame (RFC 6455's "unsupported data"). */
  binary: 1003,
} as const;

/** How many message ids a Rooms remembers to drop redeliveries. */
const RECENT = 2_000;

/** What the server sends on a socket, as JSON. */
export type ServerFrame =
  | { type: "joined"; groupId: string }
  | { type: "message"; message: Message }
  | { type: "error"; error: string };

/**
 * This instance's rooms.
 *
 * @example
 * ```ts ignore
 * const rooms = new Rooms();
 * rooms.join("g1", "u1", ws);
 * rooms.broadcast("g1", message);
 * ```
 */
export class Rooms {
  readonly #rooms = new Map<string, Map<WSContext, string>>();
  // Delivery is at least once: a message handed out twice must reach a socket once.
  readonly #recent = new Set<string>();

  /** How many sockets are open here. */
  get size(): number {
    let n = 0;
    for (const room of this.#rooms.values()) n += room.size;
    return n;
  }

  /** How many sockets a user has open here, in any room. */
  countOf(userId: string): number {
    let n = 0;
    for (const room of this.#rooms.values()) for (const id of room.values()) if (id === userId) n++;
    return n;
  }

  /** Adds a user's socket to a room. */
  join(groupId: string, userId: string, ws: WSContext): void {
    let room = this.#rooms.get(groupId);
    if (!room) this.#rooms.set(groupId, room = new Map());
    room.set(ws, userId);
  }

  /** Removes a socket (it closed). */
  leave(groupId: string, ws: WSContext): void {
    const room = this.#rooms.get(groupId);
    room?.delete(ws);
    if (room?.size === 0) this.#rooms.delete(groupId);
  }

  /** Sends a message to every socket here in its room. */
  broadcast(message: Message): void {
    if (this.#recent.has(message.id)) return;
    this.#recent.add(message.id);
    if (this.#recent.size > RECENT) this.#recent.delete(this.#recent.values().next().value!);
    const frame = JSON.stringify({ type: "message", message } satisfies ServerFrame);
    for (const ws of this.#rooms.get(message.groupId)?.keys() ?? []) {
      if (ws.readyState === 1) ws.send(frame);
    }
  }

  /** Closes a user's sockets in one room, or (without a room) everywhere. */
  kick(userId: string, code: number, reason: string, groupId?: string): void {
    const rooms = groupId ? [this.#rooms.get(groupId)] : [...this.#rooms.values()];
    for (const room of rooms) {
      for (const [ws, id] of room ?? []) if (id === userId) ws.close(code, reason);
    }
  }

  /** Closes every socket in a room. */
  closeRoom(groupId: string, code: number, reason: string): void {
    for (const ws of this.#rooms.get(groupId)?.keys() ?? []) ws.close(code, reason);
  }
}
