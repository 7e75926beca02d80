/**
 * `createService()`: one `deno serve` entry that runs a service's HTTP routes, its worker and its cron
 * jobs, answers health checks, and shuts everything down on SIGTERM.
 *
 * @module
 */
import { InvalidOptionsError } from "../errors.ts";
import { type Outage, reachability } from "../telemetry/health.ts";
import { enablePromMetrics } from "../telemetry/metrics.ts";
import { promContentType, promText } from "../telemetry/prometheus.ts";
import { adminHandler, adminTokens, isAdminPath, tokenProblems } from "./admin_mount.ts";
import { type CronRoleHandle, startCronRole } from "./cron.ts";
import { type Log, serviceLog } from "./log.ts";
import {
  type CronDeclaration,
  metricsFrom,
  type Role,
  ROLES,
  rolesFromEnv,
  type ServiceOptions,
  validateServiceOptions,
} from "./options.ts";
import { onShutdownSignals } from "./signals.ts";
import { type RoleHandle, within, type WorkerRoleHandle } from "./role.ts";
import { startWorkerRole } from "./worker_role.ts";
import { DEPLOY_GRACE_MS, onDeploy } from "./platform.ts";
import { PUSH_PATH, pushConfig, pushProblems, PushReceiver } from "./push_mount.ts";

// How long after shutdown a process that did not end by itself is made to.
const EXIT_FALLBACK_MS = 1_000;

/**
 * A running service: the default export of a `deno serve` entry. Made by {@linkcode service}.
 *
 * @example Asking a service whether it is ready, and stopping it
 * ```ts
 * import { createService } from "@herald/herald";
 * const s = createService({ name: "probe", roles: ["web"], signals: false });
 * console.log((await s.fetch(new Request("http://localhost/readyz"))).status); // 200
 * await s.shutdown();
 * ```
 */
export interface Service {
  /** The service's name. */
  readonly name: string;
  /** The roles this process runs (from `roles` or `HERALD_ROLE`). */
  readonly roles: readonly Role[];
  /** Answers HTTP: `/healthz`, `/readyz`, then the app's routes (when the web role runs). */
  fetch(request: Request, info?: Deno.ServeHandlerInfo): Promise<Response>;
  /**
   * Stops the worker and the cron jobs (running work gets the grace period), waits for running
   * requests, and closes the bus. Calling it again returns the same promise; it never rejects.
   * On SIGTERM/SIGINT the service calls it and then exits with code 0.
   */
  shutdown(): Promise<void>;
}

/**
 * Makes the default export of a service's `deno serve` entry.
 *
 * The worker module runs in its own Web Worker (in this isolate where Web Workers do not exist).
 * Every cron tick is registered in this isolate (Deno Deploy finds crons by evaluating the entry
 * module): jobs given in `cron` run here, jobs the worker module declares (`workerCron`) are
 * handed to its isolate, so their work never holds up requests. `HERALD_ROLE=web|worker|cron` (comma-separated)
 * runs only some roles; `/healthz` and `/readyz` are always served.
 *
 * @param options The service's name, app, worker module, cron jobs and bus.
 * @returns The service; `export default` it.
 * @throws {InvalidOptionsError} listing every problem with the options or `HERALD_ROLE`.
 *
 * @example A service entry, run with `deno serve -A services/posts/main.ts`
 * ```ts
 * import { Hono } from "hono";
 * import { createBus, createMemoryBackend, createService } from "@herald/herald";
 *
 * const bus = createBus({ backend: createMemoryBackend(), source: "posts" });
 * const app = new Hono().get("/", (c) => c.text("posts"));
 *
 * const posts = createService({
 *   name: "posts",
 *   app,
 *   bus,
 *   // worker: new URL("./worker.ts", import.meta.url),
 *   signals: false, // only because this example shuts down by itself
 * });
 * const res = await posts.fetch(new Request("http://localhost/readyz"));
 * console.log(res.status); // 200
 * await posts.shutdown();
 * ```
 */
export function createService(options: ServiceOptions): Service {
  validateServiceOptions(options);
  const roles = options.roles ? ROLES.filter((r) => options.roles!.includes(r)) : rolesFromEnv();
  const svc = new HeraldService(options, roles);
  // A plain object: `deno serve` wants `fetch` as an own property of the default export.
  return {
    name: svc.name,
    roles: svc.roles,
    fetch: (request, info) => svc.fetch(request, info),
    shutdown: () => svc.shutdown(),
  };
}

