/**
 * `createAdmin()`: the admin HTTP API as a Hono app, mountable anywhere.
 *
 * @module
 */
import { Hono } from "hono";
import type { Bus } from "../bus.ts";
import { InvalidOptionsError } from "../errors.ts";
import { tokenProblems } from "../runtime/admin_mount.ts";
import { serviceLog } from "../runtime/log.ts";
import { bearer } from "./auth.ts";
import { dashboardRoutes } from "./dashboard/routes.ts";
import { errorAnswer } from "./errors.ts";
import { journeyRoutes } from "./journey_routes.ts";
import { asyncApiRoute } from "./asyncapi_route.ts";
import { createAsyncApi } from "../asyncapi/document.ts";
import type { EventContract } from "../contract.ts";
import { readRoutes } from "./read_routes.ts";
import { type AdminEnv, type AdminLog, writeRoutes } from "./write_routes.ts";

/** Options of {@linkcode createAdmin}. */
export interface AdminOptions {
  /** The bus whose backend the API inspects and steers. */
  bus: Bus;
  /** The bearer token that may read and change everything. */
  token: string;
  /** A bearer token that may only read (GET). */
  readToken?: string;
  /**
   * Where write actions are logged, one line each.
   * @default {lines on the console, prefixed `[herald]`}
   */
  log?: AdminLog;
  /**
   * The event contracts (an array, or a module's exports) to describe at `GET /asyncapi.json`
   * as an AsyncAPI 3.0 document (see `@herald/herald/asyncapi`). Without them that route
   * answers 404.
   */
  contracts?: readonly EventContract[] | Record<string, unknown>;
  /**
   * The AsyncAPI document's `info`.
   * @default {{ title: the bus's source, version: "1.0.0" }}
   */
  info?: { title: string; version: string; description?: string };
}

/**
 * The admin API: a Hono app inside, typed by what mounting it needs. Mount it in a Hono app with
 * `app.mount("/herald", admin.fetch)`, or serve it alone with `Deno.serve(admin.fetch)`.
 */
export interface AdminApp {
  /** Answers a request whose path is relative to where the API is mounted. */
  fetch(request: Request): Response | Promise<Response>;
}

/**
 * Makes the admin HTTP API: JSON routes to list streams, groups (lag, pending, consumers) and
 * dead letters, to redrive, purge, reset and delete, and a Server-Sent Events route with the
 * groups every second. Every route needs `Authorization: Bearer <token>`; see docs/operate.md.
 *
 * @param options The bus, the tokens, and where to log.
 * @returns The app; mount it with `app.mount("/herald", admin.fetch)`.
 * @throws {InvalidOptionsError} listing every problem with the options.
 *
 * @example Mounting the admin API in a Hono app
 * ```ts
 * import { Hono } from "hono";
 * import { createBus, createMemoryBackend } from "@herald/herald";
 * import { createAdmin } from "@herald/herald/admin";
 *
 * const bus = createBus({ backend: createMemoryBackend(), source: "ops" });
 * const token = "a-long-random-admin-token";
 * const admin = createAdmin({ bus, token });
 * const app = new Hono().mount("/herald", admin.fetch);
 * const res = await app.request("/herald/streams", {
 *   headers: { authorization: `Bearer ${token}` },
 * });
 * console.log(res.status); // 200
 * await bus.close();
 * ```
 */
export function createAdmin(options: AdminOptions): AdminApp {
  validate(options);
  const backend = options.bus.backend;
  // Built once, here: a bad contract is an options problem, reported at construction.
  const asyncApi = options.contracts === undefined ? undefined : createAsyncApi({
    contracts: options.contracts,
    info: options.info ?? { title: options.bus.source, version: "1.0.0" },
  });
  const app = new Hono<AdminEnv>();
  app.onError(errorAnswer);
  app.notFound((c) =>
    c.json({ error: `No admin route ${c.req.method} ${c.req.path}`, code: "not_found" }, 404)
  );
  dashboardRoutes(app);
  app.use("*", bearer(options.token, options.readToken));
  app.get("/", (c) => c.json({ access: c.get("access"), routes: ROUTES }));
  readRoutes(app, backend);
  journeyRoutes(app, backend);
  asyncApiRoute(app, asyncApi);
  writeRoutes(app, backend, options.log ?? serviceLog("herald"));
  return { fetch: (request) => app.fetch(request) };
}

/** The routes, as the index route lists them. */
const ROUTES = [
  "GET /dashboard (the dashboard page; no token needed to load it)",
  "GET /streams",
  "GET /streams/:stream/events?from=&after=&limit=",
  "GET /groups?stream=",
  "GET /groups/live?stream= (text/event-stream)",
  "GET /groups/:group/dead?type=&error=&since=&until=&after=&limit=",
  "GET /groups/:group/dead/:id",
  "GET /journeys/:id?limit= (an event id or a correlation id)",
  "GET /asyncapi.json (the AsyncAPI document of the contracts given to createAdmin)",
  "POST /groups/:group/redrive",
  "POST /groups/:group/purge",
  "POST /groups/:group/reset",
  "DELETE /groups/:group?stream=",
];

function validate(o: AdminOptions): void {
  if (typeof o !== "object" || o === null) {
    throw new InvalidOptionsError("createAdmin", ["options must be an object"]);
  }
  const problems: string[] = [];
  if (typeof o.bus?.backend?.groups !== "function") {
    problems.push("bus must be a Bus (from createBus()) whose backend can be inspected");
  }
  problems.push(...tokenProblems(o.token, o.readToken));
  if (o.log !== undefined && typeof o.log?.info !== "function") {
    problems.push("log must have an info(message) method");
  }
  if (problems.length > 0) throw new InvalidOptionsError("createAdmin", problems);
}
