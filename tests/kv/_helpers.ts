/**
 * Helpers shared by the Deno KV backend tests.
 *
 * @module
 */
import { createEnvelope, type Envelope } from "../../src/envelope.ts";
import type { Backend, Delivery } from "../../src/backend.ts";
import { createKvBackend, type KvBackend, type KvOptions } from "../../src/kv/mod.ts";
export { until } from "../_until.ts";

/** Makes `n` envelopes on `stream` whose data is their index. */
export function events(stream: string, n: number, from = 0): Envelope[] {
  return Array.from(
    { length: n },
    (_, i) => createEnvelope(stream, "test.happened", { i: from + i }, "tests"),
  );
}

/** A fresh temporary database file path, in its own folder. */
export async function tempDb(): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "herald-kv-" });
  return { path: `${dir}/bus.db`, cleanup: () => Deno.remove(dir, { recursive: true }) };
}

/**
 * Runs `fn` with two backends on one fresh database file (two connections, as two processes
 * would have), then closes both and removes the file.
 */
export async function twoConnections(
  fn: (a: KvBackend, b: KvBackend) => Promise<void>,
): Promise<void> {
  const db = await tempDb();
  const a = createKvBackend({ path: db.path });
  const b = createKvBackend({ path: db.path });
  try {
    await fn(a, b);
  } finally {
    await a.close();
    await b.close();
    await db.cleanup();
  }
}

/** Claims until `n` deliveries arrived or the deadline passed. */
export async function claimN(
  backend: Backend,
  group: string,
  streams: string[],
  n: number,
  options: { consumer?: string; leaseMs?: number; deadlineMs?: number } = {},
): Promise<Delivery[]> {
  const out: Delivery[] = [];
  const deadline = Date.now() + (options.deadlineMs ?? 5_000);
  while (out.length < n && Date.now() < deadline) {
    const got = await backend.claim(group, streams, {
      consumer: options.consumer ?? "c1",
      max: n - out.length,
      leaseMs: options.leaseMs ?? 30_000,
      waitMs: Math.min(200, Math.max(0, deadline - Date.now())),
    });
    out.push(...got);
  }
  return out;
}

/** The `i` of an event made by {@linkcode events}. */
export function indexOf(d: Delivery): number {
  return (d.envelope!.data as { i: number }).i;
}

/** Runs `fn` with a backend on ":memory:" and again on a temporary file. */
export function bothStores(
  name: string,
  fn: (make: (options?: Omit<KvOptions, "path" | "kv">) => KvBackend) => Promise<void>,
): void {
  for (const where of ["memory", "file"] as const) {
    Deno.test(`${name} (${where})`, async () => {
      const db = where === "file" ? await tempDb() : undefined;
      const made: KvBackend[] = [];
      try {
        await fn((options) => {
          const b = createKvBackend({ ...options, path: db?.path ?? ":memory:" });
          made.push(b);
          return b;
        });
      } finally {
        for (const b of made) await b.close();
        await db?.cleanup();
      }
    });
  }
}

/** Runs `fn` with console.warn collected (the default logger writes warnings there). */
export async function warnings(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void seen.push(args.map(String).join(" "));
  try {
    await fn();
  } finally {
    console.warn = warn;
  }
  return seen;
}
