/**
 * Chat's handlers: keep Chat's copy of users, groups and memberships. (Closing sockets is the
 * live fan-out's job, in the HTTP isolate that holds them: see `live.ts`.)
 *
 * @module
 */
import { createWorker } from "@herald/herald";
import { openBus, OutboxSweep, sweep } from "../shared/bus.ts";
import { openDb, replicaGroup } from "../shared/db.ts";
import { logEvents } from "../shared/log.ts";
import { replicate } from "../shared/replica.ts";

const db = await openDb("chat");
const bus = await openBus("chat");

/** Chat's worker: its group is bound to its database, so an empty one replays from the start. */
export default replicate(
  createWorker({ bus, group: await replicaGroup(db, "chat"), start: "earliest" }).use(logEvents),
  db,
).cron(OutboxSweep, () => sweep(bus, db));
