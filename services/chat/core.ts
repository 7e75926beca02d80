/**
 * Chat's core: messages, in Chat's own database, checked against Chat's own copy of users,
 * groups and memberships. The only place in Chat that emits events: a message is stored and
 * published together, and every Chat instance's live fan-out delivers it to its sockets.
 *
 * @module
 */
import { type Bus, newId } from "@herald/herald";
import { ChatMessage, type Message } from "../contracts/mod.ts";
import { ConflictError, ForbiddenError, NotFoundError } from "../shared/errors.ts";
import { getGroup } from "../shared/replica.ts";

const messageKey = (groupId: string, id: string) => ["messages", groupId, id];
const memberKey = (groupId: string, userId: string) => ["members", groupId, userId];

/** How long a room keeps its history. */
const HISTORY_MS = 7 * 24 * 60 * 60 * 1000;
/** The most messages one history read returns, newest last. */
const PAGE = 50;

/**
 * Makes Chat's core over its database and the bus.
 *
 * @param db Chat's database (which also holds its replica).
 * @param bus The bus.
 * @returns Chat's operations.
 *
 * @example
 * ```ts ignore
 * const chat = createChat(db, bus);
 * await chat.send(userId, groupId, "hi");
 * ```
 */
export function createChat(db: Deno.Kv, bus: Bus) {
  const memberOf = async (groupId: string, userId: string) => {
    if (!await getGroup(db, groupId)) throw new NotFoundError("Group not found");
    const member = await db.get(memberKey(groupId, userId));
    if (member.versionstamp === null) throw new ForbiddenError("Not a member of this group");
    return member;
  };

  return {
    /**
     * Checks that a user may be in a room.
     * @throws {NotFoundError} for an unknown group; {ForbiddenError} for a non-member.
     */
    async admit(groupId: string, userId: string): Promise<void> {
      await memberOf(groupId, userId);
    },

    /** Stores and publishes a message. */
    async send(userId: string, groupId: string, text: string): Promise<Message> {
      const member = await memberOf(groupId, userId);
      const message: Message = {
        id: newId(),
        groupId,
        userId,
        text,
        sentAt: new Date().toISOString(),
      };
      const result = await bus.atomic(db)
        .check(member)
        .set(messageKey(groupId, message.id), message, { expireIn: HISTORY_MS })
        .publish(ChatMessage, message, { key: groupId })
        .commit();
      if (!result.ok) throw new ConflictError("Membership changed meanwhile");
      return message;
    },

    /** The last messages of a room, oldest first, for its members. */
    async history(groupId: string, userId: string): Promise<Message[]> {
      await memberOf(groupId, userId);
      const messages: Message[] = [];
      const entries = db.list<Message>({ prefix: ["messages", groupId] }, {
        reverse: true,
        limit: PAGE,
      });
      for await (const entry of entries) messages.push(entry.value);
      return messages.reverse();
    },
  };
}

/** Chat's operations. */
export type Chat = ReturnType<typeof createChat>;
