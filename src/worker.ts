/**
 * Workers: handlers routed by contract, run by a consumer group with per-handler concurrency,
 * lease extension, retries with backoff, dead letters and a graceful stop.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { Delivery, Settlement, StartPosition } from "./backend.ts";
import { errorInfo } from "./backend.ts";
import { hasRateLimits } from "./capabilities.ts";
import type { Bus } from "./bus.ts";
import { decodePayload, type EventContract, NAME_PATTERN, routeOf } from "./contract.ts";
import { type CronContext, type CronDeclaration, type CronJob, cronProblems } from "./cron.ts";
import type { Envelope } from "./envelope.ts";
import {
  DoNotRetryError,
  InvalidOptionsError,
  LeaseLostError,
  RetryLaterError,
  ValidationError,
} from "./errors.ts";
import {
  compose,
  type Handler,
  type HandlerContext,
  type HandlerOptions,
  type Middleware,
} from "./handler.ts";
import { DEFAULT_DEDUPE_WINDOW_MS, DeliveryContext } from "./context.ts";
import { type DrainOptions, type DrainResult, waitForEmpty } from "./drain.ts";
import { flowProblems, RateGate, withTimeout } from "./flow.ts";
import { type Flight, Flights } from "./flight.ts";
import {
  backoff,
  DEFAULT_RETRY,
  redeliveryHorizonMs,
  type RetryPolicy,
  retryProblems,
} from "./retry.ts";
import { settlementOf, Settler } from "./settler.ts";
import { sleep } from "./sleep.ts";
import { type Run, WorkerTelemetry } from "./telemetry/consume.ts";
import { reachability } from "./telemetry/health.ts";
import { observeProblems, type WorkerObserveOptions } from "./telemetry/hooks.ts";

/** Options of {@linkcode createWorker}. */
export interface WorkerOptions extends WorkerObserveOptions {
  /** The bus whose backend the worker reads, and through which handlers publish. */
  bus: Bus;
  /** The consumer group: normally the service's name. Instances of a group share its events. */
  group: string;
  /** This instance's name within the group; unique by default. */
  consumer?: string;
  /**
   * Where the group starts on a stream it has never read.
   * @default {"earliest"}
   */
  start?: StartPosition;
  /**
   * How long a delivery is leased before another instance may take it; extended while the
   * handler runs.
   * @default {30000}
   */
  leaseMs?: number;
  /**
   * The most deliveries claimed at once.
   * @default {the backend's `features.claimBatch`, else 100}
   */
  batch?: number;
  /**
   * How many claimed deliveries may wait for a free handler slot. Claiming ahead moves a backlog
   * in full batches; their leases are extended while they wait, and `stop()` gives them back.
   * `0` claims only what free slots can start at once. Whatever this says, a worker claims ahead
   * only what its handlers, at the speed they have shown so far, start within about 50 ms.
   * @default {the batch size}
   */
  prefetch?: number;
  /**
   * How long one claim waits for new events when none is ready, in milliseconds. A waiting
   * claim may not hear of another instance's lease lapsing until it ends, so the default is no
   * longer than `leaseMs`.
   * @default {the backend's `claimWaitMs` (30,000 on Deno KV and on Redis over TCP), else 1000; at most `leaseMs`}
   */
  idleWaitMs?: number;
  /** The retry policy of every handler, unless the handler overrides it. */
  retry?: Partial<RetryPolicy>;
  /**
   * How long `ctx.atomic` remembers that this group applied an event, in milliseconds: a
   * redelivery within it reports `duplicate`; after it, Deno KV deletes the marker, so the
   * service's database stays bounded. Must cover the longest redelivery of every handler's
   * retry policy (each backoff at its longest, each attempt's lease expiring).
   * @default {604800000 (7 days)}
   */
  dedupeWindowMs?: number;
  /**
   * The most deliveries this worker holds at once, over all its handlers: running, or claimed and
   * waiting for a slot (each handler's `concurrency` still holds).
   * @default {no cap beyond the handlers' concurrency and `prefetch`}
   */
  maxInFlight?: number;
}

