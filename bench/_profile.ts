/**
 * A light profile of a role's Deno KV calls: how many commits, lists and reads it made and the
 * time spent in them, found by wrapping the `Deno.Kv` prototype methods in this process only.
 * It answers "which calls dominate?" without touching the library.
 *
 * @module
 */

/** Calls and milliseconds per Deno KV method. */
export type KvProfile = Record<string, { calls: number; ms: number; failed: number }>;

/** Starts counting; returns a function that reads the counts so far. */
export function profileKv(): () => KvProfile {
  const profile: KvProfile = {};
  const wrap = (proto: Record<string, unknown>, name: string, label: string) => {
    const original = proto[name] as (...args: unknown[]) => unknown;
    const slot = profile[label] = { calls: 0, ms: 0, failed: 0 };
    proto[name] = function (this: unknown, ...args: unknown[]) {
      slot.calls++;
      const start = performance.now();
      const result = original.apply(this, args);
      if (result instanceof Promise) {
        return result.then(
          (v) => {
            slot.ms += performance.now() - start;
            if (v && typeof v === "object" && "ok" in v && v.ok === false) slot.failed++;
            return v;
          },
          (e) => {
            slot.ms += performance.now() - start;
            slot.failed++;
            throw e;
          },
        );
      }
      return result;
    };
  };
  const kv = Deno.Kv.prototype as unknown as Record<string, unknown>;
  const atomic = Deno.AtomicOperation.prototype as unknown as Record<string, unknown>;
  wrap(atomic, "commit", "commit");
  wrap(kv, "get", "get");
  wrap(kv, "getMany", "getMany");
  wrap(kv, "set", "set");
  // list returns an async iterator, not a promise: count calls only.
  wrap(kv, "list", "list");
  return () => structuredClone(profile);
}
