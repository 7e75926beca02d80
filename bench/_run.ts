/**
 * Runs one producer process against one or more consumer processes and sums up what they saw.
 *
 * @module
 */
import { sleep } from "./_clock.ts";
import { Child } from "./_proc.ts";
import type { ConsumerParams, ConsumerResult, ProducerParams, ProducerResult } from "./_role.ts";
import type { Percentiles } from "./_stats.ts";

/** How long consumers may make no progress before the run stops waiting for them. */
const STALL_MS = 10_000;

/** One end-to-end run. */
export interface PipelineSpec {
  /** Producer role (a file name in bench/ without `.ts`) and its parameters. */
  producer: { role: string; params: ProducerParams & Record<string, unknown> };
  /** Consumer role, its parameters, and how many processes. */
  consumer: { role: string; params: ConsumerParams & Record<string, unknown>; processes?: number };
  /** Give up after this long, in milliseconds. */
  timeoutMs: number;
  /** Extra `deno run` flags for every child. */
  flags?: string[];
  /** Extra environment variables for every child. */
  env?: Record<string, string>;
  /** Echo children's stderr. */
  verbose?: boolean;
}

/** What one end-to-end run measured. */
export interface PipelineResult {
  /** Events handled per second, from the first publish stamp to the last handler call. */
  eventsPerSec: number;
  /** Latency of the first consumer (the only one in single-consumer runs). */
  latency: Percentiles;
  /** Events handled (all consumers, duplicates included). */
  handled: number;
  /** Events handled by more than one call (within or across processes). */
  duplicates: number;
  /** Events published but never handled. */
  missing: number;
  /** Errors seen by producer and consumers, and how many were "database is locked". */
  errors: number;
  locked: number;
  errorSamples: string[];
  /** Handled per consumer process. */
  perConsumer: number[];
  producer: ProducerResult;
  /** Events handled by two consumer processes, as runs of sequence numbers. */
  doubled?: string[];
  /** Exit signals or codes of children that did not exit cleanly (at shutdown). */
  crashes?: string[];
  /** Each consumer's role-specific details. */
  consumerDetails: (Record<string, unknown> | undefined)[];
}

/** Starts the consumers, waits until they are ready, runs the producer, then collects. */
export async function runPipeline(spec: PipelineSpec): Promise<PipelineResult> {
  const processes = spec.consumer.processes ?? 1;
  const total = spec.consumer.params.total;
  const consumers = Array.from(
    { length: processes },
    (_, i) =>
      Child.spawn(spec.consumer.role, { ...spec.consumer.params, index: i }, {
        verbose: spec.verbose,
        flags: spec.flags,
        env: spec.env,
      }),
  );
  let producer: Child | undefined;
  try {
    await Promise.all(consumers.map((c) => c.wait("ready", 60_000)));
    producer = Child.spawn(spec.producer.role, spec.producer.params, {
      verbose: spec.verbose,
      flags: spec.flags,
      env: spec.env,
    });
    const deadline = Date.now() + spec.timeoutMs;
    const produced = await producer.wait<ProducerResult>("result", spec.timeoutMs);
    const expected = Math.min(total, produced.published);
    const sum = () => consumers.reduce((s, c) => s + c.progress, 0);
    // Wait for the consumers to catch up; give up when they stop making progress.
    let last = sum();
    let lastChange = Date.now();
    while (sum() < expected && Date.now() < deadline && Date.now() - lastChange < STALL_MS) {
      await sleep(20);
      if (sum() !== last) [last, lastChange] = [sum(), Date.now()];
    }
    // Several consumers: give a late duplicate a moment to show up.
    if (processes > 1) await sleep(300);
    await Promise.all(consumers.map((c) => c.stop()));
    // A consumer that dies while shutting down still sent its numbers as "partial".
    const results = await Promise.all(
      consumers.map((c) =>
        c.wait<ConsumerResult>("result", 30_000).catch(() => c.wait<ConsumerResult>("partial", 0))
      ),
    );
    const statuses = await Promise.all([producer.exited, ...consumers.map((c) => c.exited)]);
    const summary = summarize(results, produced, consumers, producer);
    const crashed = statuses.filter((s) => s.code !== 0);
    if (crashed.length > 0) {
      summary.crashes = crashed.map((s) => s.signal ?? `exit ${s.code}`);
    }
    return summary;
  } finally {
    await Promise.all([producer, ...consumers].map((c) => c?.kill()));
  }
}

function summarize(
  results: ConsumerResult[],
  produced: ProducerResult,
  consumers: Child[],
  producer: Child,
): PipelineResult {
  const handled = results.reduce((s, r) => s + r.count, 0);
  let duplicates = results.reduce((s, r) => s + r.duplicates, 0);
  let unique = handled - duplicates;
  const doubled: { seq: number; consumers: number[] }[] = [];
  if (results.length > 1 && results.every((r) => r.seqs)) {
    const owner = new Map<number, number>();
    duplicates = 0;
    results.forEach((r, i) => {
      for (const s of r.seqs!) {
        const first = owner.get(s);
        if (first === undefined) owner.set(s, i);
        else {
          duplicates++;
          if (doubled.length < 200) doubled.push({ seq: s, consumers: [first + 1, i + 1] });
        }
      }
    });
    unique = owner.size;
  }
  // A consumer that handled nothing has no stamps (and Infinity travels as null in JSON).
  const active = results.filter((r) => r.count > 0);
  const first = Math.min(...active.map((r) => r.firstStamp));
  const last = Math.max(...active.map((r) => r.lastAt));
  // Library warnings land on stderr too; count those the role's hooks could not see.
  const stderrLocked = [producer, ...consumers].reduce(
    (s, c) => s + (c.stderr.match(/database is locked/gi)?.length ?? 0),
    0,
  );
  const consoleLocked = results.reduce((s, r) => s + r.locked, 0);
  return {
    eventsPerSec: unique / ((last - first) / 1000),
    latency: results[0].latency,
    handled,
    duplicates,
    missing: Math.max(0, produced.published - unique),
    errors: produced.errors + results.reduce((s, r) => s + r.errors, 0),
    locked: produced.locked + Math.max(consoleLocked, stderrLocked),
    errorSamples: [...produced.errorSamples, ...results.flatMap((r) => r.errorSamples)].slice(0, 3),
    perConsumer: results.map((r) => r.count),
    producer: produced,
    consumerDetails: results.map((r) => r.detail),
    doubled: doubled.length > 0 ? describeRuns(doubled) : undefined,
  };
}

/** Describes doubled sequence numbers as runs: "1200–1299 by consumers 2 and 4". */
function describeRuns(doubled: { seq: number; consumers: number[] }[]): string[] {
  doubled.sort((a, b) => a.seq - b.seq);
  const runs: string[] = [];
  let start = doubled[0];
  let prev = doubled[0];
  const flush = () =>
    runs.push(
      `${start.seq}${prev.seq > start.seq ? `–${prev.seq}` : ""} by consumers ` +
        start.consumers.join(" and "),
    );
  for (const d of doubled.slice(1)) {
    if (d.seq === prev.seq + 1 && d.consumers.join() === start.consumers.join()) {
      prev = d;
      continue;
    }
    flush();
    start = prev = d;
  }
  flush();
  return runs;
}
