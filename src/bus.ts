/**
 * The bus: publish typed events, alone, in batches, or together with your own Deno KV writes.
 *
 * @module
 */
import type { Backend } from "./backend.ts";
import { type EventContract, type EventInput, NAME_PATTERN } from "./contract.ts";
import { encodeEnvelope, type Envelope, type PublishOptions, withJson } from "./envelope.ts";
import { BackendUnavailableError, InvalidOptionsError } from "./errors.ts";
import { stopForwarding } from "./forwarder.ts";
import { OutboxAtomic } from "./outbox.ts";
import { dueOf, isScheduler, type ScheduledEvent } from "./schedule.ts";
import { type Reachability, reachability } from "./telemetry/health.ts";
import { defaultLogger, type Logger } from "./telemetry/log.ts";
import { createTraceparent, observePublish, publishObserved } from "./telemetry/publish.ts";
import { hasPushRegistry } from "./capabilities.ts";
import { pushingBackend } from "./push/backend.ts";
import { Pusher, pushOptionProblems, type PushOptions } from "./push/sender.ts";

/** Options of {@linkcode createBus}. */
export interface BusOptions {
  /** Where events are stored: `createKvBackend()`, `createRedisBackend()` from `./redis`, or `createMemoryBackend()`. */
  backend: Backend;
  /** The publishing service's name, stamped into every envelope's `source`. */
  source: string;
  /**
   * Where the bus and the workers on it log (a worker may have its own).
   * @default {readable lines on the console; JSON lines with `HERALD_LOG_FORMAT=json`}
   */
  logger?: Logger;
  /**
   * After events commit, send a signed wake-up (Standard Webhooks) to the push endpoints of the
   * groups on their streams, in the background: for consumers on platforms that stop idle apps.
   * Needs a backend that keeps push endpoints (memory, Deno KV and Redis do).
   * @default {false}
   */
  push?: boolean | PushOptions;
}

/** One entry of {@linkcode Bus.publishMany}. */
export interface PublishItem<C extends EventContract = EventContract> {
  /** The event's contract. */
  contract: C;
  /** The payload; checked against the contract's schema. */
  data: EventInput<C>;
  /** Ordering key, tracing fields, and `delay` or `at`. */
  options?: PublishOptions;
}

/** Publishes events to a backend. Made by {@linkcode createBus}. */
export interface Bus {
  /** The publishing service's name. */
  readonly source: string;
  /** The backend events are stored in. */
  readonly backend: Backend;
  /** Where the bus logs; workers on it log there unless given their own. */
  readonly logger?: Logger;
  /**
   * Validates and publishes one event.
   *
   * @throws {ValidationError} with the zod issues; nothing is written.
   * @throws {EnvelopeTooLargeError} when it encodes to more than `MAX_ENVELOPE_BYTES`.
   * @throws {RangeError} when `delay` is negative or not finite, or the due time lies more than
   *   365 days ahead.
   * @throws {TypeError} when `at` is not a valid Date, or both `delay` and `at` are given.
   */
  publish<C extends EventContract>(
    contract: C,
    data: EventInput<C>,
    options?: PublishOptions,
  ): Promise<Envelope>;
  /**
   * Validates every event, then publishes them all in one atomic write: all or none. When any
   * item has a `delay` or `at`, the whole batch is written into the schedule in that one write,
   * and the items without one enter their streams from it at once.
   *
   * @throws {ValidationError} for the first invalid payload; nothing is written.
   */
  publishMany(items: readonly PublishItem[]): Promise<Envelope[]>;
  /**
   * Cancels a delayed event (published with `delay` or `at`) that is not due yet.
   *
   * @param id The event's id, as `publish` returned it.
   * @returns `true` when it was cancelled; `false` when no such event waits (it is unknown,
   *   cancelled already, or due and in its stream).
   * @throws {TypeError} when the backend keeps no schedule.
   */
  cancel(id: string): Promise<boolean>;
  /**
   * Starts an atomic operation on `kv` that carries your own writes and events together: both
   * commit or neither does (the transactional outbox).
   */
  atomic(kv: Deno.Kv): OutboxAtomic;
  /**
   * Forwards events left in `kv`'s outbox (a process that stopped between its commit and the
   * forward) to the backend, at least once, deduplicated by event id: one pass. To keep doing
   * it every few seconds, run `relayOutbox(bus, kv)` beside the service.
   *
   * @returns how many events were forwarded.
   */
  relayOutbox(kv: Deno.Kv): Promise<number>;
  /**
   * Validates a payload and builds its envelope, without publishing it.
   *
   * @throws {ValidationError} with the zod issues.
   */
  envelope<C extends EventContract>(
    contract: C,
    data: EventInput<C>,
    options?: PublishOptions,
  ): Envelope;
  /** Closes the backend. */
  close(): Promise<void>;
}

