/**
 * What the Herald roles share: the benchmark's event contract and the backend a role uses.
 *
 * @module
 */
import { z } from "zod";
import { createKvBackend, defineEvent } from "@herald/herald";
import type { Backend } from "@herald/herald/backend";

/** The benchmark event: a sequence number, a publish stamp and padding to 200 bytes. */
export const Tick = defineEvent({
  stream: "bench",
  type: "bench.tick",
  schema: z.object({ seq: z.number().int(), t: z.number(), pad: z.string() }),
});

/** Which backend a Herald role runs on. */
export type BackendSpec =
  | { kind: "kv"; path: string; options?: Record<string, unknown> }
  | { kind: "redis"; url: string; token?: string; prefix: string };

/**
 * Makes the backend `spec` describes, loading the Redis client only when asked for; with
 * `HERALD_BENCH_JOURNEYS=1` in the environment, with the correlation index on.
 */
export async function makeBackend(spec: BackendSpec): Promise<Backend> {
  const journeys = Deno.env.get("HERALD_BENCH_JOURNEYS") === "1";
  if (spec.kind === "kv") return createKvBackend({ ...spec.options, path: spec.path, journeys });
  const { createRedisBackend } = await import("@herald/herald/redis");
  return createRedisBackend({ url: spec.url, token: spec.token, prefix: spec.prefix, journeys });
}
