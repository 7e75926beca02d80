/**
 * The backend conformance suite: one set of cases that every backend runs, so that all of them
 * keep one semantic model. Cases a backend cannot pass are skipped by name with a reason.
 *
 * @module
 */
import { defaultLogger } from "../telemetry/log.ts";
import type { Backend, Delivery } from "../backend.ts";
import { createEnvelope, type Envelope } from "../envelope.ts";
import { type CaseName, CASES } from "./conformance_cases.ts";
import { JOURNEY_CASE_NAMES } from "./conformance_trace_cases.ts";

export type { CaseName };

/** A backend under test, made fresh for each case. */
export interface ConformanceTarget {
  /** The backend. The suite closes it after the case. */
  backend: Backend;
  /**
   * Writes anything into a stream, as a foreign writer could. Without it, the malformed-entry
   * case fails: skip it by name in `skip`, with the reason.
   */
  appendRaw?(stream: string, value: unknown): Promise<void>;
  /** Called after the backend is closed: remove files, keys. */
  cleanup?(): Promise<void>;
}

/** Options of {@linkcode testBackendConformance}. */
export interface ConformanceOptions {
  /** The name the cases are reported under, such as `kv (file)`. */
  name: string;
  /** Makes a fresh target for one case, with the backend's default options. */
  make: () => Promise<ConformanceTarget>;
  /**
   * Makes a fresh target whose backend was made with `journeys: true`, for the cases of
   * `trace()`. Without it those cases are skipped, with that reason.
   */
  journeys?: () => Promise<ConformanceTarget>;
  /** Cases this backend does not pass, each with the reason. */
  skip?: Readonly<Record<CaseName, string>>;
  /** When set, every case is ignored and this reason printed (such as "Redis is not running"). */
  ignore?: string;
  /**
   * Whether `Deno.test` checks that each case leaves no timer or other async operation pending.
   * Turn it off only for a client that may keep a timer of its own past its close (ioredis's
   * Cluster did under load, most likely a slot refresh's one-second timeout).
   * @default {true}
   */
  sanitizeOps?: boolean;
}

/**
 * Registers the conformance cases with `Deno.test`.
 *
 * @param options The backend factory and what it skips.
 *
 * @example Running the suite against the in-memory backend
 * ```ts ignore
 * import { createMemoryBackend } from "@herald/herald";
 * import { testBackendConformance } from "@herald/herald/backend";
 *
 * testBackendConformance({ name: "memory", make: () => Promise.resolve({ backend: createMemoryBackend() }) });
 * ```
 */
export function testBackendConformance(options: ConformanceOptions): void {
  if (options.ignore) {
    defaultLogger(options.name).warn("conformance skipped", { reason: options.ignore });
  }
  const unknown = Object.keys(options.skip ?? {}).filter((name) => !(name in CASES));
  if (unknown.length > 0) throw new TypeError(`No conformance case named ${unknown.join(", ")}`);
  for (const [name, run] of Object.entries(CASES)) {
    const make = JOURNEY_CASE_NAMES.has(name) ? options.journeys : options.make;
    const reason = options.skip?.[name] ??
      (make ? undefined : "no target with journeys: true (give `journeys`)");
    Deno.test({
      name: `${options.name}: ${name}${reason ? ` (skipped: ${reason})` : ""}`,
      sanitizeOps: options.sanitizeOps ?? true,
      ignore: Boolean(options.ignore || reason),
      async fn() {
        const target = await make!();
        try {
          await run(new CaseKit(target));
        } finally {
          await target.backend.close();
          await target.cleanup?.();
        }
      },
    });
  }
}

/** One conformance case. */
export type CaseFn = (kit: CaseKit) => Promise<void>;

/** Helpers each case uses: unique names, events, claims. */
export class CaseKit {
  /** A suffix unique to this case, so cases never share streams or groups. */
  readonly id: string = crypto.randomUUID().slice(0, 8);

  /** @param target The backend under test. */
  constructor(readonly target: ConformanceTarget) {}

  /** The backend under test. */
  get backend(): Backend {
    return this.target.backend;
  }

  /** A stream or group name unique to this case. */
  name(base: string): string {
    return `${base}-${this.id}`;
  }

  /** Makes `n` envelopes on `stream`, data `{ n: i }`. */
  events(stream: string, n: number, type = "thing.happened"): Envelope<{ n: number }>[] {
    return Array.from({ length: n }, (_, i) => createEnvelope(stream, type, { n: i }, "conf"));
  }

  /** Claims with sensible defaults and no waiting. */
  claim(
    group: string,
    streams: string[],
    options: { consumer?: string; max?: number; leaseMs?: number; waitMs?: number } = {},
  ): Promise<Delivery[]> {
    return this.backend.claim(group, streams, {
      consumer: options.consumer ?? "c1",
      max: options.max ?? 100,
      leaseMs: options.leaseMs ?? 30_000,
      waitMs: options.waitMs ?? 0,
    });
  }

  /** Claims until `n` deliveries came back or `timeoutMs` passed. */
  async claimUntil(
    group: string,
    streams: string[],
    n: number,
    options: { consumer?: string; leaseMs?: number; timeoutMs?: number } = {},
  ): Promise<Delivery[]> {
    const out: Delivery[] = [];
    const deadline = Date.now() + (options.timeoutMs ?? 5_000);
    while (out.length < n && Date.now() < deadline) {
      out.push(
        ...await this.claim(group, streams, { ...options, max: n - out.length, waitMs: 50 }),
      );
    }
    return out;
  }
}

/** The `n` values of deliveries, in order. */
export function ns(deliveries: readonly Delivery[]): number[] {
  return deliveries.map((d) => (d.envelope?.data as { n: number }).n);
}