/**
 * Makes a bus over a backend.
 *
 * @param options The backend and the publishing service's name.
 * @returns The bus.
 * @throws {InvalidOptionsError} listing every problem with the options.
 *
 * @example Publishing an event
 * ```ts
 * import { z } from "zod";
 * import { createBus, createMemoryBackend, defineEvent } from "@herald/herald";
 *
 * const UserCreated = defineEvent({
 *   stream: "users",
 *   type: "user.created",
 *   schema: z.object({ id: z.string() }),
 * });
 * const bus = createBus({ backend: createMemoryBackend(), source: "users" });
 * const event = await bus.publish(UserCreated, { id: "u1" });
 * console.log(event.type); // user.created
 * await bus.close();
 * ```
 *
 * @example Publishing an event for later, and cancelling it
 * ```ts
 * import { z } from "zod";
 * import { createBus, createMemoryBackend, defineEvent } from "@herald/herald";
 *
 * const Reminder = defineEvent({
 *   stream: "reminders",
 *   type: "reminder.due",
 *   schema: z.object({ text: z.string() }),
 * });
 * const bus = createBus({ backend: createMemoryBackend(), source: "reminders" });
 * const event = await bus.publish(Reminder, { text: "call Ada" }, { delay: 60_000 });
 * console.log(await bus.cancel(event.id)); // true
 * await bus.close();
 * ```
 */
export function createBus(options: BusOptions): Bus {
  const problems: string[] = [];
  if (typeof options?.backend?.append !== "function") problems.push("backend must be a Backend");
  if (typeof options?.source !== "string" || !NAME_PATTERN.test(options.source)) {
    problems.push(`source must match ${NAME_PATTERN}`);
  }
  const logger = options?.logger;
  if (
    logger !== undefined &&
    !["debug", "info", "warn", "error"].every((l) =>
      typeof logger?.[l as keyof Logger] === "function"
    )
  ) problems.push("logger must have debug, info, warn and error methods");
  problems.push(...pushOptionProblems(options?.push));
  const push = options?.push;
  if (push && options.backend && !hasPushRegistry(options.backend)) {
    problems.push(
      `push needs a backend that keeps push endpoints; ${options.backend.name} does not`,
    );
  }
  if (problems.length > 0) throw new InvalidOptionsError("createBus", problems);
  const log = logger ?? defaultLogger("herald");
  const backend = push && hasPushRegistry(options.backend)
    ? pushingBackend(
      options.backend,
      new Pusher(options.backend, log, push === true ? {} : push),
    )
    : options.backend;
  return new HeraldBus(backend, options.source, log);
}

class HeraldBus implements Bus {
  readonly #health: Reachability;

  constructor(readonly backend: Backend, readonly source: string, readonly logger: Logger) {
    this.#health = reachability(backend);
    this.#health.logger = logger;
  }

