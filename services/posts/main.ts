/**
 * Posts' one `deno serve` entry: `deno serve -A services/posts/main.ts`.
 *
 * @module
 */
import { openBus, OutboxSweep } from "../shared/bus.ts";
import { checkConfig } from "../shared/config.ts";
import { openDb } from "../shared/db.ts";
import { createService } from "@herald/herald";
import { createPosts } from "./core.ts";
import { postsRoutes } from "./routes.ts";

await checkConfig("posts");
const db = await openDb("posts");
const bus = await openBus("posts");

export default createService({
  name: "posts",
  app: postsRoutes(createPosts(db, bus), db),
  worker: new URL("./worker.ts", import.meta.url),
  bus,
  workerCron: [OutboxSweep],
});
