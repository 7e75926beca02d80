/**
 * The transactional outbox: events that commit atomically with the caller's own Deno KV writes.
 *
 * When the bus's backend is the caller's own database (the embedded default with one file),
 * the events are written straight into the stream in the caller's operation. Otherwise they are
 * written into an outbox in the caller's database, forwarded to the backend right after the
 * commit, and swept again by `bus.relayOutbox` if the process stopped in between; the backend
 * deduplicates by event id, so forwarding twice is harmless.
 *
 * @module
 */
import { reachability } from "./telemetry/health.ts";
import { countSent } from "./telemetry/publish.ts";
import { type Backend, isAtomicAppender } from "./backend.ts";
import type { EventContract, EventInput } from "./contract.ts";
import type { Envelope, PublishOptions } from "./envelope.ts";
import { forwardSoon } from "./forwarder.ts";
import { retryLocked } from "./locked.ts";
import { deleteForwarded } from "./outbox_cleanup.ts";

/** The key prefix of outbox entries in the caller's database. */
export const OUTBOX_PREFIX: readonly ["herald_outbox"] = ["herald_outbox"];

/** How many outbox entries one sweep forwards in one append. */
const FLUSH_BATCH = 50;

/** The result of {@linkcode OutboxAtomic.commit}: Deno KV's result plus the events. */
export type OutboxCommitResult =
  | (Deno.KvCommitResult & { events: Envelope[] })
  | (Deno.KvCommitError & { events: Envelope[]; duplicate?: boolean });

type Step = (op: Deno.AtomicOperation) => void;
type MakeEnvelope = (c: EventContract, data: unknown, o?: PublishOptions) => Envelope;

/**
 * An atomic operation on a Deno KV database that can also publish events. Made by
 * `bus.atomic(kv)` (or `ctx.atomic(kv)` in a handler); mirrors `Deno.AtomicOperation`.
 *
 * @example Writing a user and publishing its event together
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
 * const db = await Deno.openKv(":memory:");
 * const result = await bus.atomic(db)
 *   .check({ key: ["users", "u1"], versionstamp: null })
 *   .set(["users", "u1"], { id: "u1" })
 *   .publish(UserCreated, { id: "u1" })
 *   .commit();
 * console.log(result.ok, result.events.length); // true 1
 * db.close();
 * await bus.close();
 * ```
 */
export class OutboxAtomic {
  #steps: Step[] = [];
  #events: Envelope[] = [];

  /**
   * Starts an empty atomic operation; `bus.atomic(db)` and `ctx.atomic(db)` make these.
   *
   * @param backend Where the events go.
   * @param kv The caller's database.
   * @param makeEnvelope Validates a payload and builds its envelope.
   * @param defaults Publish options applied to every event (a handler's correlation).
   * @param applied In a handler: the key recording "this event was applied", and how long it
   *   is kept (Deno KV deletes it after `expireIn` ms).
   */
  constructor(
    private readonly backend: Backend,
    private readonly kv: Deno.Kv,
    private readonly makeEnvelope: MakeEnvelope,
    private readonly defaults: PublishOptions = {},
    private readonly applied?: { key: Deno.KvKey; expireIn: number },
  ) {}

  /** Adds checks, as `Deno.AtomicOperation.check`. */
  check(...checks: Deno.AtomicCheck[]): this {
    this.#steps.push((op) => op.check(...checks));
    return this;
  }

  /** Sets a key, as `Deno.AtomicOperation.set`. */
  set(key: Deno.KvKey, value: unknown, options?: { expireIn?: number }): this {
    this.#steps.push((op) => op.set(key, value, options));
    return this;
  }

  /** Deletes a key, as `Deno.AtomicOperation.delete`. */
  delete(key: Deno.KvKey): this {
    this.#steps.push((op) => op.delete(key));
    return this;
  }

