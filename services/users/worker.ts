/**
 * Users' worker module: `createService()` runs it in its own Web Worker (or alone with
 * `HERALD_ROLE=worker`). It opens its own connections: a Web Worker shares no memory.
 *
 * @module
 */
import { createWorker } from "@herald/herald";
import { openBus, OutboxSweep, sweep } from "../shared/bus.ts";
import { openDb } from "../shared/db.ts";
import { logEvents } from "../shared/log.ts";
import { createUsers } from "./core.ts";
import { usersHandlers } from "./handlers.ts";

const db = await openDb("users");
const bus = await openBus("users");

/** Users' worker, in consumer group `users`, from the beginning of the `auth` stream. */
export default usersHandlers(
  createWorker({ bus, group: "users", start: "earliest" }).use(logEvents),
  createUsers(db, bus),
  db,
).cron(OutboxSweep, () => sweep(bus, db));
