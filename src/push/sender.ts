/**
 * The publisher's side of push: after events commit, a signed wake-up goes to the push endpoint
 * of every group subscribed to their streams. It runs in the background and is coalesced (per
 * endpoint, one wake-up in flight and at most one more queued, however many events arrive), so it
 * never slows a publish. A failed wake-up is logged and loses nothing: the events stay in the
 * stream for the next wake-up or the cron drain. After a failure, the endpoint gets no wake-up for
 * a while (1 s, doubling up to 30 s), so an endpoint that is down costs the publisher nothing.
 *
 * @module
 */
import type { PushEndpoint, PushRegistry } from "../capabilities.ts";
import type { Logger } from "../telemetry/log.ts";
import { signPush } from "./sign.ts";

/** Options of push from a bus (`createBus({ push })`). */
export interface PushOptions {
  /**
   * How long endpoints read from the backend are reused, in milliseconds: a group that
   * registers is woken by publishers at most this long after.
   * @default {5000}
   */
  cacheMs?: number;
  /**
   * How long a wake-up may take (the receiver drains before it answers), in milliseconds.
   * @default {30000}
   */
  timeoutMs?: number;
}

/** What is wrong with push options. */
export function pushOptionProblems(options: unknown): string[] {
  if (options === undefined || options === true || options === false) return [];
  if (typeof options !== "object" || options === null) {
    return ["push must be true, false or { cacheMs?, timeoutMs? }"];
  }
  const o = options as PushOptions;
  return (["cacheMs", "timeoutMs"] as const).flatMap((k) =>
    o[k] !== undefined && !(Number.isInteger(o[k]) && o[k]! >= 0)
      ? [`push.${k} must be an integer ≥ 0`]
      : []
  );
}

interface Target {
  endpoint: PushEndpoint;
  streams: Set<string>;
  sending?: Promise<void>;
  again: boolean;
  /** Failed wake-ups in a row. */
  failures: number;
  /** After a failure, no wake-up goes to it before this time (ms since the epoch). */
  downUntil: number;
}

/** The wait after a failed wake-up before the next one, doubling, in milliseconds. */
const FAILED_MIN_MS = 1_000, FAILED_MAX_MS = 30_000;

/** Sends wake-ups for committed events. */
export class Pusher {
  readonly #registry: PushRegistry;
  readonly #logger: Logger;
  readonly #cacheMs: number;
  readonly #timeoutMs: number;
  readonly #cache = new Map<string, { at: number; endpoints: Promise<PushEndpoint[]> }>();
  readonly #targets = new Map<string, Target>();
  readonly #work = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #closed = false;

  /**
   * @param registry Where the endpoints are kept (the bus's backend).
   * @param logger Where failed and recovered wake-ups are logged (the bus's logger).
   * @param options Cache and timeout.
   */
  constructor(registry: PushRegistry, logger: Logger, options: PushOptions = {}) {
    this.#registry = registry;
    this.#logger = logger;
    this.#cacheMs = options.cacheMs ?? 5_000;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Wakes the groups on these events' streams, in the background. Never throws. */
  notify(events: readonly { stream: string }[]): void {
    if (this.#closed) return;
    for (const stream of new Set(events.map((e) => e.stream))) this.#track(this.#wake(stream));
  }

  /** Lets wake-ups in flight finish for up to `waitMs`, then abandons them. */
  async close(waitMs = 1_000): Promise<void> {
    this.#closed = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((r) => timer = setTimeout(r, waitMs));
    while (this.#work.size > 0) {
      const settled = await Promise.race([Promise.all(this.#work).then(() => true), late]);
      if (!settled) {
        this.#abort.abort(new Error("The bus closed"));
        await Promise.all(this.#work);
      }
    }
    clearTimeout(timer);
  }

  #track(work: Promise<void>): void {
    this.#work.add(work);
    work.finally(() => this.#work.delete(work));
  }

  async #wake(stream: string): Promise<void> {
    let endpoints: PushEndpoint[];
    try {
      endpoints = await this.#endpoints(stream);
    } catch (err) {
      this.#logger.warn("push endpoints could not be read", { stream, error: err });
      return;
    }
    for (const endpoint of endpoints) {
      const key = `${endpoint.group} ${endpoint.url}`;
      const target = this.#targets.get(key) ??
        { endpoint, streams: new Set(), again: false, failures: 0, downUntil: 0 };
      target.endpoint = endpoint;
      target.streams.add(stream);
      this.#targets.set(key, target);
      if (target.sending) target.again = true;
      else if (Date.now() < target.downUntil) continue; // failing: the next publish after retries
      else this.#track(target.sending = this.#send(key, target));
    }
  }

  #endpoints(stream: string): Promise<PushEndpoint[]> {
    const cached = this.#cache.get(stream);
    if (cached && Date.now() - cached.at < this.#cacheMs) return cached.endpoints;
    const endpoints = this.#registry.pushEndpoints(stream);
    this.#cache.set(stream, { at: Date.now(), endpoints });
    endpoints.catch(() => this.#cache.delete(stream));
    return endpoints;
  }

  // One wake-up at a time per endpoint; events that arrive meanwhile ask for one more after it.
  async #send(key: string, target: Target): Promise<void> {
    do {
      target.again = false;
      const streams = [...target.streams];
      target.streams.clear();
      const failed = !await this.#post(target, streams);
      if (failed) {
        for (const stream of streams) target.streams.add(stream);
        break;
      }
    } while (target.again && !this.#abort.signal.aborted);
    target.sending = undefined;
    if (target.streams.size === 0 && target.failures === 0) this.#targets.delete(key);
  }

  /** Posts one wake-up; tells whether it was answered 2xx. Logs the first failure in a row. */
  async #post(target: Target, streams: string[]): Promise<boolean> {
    const endpoint = target.endpoint;
    const { headers, body } = signPush(endpoint.secret, { group: endpoint.group, streams });
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#timeoutMs)]);
    const fields = { url: endpoint.url, group: endpoint.group };
    try {
      const res = await fetch(endpoint.url, { method: "POST", headers, body, signal });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      if (target.failures > 0) this.#logger.info("push works again", fields);
      target.failures = 0;
      return true;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      const wait = Math.min(FAILED_MAX_MS, FAILED_MIN_MS * 2 ** target.failures++);
      target.downUntil = Date.now() + wait;
      if (target.failures === 1) {
        this.#logger.warn(
          "push failed; its events wait in the stream for the next push or the cron drain " +
            "(no push to it for a while, longer while it keeps failing)",
          { ...fields, error: why, waitMs: wait },
        );
      }
      return false;
    }
  }
}
