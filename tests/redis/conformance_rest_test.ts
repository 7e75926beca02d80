import { testBackendConformance } from "@herald/herald/backend";
import { appendRaw, type Emulator, SKIP, startEmulator, testBackend } from "./_redis.ts";

// One emulator for the whole file, started before the cases (each case would otherwise pay its
// start-up) and stopped when the file's tests are done.
const emulator: Emulator | undefined = SKIP ? undefined : await startEmulator();
globalThis.addEventListener("unload", () => void emulator?.stop());

testBackendConformance({
  name: "redis (rest)",
  ignore: SKIP,
  make: () => {
    const { backend, prefix, cleanup } = testBackend({
      url: emulator!.url,
      token: emulator!.token,
    });
    return Promise.resolve({
      backend,
      appendRaw: (stream, value) => appendRaw(prefix, stream, value),
      cleanup,
    });
  },
});
