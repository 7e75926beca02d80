import { createMemoryBackend } from "@herald/herald";
import { testBackendConformance } from "@herald/herald/backend";

function target(journeys: boolean) {
  const backend = createMemoryBackend({ journeys });
  return Promise.resolve({
    backend,
    appendRaw: (stream: string, value: unknown) =>
      Promise.resolve(backend.appendRaw(stream, value)),
  });
}

testBackendConformance({
  name: "memory",
  make: () => target(false),
  journeys: () => target(true),
});
