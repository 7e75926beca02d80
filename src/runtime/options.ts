/**
 * The options of `createService()`, the roles a process can run, and their validation.
 *
 * @module
 */
import type { Logger } from "../telemetry/log.ts";
import type { Bus } from "../bus.ts";
import { type EventContract, NAME_PATTERN } from "../contract.ts";
import { type CronDeclaration, type CronJob, cronProblems } from "../cron.ts";
import { InvalidOptionsError } from "../errors.ts";
import { createAsyncApi } from "../asyncapi/document.ts";
import { tokenProblems } from "./admin_mount.ts";
import { type PushConfig, pushProblems } from "./push_mount.ts";

export type { CronContext, CronDeclaration, CronJob } from "../cron.ts";

/**
 * A part of a service one process can run: HTTP routes, event handlers, or cron jobs.
 *
 * @example Running only the handlers of a service
 * ```ts
 * import type { Role } from "@herald/herald";
 * const roles: Role[] = ["worker"]; // or HERALD_ROLE=worker in the environment
 * console.log(roles);
 * ```
 */
export type Role = "web" | "worker" | "cron";

/** Every role, in the order they are reported. */
export const ROLES: readonly Role[] = ["web", "worker", "cron"];

/**
 * Anything with a Fetch-API handler, such as a Hono app.
 *
 * @example A Hono app, or a bare object
 * ```ts
 * import { Hono } from "hono";
 * import type { FetchApp } from "@herald/herald";
 * const hono: FetchApp = new Hono().get("/", (c) => c.text("hi"));
 * const bare: FetchApp = { fetch: () => new Response("hi") };
 * console.log(typeof hono.fetch, typeof bare.fetch);
 * ```
 */
export interface FetchApp {
  /** Answers a request; `info` is what `deno serve` passes (Hono sees it as its `Env`). */
  fetch(request: Request, info?: Deno.ServeHandlerInfo): Response | Promise<Response>;
}

/**
 * Options of `createService()`.
 *
 * @example Every option
 * ```ts ignore
 * import { createService, type ServiceOptions } from "@herald/herald";
 * const options: ServiceOptions = {
 *   name: "posts",
 *   app, // a Hono app
 *   bus, // createBus({ backend: createKvBackend({ path: "./data/bus.db" }), source: "posts" })
 *   worker: new URL("./worker.ts", import.meta.url),
 *   cron: { "ping": { schedule: "* * * * *", run: () => console.log("alive") } },
 *   workerCron: [PurgeDrafts], // defineCron(); worker.cron(PurgeDrafts, run) in worker.ts
 *   onStop: () => db.close(),
 *   shutdownGraceMs: 10_000,
 * };
 * export default createService(options);
 * ```
 */
