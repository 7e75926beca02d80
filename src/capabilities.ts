/**
 * Optional backend capabilities beyond {@linkcode Backend}: a shared rate-limit count
 * ({@linkcode RateLimits}) and a registry of push endpoints ({@linkcode PushRegistry}). A
 * backend declares one by implementing its methods; the conformance suite checks them where they
 * exist. Memory, Deno KV and Redis implement both.
 *
 * @module
 */
import type { Backend } from "./backend.ts";

/**
 * A rate-limit count shared by every process on the backend: fixed windows of `perMs`
 * milliseconds, aligned to the epoch.
 *
 * Guarantee: within one window, `takeRate` gives out at most `max` permits per name, across every
 * process sharing the backend.
 */
export interface RateLimits {
  /**
   * Takes one permit of `name` if the current window has one left.
   *
   * @returns `0` when taken; otherwise how long until the next window, in milliseconds.
   */
  takeRate(name: string, max: number, perMs: number): Promise<number>;
}

/** Where a consumer group wants to be woken when events arrive on its streams. */
export interface PushEndpoint {
  /** The consumer group. */
  readonly group: string;
  /** The URL the wake-up is posted to, such as `https://posts.example.com/herald/push`. */
  readonly url: string;
  /** The Standard Webhooks secret (`whsec_` and base64) the wake-up is signed with. */
  readonly secret: string;
}

/**
 * The push endpoints of consumer groups, kept in the backend so that a publisher in any service
 * finds the endpoints of the groups reading its streams.
 *
 * Guarantee: after `setPushEndpoint` resolves, `pushEndpoints` of each of its streams lists the
 * group with that endpoint (one entry per group: the last one set), in every process; after
 * `setPushEndpoint(group, streams, null)`, none.
 */
export interface PushRegistry {
  /** Sets (or, with `null`, removes) the push endpoint of `group` on each of `streams`. */
  setPushEndpoint(
    group: string,
    streams: readonly string[],
    endpoint: { url: string; secret: string } | null,
  ): Promise<void>;
  /** The push endpoints of the groups on `stream`. */
  pushEndpoints(stream: string): Promise<PushEndpoint[]>;
}

/** Tells whether a backend keeps a shared rate-limit count. */
export function hasRateLimits(backend: Backend): backend is Backend & RateLimits {
  return typeof (backend as Partial<RateLimits>).takeRate === "function";
}

/** Tells whether a backend keeps push endpoints. */
export function hasPushRegistry(backend: Backend): backend is Backend & PushRegistry {
  const b = backend as Partial<PushRegistry>;
  return typeof b.setPushEndpoint === "function" && typeof b.pushEndpoints === "function";
}

/** The window a rate-limit permit taken at `now` belongs to, and when it ends. */
export function rateWindow(now: number, perMs: number): { index: number; endsAt: number } {
  const index = Math.floor(now / perMs);
  return { index, endsAt: (index + 1) * perMs };
}