/** Options of {@linkcode EventWorker.stop}. */
export interface StopOptions {
  /**
   * How long running handlers may take to finish before their signal is aborted.
   * @default {10000}
   */
  graceMs?: number;
}

/** Counters of a worker, since it started. */
export interface WorkerStats {
  /** Events handled successfully. */
  acked: number;
  /** Failures scheduled for another attempt. */
  retried: number;
  /** Events dead-lettered. */
  dead: number;
  /** Handlers running now. */
  running: number;
}

/** A consumer group's handlers. Made by {@linkcode createWorker}. */
export interface EventWorker {
  /** The consumer group. */
  readonly group: string;
  /** Counters since start. */
  readonly stats: Readonly<WorkerStats>;
  /**
   * Routes a contract's events to a handler.
   *
   * @throws {TypeError} when the contract already has a handler in this worker.
   */
  on<C extends EventContract>(contract: C, handler: Handler<C>, options?: HandlerOptions): this;
  /** Adds a middleware around every handler; the first added is the outermost. */
  use(middleware: Middleware): this;
  /**
   * Declares a cron job that runs in this worker's isolate, beside its handlers (list its
   * declaration in `createService({ workerCron })` so the service's entry registers its tick).
   *
   * @throws {InvalidOptionsError} for a bad name or schedule; {TypeError} for a name taken.
   */
  cron(job: CronDeclaration, run: (ctx: CronContext) => unknown): this;
  /** Declares a cron job by name and schedule; see the overload taking a declaration. */
  cron(name: string, schedule: string, run: (ctx: CronContext) => unknown): this;
  /** The cron jobs declared with `cron()`, by name. */
  readonly crons: ReadonlyMap<string, CronJob>;
  /** Subscribes the group to its streams and starts claiming. */
  start(): Promise<void>;
  /** Stops claiming, lets running handlers finish within the grace period, releases the rest. */
  stop(options?: StopOptions): Promise<void>;
  /** The streams its handlers read, in the order they were added. */
  readonly streams: readonly string[];
  /**
   * Handles the group's backlog within a time budget: starts the worker if it is not running,
   * waits until the group has nothing left on its streams (or the budget ends), and stops it
   * again if it started it. On a platform that stops idle apps, a push request or a cron tick
   * calls it.
   */
  drain(options?: DrainOptions): Promise<DrainResult>;
}

interface Route {
  contract: EventContract;
  handler: Handler;
  /** The handler inside the worker's middlewares, made on first use (`use()` resets it). */
  call?: (event: Envelope, ctx: HandlerContext) => void | Promise<void>;
  retry: RetryPolicy;
  concurrency: number;
  running: number;
  waiting: Delivery[];
  /** How long its handler takes, in milliseconds (a moving average); unknown at first. */
  handlerMs?: number;
  /** Runs started, to time one in {@linkcode TIME_EVERY}. */
  runs: number;
  /** Whether its waiting deliveries are being started now (a guard against a nested `#pump`). */
  pumping: boolean;
  /** The shared rate limit, when the handler has one. */
  gate?: RateGate;
  /** The handler's time limit, when it has one. */
  timeoutMs?: number;
}

/**
 * One handler run in this many is timed for `handlerMs`: `performance.now()` is a call into the
 * runtime (two per run were a tenth of a worker's own CPU per event with a trivial handler), and a
 * moving average needs only a sample.
 */
const TIME_EVERY = 8;

/**
 * Deliveries claimed ahead wait at most about this long for a slot, in milliseconds: a worker
 * whose handlers are slow claims only what it can start soon, and leaves the rest of a backlog
 * to the other consumers of its group instead of holding it under extended leases.
 */
const PREFETCH_HORIZON_MS = 50;

/**
 * How long `stop()` waits past the grace period for the last outcomes to be written, in
 * milliseconds; a backend that fails them all that time leaves them to lease expiry.
 */
const SETTLE_CLOSE_MS = 1_000;

