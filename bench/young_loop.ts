/**
 * V8's young generation under a loop that keeps nothing: it allocates short-lived objects (about
 * 3 GB in all) and prints the largest the young generation grew to, and when. Under V8's defaults
 * it reaches the largest semi-spaces V8 allows on this machine, as a draining worker does, which is
 * why `docs/running.md` caps them for a worker whose size matters.
 *
 * ```sh
 * deno run -A bench/young_loop.ts
 * deno run -A --v8-flags=--max-semi-space-size=16 bench/young_loop.ts
 * ```
 *
 * @module
 */
import { getHeapSpaceStatistics } from "node:v8";

const youngBytes = () =>
  getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_size ?? 0;
const start = performance.now();
let largest = youngBytes();
let reachedMs = 0;
let sink = 0;
for (let i = 0; i < 30_000_000; i++) {
  const o = { a: i, b: "x".repeat(10) + i, c: [i, i + 1, i + 2], d: { e: i } };
  sink += o.c.length;
  if (i % 10_000 !== 0) continue;
  const now = youngBytes();
  if (now > largest) [largest, reachedMs] = [now, performance.now() - start];
}
console.log(
  `${(sink / 3).toLocaleString("en")} short-lived objects, none kept: the young generation ` +
    `reached ${(largest / 1e6).toFixed(1)} MB (two semi-spaces) after ${reachedMs.toFixed(0)} ms ` +
    `of ${(performance.now() - start).toFixed(0)}`,
);
