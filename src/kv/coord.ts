/**
 * The Deno KV backend's optional capabilities (see `../capabilities.ts`): rate-limit counts and
 * push endpoints.
 *
 * - `["herald", "rate", name]` → {@linkcode RateEntry}, expiring two windows after it was set.
 * - `["herald", "push", stream, group]` → `{ url, secret }`.
 *
 * @module
 */
import { type PushEndpoint, rateWindow } from "../capabilities.ts";
import type { KvStats } from "./store.ts";
import { commit, get, list } from "./store.ts";

/** The permits taken in one window. */
interface RateEntry {
  /** The window's index (milliseconds since the epoch divided by `perMs`). */
  w: number;
  /** Permits taken in it. */
  n: number;
}

const rateKey = (name: string): Deno.KvKey => ["herald", "rate", name];
const pushKey = (stream: string, group: string): Deno.KvKey => ["herald", "push", stream, group];

/** Takes a permit if the window has one left (a checked read-modify-write, retried on conflict). */
export async function takeRate(
  stats: KvStats,
  kv: Deno.Kv,
  name: string,
  max: number,
  perMs: number,
): Promise<number> {
  const key = rateKey(name);
  for (;;) {
    const { index, endsAt } = rateWindow(Date.now(), perMs);
    const cur = await get<RateEntry>(stats, kv, key);
    const n = cur.value?.w === index ? cur.value.n : 0;
    if (n >= max) return Math.max(1, endsAt - Date.now());
    const result = await commit(stats, kv, (op) => {
      op.check({ key, versionstamp: cur.versionstamp });
      op.set(key, { w: index, n: n + 1 } satisfies RateEntry, { expireIn: perMs * 2 });
    });
    if (result.ok) return 0;
  }
}

/** Sets or removes a group's endpoint on each stream, in one atomic operation. */
export async function setPushEndpoint(
  stats: KvStats,
  kv: Deno.Kv,
  group: string,
  streams: readonly string[],
  endpoint: { url: string; secret: string } | null,
): Promise<void> {
  const result = await commit(stats, kv, (op) => {
    for (const stream of streams) {
      if (endpoint) op.set(pushKey(stream, group), { url: endpoint.url, secret: endpoint.secret });
      else op.delete(pushKey(stream, group));
    }
  });
  if (!result.ok) throw new Error("Setting the push endpoint did not commit");
}

/** The endpoints of the groups on a stream. */
export async function pushEndpoints(
  stats: KvStats,
  kv: Deno.Kv,
  stream: string,
): Promise<PushEndpoint[]> {
  const entries = await list<{ url: string; secret: string }>(stats, kv, {
    prefix: ["herald", "push", stream],
  });
  return entries.map((e) => ({ group: String(e.key[3]), ...e.value }));
}