/**
 * Makes a worker for a consumer group.
 *
 * @param options The bus, the group and tuning.
 * @returns The worker; add handlers with `on`, then `start` it (or export it as the default of
 * a service's worker module, and `createService()` starts it).
 * @throws {InvalidOptionsError} listing every problem with the options.
 *
 * @example A worker that keeps a local copy of users
 * ```ts
 * import { z } from "zod";
 * import { createBus, createMemoryBackend, createWorker, defineEvent } from "@herald/herald";
 *
 * const UserCreated = defineEvent({
 *   stream: "users",
 *   type: "user.created",
 *   schema: z.object({ id: z.string(), name: z.string() }),
 * });
 * const bus = createBus({ backend: createMemoryBackend(), source: "posts" });
 * const users = new Map<string, string>();
 * const worker = createWorker({ bus, group: "posts" })
 *   .on(UserCreated, (event) => {
 *     users.set(event.data.id, event.data.name);
 *   }, { retry: { attempts: 8 } });
 * await worker.start();
 * await bus.publish(UserCreated, { id: "u1", name: "Ada" });
 * while (!users.has("u1")) await new Promise((r) => setTimeout(r, 5));
 * await worker.stop();
 * await bus.close();
 * ```
 */
export function createWorker(options: WorkerOptions): EventWorker {
  return new HeraldWorker(options);
}

class HeraldWorker implements EventWorker {
  readonly group: string;
  readonly stats: WorkerStats = { acked: 0, retried: 0, dead: 0, running: 0 };
  readonly #bus: Bus;
  readonly #consumer: string;
  readonly #start: StartPosition;
  readonly #leaseMs: number;
  readonly #batch: number;
  readonly #prefetch: number;
  readonly #idleWaitMs: number;
  readonly #retry: RetryPolicy;
  readonly #dedupeWindowMs: number;
  readonly #maxInFlight: number;
  readonly #routes = new Map<string, Route>();
  /** The routes by stream, then type: finding one makes no key string for every event. */
  readonly #byStream = new Map<string, Map<string, Route>>();
  readonly crons = new Map<string, CronJob>();
  readonly #middlewares: Middleware[] = [];
  readonly #flights = new Flights();
  #settler?: Settler;
  #stop?: AbortController;
  #loop?: Promise<void>;
  #extender?: ReturnType<typeof setInterval>;
  #wake?: () => void;
  #idle?: () => void;
  readonly #telemetry: WorkerTelemetry;
  #unwatch?: () => void;

