/**
 * Auth's one `deno serve` entry: `deno serve -A services/auth/main.ts`.
 *
 * @module
 */
import { openBus, OutboxSweep } from "../shared/bus.ts";
import { checkConfig, pbkdf2Iterations } from "../shared/config.ts";
import { openDb } from "../shared/db.ts";
import { createService } from "@herald/herald";
import { createAuth } from "./core.ts";
import { authRoutes } from "./routes.ts";

await checkConfig("auth");
const db = await openDb("auth");
const bus = await openBus("auth");
const auth = createAuth({ db, bus, iterations: pbkdf2Iterations() });

export default createService({
  name: "auth",
  app: authRoutes(auth),
  worker: new URL("./worker.ts", import.meta.url),
  bus,
  workerCron: [OutboxSweep],
});
