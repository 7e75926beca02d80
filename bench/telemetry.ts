/**
 * The cost of tracing on a Deno KV file, in pairs of rows with OpenTelemetry off (no tracer or
 * meter provider: nothing is recorded) and on (`OTEL_DENO=true`, exporting OTLP/JSON to a sink
 * in this process that drops what it gets). First the raw limit: bare Deno KV roles, off and then
 * with one producer span per write and one consumer span per event read (`_spans.ts`), which is
 * what Deno's OpenTelemetry costs by itself for any traced bus. Then Herald's single-publish and
 * paced rows. The issue's bar: on costs at most 10% of throughput; off stays within the noise of
 * the rows in `kv.ts`. The notes give each role's CPU time per event, which the load of a shared
 * machine moves less than throughput.
 *
 * @module
 */
import type { Context } from "./_context.ts";
import { pipelineRow } from "./_rows.ts";
import type { PipelineResult } from "./_run.ts";

const SECTION = "Deno KV on a file · OpenTelemetry off and on (OTEL_DENO=true)";
const SINGLE = 24_000;

/** An OTLP/HTTP endpoint that accepts everything and keeps nothing. */
function otlpSink(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      await req.body?.cancel();
      return Response.json({});
    },
  );
}

/** The pairs of rows, off then on: bare Deno KV with spans, then Herald. */
export async function telemetryRows(ctx: Context): Promise<void> {
  const sink = otlpSink();
  const on = {
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.addr.port}`,
  };
  const file = async (name: string) => {
    const dir = `${ctx.tmp}/${name}-${crypto.randomUUID().slice(0, 6)}`;
    await Deno.mkdir(dir, { recursive: true });
    return `${dir}/kv.sqlite`;
  };
  const n = ctx.size(SINGLE, 1000);
  try {
    const bare = async (spans: boolean, off?: PipelineResult) =>
      await pipelineRow(ctx, {
        section: SECTION,
        name: spans
          ? "bare Deno KV, a span per write and per read, OTEL_DENO=true"
          : "bare Deno KV, 1 event per commit, OpenTelemetry off",
        producer: "raw_kv_producer",
        consumer: "raw_kv_consumer",
        shared: { path: await file("otel-bare"), spans },
        mode: "single",
        n,
        env: spans ? on : undefined,
        note: (r) => off ? onNote(r, off) : cpuNote(r),
      });
    const rawOff = await bare(false);
    const rawOn = await bare(true, rawOff);
    const base = { section: SECTION, producer: "herald_producer", consumer: "herald_consumer" };
    const backend = async (name: string) => ({ backend: { kind: "kv", path: await file(name) } });
    const single = async (label: string, env?: Record<string, string>, off?: PipelineResult) =>
      await pipelineRow(ctx, {
        ...base,
        name: `publish(), 1 event per call, ${label}`,
        shared: await backend("otel-single"),
        mode: "single",
        n,
        env,
        judge: off ? (r) => within10(r, off, rawOff, rawOn) : undefined,
        note: off ? undefined : (r) => cpuNote(r),
      });
    const off = await single("OpenTelemetry off");
    await single("OTEL_DENO=true", on, off);
    const paced = async (label: string, env?: Record<string, string>) =>
      await pipelineRow(ctx, {
        ...base,
        name: `publish(), paced 500/s, ${label}`,
        shared: await backend("otel-paced"),
        mode: "paced",
        rate: 500,
        n: ctx.size(2000, 500),
        env,
        judge: (r) => ({
          target: "p50 ≤ 2 ms, p99 ≤ 10 ms",
          pass: r.latency.p50 <= 2 && r.latency.p99 <= 10,
        }),
      });
    await paced("OpenTelemetry off");
    await paced("OTEL_DENO=true", on);
  } finally {
    await sink.shutdown();
  }
}

/** CPU time per event of the producer and of the consumer, in microseconds. */
function cpuPerEvent(r: PipelineResult): { producer: number; consumer: number } {
  const ms = (detail: Record<string, unknown> | undefined) => Number(detail?.cpuMs ?? NaN);
  return {
    producer: ms(r.producer.detail) * 1000 / r.producer.published,
    consumer: ms(r.consumerDetails[0]) * 1000 / r.handled,
  };
}

function cpuNote(r: PipelineResult, off?: PipelineResult): string {
  const now = cpuPerEvent(r);
  const was = off ? cpuPerEvent(off) : undefined;
  const show = (k: "producer" | "consumer") =>
    `${k} ${was ? `${Math.round(was[k])}→` : ""}${Math.round(now[k])}`;
  return `CPU µs/event: ${show("producer")}, ${show("consumer")}`;
}

function onNote(r: PipelineResult, off: PipelineResult): string {
  return `${Math.round(100 * r.eventsPerSec / off.eventsPerSec)}% of off; ${cpuNote(r, off)}`;
}

function within10(
  r: PipelineResult,
  off: PipelineResult,
  rawOff?: PipelineResult,
  rawOn?: PipelineResult,
) {
  const raw = rawOff && rawOn
    ? `; bare Deno KV with spans kept ${
      Math.round(100 * rawOn.eventsPerSec / rawOff.eventsPerSec)
    }%`
    : "";
  return {
    target: `≥ 90% of off (${Math.round(off.eventsPerSec)}/s)`,
    pass: r.eventsPerSec >= 0.9 * off.eventsPerSec,
    note: onNote(r, off) + raw,
  };
}
