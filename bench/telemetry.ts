/**
 * The cost of tracing: Herald's single-publish and paced rows on a Deno KV file, run in pairs
 * with OpenTelemetry off (no tracer or meter provider: Herald records nothing) and on
 * (`OTEL_DENO=true`, exporting OTLP/JSON to a sink in this process that drops what it gets).
 * The bar: on costs at most 10% of throughput; off stays within the noise of the rows
 * in `kv.ts`.
 *
 * @module
 */
import type { Context } from "./_context.ts";
import { pipelineRow } from "./_rows.ts";
import type { PipelineResult } from "./_run.ts";

const SECTION = "Deno KV on a file · Herald with OpenTelemetry off and on (OTEL_DENO=true)";
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

/** The pairs of rows, off then on. */
export async function telemetryRows(ctx: Context): Promise<void> {
  const sink = otlpSink();
  const on = {
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.addr.port}`,
  };
  const base = { section: SECTION, producer: "herald_producer", consumer: "herald_consumer" };
  const backend = async (name: string) => {
    const dir = `${ctx.tmp}/${name}-${crypto.randomUUID().slice(0, 6)}`;
    await Deno.mkdir(dir, { recursive: true });
    return { backend: { kind: "kv", path: `${dir}/kv.sqlite` } };
  };
  try {
    const single = async (label: string, env?: Record<string, string>, off?: PipelineResult) =>
      await pipelineRow(ctx, {
        ...base,
        name: `publish(), 1 event per call, ${label}`,
        shared: await backend("otel-single"),
        mode: "single",
        n: ctx.size(SINGLE, 1000),
        env,
        judge: off ? (r) => within10(r, off) : undefined,
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

function within10(r: PipelineResult, off: PipelineResult) {
  return {
    target: `≥ 90% of off (${Math.round(off.eventsPerSec)}/s)`,
    pass: r.eventsPerSec >= 0.9 * off.eventsPerSec,
    note: `${Math.round(100 * r.eventsPerSec / off.eventsPerSec)}% of off`,
  };
}
