/**
 * `--repeat N`: the same rows measured N times, folded into one table of medians with their range
 * and how many runs met each target. On a small shared machine one run of a row can land far from
 * the next (the raw Deno KV commit rate moved from 1,755 to 4,303 commits/s within a day here), so
 * a target is judged by how often it is met, not by one draw.
 *
 * @module
 */
import { ms, perSec, type Row } from "./_table.ts";

/** The median of numbers (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** One row measured in several runs. */
export interface FoldedRow {
  section: string;
  name: string;
  /** Throughput, or the value column's number (idle CPU), per run that measured it. */
  values: number[];
  /** The unit of a value column ("%"), when the row has no throughput. */
  unit?: string;
  p50: number[];
  p99: number[];
  /** The first run's target text (baselines in it are that run's). */
  target?: string;
  /** Runs that judged the target, and how many met it. */
  judged: number;
  met: number;
  /** The first run's note. */
  note?: string;
}

/** Groups the rows of several runs by section and name, in first-seen order. */
export function foldRuns(runs: readonly Row[][]): FoldedRow[] {
  const groups = new Map<string, Row[]>();
  for (const rows of runs) {
    for (const r of rows) {
      const k = `${r.section}\u0000${r.name}`;
      groups.set(k, [...groups.get(k) ?? [], r]);
    }
  }
  return [...groups.values()].map((g) => {
    const num = (f: (r: Row) => number | undefined) =>
      g.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x));
    const rates = num((r) => r.eventsPerSec);
    const judged = g.filter((r) => r.pass !== undefined);
    return {
      section: g[0].section,
      name: g[0].name,
      values: rates.length > 0 ? rates : num((r) => r.value ? parseFloat(r.value) : undefined),
      unit: rates.length > 0 ? undefined : g.find((r) => r.value)?.value?.replace(/^[\d.,\s]+/, ""),
      p50: num((r) => r.p50),
      p99: num((r) => r.p99),
      target: g[0].target,
      judged: judged.length,
      met: judged.filter((r) => r.pass).length,
      note: g.find((r) => r.note)?.note,
    };
  });
}

/** `median [min–max]`; just the median when every run gave the same. */
function spread(xs: readonly number[], fmt: (n: number) => string): string {
  if (xs.length === 0) return "-";
  const lo = fmt(Math.min(...xs)), hi = fmt(Math.max(...xs));
  return lo === hi ? fmt(median(xs)) : `${fmt(median(xs))} [${lo}–${hi}]`;
}

/**
 * Renders several runs as one table: per row the median and range of its throughput (or value)
 * and latencies, its target, and in how many runs the target was met.
 */
export function renderSummary(runs: readonly Row[][]): string {
  const rows = foldRuns(runs);
  const cols = [46, 26, 18, 18, 40, 10];
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < cols.length ? c.padEnd(cols[i]) : c)).join(" ").trimEnd();
  const out = [
    `Medians over ${runs.length} runs, [lowest–highest]`,
    line(["row", "events/s", "p50 ms", "p99 ms", "target", "met", "notes (first run)"]),
  ];
  for (const section of [...new Set(rows.map((r) => r.section))]) {
    out.push("", section);
    for (const r of rows.filter((x) => x.section === section)) {
      const value = r.unit === undefined
        ? spread(r.values, perSec)
        : `${spread(r.values, (n) => n.toFixed(2))} ${r.unit}`;
      out.push(line([
        "  " + r.name,
        value,
        spread(r.p50, ms),
        spread(r.p99, ms),
        r.target ?? "",
        r.judged === 0 ? "" : `${r.met}/${r.judged}${r.met === r.judged ? " ok" : ""}`,
        r.note ?? "",
      ]));
    }
  }
  return out.join("\n");
}
