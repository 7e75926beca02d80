/**
 * The Redis correlation index is bounded like the stream: with an age limit its keys expire with
 * the events, with a length limit after `INDEX_TTL_MS`, and without trimming they stay.
 */
import { assert, assertEquals } from "@std/assert";
import { createRedisBackend } from "@herald/herald/redis";
import { createEnvelope } from "../../src/envelope.ts";
import { INDEX_TTL_MS } from "../../src/redis/trace.ts";
import { dropPrefix, raw, REDIS_URL, SKIP, testPrefix } from "./_redis.ts";

const cases = [
  { trim: { maxAgeMs: 60_000 }, ttl: 60_000 },
  { trim: { maxLen: 1_000 }, ttl: INDEX_TTL_MS },
  { trim: "none" as const, ttl: -1 },
];

Deno.test({
  name:
    "createRedisBackend() writes the correlation index with the append, expiring as the stream is trimmed",
  ignore: SKIP !== undefined,
  async fn() {
    for (const { trim, ttl } of cases) {
      const prefix = testPrefix();
      const backend = createRedisBackend({ url: REDIS_URL, prefix, trim, journeys: true });
      try {
        const root = createEnvelope("jobs", "job.started", { n: 0 }, "tests");
        const step = createEnvelope("jobs", "job.step", { n: 1 }, "tests", {
          correlationid: root.id,
          causationid: root.id,
        });
        await backend.append([root]);
        await backend.append([step]);
        const first = await raw(["GET", `${prefix}c|${root.id}`]) as string;
        const list = await raw(["LRANGE", `${prefix}cc|${root.id}`, 0, -1]) as string[];
        assertEquals(list.length, 1);
        assert([first, ...list].every((m) => m.endsWith(`|${prefix}s|jobs`)), String(list));
        assertEquals(await raw(["GET", `${prefix}ce|${step.id}`]), root.id);
        const keys = [`${prefix}c|${root.id}`, `${prefix}cc|${root.id}`, `${prefix}ce|${step.id}`];
        for (const key of keys) {
          const left = Number(await raw(["PTTL", key]));
          if (ttl < 0) assertEquals(left, -1, `${JSON.stringify(trim)}: ${key} never expires`);
          else assert(left > ttl - 10_000 && left <= ttl, `${JSON.stringify(trim)}: ${left}`);
        }
        assertEquals((await backend.trace(step.id)).events.length, 2);
      } finally {
        await backend.close();
        await dropPrefix(prefix);
      }
    }
  },
});
