import { testBackendConformance } from "@herald/herald/backend";
import { appendRaw, REDIS_URL, SKIP, testBackend } from "./_redis.ts";

testBackendConformance({
  name: "redis (tcp)",
  ignore: SKIP,
  make: () => {
    const { backend, prefix, cleanup } = testBackend({ url: REDIS_URL });
    return Promise.resolve({
      backend,
      appendRaw: (stream, value) => appendRaw(prefix, stream, value),
      cleanup,
    });
  },
});
