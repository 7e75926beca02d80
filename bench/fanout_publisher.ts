/**
 * The publisher of `fanout.ts` alone, on Deno KV: batches of 100 round-robin over 1 or 10
 * streams, with 0, 1 or 50 groups subscribed and no workers running, each setup on a fresh
 * database file in a process of its own, the setups alternated `--repeat` times. Prints each
 * setup's median CPU per event (user + system, from `/proc`, so the machine's other work moves it
 * little) and rate, next to the first setup's. Whether groups cost a publisher anything shows in
 * "10 streams, 0 groups" against "10 streams, 50 groups"; what more streams cost in "1 stream"
 * against "10 streams". Run it under `strace -f -c` to count the database's reads per commit.
 *
 * ```sh
 * deno run -A bench/fanout_publisher.ts                  # 300,000 events a setup, 3 rounds
 * deno run -A bench/fanout_publisher.ts --events 100000 --repeat 5
 * ```
 *
 * @module
 */
import { createBus } from "@herald/herald";
import { cpuMs } from "./_cpu.ts";
import { makeBackend } from "./_herald.ts";
import { publishRate } from "./_scale.ts";
import { median } from "./_stats.ts";

/** [streams, groups] of each setup. */
const SETUPS: [number, number][] = [[1, 1], [10, 0], [10, 50]];

/** Publishes `events` over `streams` streams with `groups` groups subscribed; prints the result. */
async function child(streams: number, groups: number, events: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "herald-fanout-publisher-" });
  const spec = { kind: "kv" as const, path: `${dir}/bus.db` };
  const names = Array.from({ length: streams }, (_, i) => `fan${i}`);
  const setup = await makeBackend(spec);
  for (let g = 0; g < groups; g++) await setup.subscribe(`g${g}`, [names[g % streams]], "earliest");
  await setup.close();
  const bus = createBus({ backend: await makeBackend(spec), source: "bench" });
  await publishRate(bus, "warm-up", 5_000, 100); // compiles the hot path before timing
  const each = Math.ceil(events / streams / 100) * 100;
  const cpu = cpuMs("self");
  const start = performance.now();
  for (let done = 0; done < each; done += 100) {
    for (const s of names) await publishRate(bus, s, 100, 100);
  }
  const seconds = (performance.now() - start) / 1000;
  const used = cpuMs("self") - cpu;
  await bus.close();
  await Deno.remove(dir, { recursive: true });
  const n = each * streams;
  console.log(JSON.stringify({ cpuUs: used * 1000 / n, rate: n / seconds }));
}

async function run(streams: number, groups: number, events: number) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--child", `${streams},${groups},${events}`],
    stderr: "inherit",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)) as { cpuUs: number; rate: number };
}

if (import.meta.main) {
  const flag = (name: string, fallback: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Deno.args[i + 1] : fallback;
  };
  const childOf = flag("--child", "");
  if (childOf) {
    const [s, g, e] = childOf.split(",").map(Number);
    await child(s, g, e);
  } else {
    const events = Number(flag("--events", "300000"));
    const repeat = Number(flag("--repeat", "3"));
    const seen = SETUPS.map(() => ({ cpu: [] as number[], rate: [] as number[] }));
    for (let r = 0; r < repeat; r++) {
      for (const [i, [s, g]] of SETUPS.entries()) {
        const { cpuUs, rate } = await run(s, g, events);
        seen[i].cpu.push(cpuUs), seen[i].rate.push(rate);
      }
    }
    console.log("setup\tCPU per event (median)\tvs first\trate (median)\tvs first");
    const [cpu0, rate0] = [median(seen[0].cpu), median(seen[0].rate)];
    for (const [i, [s, g]] of SETUPS.entries()) {
      const [cpu, rate] = [median(seen[i].cpu), median(seen[i].rate)];
      console.log(
        `${s} stream${s > 1 ? "s" : ""}, ${g} groups\t${cpu.toFixed(2)} µs\t${
          (cpu / cpu0).toFixed(2)
        }\t${Math.round(rate).toLocaleString("en")} ev/s\t${(rate / rate0).toFixed(2)}`,
      );
    }
  }
}
