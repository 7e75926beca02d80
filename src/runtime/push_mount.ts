/**
 * Delivery to a service on a platform that stops idle apps: the push route at `/herald/push`
 * (a signed wake-up drains the group's backlog within a budget), the registration of the
 * service's push endpoint in the backend (so publishers in any service find it), and the drain
 * cron that drains every minute as the safety net.
 *
 * @module
 */
import type { Bus } from "../bus.ts";
import { hasPushRegistry } from "../capabilities.ts";
import { secretProblem, TOLERANCE_MS, verifyPush } from "../push/sign.ts";
import type { Log } from "./log.ts";
import { env } from "./platform.ts";
import type { WorkerRoleHandle } from "./role.ts";

/** Where a service answers push wake-ups. */
export const PUSH_PATH = "/herald/push";

/** The name of the drain cron (Deno.cron's rule: letters, digits, spaces, `-` and `_`). */
export const DRAIN_CRON = "herald-drain";

/** A service's push endpoint. */
export interface PushConfig {
  /** The URL publishers post wake-ups to: this service's public URL and `/herald/push`. */
  url: string;
  /** The Standard Webhooks secret (`whsec_` and base64, at least 16 bytes). */
  secret: string;
  /**
   * How long one wake-up (or cron tick) drains at most, in milliseconds.
   * @default {20000}
   */
  budgetMs?: number;
}

/** The push endpoint from the option or from `HERALD_PUSH_URL` and `HERALD_PUSH_SECRET`. */
export function pushConfig(option: PushConfig | false | undefined): PushConfig | undefined {
  if (option === false) return undefined;
  if (option) return option;
  const url = env("HERALD_PUSH_URL"), secret = env("HERALD_PUSH_SECRET");
  const budget = env("HERALD_PUSH_BUDGET_MS");
  if (!url && !secret) return undefined;
  return { url: url ?? "", secret: secret ?? "", ...(budget ? { budgetMs: Number(budget) } : {}) };
}

/** What is wrong with a push endpoint, one sentence each. */
export function pushProblems(config: PushConfig, bus: Bus | undefined): string[] {
  const problems: string[] = [];
  if (typeof config.url !== "string" || !URL.canParse(config.url)) {
    problems.push("push.url (HERALD_PUSH_URL) must be an absolute URL");
  }
  const secret = secretProblem(config.secret);
  if (secret) problems.push(`${secret} (push.secret, HERALD_PUSH_SECRET)`);
  const budget = config.budgetMs;
  if (budget !== undefined && !(Number.isInteger(budget) && budget >= 1)) {
    problems.push("push.budgetMs must be an integer ≥ 1");
  }
  if (!bus) problems.push("push needs bus");
  else if (!hasPushRegistry(bus.backend)) {
    problems.push(`push needs a backend that keeps push endpoints; ${bus.backend.name} does not`);
  }
  return problems;
}

/** Answers `{ error, code }` with `status`. */
function refuse(status: number, code: string, error: string): Response {
  return Response.json({ error, code }, { status });
}

/** The push route, the endpoint registration and the drain cron of one service. */
export class PushReceiver {
  #abort = new AbortController();
  #budgetMs: number;

  /**
   * @param config The push endpoint; without it the route answers 404 and only the cron runs.
   * @param bus The service's bus (replayed ids are remembered through its locks).
   * @param worker The worker role, which drains.
   * @param log The service's log.
   */
  constructor(
    readonly config: PushConfig | undefined,
    readonly bus: Bus,
    readonly worker: WorkerRoleHandle,
    readonly log: Log,
  ) {
    this.#budgetMs = config?.budgetMs ?? 20_000;
  }

  /** Registers the endpoint for the worker's group and streams once the worker started. */
  register(): void {
    const config = this.config;
    if (!config) return;
    const registry = this.bus.backend;
    if (!hasPushRegistry(registry)) return;
    this.worker.info().then(async (info) => {
      if (!info || this.#abort.signal.aborted) return;
      const endpoint = { url: config.url, secret: config.secret };
      await registry.setPushEndpoint(info.group, info.streams, endpoint);
      this.log.info(
        `push: ${config.url} registered for group "${info.group}" on ${info.streams.join(", ")}`,
      );
    }).catch((err) => this.log.error("push: the endpoint could not be registered", err));
  }

  /** Registers the drain cron; call at the top level of the entry module's evaluation. */
  startCron(): void {
    if (typeof Deno.cron !== "function") {
      this.log.error('push: no drain cron, Deno.cron is not available (add "cron" to "unstable")');
      return;
    }
    const signal = this.#abort.signal;
    try {
      this.#registerCron(signal);
      this.log.info(`push: drain cron "${DRAIN_CRON}" registered (every minute)`);
    } catch (err) {
      // Such as a job of the service's own named the same: the service runs, without the net.
      this.log.error(`push: the drain cron "${DRAIN_CRON}" could not be registered`, err);
    }
  }

  #registerCron(signal: AbortSignal): void {
    Deno.cron(DRAIN_CRON, "* * * * *", { signal }, async () => {
      if (signal.aborted) return;
      try {
        const r = await this.worker.drain(Math.min(this.#budgetMs, 50_000));
        this.log.info(
          `drain cron: ${r.empty ? "backlog empty" : `${r.backlog} left`} in ${r.ms} ms`,
        );
      } catch (err) {
        this.log.error("drain cron: failed", err);
      }
    }).catch((err) => this.log.error("drain cron: ended", err));
  }

  /** Answers a wake-up: 401 unless signed, fresh and new; then drains and answers 200. */
  async receive(request: Request): Promise<Response> {
    if (!this.config) return refuse(404, "not_found", "Push is not configured");
    if (request.method !== "POST") return refuse(405, "method_not_allowed", "Use POST");
    const body = await request.text();
    const verified = verifyPush(this.config.secret, request.headers, body);
    if ("refused" in verified) {
      this.log.error(`push: refused (${verified.refused})`);
      return refuse(401, "unauthorized", `Refused: ${verified.refused}`);
    }
    // A signed request seen before (within twice the tolerance, so the id outlives any timestamp
    // the library still accepts) is a replay.
    let fresh: boolean;
    try {
      fresh = await this.bus.backend.tryLock(`push:${verified.id}`, 2 * TOLERANCE_MS);
    } catch (err) {
      this.log.error("push: replay check failed", err);
      return refuse(503, "unavailable", "The backend cannot be reached");
    }
    if (!fresh) {
      this.log.error(`push: refused (replayed ${verified.id})`);
      return refuse(401, "unauthorized", "Refused: this request was seen before");
    }
    return await this.#drain(verified.payload.group);
  }

  async #drain(group: string): Promise<Response> {
    const info = await this.worker.info();
    if (info?.group !== group) {
      return refuse(404, "not_found", `This service drains group "${info?.group}", not "${group}"`);
    }
    try {
      const r = await this.worker.drain(this.#budgetMs);
      this.log.info(`push: ${r.empty ? "backlog empty" : `${r.backlog} left`} in ${r.ms} ms`);
      return Response.json(r);
    } catch (err) {
      this.log.error("push: drain failed", err);
      return refuse(503, "unavailable", "The worker could not drain");
    }
  }

  /** Stops the drain cron. */
  stop(): void {
    this.#abort.abort();
  }
}
