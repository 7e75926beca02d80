import { testBackendConformance } from "@herald/herald/backend";
import { appendRaw, type Emulator, SKIP, startEmulator, testBackend } from "./_redis.ts";

// One emulator for the whole file, started before the cases (each case would otherwise pay its
// start-up) and stopped when the file's tests are done.
const emulator: Emulator | undefined = SKIP ? undefined : await startEmulator();
globalThis.addEventListener("unload", () => void emulator?.stop());

function target(journeys: boolean) {
  const { backend, prefix, cleanup } = testBackend({
    url: emulator!.url,
    token: emulator!.token,
    journeys,
  });
  return Promise.resolve({
    backend,
    appendRaw: (stream: string, value: unknown) => appendRaw(prefix, stream, value),
    cleanup,
  });
}

testBackendConformance({
  name: "redis (rest)",
  ignore: SKIP,
  make: () => target(false),
  journeys: () => target(true),
});
