/**
 * Where a sequential Deno KV publisher's time goes, outside the timed table: one process, each
 * loop on its own database file, rounds of `per` publishes interleaved so that the machine's
 * drift falls on every loop alike. Prints each loop's median time per publish and its rate
 * against the first:
 *
 * - `bare`: one commit of the 200-byte payload, as the bare poller's producer makes;
 * - `+ sequence`: also checking and writing the stream's sequence number, which is what gives
 *   every process the same order;
 * - `+ envelope`: storing Herald's envelope instead of the bare payload;
 * - `+ doorbell`: also ringing a doorbell file, as Herald does so other processes wake;
 * - `append()`: the `createKvBackend()` backend's `append` of that envelope, as `publish()` makes it;
 * - `publish()`: Herald's `bus.publish` on the `createKvBackend()` backend.
 *
 * Usage: `deno run -A bench/kv_publisher.ts [rounds=12] [per=2000]`
 *
 * @module
 */
import { createBus, createEnvelope, createKvBackend } from "@herald/herald";
import { tick, tickJson } from "./_clock.ts";
import { Tick } from "./_herald.ts";
import { median } from "./_stats.ts";

const rounds = Number(Deno.args[0] ?? 12);
const per = Number(Deno.args[1] ?? 2000);
const dir = await Deno.makeTempDir({ prefix: "herald-kv-publisher-" });

type Loop = { name: string; run: (n: number) => Promise<void>; close: () => Promise<void> };

async function bareLoop(
  name: string,
  sequence: boolean,
  envelope: boolean,
  ring: boolean,
): Promise<Loop> {
  const db = await Deno.openKv(`${dir}/${name}.db`);
  const bell = await Deno.open(`${dir}/${name}.bell`, { read: true, write: true, create: true });
  const stamp = new Float64Array(1);
  const bytes = new Uint8Array(stamp.buffer);
  let versionstamp: string | null = null;
  let seq = 0;
  const run = async (n: number) => {
    for (let k = 0; k < n; k++, seq++) {
      const value = envelope
        ? createEnvelope(Tick.stream, Tick.type, Tick.parse(tick(seq)), "bench")
        : tickJson(seq);
      const op = db.atomic();
      if (sequence) op.check({ key: ["seq", "bench"], versionstamp });
      op.set(["ev", "bench", seq], value);
      if (sequence) op.set(["seq", "bench"], seq);
      const result = await op.commit();
      if (!result.ok) throw new Error(`${name}: the sequence moved`);
      versionstamp = result.versionstamp;
      if (ring) {
        stamp[0] = Date.now();
        bell.seekSync(0, Deno.SeekMode.Start);
        bell.writeSync(bytes);
      }
    }
  };
  const close = () => {
    db.close();
    bell.close();
    return Promise.resolve();
  };
  return { name, run, close };
}

function appendLoop(): Loop {
  const backend = createKvBackend({ path: `${dir}/append.db` });
  let seq = 0;
  const run = async (n: number) => {
    for (let k = 0; k < n; k++) {
      const data = Tick.parse(tick(seq++));
      await backend.append([createEnvelope(Tick.stream, Tick.type, data, "bench")]);
    }
  };
  return { name: "append()", run, close: () => backend.close() };
}

function heraldLoop(): Loop {
  const bus = createBus({
    backend: createKvBackend({ path: `${dir}/herald.db` }),
    source: "bench",
  });
  let seq = 0;
  const run = async (n: number) => {
    for (let k = 0; k < n; k++) await bus.publish(Tick, tick(seq++));
  };
  return { name: "publish()", run, close: () => bus.close() };
}

const loops: Loop[] = [
  await bareLoop("bare", false, false, false),
  await bareLoop("+ sequence", true, false, false),
  await bareLoop("+ envelope", true, true, false),
  await bareLoop("+ doorbell", true, true, true),
  appendLoop(),
  heraldLoop(),
];
try {
  for (const loop of loops) await loop.run(1000); // warm-up: compiled hot paths, grown files
  const micros: number[][] = loops.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < loops.length; j++) {
      const i = (j + round) % loops.length; // each loop takes every place in the order
      const start = performance.now();
      await loops[i].run(per);
      micros[i].push((performance.now() - start) * 1000 / per);
    }
  }
  const first = median(micros[0]);
  console.log(`${rounds} rounds of ${per} publishes per loop, medians:`);
  loops.forEach((loop, i) => {
    const us = median(micros[i]);
    console.log(
      `  ${loop.name.padEnd(12)} ${us.toFixed(1).padStart(6)} µs/publish ` +
        `${Math.round(1e6 / us).toLocaleString("en-US").padStart(6)}/s ` +
        `${(first / us * 100).toFixed(0).padStart(4)}% of bare`,
    );
  });
} finally {
  for (const loop of loops) await loop.close();
  await Deno.remove(dir, { recursive: true });
}