  async publish<C extends EventContract>(
    contract: C,
    data: EventInput<C>,
    options?: PublishOptions,
  ): Promise<Envelope> {
    if (publishObserved()) {
      const one = (tp?: string) => this.#publish([{ contract, data, options }], tp);
      return (await observePublish([contract.stream], options?.traceparent, one))[0];
    }
    if (options?.delay !== undefined || options?.at !== undefined) {
      return (await this.#publish([{ contract, data, options }]))[0];
    }
    const encoded = this.#encode(contract, data, options);
    await this.#append([encoded]);
    return encoded.envelope;
  }

  publishMany(items: readonly PublishItem[]): Promise<Envelope[]> {
    if (items.length === 0 || !publishObserved()) return this.#publish(items);
    const streams = [...new Set(items.map((i) => i.contract.stream))];
    return observePublish(streams, items[0].options?.traceparent, (tp) => this.#publish(items, tp));
  }

  /** Publishes `items`; a `traceparent` given here replaces theirs (the producer span's). */
  async #publish(items: readonly PublishItem[], traceparent?: string): Promise<Envelope[]> {
    const now = Date.now();
    const dues = items.map((i) => dueOf(i.options, now));
    const encoded = items.map((i) =>
      this.#encode(
        i.contract,
        i.data,
        traceparent === undefined ? i.options : { ...i.options, traceparent },
      )
    );
    if (dues.some((d) => d !== undefined)) {
      const events = encoded.map((e, i) => ({ envelope: e.envelope, dueAt: dues[i] ?? now }));
      await this.#write(encoded, () => this.#schedule(events));
    } else if (encoded.length > 0) await this.#append(encoded);
    return encoded.map((e) => e.envelope);
  }

  #schedule(events: ScheduledEvent[]): Promise<void> {
    const backend = this.backend;
    if (!isScheduler(backend)) {
      throw new TypeError(`The ${backend.name} backend cannot schedule delayed events`);
    }
    return backend.schedule(events);
  }

  cancel(id: string): Promise<boolean> {
    const backend = this.backend;
    if (typeof id !== "string" || id.length === 0) {
      return Promise.reject(new TypeError("id must be a non-empty string"));
    }
    if (!isScheduler(backend)) {
      return Promise.reject(
        new TypeError(`The ${backend.name} backend cannot schedule delayed events`),
      );
    }
    return backend.cancel(id);
  }

  #append(encoded: { envelope: Envelope; json: string }[]): Promise<void> {
    return this.#write(encoded, () => this.backend.append(encoded.map((e) => e.envelope)));
  }

  /** Runs a write of `encoded`, with their JSON known (see `withJson`), tracking reachability. */
  async #write(
    encoded: { envelope: Envelope; json: string }[],
    write: () => Promise<void>,
  ): Promise<void> {
    try {
      await withJson(encoded, write);
    } catch (err) {
      if (err instanceof BackendUnavailableError) this.#health.down(err);
      throw err;
    }
    this.#health.up();
  }

  atomic(kv: Deno.Kv): OutboxAtomic {
    return new OutboxAtomic(this.backend, kv, (c, d, o) => this.envelope(c, d, o));
  }

  relayOutbox(kv: Deno.Kv): Promise<number> {
    return OutboxAtomic.flush(this.backend, kv);
  }

  async close(): Promise<void> {
    stopForwarding(this.backend);
    await this.backend.close();
    this.#health.forget();
  }

  envelope(contract: EventContract, data: unknown, options?: PublishOptions): Envelope {
    if (publishObserved()) {
      const traceparent = createTraceparent(contract.stream, options?.traceparent);
      if (traceparent !== undefined) options = { ...options, traceparent };
    }
    return encodeEnvelope(
      contract.stream,
      contract.type,
      contract.parse(data),
      this.source,
      { ...options, dataversion: contract.version },
    ).envelope;
  }

  // Validates and builds an envelope, with the JSON its size check made (see withJson).
  #encode(contract: EventContract, data: unknown, options?: PublishOptions) {
    return encodeEnvelope(
      contract.stream,
      contract.type,
      contract.parse(data),
      this.source,
      { ...options, dataversion: contract.version },
    );
  }
}
