/**
 * Where tracing's cost goes, outside the timed table: CPU time per event of each part of a traced
 * publish and delivery on a Deno KV file, each loop in its own process (OpenTelemetry is set per
 * process), rounds interleaved so that the machine's drift falls on every part alike. CPU time
 * is the process's user + system time, all threads (Deno exports spans from a thread of its own).
 *
 * - `commit`: one atomic commit of a 200-byte event per loop turn, OpenTelemetry off, then on;
 * - `+ span, ended later`: a span started per commit, all ended after the loop (so outside it);
 * - `+ span`: a producer span per commit, 2 attributes, ended at once (`_spans.ts` minus inject);
 * - `+ span, 10 attributes`: with the attributes of Herald's consumer span;
 * - `+ 5 metric records`: five counter adds per commit, no span;
 * - `publish()`, `worker`: Herald's `bus.publish` on `createKvBackend()`, then a worker handling
 *   the same events, OpenTelemetry off and on;
 * - `bare read`: list 100 events, delete them in one commit, and (on) a consumer span each.
 *
 * Usage: `deno run -A bench/otel_parts.ts [rounds=3] [n=3000]`
 *
 * @module
 */
import process from "node:process";
import { metrics, SpanKind, trace } from "@opentelemetry/api";
import { createBus, createWorker } from "@herald/herald";
import { type Tick as TickData, tick, tickJson } from "./_clock.ts";
import { makeBackend, Tick } from "./_herald.ts";
import { consumerSpan } from "./_spans.ts";
import { median } from "./_stats.ts";

const PARTS = [
  ["commit", false],
  ["commit", true],
  ["+ span, ended later", true],
  ["+ span", true],
  ["+ span, 10 attributes", true],
  ["+ 5 metric records", true],
  ["publish() and worker", false],
  ["publish() and worker", true],
  ["bare read", false],
  ["bare read", true],
] as const;

const cpu = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/** CPU µs per turn of `turn`, run `n` times after a warm-up. */
async function timed(n: number, turn: (i: number) => Promise<void>): Promise<number> {
  for (let i = 0; i < 200; i++) await turn(-1 - i);
  const start = cpu();
  for (let i = 0; i < n; i++) await turn(i);
  return (cpu() - start) / n;
}

const ATTRS10 = {
  "messaging.system": "herald",
  "messaging.operation.name": "process",
  "messaging.operation.type": "process",
  "messaging.destination.name": "bench",
  "messaging.consumer.group.name": "bench",
  "messaging.message.conversation_id": "01JF00000000000000000000CC",
  "herald.event.type": "bench.tick",
  "herald.attempt": 1,
};

/** One part in this process: its CPU µs per event (two numbers for publish and worker). */
async function child(part: string, n: number, dir: string): Promise<number[]> {
  if (part === "publish() and worker") return await herald(n, dir);
  const kv = await Deno.openKv(`${dir}/kv.sqlite`);
  const tracer = trace.getTracer("bench");
  const counter = metrics.getMeter("bench").createCounter("bench.count");
  const open: { end(): void }[] = [];
  const write = (i: number) => kv.atomic().set(["ev", i], tickJson(i)).commit();
  const turns: Record<string, (i: number) => Promise<unknown>> = {
    "commit": write,
    "+ span, ended later": (i) => {
      open.push(tracer.startSpan("publish ev", { kind: SpanKind.PRODUCER, attributes: ATTRS2 }));
      return write(i);
    },
    "+ span": (i) => {
      tracer.startSpan("publish ev", { kind: SpanKind.PRODUCER, attributes: ATTRS2 }).end();
      return write(i);
    },
    "+ span, 10 attributes": (i) => {
      const span = tracer.startSpan("process ev", {
        kind: SpanKind.CONSUMER,
        attributes: { ...ATTRS10, "messaging.message.id": `m${i}` },
      });
      span.setAttribute("herald.outcome", "ack");
      span.end();
      return write(i);
    },
    "+ 5 metric records": (i) => {
      for (let k = 0; k < 5; k++) counter.add(1, ATTRS2);
      return write(i);
    },
  };
  try {
    if (part === "bare read") return [await bareRead(kv, n)];
    const turn = turns[part];
    return [await timed(n, async (i) => void await turn(i))];
  } finally {
    for (const span of open) span.end();
    kv.close();
  }
}

const ATTRS2 = { "messaging.system": "bench", "messaging.destination.name": "ev" };

/** Lists and deletes `n` events 100 at a time, a consumer span per event when tracing is on. */
async function bareRead(kv: Deno.Kv, n: number): Promise<number> {
  for (let i = 0; i < n; i += 100) {
    const op = kv.atomic();
    for (let k = i; k < Math.min(n, i + 100); k++) op.set(["ev", k], tickJson(k));
    await op.commit();
  }
  const start = cpu();
  let read = 0;
  while (read < n) {
    const op = kv.atomic();
    for await (const entry of kv.list<string>({ prefix: ["ev"] }, { limit: 100 })) {
      const data = JSON.parse(entry.value) as TickData;
      consumerSpan("ev", undefined, () => void data.seq);
      op.delete(entry.key);
      read++;
    }
    await op.commit();
  }
  return (cpu() - start) / n;
}

/** `bus.publish` of `n` events, then a worker handling them: CPU µs per event of each. */
async function herald(n: number, dir: string): Promise<number[]> {
  const backend = await makeBackend({ kind: "kv", path: `${dir}/kv.sqlite` });
  const bus = createBus({ backend, source: "bench" });
  const publish = await timed(n, async (i) => void await bus.publish(Tick, tick(i)));
  const total = n + 200;
  let handled = 0;
  const { promise, resolve } = Promise.withResolvers<void>();
  const worker = createWorker({ bus, group: "bench" })
    .on(Tick, () => void (++handled === total && resolve()), { concurrency: 100 });
  const start = cpu();
  await worker.start();
  await promise;
  const handle = (cpu() - start) / total;
  await worker.stop();
  await bus.close();
  return [publish, handle];
}

async function parent(rounds: number, n: number): Promise<void> {
  const sink = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    await req.body?.cancel();
    return Response.json({});
  });
  const on = {
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.addr.port}`,
  };
  const runs = PARTS.map(() => [] as number[][]);
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [i, [part, traced]] of PARTS.entries()) {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", new URL(import.meta.url).pathname, "--part", part, String(n)],
          env: traced ? on : {},
          stdout: "piped",
          stderr: "inherit",
        }).output();
        runs[i].push(JSON.parse(new TextDecoder().decode(out.stdout)));
      }
    }
  } finally {
    await sink.shutdown();
  }
  console.log(`CPU µs per event, median of ${rounds} [low–high], ${n} events a loop`);
  for (const [i, [part, traced]] of PARTS.entries()) {
    const cols = runs[i][0].map((_, k) => {
      const xs = runs[i].map((x) => x[k]);
      return `${median(xs).toFixed(0)} [${Math.min(...xs).toFixed(0)}–${
        Math.max(...xs).toFixed(0)
      }]`;
    });
    console.log(`  ${part.padEnd(22)} ${traced ? "on " : "off"}  ${cols.join("  ")}`);
  }
  console.log(`load average ${Deno.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
}

if (Deno.args[0] === "--part") {
  const dir = await Deno.makeTempDir({ prefix: "herald-otel-parts-" });
  try {
    console.log(JSON.stringify(await child(Deno.args[1], Number(Deno.args[2]), dir)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
} else {
  await parent(Number(Deno.args[0] ?? 3), Number(Deno.args[1] ?? 3000));
}
