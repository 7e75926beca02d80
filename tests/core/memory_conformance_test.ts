import { memory } from "@herald/herald";
import { testBackendConformance } from "@herald/herald/testing";

testBackendConformance({
  name: "memory",
  make: () => {
    const backend = memory();
    return Promise.resolve({
      backend,
      appendRaw: (stream, value) => Promise.resolve(backend.appendRaw(stream, value)),
    });
  },
});
