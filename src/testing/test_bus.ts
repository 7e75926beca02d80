/**
 * An in-memory bus that remembers what was published, for tests of code that publishes.
 *
 * @module
 */
import type { AppendOptions } from "../backend.ts";
import { type Bus, createBus } from "../bus.ts";
import type { EventContract, EventData } from "../contract.ts";
import type { Envelope } from "../envelope.ts";
import { MemoryBackend } from "../memory/backend.ts";

/** A bus over the in-memory backend that records every event appended through it. */
export interface TestBus extends Bus {
  /** The in-memory backend, with `appendRaw` for injecting foreign entries. */
  readonly backend: MemoryBackend;
  /**
   * The events published so far, oldest first; only the contract's when one is given.
   *
   * @param contract Keep only this contract's events.
   */
  published<C extends EventContract>(contract?: C): Envelope<EventData<C>>[];
  /** Forgets what was recorded. */
  clear(): void;
}

class RecordingBackend extends MemoryBackend {
  readonly log: Envelope[] = [];
  readonly #ids = new Set<string>();

  override async append(events: readonly Envelope[], options?: AppendOptions): Promise<void> {
    await super.append(events, options);
    for (const e of events) {
      if (this.#ids.has(e.id)) continue; // the outbox forwards at least once
      this.#ids.add(e.id);
      this.log.push(structuredClone(e));
    }
  }
}

/**
 * Makes an in-memory bus that records what is published through it.
 *
 * @param options The publishing service's name.
 * @returns The bus.
 *
 * @example Asserting what a function published
 * ```ts
 * import { z } from "zod";
 * import { defineEvent } from "@herald/herald";
 * import { createTestBus } from "@herald/herald/testing";
 *
 * const UserCreated = defineEvent({
 *   stream: "users",
 *   type: "user.created",
 *   schema: z.object({ id: z.string() }),
 * });
 * const bus = createTestBus();
 * await bus.publish(UserCreated, { id: "u1" });
 * console.log(bus.published(UserCreated).map((e) => e.data.id)); // ["u1"]
 * await bus.close();
 * ```
 */
export function createTestBus(options: { source?: string } = {}): TestBus {
  const backend = new RecordingBackend();
  const bus = createBus({ backend, source: options.source ?? "test" });
  return Object.assign(bus, {
    backend,
    published<C extends EventContract>(contract?: C): Envelope<EventData<C>>[] {
      const all = backend.log as Envelope<EventData<C>>[];
      return contract
        ? all.filter((e) => e.stream === contract.stream && e.type === contract.type)
        : [...all];
    },
    clear(): void {
      backend.log.length = 0;
    },
  });
}
