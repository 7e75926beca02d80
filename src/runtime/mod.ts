/**
 * The runtime glue of a Herald service: `createService()` is the default export of its `deno serve`
 * entry. It serves the service's Hono app with `/healthz` and `/readyz`, runs its worker module
 * in a Web Worker, registers its cron jobs with `Deno.cron` (one run per tick across replicas),
 * runs only the roles named by `HERALD_ROLE`, and on SIGTERM/SIGINT stops everything within a
 * grace period and exits.
 *
 * @example services/posts/main.ts, run with `deno serve -A services/posts/main.ts`
 * ```ts ignore
 * import { Hono } from "hono";
 * import { createBus, createKvBackend, createService } from "@herald/herald";
 *
 * const bus = createBus({ backend: createKvBackend({ path: "./data/herald.db" }), source: "posts" });
 * const app = new Hono().get("/", (c) => c.text("posts"));
 *
 * export default createService({
 *   name: "posts",
 *   app,
 *   bus,
 *   worker: new URL("./worker.ts", import.meta.url),
 *   cron: { "purge-drafts": { schedule: "0 3 * * *", run: () => {} } },
 * });
 * ```
 *
 * @module
 */
export { createService, type Service } from "./service.ts";
export type {
  CronContext,
  CronDeclaration,
  CronJob,
  FetchApp,
  Role,
  ServiceOptions,
} from "./options.ts";
export type { PushConfig } from "./push_mount.ts";
