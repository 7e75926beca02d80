import { testBackendConformance } from "@herald/herald/backend";
import { appendRaw, REDIS_URL, SKIP, testBackend } from "./_redis.ts";

function target(journeys: boolean) {
  const { backend, prefix, cleanup } = testBackend({ url: REDIS_URL, journeys });
  return Promise.resolve({
    backend,
    appendRaw: (stream: string, value: unknown) => appendRaw(prefix, stream, value),
    cleanup,
  });
}

testBackendConformance({
  name: "redis (tcp)",
  ignore: SKIP,
  make: () => target(false),
  journeys: () => target(true),
});