  /** Adds to a `Deno.KvU64`, as `Deno.AtomicOperation.sum`. */
  sum(key: Deno.KvKey, n: bigint): this {
    this.#steps.push((op) => op.sum(key, n));
    return this;
  }

  /** Adds a raw mutation, as `Deno.AtomicOperation.mutate`. */
  mutate(...mutations: Deno.KvMutation[]): this {
    this.#steps.push((op) => op.mutate(...mutations));
    return this;
  }

  /**
   * Publishes an event when the operation commits.
   *
   * @throws {ValidationError} at once when the payload does not match its contract.
   * @throws {TypeError} when `options` has `delay` or `at`: the outbox publishes at commit.
   */
  publish<C extends EventContract>(
    contract: C,
    data: EventInput<C>,
    options?: PublishOptions,
  ): this {
    if (options?.delay !== undefined || options?.at !== undefined) {
      throw new TypeError(
        "An atomic operation publishes at its commit: delay and at are for bus.publish and " +
          "ctx.publish",
      );
    }
    this.#events.push(this.makeEnvelope(contract, data, { ...this.defaults, ...options }));
    return this;
  }

  /**
   * Commits the writes and the events together.
   *
   * @returns Deno KV's result (`ok: false` when a check failed: nothing was written or
   * published) and the events; in a handler, `duplicate: true` when it failed because this
   * event was already applied.
   */
  async commit(): Promise<OutboxCommitResult> {
    const result = await this.#commit();
    if (!result.ok && this.applied) {
      // Tell "this event was applied before" apart from the caller's own checks failing.
      const key = this.applied.key;
      result.duplicate = (await retryLocked(() => this.kv.get(key))).versionstamp !== null;
    }
    return result;
  }

  async #commit(): Promise<OutboxCommitResult> {
    const events = this.#events;
    const applied = this.applied;
    const build: Step = (op) => {
      if (applied) {
        op.check({ key: applied.key, versionstamp: null })
          .set(applied.key, Date.now(), { expireIn: applied.expireIn });
      }
      for (const step of this.#steps) step(op);
    };
    if (events.length > 0 && isAtomicAppender(this.backend)) {
      const result = await this.backend.appendAtomic(this.kv, build, events);
      if (result !== "foreign") {
        if (result.ok) countSent(events);
        return { ...result, events };
      }
    }
    // Another process may hold the file (replicas share it): retried inside, never thrown.
    const result = await retryLocked(() => {
      const op = this.kv.atomic();
      build(op);
      for (const e of events) op.set([...OUTBOX_PREFIX, e.id], e);
      return op.commit();
    });
    if (!result.ok || events.length === 0) return { ...result, events };
    try {
      await this.backend.append(events, { dedupe: true });
      await deleteForwarded(this.kv, events.map((e) => [...OUTBOX_PREFIX, e.id]));
      countSent(events);
    } catch (err) {
      // The events are safe in the outbox: forwarded as soon as the backend answers again.
      reachability(this.backend).logger.warn("outbox forward deferred", { error: err });
      forwardSoon(this.backend, this.kv, OutboxAtomic.flush);
    }
    return { ...result, events };
  }

  /** Forwards what is left in `kv`'s outbox; see `Bus.relayOutbox`. */
  static async flush(backend: Backend, kv: Deno.Kv): Promise<number> {
    let forwarded = 0;
    while (true) {
      const batch: Deno.KvEntry<Envelope>[] = [];
      for await (
        const entry of kv.list<Envelope>({ prefix: OUTBOX_PREFIX }, { limit: FLUSH_BATCH })
      ) {
        batch.push(entry);
      }
      if (batch.length === 0) return forwarded;
      await backend.append(batch.map((e) => e.value), { dedupe: true });
      await retryLocked(() => {
        const op = kv.atomic();
        for (const e of batch) op.delete(e.key);
        return op.commit();
      });
      countSent(batch.map((e) => e.value));
      forwarded += batch.length;
      if (batch.length < FLUSH_BATCH) return forwarded;
    }
  }
}