class HeraldService {
  readonly name: string;
  readonly roles: readonly Role[];
  #options: ServiceOptions;
  #log: Log;
  #grace: number;
  #handles = new Map<Role, RoleHandle>();
  #inflight = 0;
  #idle?: PromiseWithResolvers<void>;
  #closing?: Promise<void>;
  #removeSignals = () => {};
  #admin?: (request: Request) => Promise<Response>;
  #metrics?: { token?: string };
  #unreachableMs: number;
  #push?: PushReceiver;

  constructor(options: ServiceOptions, roles: Role[]) {
    this.#options = options;
    this.name = options.name;
    this.roles = roles;
    this.#grace = options.shutdownGraceMs ?? (onDeploy() ? DEPLOY_GRACE_MS : 10_000);
    const log = this.#log = serviceLog(options.name, options.logger);
    this.#unreachableMs = options.unreachableMs ?? 10_000;
    this.#metrics = metricsFrom(options);
    if (this.#metrics) void enablePromMetrics();
    const hasCron = options.cron !== undefined || (options.workerCron?.length ?? 0) > 0;
    const skipped = (["worker", "cron"] as const).filter((r) =>
      roles.includes(r) && !(r === "worker" ? options.worker : hasCron)
    );
    log.info(
      `starting roles ${roles.join(", ")}` +
        (skipped.length ? ` (nothing configured for ${skipped.join(", ")})` : ""),
    );
    // Crons first: a schedule Deno.cron rejects throws here, before a Web Worker exists.
    const cron = roles.includes("cron") && hasCron ? this.#startCron() : undefined;
    this.#startWorker(cron);
    this.#mountAdmin();
    if (options.signals !== false) this.#removeSignals = onShutdownSignals((s) => this.#signal(s));
  }

  // The admin API answers at /herald in processes running the web role, when configured.
  #mountAdmin(): void {
    const { admin, bus } = this.#options;
    const tokens = this.roles.includes("web") ? adminTokens(admin) : undefined;
    if (!tokens) return;
    const bad = tokenProblems(tokens.token, tokens.readToken);
    if (bad.length > 0) throw new InvalidOptionsError("HERALD_ADMIN_TOKEN", bad);
    if (!bus) return this.#log.error("admin API off: the service has no bus");
    this.#admin = adminHandler(tokens, bus, this.#log);
    this.#log.info("admin API at /herald");
  }

  #startCron(): CronRoleHandle {
    const { cron = {}, workerCron = [], bus } = this.#options;
    const handle = startCronRole({ local: cron, worker: workerCron }, this.name, bus, this.#log);
    this.#handles.set("cron", handle);
    return handle;
  }