export interface ServiceOptions {
  /** The service's name: in every log line, the cron leases and the health answers. */
  name: string;
  /** The HTTP routes (a Hono app, or anything with `fetch`). `/healthz` and `/readyz` are added. */
  app?: FetchApp;
  /**
   * The URL of a module whose default export is a Worker (from `createWorker()`, not started):
   * `new URL("./worker.ts", import.meta.url)`. It runs in its own Web Worker.
   */
  worker?: URL | string;
  /**
   * Cron jobs run in this isolate, by name (letters, digits, spaces, `-` and `_`; Deno.cron's
   * rule). For work that takes CPU, declare the job in the worker module instead (`workerCron`).
   */
  cron?: Record<string, CronJob>;
  /**
   * Cron jobs the worker module declares with `worker.cron()` (made by `defineCron`): their
   * ticks are registered here, at the entry's top level where Deno Deploy looks for them, and
   * each elected tick is handed to the worker module's isolate to run. Needs `worker`.
   */
  workerCron?: readonly CronDeclaration[];
  /**
   * The service's bus. With `cron`, its backend's `tryLock` elects one replica per tick; without
   * it every replica runs every tick. Closed on shutdown.
   */
  bus?: Bus;
  /**
   * Called on shutdown once the worker, the cron jobs and the requests have stopped, before the
   * bus closes: close what the app opened (its database, sockets, workers of its own). A throw
   * is logged.
   */
  onStop?: () => unknown;
  /**
   * How long running handlers, cron jobs and requests may take to finish on shutdown, in
   * milliseconds.
   * @default {10000; 4000 on Deno Deploy, which kills an app 5 s after SIGINT}
   */
  shutdownGraceMs?: number;
  /**
   * Which roles this process runs.
   * @default {the `HERALD_ROLE` environment variable (comma-separated), else every role}
   */
  roles?: readonly Role[];
  /**
   * Where the worker module runs: `"worker"` in a Web Worker, `"same"` in this isolate.
   * @default {"worker" where Web Workers exist, else "same"}
   */
  isolate?: "worker" | "same";
  /**
   * Serve the admin HTTP API (`@herald/herald/admin`) at `/herald` with these bearer tokens
   * (it needs `bus`), and with `contracts` (and `info`) the AsyncAPI document of those event
   * contracts at `/herald/asyncapi.json`; `false` never serves it.
   * @default {from `HERALD_ADMIN_TOKEN` and `HERALD_ADMIN_READ_TOKEN` when set, else off}
   */
  admin?: {
    token: string;
    readToken?: string;
    contracts?: readonly EventContract[] | Record<string, unknown>;
    info?: { title: string; version: string; description?: string };
  } | false;
  /**
   * Delivery while the app sleeps: publishers post signed wake-ups to `url` (this service's
   * public URL and `/herald/push`), and the service drains its group's backlog within `budgetMs`.
   * The endpoint is registered in the backend for the worker's group when the worker starts. With
   * push, or on Deno Deploy, a `Deno.cron` also drains every minute. `false` turns push off.
   * @default {from `HERALD_PUSH_URL` and `HERALD_PUSH_SECRET` when set, else off}
   */
  push?: PushConfig | false;
  /**
   * Shut down and exit on SIGTERM and SIGINT. Turn off to handle signals yourself (then call
   * `shutdown()`).
   * @default {true}
   */
  signals?: boolean;
  /**
   * Where the service logs its lifecycle.
   * @default {readable lines on the console; JSON lines with `HERALD_LOG_FORMAT=json`}
   */
  logger?: Logger;
  /**
   * Serve Herald's metrics at `/metrics` in the Prometheus text format, the worker's included:
   * `true`, or `{ token }` to require `Authorization: Bearer <token>`.
   * @default {on when `HERALD_METRICS=prometheus`, with the token in `HERALD_METRICS_TOKEN`}
   */
  metrics?: boolean | { token?: string };
  /**
   * How long the bus may stay unreachable (for the worker, or the bus given here) before
   * `/readyz` answers 503 with the reason, in milliseconds.
   * @default {10000}
   */
  unreachableMs?: number;
}

/** Checks options and lists every problem at once. */
export function validateServiceOptions(o: ServiceOptions): void {
  const problems: string[] = [];
  if (typeof o !== "object" || o === null) {
    throw new InvalidOptionsError("service", ["options must be an object"]);
  }
  if (typeof o.name !== "string" || !NAME_PATTERN.test(o.name)) {
    problems.push(`name must match ${NAME_PATTERN} (got ${JSON.stringify(o.name)})`);
  }
  if (o.app !== undefined && typeof o.app?.fetch !== "function") {
    problems.push("app must have a fetch method (a Hono app)");
  }
  if (o.worker !== undefined && !(o.worker instanceof URL) && !URL.canParse(String(o.worker))) {
    problems.push("worker must be a URL, such as new URL('./worker.ts', import.meta.url)");
  }
  if (o.cron !== undefined && (typeof o.cron !== "object" || o.cron === null)) {
    problems.push("cron must be an object of jobs by name");
  }
  for (const [name, job] of Object.entries(o.cron ?? {})) {
    problems.push(...cronProblems(name, job?.schedule));
    if (typeof job?.run !== "function") problems.push(`cron job "${name}" needs a run function`);
  }
  problems.push(...workerCronProblems(o));
  if (o.bus !== undefined && typeof o.bus?.backend?.tryLock !== "function") {
    problems.push("bus must be a Bus (from createBus())");
  }
  if (o.onStop !== undefined && typeof o.onStop !== "function") {
    problems.push("onStop must be a function");
  }
  const grace = o.shutdownGraceMs;
  if (grace !== undefined && !(Number.isFinite(grace) && grace >= 0)) {
    problems.push("shutdownGraceMs must be a finite number >= 0");
  }
  if (o.roles !== undefined) problems.push(...roleProblems(o.roles));
  if (o.isolate !== undefined && o.isolate !== "worker" && o.isolate !== "same") {
    problems.push('isolate must be "worker" or "same"');
  }
  if (o.admin !== undefined && o.admin !== false) {
    if (typeof o.admin !== "object" || o.admin === null) {
      problems.push("admin must be { token, readToken? } or false");
    } else {
      problems.push(...tokenProblems(o.admin.token, o.admin.readToken));
      problems.push(...contractProblems(o.admin));
    }
    if (o.bus === undefined) problems.push("admin needs bus");
  }
  problems.push(...observeProblems(o));
  if (o.push !== undefined && o.push !== false) {
    if (typeof o.push !== "object" || o.push === null) {
      problems.push("push must be { url, secret, budgetMs? } or false");
    } else problems.push(...pushProblems(o.push, o.bus));
  }
  if (problems.length > 0) throw new InvalidOptionsError("service", problems);
}

