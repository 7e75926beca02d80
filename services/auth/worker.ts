/**
 * Auth's worker module: `createService()` runs it in its own Web Worker (or alone with
 * `HERALD_ROLE=worker`). It opens its own connections: a Web Worker shares no memory.
 *
 * @module
 */
import { createWorker } from "@herald/herald";
import { openBus, OutboxSweep, sweep } from "../shared/bus.ts";
import { pbkdf2Iterations } from "../shared/config.ts";
import { openDb } from "../shared/db.ts";
import { logEvents } from "../shared/log.ts";
import { createAuth } from "./core.ts";
import { authHandlers } from "./handlers.ts";

const db = await openDb("auth");
const bus = await openBus("auth");
const auth = createAuth({ db, bus, iterations: pbkdf2Iterations() });

/** Auth's worker, in consumer group `auth`; it also sweeps the outbox, off the HTTP isolate. */
const worker = createWorker({ bus, group: "auth" }).use(logEvents);
export default authHandlers(worker, auth, db).cron(OutboxSweep, () => sweep(bus, db));
