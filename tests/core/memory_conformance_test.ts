import { memory } from "@herald/herald";
import { testBackendConformance } from "@herald/herald/testing";

function target(journeys: boolean) {
  const backend = memory({ journeys });
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
