/**
 * A publisher process for the delayed-event process test: schedules `n` events on a stream, due
 * at one moment, then exits at once (its promoter with it).
 *
 * Usage: deno run -A _delay_publisher.ts <path> <stream> <n> <dueAtMs>
 *
 * @module
 */
import { createEnvelope } from "../../src/envelope.ts";
import { createKvBackend } from "../../src/kv/mod.ts";

const [path, stream, n, dueAt] = Deno.args;
const backend = createKvBackend({ path });
const all = Array.from(
  { length: Number(n) },
  (_, i) => createEnvelope(stream, "test.happened", { i }, "tests"),
);
for (let i = 0; i < all.length; i += 50) {
  await backend.schedule(
    all.slice(i, i + 50).map((envelope) => ({ envelope, dueAt: Number(dueAt) })),
  );
}
await backend.close();
console.log("scheduled");
