/**
 * Herald: typed events, a reliable bus and workers for Deno services.
 *
 * Define event contracts with zod, publish them (alone, in batches, or atomically with your own
 * Deno KV writes), handle them in consumer groups with retries and dead letters, and run a
 * service's HTTP routes, handlers and cron jobs from one `deno serve` entry.
 *
 * The embedded default backend is Deno KV on a local file (`createKvBackend()`); Redis Streams is in
 * `@herald/herald/redis`; the test kit is in `@herald/herald/testing`; what only a backend author
 * needs (the `Backend` contract and its conformance suite) is in `@herald/herald/backend`.
 *
 * Naming: a function that makes an object with a lifecycle (one you start, stop or close) is
 * `createX`: `createBus`, `createWorker`, `createKvBackend`, `createService`, … No class is exported
 * beside its factory: `KvBackend`, `OutboxAtomic` and the like are exported as types only.
 * `defineEvent` and `defineCron` are `defineX` because they declare static contracts (a stream,
 * a type and a schema; a name and a schedule) rather than make objects with a lifecycle.
 *
 * @example Publish and handle a typed event
 * ```ts
 * import { z } from "zod";
 * import { createBus, createKvBackend, createWorker, defineEvent } from "@herald/herald";
 *
 * const UserCreated = defineEvent({
 *   stream: "users",
 *   type: "user.created",
 *   schema: z.object({ id: z.string(), email: z.string().email() }),
 * });
 *
 * const bus = createBus({ backend: createKvBackend({ path: ":memory:" }), source: "users" });
 * const seen: string[] = [];
 * const worker = createWorker({ bus, group: "mailer" })
 *   .on(UserCreated, (event) => {
 *     seen.push(event.data.email);
 *   });
 * await worker.start();
 * await bus.publish(UserCreated, { id: "u1", email: "ada@example.com" });
 * while (seen.length === 0) await new Promise((r) => setTimeout(r, 5));
 * await worker.stop();
 * await bus.close();
 * ```
 *
 * @module
 */
export type { DeadLetter, ErrorInfo, StartPosition } from "./src/backend.ts";
export type {
  ConsumerInfo,
  DeadLetterQuery,
  GroupInfo,
  PeekOptions,
  PeekPage,
  Position,
  PurgeOptions,
  Retention,
  StreamEvent,
  StreamInfo,
} from "./src/inspect.ts";
export { type Bus, type BusOptions, createBus, type PublishItem } from "./src/bus.ts";
export type { PushOptions } from "./src/push/sender.ts";
export {
  type Journey,
  journey,
  type JourneyNode,
  type Reach,
  type ReachState,
  type Trace,
  TRACE_LIMIT,
  type TracedEvent,
  type TraceOptions,
} from "./src/trace.ts";
export {
  type DecodedPayload,
  decodePayload,
  defineEvent,
  type EventContract,
  type EventContractOptions,
  type EventData,
  type EventInput,
  type Schema,
} from "./src/contract.ts";
export { type CronDeclaration, defineCron } from "./src/cron.ts";
export { decodeEvent } from "./src/decode.ts";
export {
  createEnvelope,
  type Envelope,
  envelopeProblem,
  MAX_ENVELOPE_BYTES,
  type PublishOptions,
} from "./src/envelope.ts";
export {
  BackendUnavailableError,
  DoNotRetryError,
  EnvelopeTooLargeError,
  HandlerTimeoutError,
  HeraldError,
  type HeraldErrorCode,
  InvalidOptionsError,
  LeaseLostError,
  MalformedEventError,
  NotFoundError,
  RetryLaterError,
  type SchemaIssue,
  UnknownEventError,
  ValidationError,
} from "./src/errors.ts";
export type { Handler, HandlerContext, HandlerOptions, Middleware } from "./src/handler.ts";
export type { RateLimit } from "./src/flow.ts";
export type { DrainOptions, DrainResult } from "./src/drain.ts";
export { idTime, newId } from "./src/id.ts";
export {
  createKvBackend,
  DEFAULT_MAX_LENGTH,
  type KvBackend,
  type KvOptions,
  type KvStats,
  type RetentionOptions,
} from "./src/kv/mod.ts";
export { createMemoryBackend, type MemoryBackend, type MemoryOptions } from "./src/memory/mod.ts";
export type { OutboxAtomic, OutboxCommitResult } from "./src/outbox.ts";
export { MAX_DELAY_MS } from "./src/schedule.ts";
export { type RelayOptions, relayOutbox } from "./src/relay.ts";
export { backoff, DEFAULT_RETRY, type RetryPolicy } from "./src/retry.ts";
export {
  createService,
  type CronContext,
  type CronJob,
  type FetchApp,
  type PushConfig,
  type Role,
  type Service,
  type ServiceOptions,
} from "./src/runtime/mod.ts";
export {
  createLogger,
  type LogFields,
  type Logger,
  type LoggerOptions,
  type LogLevel,
} from "./src/telemetry/log.ts";
export type {
  DeadInfo,
  RetryInfo,
  WorkerErrorInfo,
  WorkerObserveOptions,
} from "./src/telemetry/hooks.ts";
export {
  createWorker,
  type EventWorker,
  type StopOptions,
  type WorkerOptions,
  type WorkerStats,
} from "./src/worker.ts";
