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

/** Calls, milliseconds and items per backend method. */
export type BackendProfile = Record<string, { calls: number; ms: number; items: number }>;

/**
 * Wraps a backend's `append`, `claim`, `settle` and `extend` on this object to count calls, time
 * and items (events appended, deliveries claimed, settlements written).
 */
export function profileBackend(backend: object): () => BackendProfile {
  const profile: BackendProfile = {};
  const b = backend as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of ["append", "claim", "settle", "extend"]) {
    const original = b[name].bind(backend);
    const slot = profile[name] = { calls: 0, ms: 0, items: 0 };
    b[name] = async (...args: unknown[]) => {
      slot.calls++;
      const start = performance.now();
      try {
        const result = await original(...args);
        const counted = name === "claim" ? result : name === "append" ? args[0] : args[1];
        if (Array.isArray(counted)) slot.items += counted.length;
        return result;
      } finally {
        slot.ms += performance.now() - start;
      }
    };
  }
  return () => structuredClone(profile);
}

/** Counts this process's HTTP requests (the REST client's round trips) by path. */
export function profileFetch(): () => Record<string, { calls: number; ms: number }> {
  const profile: Record<string, { calls: number; ms: number }> = {};
  const original = globalThis.fetch;
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const slot = profile[url.pathname] ??= { calls: 0, ms: 0 };
    slot.calls++;
    const start = performance.now();
    try {
      return await original(input, init);
    } finally {
      slot.ms += performance.now() - start;
    }
  };
  return () => structuredClone(profile);
}

/** Counts the Redis commands this process sends through ioredis, by name. */
export async function profileIoredis(): Promise<() => Record<string, number>> {
  const counts: Record<string, number> = {};
  // The module src/redis/tcp.ts loads too, so patching its prototype counts Herald's commands.
  const { Redis } = await import("ioredis");
  const proto = Redis.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const original = proto.sendCommand;
  proto.sendCommand = function (this: unknown, command: unknown, ...rest: unknown[]) {
    const name = (command as { name?: string }).name ?? "?";
    counts[name] = (counts[name] ?? 0) + 1;
    return original.call(this, command, ...rest);
  };
  return () => ({ ...counts });
}

/** What one role process reported about its calls (see the Herald roles). */
export interface RoleDetail {
  calls?: BackendProfile;
  kv?: KvProfile;
  http?: Record<string, { calls: number; ms: number }>;
  redis?: Record<string, number>;
  /** Producer: how long each publish call took. */
  callMs?: { p50: number; p99: number; n: number };
  /** Consumer: publish stamp to claim returned, and claim returned to handler. */
  untilClaimedMs?: { p50: number; p99: number; n: number };
  claimToHandlerMs?: { p50: number; p99: number; n: number };
  /** CPU time the process used while it worked. */
  cpuMs?: number;
}

/** One line per process: the calls that dominate, per event handled or published. */
export function describeProfile(
  who: string,
  detail: RoleDetail | undefined,
  events: number,
): string | undefined {
  if (!detail || events <= 0) return undefined;
  const per = (n: number) => (n / events).toFixed(2);
  const parts: string[] = [];
  if (detail.cpuMs !== undefined) {
    parts.push(`CPU ${(detail.cpuMs * 1000 / events).toFixed(0)} µs/ev`);
  }
  for (const [name, c] of Object.entries(detail.calls ?? {})) {
    if (c.calls === 0) continue;
    parts.push(`${name} ${per(c.calls)}/ev ${(c.ms / c.calls).toFixed(2)} ms/call`);
  }
  const commit = detail.kv?.commit;
  if (commit && commit.calls > 0) {
    parts.push(`KV commits ${per(commit.calls)}/ev (${per(commit.failed)} failed)`);
    for (const name of ["list", "get", "getMany"]) {
      const c = detail.kv?.[name];
      if (c && c.calls > 0) parts.push(`${name} ${per(c.calls)}/ev`);
    }
  }
  for (const [path, c] of Object.entries(detail.http ?? {})) {
    parts.push(`HTTP ${path} ${per(c.calls)}/ev ${(c.ms / c.calls).toFixed(1)} ms`);
  }
  const commands = Object.entries(detail.redis ?? {}).filter(([, n]) => n >= events / 100);
  if (commands.length > 0) {
    parts.push(commands.map(([name, n]) => `${name} ${per(n)}/ev`).join(" "));
  }
  const pct = (label: string, x?: { p50: number; p99: number; n: number }) => {
    if (x && x.n > 0) parts.push(`${label} p50 ${x.p50.toFixed(2)} p99 ${x.p99.toFixed(2)} ms`);
  };
  pct("call", detail.callMs);
  pct("stamp→claimed", detail.untilClaimedMs);
  pct("claimed→handler", detail.claimToHandlerMs);
  return parts.length > 0 ? `${who}: ${parts.join(", ")}` : undefined;
}
