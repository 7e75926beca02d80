/**
 * One end-to-end row: run a pipeline, judge it against a target, add the row.
 *
 * @module
 */
import { type Context, pipelineNotes } from "./_context.ts";
import { type PipelineResult, runPipeline } from "./_run.ts";
import type { ProducerParams } from "./_role.ts";
import { describeProfile } from "./_profile.ts";

/** What a row runs and how it is judged. */
export interface RowSpec {
  section: string;
  name: string;
  /** Saves the throughput under this name for later targets. */
  key?: string;
  producer: string;
  consumer: string;
  /** Parameters both roles get (where to connect). */
  shared: Record<string, unknown>;
  mode: ProducerParams["mode"];
  n: number;
  rate?: number;
  batch?: number;
  processes?: number;
  /**
   * The producer stops after this many seconds even if fewer than `n` went out.
   *
   * @default {15 (quick: 1)}
   */
  maxSeconds?: number;
  /** Extra `deno run` flags for the children. */
  flags?: string[];
  /** Extra environment variables for the children. */
  env?: Record<string, string>;
  /** The target and whether the result meets it. */
  judge?: (r: PipelineResult) => { target: string; pass: boolean; note?: string };
  /** A note on the result, for a row without a target. */
  note?: (r: PipelineResult) => string | undefined;
}

/**
 * Runs the row's pipeline and adds the row; a failure becomes a row that says why.
 *
 * @returns the measurement, or `undefined` when the row could not run.
 */
export async function pipelineRow(
  ctx: Context,
  spec: RowSpec,
): Promise<PipelineResult | undefined> {
  let result: PipelineResult | undefined;
  await ctx.attempt(spec.section, spec.name, async () => {
    const paced = spec.mode === "paced";
    const processes = spec.processes ?? 1;
    const started = Date.now();
    const r = await runPipeline({
      producer: {
        role: spec.producer,
        params: {
          ...spec.shared,
          mode: spec.mode,
          n: spec.n,
          rate: spec.rate,
          batch: spec.batch,
          maxSeconds: spec.maxSeconds ?? ctx.size(15, 1),
        },
      },
      consumer: {
        role: spec.consumer,
        params: {
          ...spec.shared,
          total: spec.n,
          // The first tenth of a paced run's planned time is warm-up.
          warmupMs: paced && spec.rate ? spec.n / spec.rate * 100 : 0,
          trackSeqs: processes > 1,
          // Where latency is reported; elsewhere its bookkeeping would only cost the consumer.
          split: paced || ctx.profile,
        },
        processes,
      },
      flags: spec.flags,
      env: spec.env,
      timeoutMs: 120_000,
      verbose: ctx.verbose,
    });
    if (spec.key) ctx.results.set(spec.key, r.eventsPerSec);
    const judged = spec.judge?.(r);
    ctx.add({
      section: spec.section,
      name: spec.name,
      eventsPerSec: r.eventsPerSec,
      ...(paced ? { p50: r.latency.p50, p99: r.latency.p99 } : {}),
      target: judged?.target,
      pass: judged ? judged.pass && r.missing === 0 : undefined,
      note: [judged?.note, spec.note?.(r), behind(spec, r), ...pipelineNotes(r)]
        .filter(Boolean).join("; "),
      detail: {
        published: r.producer.published,
        publishSeconds: r.producer.seconds,
        wallSeconds: (Date.now() - started) / 1000,
        producer: r.producer.detail,
        consumers: r.consumerDetails,
      },
    });
    if (ctx.profile) {
      const lines = [
        describeProfile("producer", r.producer.detail, r.producer.published),
        ...r.consumerDetails.map((d, i) =>
          describeProfile(`consumer ${i + 1}`, d, r.perConsumer[i] ?? 0)
        ),
      ];
      for (const line of lines) if (line) console.log(`      ${line}`);
    }
    result = r;
  });
  return result;
}

/** A note when a paced producer could not keep its rate (its calls took longer than the gap). */
function behind(spec: RowSpec, r: PipelineResult): string | undefined {
  if (spec.mode !== "paced" || !spec.rate) return undefined;
  const achieved = r.producer.published / r.producer.seconds;
  return achieved < 0.9 * spec.rate
    ? `producer kept only ${Math.round(achieved)}/s of ${spec.rate}/s`
    : undefined;
}
