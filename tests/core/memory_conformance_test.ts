import { createMemoryBackend } from "@herald/herald";
import { testBackendConformance } from "@herald/herald/backend";

testBackendConformance({
  name: "memory",
  make: () => {
    const backend = createMemoryBackend();
    return Promise.resolve({
      backend,
      appendRaw: (stream, value) => Promise.resolve(backend.appendRaw(stream, value)),
    });
  },
});
