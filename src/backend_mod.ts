/**
 * What only a backend author needs: the contract a storage backend implements and the
 * conformance suite it must pass. An application never imports this module: it makes a backend
 * with `createKvBackend()`, `createMemoryBackend()` or `createRedisBackend()` and hands it to
 * `createBus`.
 *
 * A backend is a {@linkcode Backend}: {@linkcode Storage} (append, subscribe, claim, extend,
 * settle, close, with the guarantees every backend gives), {@linkcode Inspector} (streams,
 * groups, dead letters, positions), {@linkcode Locks} (`tryLock`) and {@linkcode Tracer}
 * (events by correlation id). The types it reads and returns that applications also see
 * (`Envelope`, `DeadLetter`, `StreamInfo`, `GroupInfo`, `StartPosition`, `ErrorInfo`, …) are
 * exported from `@herald/herald`.
 *
 * @example Running the conformance suite against a backend
 * ```ts ignore
 * import { createMemoryBackend } from "@herald/herald";
 * import { testBackendConformance } from "@herald/herald/backend";
 *
 * testBackendConformance({
 *   name: "memory",
 *   make: () => Promise.resolve({ backend: createMemoryBackend() }),
 * });
 * ```
 *
 * @example Naming the contract in a wrapper
 * ```ts
 * import { createMemoryBackend } from "@herald/herald";
 * import type { Backend } from "@herald/herald/backend";
 *
 * function traced(backend: Backend): Backend {
 *   console.log(`using the ${backend.name} backend`);
 *   return backend;
 * }
 * await traced(createMemoryBackend()).close();
 * ```
 *
 * @module
 */
export type {
  AppendOptions,
  AtomicAppender,
  Backend,
  BackendFeatures,
  ClaimOptions,
  Delivery,
  Locks,
  Settlement,
  Storage,
} from "./backend.ts";
export type { PushEndpoint, PushRegistry, RateLimits } from "./capabilities.ts";
export type { Inspector } from "./inspect.ts";
export type { Promotion, ScheduledEvent, Scheduler } from "./schedule.ts";
export type { Tracer } from "./trace.ts";
export {
  type CaseName,
  type ConformanceOptions,
  type ConformanceTarget,
  testBackendConformance,
} from "./testing/conformance.ts";
