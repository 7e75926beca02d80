/**
 * A repeatable check of the Deno KV backend under several processes, outside the timed table:
 * `rounds` times, four consumer processes of one group and a producer that publishes batches of
 * 100 for one second and then closes its database while the consumers still work. Prints, per
 * round, events handled twice, lost, errors seen by the user and processes that crashed.
 *
 * Usage: `deno run -A bench/kv_stress.ts [rounds=8]`
 *
 * @module
 */
import { runPipeline } from "./_run.ts";

const rounds = Number(Deno.args[0] ?? 8);
let bad = 0;
for (let round = 1; round <= rounds; round++) {
  const dir = await Deno.makeTempDir({ prefix: "herald-kv-stress-" });
  const backend = { kind: "kv", path: `${dir}/kv.sqlite` };
  try {
    const r = await runPipeline({
      producer: {
        role: "herald_producer",
        params: { backend, mode: "batch", n: 100_000, batch: 100, maxSeconds: 1 },
      },
      consumer: {
        role: "herald_consumer",
        params: { backend, total: 100_000, trackSeqs: true },
        processes: 4,
      },
      timeoutMs: 60_000,
    });
    const problems = [
      r.duplicates > 0 ? `${r.duplicates} handled twice: ${r.doubled?.join(", ")}` : "",
      r.missing > 0 ? `${r.missing} lost` : "",
      r.errors > 0 ? `${r.errors} errors: ${r.errorSamples.join(" | ")}` : "",
      r.crashes ? `crashed at shutdown: ${r.crashes.join(", ")}` : "",
    ].filter(Boolean);
    if (problems.length > 0) bad++;
    console.log(
      `round ${round}: ${r.producer.published} published, split ${r.perConsumer.join("/")}; ` +
        (problems.join("; ") || "ok"),
    );
  } catch (err) {
    bad++;
    console.log(`round ${round}: ${(err as Error).message.slice(0, 500)}`);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
console.log(`${rounds - bad} of ${rounds} rounds clean`);
