/**
 * Auth's handlers: when Users deletes a user, Auth forgets their credentials, so they can no
 * longer log in.
 *
 * @module
 */
import type { EventWorker } from "@herald/herald";
import { UserDeleted } from "../contracts/mod.ts";
import type { Auth } from "./core.ts";

/**
 * Adds Auth's handlers to a worker.
 *
 * @param worker The worker.
 * @param auth Auth's core.
 * @param db Auth's database, where "applied" is recorded with the handler's writes.
 * @returns The worker.
 *
 * @example
 * ```ts ignore
 * authHandlers(createWorker({ bus, group: "auth" }), auth, db);
 * ```
 */
export function authHandlers(worker: EventWorker, auth: Auth, db: Deno.Kv): EventWorker {
  return worker.on(UserDeleted, (event, ctx) => auth.forget(event.data.id, ctx.atomic(db)));
}