  constructor(options: WorkerOptions) {
    const problems: string[] = [];
    if (typeof options?.bus?.publish !== "function") problems.push("bus must be a Bus");
    if (typeof options?.group !== "string" || !NAME_PATTERN.test(options.group)) {
      problems.push(`group must match ${NAME_PATTERN}`);
    }
    const int = (name: keyof WorkerOptions, min: number) => {
      const v = options?.[name];
      if (v !== undefined && (!Number.isInteger(v) || (v as number) < min)) {
        problems.push(`${name} must be an integer ≥ ${min}`);
      }
    };
    int("leaseMs", 100);
    int("batch", 1);
    int("prefetch", 0);
    int("idleWaitMs", 1);
    int("maxInFlight", 1);
    const start = options?.start;
    if (
      start !== undefined && start !== "earliest" && start !== "latest" &&
      !(start instanceof Date && !isNaN(start.getTime()))
    ) problems.push('start must be "earliest", "latest" or a valid Date');
    problems.push(...retryProblems("retry", options?.retry), ...observeProblems(options));
    int("dedupeWindowMs", 1_000);
    if (problems.length > 0) throw new InvalidOptionsError("createWorker", problems);
    this.#telemetry = new WorkerTelemetry(options.group, options, options.bus.logger);
    this.#bus = options.bus;
    this.group = options.group;
    this.#consumer = options.consumer ?? `${this.group}-${crypto.randomUUID().slice(0, 8)}`;
    this.#start = options.start ?? "earliest";
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#batch = options.batch ?? options.bus.backend.features?.claimBatch ?? 100;
    this.#prefetch = options.prefetch ?? this.#batch;
    this.#idleWaitMs = options.idleWaitMs ??
      Math.min(options.bus.backend.features?.claimWaitMs ?? 1_000, this.#leaseMs);
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#dedupeWindowMs = options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS;
    const horizon = redeliveryHorizonMs(this.#retry, this.#leaseMs);
    if (horizon > this.#dedupeWindowMs) {
      throw new InvalidOptionsError("createWorker", [windowProblem(horizon)]);
    }
    this.#maxInFlight = options.maxInFlight ?? Infinity;
  }

  on<C extends EventContract>(
    contract: C,
    handler: Handler<C>,
    options: HandlerOptions = {},
  ): this {
    const route = routeOf(contract.stream, contract.type);
    if (this.#routes.has(route)) {
      throw new TypeError(`"${contract.type}" on "${contract.stream}" already has a handler`);
    }
    if (this.#stop) throw new TypeError("Add handlers before start()");
    const problems = retryProblems("retry", options.retry);
    const concurrency = options.concurrency ?? 16;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      problems.push("concurrency must be an integer ≥ 1");
    }
    const retry = { ...this.#retry, ...options.retry };
    const horizon = problems.length > 0 ? 0 : redeliveryHorizonMs(retry, this.#leaseMs);
    if (horizon > this.#dedupeWindowMs) problems.push(windowProblem(horizon));
    const backend = this.#bus.backend;
    problems.push(...flowProblems(backend, options.rateLimit, options.timeoutMs));
    if (problems.length > 0) throw new InvalidOptionsError(`on(${contract.type})`, problems);
    const entry: Route = {
      contract,
      handler: handler as Handler,
      retry,
      concurrency,
      running: 0,
      waiting: [],
      runs: 0,
      pumping: false,
      timeoutMs: options.timeoutMs,
      gate: options.rateLimit && hasRateLimits(backend)
        ? new RateGate(backend, `${this.group}:${route}`, options.rateLimit)
        : undefined,
    };
    this.#routes.set(route, entry);
    const types = this.#byStream.get(contract.stream) ?? new Map<string, Route>();
    this.#byStream.set(contract.stream, types.set(contract.type, entry));
    return this;
  }

  use(middleware: Middleware): this {
    if (typeof middleware !== "function") throw new TypeError("middleware must be a function");
    this.#middlewares.push(middleware);
    for (const route of this.#routes.values()) route.call = undefined;
    return this;
  }

  cron(
    job: CronDeclaration | string,
    a: string | ((ctx: CronContext) => unknown),
    b?: (ctx: CronContext) => unknown,
  ): this {
    const [name, schedule, run] = typeof job === "string"
      ? [job, a, b]
      : [job?.name, job?.schedule, a];
    const problems = cronProblems(name, schedule);
    if (typeof run !== "function") {
      problems.push(`cron job ${JSON.stringify(name)} needs a run function`);
    }
    if (problems.length > 0) throw new InvalidOptionsError("cron()", problems);
    if (this.crons.has(name)) throw new TypeError(`Cron job "${name}" is already declared`);
    this.crons.set(name, { schedule: (schedule as string).trim(), run: run as CronJob["run"] });
    return this;
  }

  async start(): Promise<void> {
    if (this.#stop) throw new TypeError("Worker already started");
    if (this.#routes.size === 0 && this.crons.size === 0) {
      throw new TypeError("Worker has no handlers: call on() first");
    }
    const stop = this.#stop = new AbortController();
    // Only cron jobs: nothing to claim.
    if (this.#routes.size === 0) return;
    const backend = this.#bus.backend;
    this.#settler = new Settler(backend, this.group, this.#telemetry.logger);
    try {
      await backend.subscribe(this.group, this.#streams(), this.#start);
    } catch (err) {
      // Not started: a later start() may try again.
      if (this.#stop === stop) this.#stop = undefined;
      throw err;
    }
    // stop() came while subscribing: nothing to run, and no timer to leave behind.
    if (stop.signal.aborted) return;
    this.#extender = setInterval(() => this.#extendLeases(), Math.max(50, this.#leaseMs / 3));
    this.#loop = this.#claimLoop();
    this.#unwatch = this.#telemetry.watch(backend, this.#streams(), () => [
      ...this.#flights.list().map((f) => f.delivery),
      ...[...this.#routes.values()].flatMap((r) => r.waiting),
    ]);
  }

  get streams(): readonly string[] {
    return this.#streams();
  }

  async drain(options: DrainOptions = {}): Promise<DrainResult> {
    if (this.#stop?.signal.aborted) throw new TypeError("Worker stopped: it cannot drain");
    const owned = !this.#stop;
    if (owned) await this.start();
    try {
      return await waitForEmpty(this.#bus.backend, this.group, this.#streams(), options);
    } finally {
      if (owned) await this.stop();
    }
  }

  async stop(options: StopOptions = {}): Promise<void> {
    const stop = this.#stop;
    if (!stop || stop.signal.aborted) return;
    const graceMs = options.graceMs ?? 10_000;
    const deadline = Date.now() + graceMs;
    stop.abort();
    this.#unwatch?.();
    this.#wake?.();
    await this.#loop;
    // Not started yet: give them back at once, without counting an attempt.
    for (const route of this.#routes.values()) {
      for (const delivery of route.waiting.splice(0)) {
        this.#settle({ delivery, outcome: "release" });
      }
    }
    if (this.#flights.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#drained(),
        new Promise((r) => timer = setTimeout(r, Math.max(0, deadline - Date.now()))),
      ]);
      clearTimeout(timer);
      // Past the grace period: tell the handlers; their leases lapse and another instance retries.
      for (const flight of this.#flights.list()) flight.abort(new Error("Worker stopped"));
    }
    clearInterval(this.#extender);
    // A backend that keeps failing gets a bounded wait; what is left lapses at lease expiry.
    const settled = await this.#settler?.close(Math.max(SETTLE_CLOSE_MS, deadline - Date.now()));
    if (settled) await this.#leave();
  }

  /** Tells the backend this consumer is gone, so it forgets it (Redis consumers). */
  async #leave(): Promise<void> {
    try {
      await this.#bus.backend.leave?.(this.group, this.#streams(), this.#consumer);
    } catch (err) {
      this.#telemetry.logger.warn("could not remove the consumer", {
        group: this.group,
        consumer: this.#consumer,
        error: err,
      });
    }
  }

  #drained(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#flights.size === 0) return resolve();
      this.#idle = resolve;
    });
  }

  #streams(): string[] {
    return [...new Set([...this.#routes.values()].map((r) => r.contract.stream))];
  }

  #capacity(): number {
    let free = 0, waiting = 0, ahead = 0;
    for (const r of this.#routes.values()) {
      free += Math.max(0, r.concurrency - r.running);
      waiting += r.waiting.length;
      ahead += r.handlerMs === undefined
        ? this.#prefetch
        : Math.floor(r.concurrency * PREFETCH_HORIZON_MS / Math.max(r.handlerMs, 0.001));
    }
    // Claim ahead of the free handler slots (up to `prefetch` waiting, and only what starts
    // within the horizon), so a backlog moves in full batches: one backend round trip per
    // batch, not per free slot.
    const room = Math.min(this.#prefetch, ahead);
    // With every slot taken, claim again only once the deliveries waiting for one are down to
    // half the room: otherwise every handler that ends starts a claim of one event (on Deno KV
    // a commit each). Measured with four worker processes on one Deno KV file draining 8,000
    // events into 10 ms handlers (concurrency 10): 1,898-1,920 events/s before, 2,217-2,238
    // after; 20,000 events into 2 ms handlers (concurrency 20): 7,087/s before, 12,477-12,706
    // after. A handler with free slots claims at once while another's deliveries wait.
    free = Math.min(free, this.#maxInFlight - this.stats.running);
    if (free === 0 && waiting > room / 2) return 0;
    // And never hold more than maxInFlight deliveries, running or waiting.
    const held = this.stats.running + waiting;
    return Math.min(this.#batch, free + room - waiting, this.#maxInFlight - held);
  }

  async #claimLoop(): Promise<void> {
    const signal = this.#stop!.signal;
    const streams = this.#streams();
    const health = reachability(this.#bus.backend);
    let failures = 0;
    // A claim sent before the handlers of the batch before it started (see below).
    let ahead: { max: number; claimed: Promise<Delivery[]> } | undefined;
    while (!signal.aborted || ahead) {
      let claim = ahead;
      ahead = undefined;
      if (!claim) {
        const max = this.#capacity();
        if (max <= 0) {
          await new Promise<void>((resolve) => this.#wake = resolve);
          continue;
        }
        claim = { max, claimed: this.#claim(streams, max, signal) };
      }
      let deliveries: Delivery[];
      try {
        deliveries = await claim.claimed;
        if (failures > 0) health.up(); // only the outage this loop saw: backends report their own
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        const wait = Math.min(30_000, 100 * 2 ** Math.min(failures, 9));
        health.down(err);
        this.#telemetry.failed("claim", "claim failed, retrying", err, { retry_in_ms: wait });
        await sleep(wait, signal);
        continue;
      }
      // Stopping: queued but not started, so that stop() gives them back.
      if (signal.aborted) {
        for (const delivery of deliveries) this.#dispatch(delivery, false);
        continue;
      }
      if (deliveries.length < claim.max) {
        for (const delivery of deliveries) this.#dispatch(delivery);
        continue;
      }
      // A full batch: a backlog. The next claim is sent before this batch's handlers start, so
      // that its round trip overlaps them instead of following them; otherwise a consumer
      // spends each round trip (queued behind the publishers' commands on a busy server) idle.
      // Clients write what a task sends when its promise jobs have run, so the handlers start
      // in the task after (`setImmediate`: ~6 µs here, where `setTimeout(0)` takes ~2 ms).
      for (const delivery of deliveries) this.#dispatch(delivery, false);
      const max = this.#capacity();
      if (max > 0) ahead = { max, claimed: this.#claim(streams, max, signal) };
      await new Promise((resolve) => setImmediate(resolve));
      if (signal.aborted) continue; // stop() gives them back
      for (const route of this.#routes.values()) this.#pump(route);
    }
  }

  #claim(streams: string[], max: number, signal: AbortSignal): Promise<Delivery[]> {
    return this.#bus.backend.claim(this.group, streams, {
      consumer: this.#consumer,
      max,
      leaseMs: this.#leaseMs,
      waitMs: this.#idleWaitMs,
      signal,
    });
  }

  /** Routes a delivery to its handler's queue and, with `start`, starts what can run. */
  #dispatch(delivery: Delivery, start = true): void {
    const event = delivery.envelope;
    if (!event) {
      const reason = delivery.malformed?.reason ?? "not an envelope";
      const error = { name: "MalformedEventError", message: `Malformed entry: ${reason}` };
      return this.#settle({ delivery, outcome: "dead", error });
    }
    const route = this.#byStream.get(delivery.stream)?.get(event.type);
    // A type this group has no handler for: it subscribed to the stream, not to every type.
    if (!route) return this.#settle({ delivery, outcome: "ack" });
    route.waiting.push(delivery);
    if (start) this.#pump(route);
  }

  #pump(route: Route): void {
    // A handler that returns without a promise ends within this loop and calls #pump again:
    // the loop already running goes on instead of a nested one.
    if (route.pumping) return;
    route.pumping = true;
    try {
      while (
        route.running < route.concurrency && route.waiting.length > 0 &&
        this.stats.running < this.#maxInFlight
      ) {
        const delivery = route.waiting.shift()!;
        route.running++;
        this.stats.running++;
        // The backend hands out one event of a key at a time to the whole group (see "Key
        // order" in backend.ts), so a keyed delivery starts at once like any other.
        this.#handle(route, this.#flights.add(delivery));
      }
    } finally {
      route.pumping = false;
    }
  }

  /**
   * Runs one delivery and settles it; frees its slot when done. Not async: a handler that
   * returns without a promise is settled at once, with no async frame, promise or closure made
   * for it (with the typed event and the context, those were most of what a worker allocated
   * per event besides its backend).
   */
  #handle(route: Route, flight: Flight): void {
    const delivery = flight.delivery;
    const event = delivery.envelope!;
    let parsed: ReturnType<typeof decodePayload>;
    try {
      parsed = decodePayload(route.contract, event);
    } catch (err) {
      return this.#end(route, flight, undefined, -1, err);
    }
    if (!parsed.success) {
      const err = new ValidationError(event.stream, event.type, parsed.issues);
      this.#settle({ delivery, outcome: "dead", error: errorInfo(err) });
      return this.#finish(route, flight);
    }
    // A shared rate limit: wait for a permit first.
    if (route.gate) return void this.#gated(route, flight, parsed.data);
    this.#run(route, flight, parsed.data);
  }

  /** Waits for a rate permit, then runs; stopped or lease lost meanwhile, gives it back. */
  async #gated(route: Route, flight: Flight, data: unknown): Promise<void> {
    let permitted: boolean;
    try {
      permitted = await route.gate!.take(this.#gateSignal(flight));
    } catch (err) {
      return this.#end(route, flight, undefined, -1, err);
    }
    if (permitted) return this.#run(route, flight, data);
    if (!flight.aborted) this.#settle({ delivery: flight.delivery, outcome: "release" });
    this.#finish(route, flight);
  }

  /** Calls the handler with the typed event and its context, and ends the run when it returns. */
  #run(route: Route, flight: Flight, data: unknown): void {
    const delivery = flight.delivery;
    const event = delivery.envelope!;
    // `started` < 0: not timed.
    const started = route.runs++ % TIME_EVERY === 0 ? performance.now() : -1;
    let run: Run | undefined;
    let returned: void | PromiseLike<void>;
    try {
      run = this.#telemetry.begin(event, delivery.attempt);
      const typed = { ...event, data };
      const ctx = new DeliveryContext(
        this.#bus,
        this.group,
        typed,
        delivery.attempt,
        flight,
        this.#dedupeWindowMs,
      );
      const call = route.call ??= this.#middlewares.length === 0
        ? route.handler
        : compose(this.#middlewares, route.handler);
      // No closure here: one would make V8 allocate this call's variables on the heap every time.
      returned = route.timeoutMs === undefined && !run?.ctx
        ? call(typed, ctx)
        : this.#wrapped(route, flight, run, call, typed, ctx);
    } catch (err) {
      return this.#end(route, flight, run, started, err);
    }
    if (isThenable(returned)) return void this.#later(route, flight, returned, run, started);
    // Timed as when every handler was awaited: once the handlers started with it have run too,
    // so that handlers that never wait, and so run one after another, claim ahead no more.
    if (started >= 0) this.#timedLater(route, started);
    this.#end(route, flight, run, -1);
  }

  /** Calls a handler within its run's trace context and its time limit, when it has them. */
  #wrapped(
    route: Route,
    flight: Flight,
    run: Run | undefined,
    call: NonNullable<Route["call"]>,
    typed: Envelope,
    ctx: HandlerContext,
  ): void | Promise<void> {
    const timeoutMs = route.timeoutMs;
    const invoke = () => call(typed, ctx);
    return this.#telemetry.within(
      run,
      () => timeoutMs === undefined ? invoke() : withTimeout(timeoutMs, typed.type, flight, invoke),
    );
  }

  /** Waits for a handler's promise, then ends the run. */
  async #later(
    route: Route,
    flight: Flight,
    returned: PromiseLike<void>,
    run: Run | undefined,
    started: number,
  ): Promise<void> {
    try {
      await returned;
    } catch (err) {
      return this.#end(route, flight, run, started, err);
    }
    this.#end(route, flight, run, started);
  }

  /**
   * Ends a run: times it (`started` >= 0), settles it (`failure`, when given, is what the handler
   * or what ran before it threw) and frees its slot.
   */
  #end(
    route: Route,
    flight: Flight,
    run: Run | undefined,
    started: number,
    failure: unknown = SUCCEEDED,
  ): void {
    const delivery = flight.delivery;
    try {
      if (started >= 0) this.#timed(route, started);
      let err = failure;
      if (err === SUCCEEDED) {
        try {
          if (flight.aborted) throw new LeaseLostError(this.group, eventIdOf(delivery));
          return this.#settle(settlementOf("ack", delivery), run);
        } catch (thrown) {
          err = thrown;
        }
      }
      if (flight.aborted && !flight.timedOut && !(this.#stop?.signal.aborted)) {
        // Lost the lease: the new owner decides what happens to the event.
        const lost = new LeaseLostError(this.group, eventIdOf(delivery));
        this.#telemetry.abandoned(run, lost);
        this.#telemetry.failed("lease", lost.message, lost, { event: eventIdOf(delivery) });
      } else if (flight.aborted && !flight.timedOut) {
        // Stopped past the grace period: the lease lapses and another instance retries.
        this.#telemetry.abandoned(run, err);
      } else {
        // A failure, or past its timeoutMs: retried, or dead-lettered after its attempts.
        this.#settleFailure(route, delivery, err, run);
      }
    } finally {
      this.#finish(route, flight);
    }
  }

  /** {@linkcode #timed} once the microtasks queued so far have run. */
  #timedLater(route: Route, started: number): void {
    queueMicrotask(() => this.#timed(route, started));
  }

  /** Adds a run that started at `started` to its handler's moving average. */
  #timed(route: Route, started: number): void {
    const ms = performance.now() - started;
    route.handlerMs = route.handlerMs === undefined ? ms : route.handlerMs * 0.9 + ms * 0.1;
  }

  /** Frees a finished delivery's slot and starts what can run in it. */
  #finish(route: Route, flight: Flight): void {
    this.#flights.delete(flight);
    if (this.#flights.size === 0) this.#idle?.();
    route.running--;
    this.stats.running--;
    this.#pump(route);
    // At the worker's cap, the slot may belong to another handler's waiting deliveries.
    if (this.#maxInFlight !== Infinity) { for (const r of this.#routes.values()) this.#pump(r); }
    this.#wake?.();
  }

  #settleFailure(route: Route, delivery: Delivery, err: unknown, run?: Run): void {
    if (err instanceof DoNotRetryError || delivery.attempt >= route.retry.attempts) {
      return this.#settle({ delivery, outcome: "dead", error: errorInfo(err) }, run);
    }
    const delayMs = err instanceof RetryLaterError
      ? err.delayMs
      : backoff(route.retry, delivery.attempt);
    this.#settle({ delivery, outcome: "retry", delayMs, error: errorInfo(err) }, run);
  }

  /** Ends a wait for a rate permit when the worker stops or the lease is lost. */
  #gateSignal(flight: Flight): AbortSignal {
    return AbortSignal.any([this.#stop!.signal, flight.signal]);
  }

  #settle(settlement: Settlement, run?: Run): void {
    const counter = settlement.outcome === "ack"
      ? "acked"
      : settlement.outcome === "retry"
      ? "retried"
      : settlement.outcome === "dead"
      ? "dead"
      : undefined;
    if (counter) this.stats[counter]++;
    this.#telemetry.settled(settlement, run);
    this.#settler?.add(settlement);
  }

  async #extendLeases(): Promise<void> {
    const waiting = [...this.#routes.values()].flatMap((r) => r.waiting);
    const deliveries = [...this.#flights.list().map((f) => f.delivery), ...waiting];
    if (deliveries.length === 0) return;
    try {
      const lost = new Set(await this.#bus.backend.extend(this.group, deliveries, this.#leaseMs));
      // The flights as they are now: a delivery that waited at the snapshot may have started.
      for (const f of lost.size > 0 ? this.#flights.list() : []) {
        if (lost.has(f.delivery)) f.abort(new LeaseLostError(this.group, eventIdOf(f.delivery)));
      }
      // A prefetched delivery whose lease lapsed belongs to someone else now: never start it.
      for (const r of this.#routes.values()) r.waiting = r.waiting.filter((d) => !lost.has(d));
    } catch (err) {
      this.#telemetry.failed("extend", "lease extension failed", err);
    }
  }
}

/** What {@linkcode EventWorker}'s `#end` gets in place of an error when the handler returned. */
const SUCCEEDED: unique symbol = Symbol("succeeded");

/** Whether a handler returned something to wait for, as `await` would. */
function isThenable(value: unknown): value is PromiseLike<void> {
  return (typeof value === "object" || typeof value === "function") && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}

/** The event id of a delivery, or its ref when the entry was not an envelope. */
function eventIdOf(delivery: Delivery): string {
  return delivery.envelope?.id ?? delivery.ref;
}

function windowProblem(horizonMs: number): string {
  return `dedupeWindowMs must cover the longest redelivery of the retry policy (${horizonMs} ms)`;
}
