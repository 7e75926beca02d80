/**
 * This instance's live fan-out: a worker in a consumer group of its own that sends every chat
 * message to this instance's sockets in the room, and closes the sockets of removed members,
 * deleted users and deleted groups.
 *
 * Why a group per instance: the instances of one group share its events (each event goes to
 * one of them), but every instance must see every message to reach its own sockets. Why start
 * at "latest": a socket only wants what is said while it is open (history is an HTTP call).
 * It runs in the HTTP isolate, beside the sockets, not in the service's Web Worker.
 *
 * @module
 */
import { type Bus, createWorker, type EventWorker } from "@herald/herald";
import { ChatMessage, GroupDeleted, MemberRemoved, UserDeleted } from "../contracts/mod.ts";
import { logEvents } from "../shared/log.ts";
import { CLOSE, type Rooms } from "./rooms.ts";

/** Starts the fan-out on first use, once. */
export interface Live {
  /** Starts the worker if it is not running; resolves once it is subscribed. */
  ensure(): Promise<void>;
  /** Stops the worker if it runs. */
  stop(): Promise<void>;
}

/**
 * Makes the live fan-out of one Chat instance.
 *
 * @param bus The bus.
 * @param rooms This instance's sockets.
 * @param instance This instance's name: the group is `chat-live-<instance>`.
 * @returns The fan-out, started by the first socket.
 *
 * @example
 * ```ts ignore
 * const live = createLive(bus, rooms, instanceId());
 * await live.ensure();
 * ```
 */
export function createLive(bus: Bus, rooms: Rooms, instance: string): Live {
  let worker: EventWorker | undefined;
  let starting: Promise<void> | undefined;
  return {
    ensure() {
      starting ??= (async () => {
        worker = createWorker({ bus, group: `chat-live-${instance}`, start: "latest" })
          .use(logEvents)
          .on(ChatMessage, (e) => rooms.broadcast(e.data))
          .on(MemberRemoved, (e) => {
            rooms.kick(e.data.userId, CLOSE.removed, "Removed from the group", e.data.groupId);
          })
          .on(UserDeleted, (e) => rooms.kick(e.data.id, CLOSE.gone, "Account deleted"))
          .on(GroupDeleted, (e) => rooms.closeRoom(e.data.id, CLOSE.gone, "Group deleted"));
        await worker.start();
      })();
      return starting;
    },
    async stop() {
      await starting;
      await worker?.stop({ graceMs: 1_000 });
    },
  };
}
