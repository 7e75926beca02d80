/**
 * Tickets for the chat socket: a browser's WebSocket cannot send an `Authorization` header, and
 * a 24-hour token in a URL ends up in logs and history. So a client asks for a ticket over HTTP
 * (with its token in the header) and opens the socket with `?ticket=`: good for one socket, in
 * one room, within {@linkcode TICKET_TTL_MS}. Tickets live in Chat's database, so one Chat
 * instance may issue a ticket that another redeems.
 *
 * @module
 */

import type { Bus } from "@herald/herald";

/** How long a ticket may wait to be used. */
export const TICKET_TTL_MS = 30_000;

interface Ticket {
  userId: string;
  groupId: string;
  expiresAt: number;
}

const ticketKey = (ticket: string) => ["tickets", ticket];

/**
 * Issues a ticket for a user to open one socket in a room.
 *
 * @param bus The bus (its atomic writes wait out another connection's lock on the database).
 * @param db Chat's database.
 * @param userId Who may use it.
 * @param groupId The room it opens.
 * @returns The ticket (random, 128 bits).
 *
 * @example
 * ```ts ignore
 * const ticket = await issueTicket(bus, db, userId, groupId);
 * ```
 */
export async function issueTicket(
  bus: Bus,
  db: Deno.Kv,
  userId: string,
  groupId: string,
): Promise<string> {
  const ticket = crypto.randomUUID();
  const value: Ticket = { userId, groupId, expiresAt: Date.now() + TICKET_TTL_MS };
  await bus.atomic(db).set(ticketKey(ticket), value, { expireIn: TICKET_TTL_MS }).commit();
  return ticket;
}

/**
 * Uses up a ticket: the first caller gets its user, every later one (and any caller after it
 * expired, or for another room) gets `undefined`.
 *
 * @param bus The bus.
 * @param db Chat's database.
 * @param ticket The ticket.
 * @param groupId The room asked for.
 * @returns The ticket's user, or `undefined`.
 *
 * @example
 * ```ts ignore
 * const userId = await redeemTicket(bus, db, c.req.query("ticket"), groupId);
 * ```
 */
export async function redeemTicket(
  bus: Bus,
  db: Deno.Kv,
  ticket: string,
  groupId: string,
): Promise<string | undefined> {
  if (ticket.length > 100) return undefined;
  const entry = await db.get<Ticket>(ticketKey(ticket));
  if (!entry.value) return undefined;
  const used = await bus.atomic(db).check(entry).delete(entry.key).commit();
  const { userId, groupId: room, expiresAt } = entry.value;
  return used.ok && room === groupId && Date.now() < expiresAt ? userId : undefined;
}