  // The worker role runs the module's handlers and the cron jobs it declares; a process running
  // the cron role without the worker role loads the module only for those jobs.
  #startWorker(cron: CronRoleHandle | undefined): void {
    const { worker, workerCron = [] } = this.#options;
    if ((!worker || !this.roles.includes("worker")) && pushConfig(this.#options.push)) {
      this.#log.info(
        "push: no worker runs in this process, so /herald/push and the drain cron are off",
      );
    }
    if (!worker) return;
    const url = String(worker);
    const isolate = this.#options.isolate ?? (typeof Worker === "undefined" ? "same" : "worker");
    const prometheus = this.#metrics !== undefined;
    const onReady = cron && workerCron.length > 0
      ? (declared: CronDeclaration[]) => cron.checkDeclared(declared)
      : undefined;
    if (this.roles.includes("worker")) {
      const handle = startWorkerRole(url, this.name, isolate, this.#log, {
        handlers: true,
        onReady,
        prometheus,
      });
      this.#handles.set("worker", handle);
      cron?.useWorker(handle, false);
      this.#push = this.#startPush(handle);
    } else if (cron && workerCron.length > 0) {
      const handle = startWorkerRole(url, this.name, isolate, this.#log, {
        handlers: false,
        onReady,
        prometheus,
      });
      cron.useWorker(handle, true);
    }
  }

  // Push wake-ups and the drain cron, when push is configured or the platform stops idle apps.
  #startPush(worker: WorkerRoleHandle): PushReceiver | undefined {
    const config = pushConfig(this.#options.push);
    const bad = config ? pushProblems(config, this.#options.bus) : [];
    if (bad.length > 0) throw new InvalidOptionsError("HERALD_PUSH_URL", bad);
    if (!this.#options.bus || (!config && !onDeploy())) return undefined;
    const push = new PushReceiver(config, this.#options.bus, worker, this.#log);
    push.register();
    push.startCron();
    return push;
  }

  fetch(request: Request, info?: Deno.ServeHandlerInfo): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/healthz") {
      return Promise.resolve(Response.json({ status: "alive", service: this.name }));
    }
    if (pathname === "/readyz") return Promise.resolve(this.#readiness());
    if (pathname === "/metrics" && this.#metrics) return this.#scrape(request);
    const push = this.#push;
    const app = push && pathname === PUSH_PATH
      ? { fetch: (r: Request) => push.receive(r) }
      : this.#admin && isAdminPath(pathname)
      ? { fetch: this.#admin }
      : this.#options.app;
    if (!app || !this.roles.includes("web")) {
      const error = app ? "The web role does not run in this process" : "Not found";
      return Promise.resolve(Response.json({ error, service: this.name }, { status: 404 }));
    }
    if (this.#closing) {
      return Promise.resolve(
        Response.json({ error: "Shutting down", service: this.name }, { status: 503 }),
      );
    }
    return this.#serve(app, request, info);
  }

  async #serve(
    app: NonNullable<ServiceOptions["app"]>,
    request: Request,
    info?: Deno.ServeHandlerInfo,
  ): Promise<Response> {
    this.#inflight++;
    try {
      return await app.fetch(request, info);
    } finally {
      if (--this.#inflight === 0) this.#idle?.resolve();
    }
  }

  #readiness(): Response {
    const roles: Record<string, string> = {};
    const reasons: string[] = [];
    if (this.roles.includes("web")) roles.web = this.#closing ? "stopping" : "up";
    for (const role of this.roles) {
      const handle = this.#handles.get(role);
      if (!handle) continue;
      roles[role] = handle.state;
      if (handle.state !== "up") reasons.push(handle.reason ?? `${role} is ${handle.state}`);
    }
    const outage = this.#outage();
    if (outage) {
      const s = Math.round((Date.now() - outage.since) / 1000);
      reasons.push(`the bus has been unreachable for ${s} s: ${outage.reason}`);
    }
    if (this.#closing) reasons.unshift("the service is shutting down");
    const ready = reasons.length === 0;
    const body = { status: ready ? "ready" : "not ready", service: this.name, roles, reasons };
    return Response.json(body, { status: ready ? 200 : 503 });
  }

  /** The longest outage of a bus this service uses, once it passed the threshold. */
  #outage(): Outage | undefined {
    const outages = [...this.#handles.values()].map((h) => h.outage?.());
    if (this.#options.bus) outages.push(reachability(this.#options.bus.backend).outage);
    const now = Date.now();
    return outages.filter((o): o is Outage =>
      o !== undefined && now - o.since >= this.#unreachableMs
    )
      .sort((a, b) => a.since - b.since)[0];
  }

  async #scrape(request: Request): Promise<Response> {
    const token = this.#metrics?.token;
    if (token && request.headers.get("authorization") !== `Bearer ${token}`) {
      return Response.json({ error: "Unauthorized", service: this.name }, {
        status: 401,
        headers: { "www-authenticate": 'Bearer realm="metrics"' },
      });
    }
    await enablePromMetrics();
    const others = await Promise.all([...this.#handles.values()].map((h) => h.metrics?.() ?? []));
    const text = await promText(others);
    return new Response(text, { headers: { "content-type": promContentType() } });
  }

  shutdown(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const grace = this.#grace;
    this.#log.info(`shutting down (grace ${grace} ms)`);
    const requests = async () => {
      if (this.#inflight === 0) return;
      this.#idle = Promise.withResolvers();
      if (!await within(this.#idle.promise, grace)) {
        this.#log.error(`web: ${this.#inflight} request(s) still running after ${grace} ms`);
      }
    };
    this.#push?.stop();
    await Promise.all([...[...this.#handles.values()].map((h) => h.stop(grace)), requests()]);
    try {
      await this.#options.onStop?.();
    } catch (err) {
      this.#log.error("onStop failed", err);
    }
    try {
      await this.#options.bus?.close();
    } catch (err) {
      this.#log.error("bus: close failed", err);
    }
    // Only now: until here a second signal must still reach #signal to force the exit.
    this.#removeSignals();
    this.#log.info("shut down");
  }

  #signal(signal: Deno.Signal): void {
    if (this.#closing) {
      this.#log.error(`${signal} again: exiting now`);
      Deno.exit(1);
    }
    this.#log.info(`${signal} received`);
    this.shutdown().then(() => {
      // Exiting at once could cut responses `deno serve` is still writing. With the worker,
      // crons, bus and signal listeners gone, the process normally ends by itself once the
      // server has drained; this timer (which does not keep it alive) covers anything else the
      // app left running.
      Deno.unrefTimer(setTimeout(() => Deno.exit(0), EXIT_FALLBACK_MS));
    });
  }
}
