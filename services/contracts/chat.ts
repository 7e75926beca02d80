/**
 * Events Chat publishes. Every Chat instance reads `chat.message` to reach the sockets it holds
 * in that room, so several instances share one room through the bus.
 *
 * @module
 */
import { z } from "zod";
import { defineEvent } from "@herald/herald";

/** The most characters in a chat message. */
export const MAX_MESSAGE_CHARS = 2_000;

/** A chat message in a group's room. */
export const Message = z.object({
  id: z.string().min(1),
  groupId: z.string().min(1),
  userId: z.string().min(1),
  text: z.string().trim().min(1).max(MAX_MESSAGE_CHARS),
  sentAt: z.iso.datetime(),
});
/** A chat message in a group's room. */
export type Message = z.output<typeof Message>;

/**
 * Someone said something in a room.
 *
 * @example Sending it to this instance's sockets in the room
 * ```ts ignore
 * live.on(ChatMessage, (e) => rooms.broadcast(e.data.groupId, e.data));
 * ```
 */
export const ChatMessage = defineEvent({ stream: "chat", type: "chat.message", schema: Message });