function workerCronProblems(o: ServiceOptions): string[] {
  if (o.workerCron === undefined) return [];
  if (!Array.isArray(o.workerCron)) return ["workerCron must be an array of defineCron() jobs"];
  const problems: string[] = [];
  if (o.worker === undefined) problems.push("workerCron needs worker: the module that runs them");
  const seen = new Set(Object.keys(o.cron ?? {}));
  for (const job of o.workerCron) {
    problems.push(...cronProblems(job?.name, job?.schedule));
    if (seen.has(job?.name)) problems.push(`cron job "${job.name}" is declared twice`);
    seen.add(job?.name);
  }
  return problems;
}

function observeProblems(o: ServiceOptions): string[] {
  const problems: string[] = [];
  const l = o.logger as unknown as Record<string, unknown> | undefined;
  if (
    l !== undefined &&
    !["debug", "info", "warn", "error"].every((m) => typeof l?.[m] === "function")
  ) {
    problems.push("logger must have debug, info, warn and error methods");
  }
  const m = o.metrics;
  if (
    m !== undefined && typeof m !== "boolean" &&
    (typeof m !== "object" || m === null || (m.token !== undefined && typeof m.token !== "string"))
  ) problems.push("metrics must be a boolean or { token?: string }");
  const u = o.unreachableMs;
  if (u !== undefined && !(Number.isFinite(u) && u >= 0)) {
    problems.push("unreachableMs must be a finite number >= 0");
  }
  return problems;
}

/**
 * Whether `/metrics` is served, and behind which token: from the option, else from
 * `HERALD_METRICS=prometheus` and `HERALD_METRICS_TOKEN`.
 */
export function metricsFrom(o: ServiceOptions): { token?: string } | undefined {
  const env = (name: string) => {
    try {
      return Deno.env.get(name);
    } catch {
      return undefined;
    }
  };
  const m = o.metrics ?? (env("HERALD_METRICS")?.toLowerCase() === "prometheus");
  if (m === false) return undefined;
  const token = (typeof m === "object" ? m.token : undefined) ?? env("HERALD_METRICS_TOKEN");
  return token ? { token } : {};
}

function roleProblems(roles: readonly unknown[]): string[] {
  if (!Array.isArray(roles)) return ["roles must be an array"];
  return roles.filter((r) => !ROLES.includes(r as Role)).map((r) =>
    `unknown role ${JSON.stringify(r)}: use ${ROLES.join(", ")}`
  );
}

/**
 * Reads the roles to run from `HERALD_ROLE` (`"web"`, `"worker,cron"`, …); every role when it is
 * unset, empty or unreadable (no env permission).
 *
 * @throws {InvalidOptionsError} when it names an unknown role.
 */
export function rolesFromEnv(): Role[] {
  let raw: string | undefined;
  try {
    raw = Deno.env.get("HERALD_ROLE");
  } catch {
    raw = undefined; // no --allow-env: run everything, as with the variable unset
  }
  const names = (raw ?? "").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (names.length === 0) return [...ROLES];
  const problems = roleProblems(names);
  if (problems.length > 0) throw new InvalidOptionsError("HERALD_ROLE", problems);
  return ROLES.filter((r) => names.includes(r));
}

// The admin's AsyncAPI document is built when the admin loads: its contracts are checked now.
function contractProblems(admin: NonNullable<ServiceOptions["admin"]> & object): string[] {
  if (admin.contracts === undefined) return [];
  try {
    createAsyncApi({
      contracts: admin.contracts,
      info: admin.info ?? { title: "check", version: "1.0.0" },
    });
    return [];
  } catch (err) {
    if (!(err instanceof InvalidOptionsError)) throw err;
    return err.problems.map((p) => `admin: ${p}`);
  }
}
