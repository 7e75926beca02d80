/**
 * The admin HTTP API: a Hono sub-app over the backend's `Inspector`, for operators, scripts and
 * a dashboard. `createService()` mounts it at `/herald` when `admin` or `HERALD_ADMIN_TOKEN` is set.
 *
 * @example Listing groups with their lag
 * ```ts
 * import { createBus, createMemoryBackend } from "@herald/herald";
 * import { createAdmin } from "@herald/herald/admin";
 *
 * const bus = createBus({ backend: createMemoryBackend(), source: "ops" });
 * const admin = createAdmin({ bus, token: "a-long-random-admin-token" });
 * const res = await admin.fetch(
 *   new Request("http://localhost/groups", {
 *     headers: { authorization: "Bearer a-long-random-admin-token" },
 *   }),
 * );
 * console.log(await res.json()); // { groups: [] }
 * await bus.close();
 * ```
 *
 * @module
 */
export { type AdminApp, type AdminOptions, createAdmin } from "./app.ts";
export type { AdminLog } from "./write_routes.ts";
