/**
 * Users' handlers: a registration in Auth becomes a user here, through the event; and a
 * deletion's own event finishes its purge of memberships, should the request that began it
 * have stopped halfway.
 *
 * @module
 */
import type { EventWorker } from "@herald/herald";
import { GroupDeleted, UserDeleted, UserRegistered } from "../contracts/mod.ts";
import type { Users } from "./core.ts";

/**
 * Adds Users' handlers to a worker.
 *
 * @param worker The worker (its group should start at "earliest": no sign-up is missed).
 * @param users Users' core.
 * @param db Users' database, where "applied" is recorded with the handler's writes.
 * @returns The worker.
 *
 * @example
 * ```ts ignore
 * usersHandlers(createWorker({ bus, group: "users" }), users, db);
 * ```
 */
export function usersHandlers(worker: EventWorker, users: Users, db: Deno.Kv): EventWorker {
  return worker
    .on(UserRegistered, async (event, ctx) => {
      await users.registered(event.data, ctx.atomic(db));
    })
    .on(UserDeleted, (event) => users.purgeUser(event.data.id, event.correlationid))
    .on(GroupDeleted, (event) => users.purgeGroup(event.data.id));
}
