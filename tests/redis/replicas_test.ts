import { assertEquals, assertRejects } from "@std/assert";
import { BackendUnavailableError } from "../../src/errors.ts";
import { createEnvelope } from "../../src/envelope.ts";
import { REDIS_URL, SKIP, testBackend } from "./_redis.ts";

Deno.test({
  name:
    "redis (tcp): waitForReplicas fails a publish no replica confirmed, and says it was written",
  ignore: SKIP !== undefined,
  fn: async () => {
    // The test Redis has no replicas: WAIT answers 0.
    const { backend, cleanup } = testBackend({
      url: REDIS_URL,
      waitForReplicas: { count: 1, timeoutMs: 50 },
    });
    try {
      await assertRejects(
        () => backend.append([createEnvelope("s", "t", { n: 1 }, "test")]),
        BackendUnavailableError,
        "reached 0 of 1 replicas",
      );
      assertEquals((await backend.peek("s")).events.length, 1);
    } finally {
      await backend.close();
      await cleanup();
    }
  },
});
