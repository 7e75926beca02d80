/**
 * Users' one `deno serve` entry: `deno serve -A services/users/main.ts`.
 *
 * @module
 */
import { openBus, OutboxSweep } from "../shared/bus.ts";
import { checkConfig } from "../shared/config.ts";
import { openDb } from "../shared/db.ts";
import { createService } from "@herald/herald";
import { createUsers } from "./core.ts";
import { usersRoutes } from "./routes.ts";

await checkConfig("users");
const db = await openDb("users");
const bus = await openBus("users");

export default createService({
  name: "users",
  app: usersRoutes(createUsers(db, bus)),
  worker: new URL("./worker.ts", import.meta.url),
  bus,
  workerCron: [OutboxSweep],
});
