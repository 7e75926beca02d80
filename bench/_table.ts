/**
 * The bench's rows, and the table they print as.
 *
 * @module
 */

/** One line of the table. */
export interface Row {
  /** The group it is printed under, e.g. "Deno KV · raw". */
  section: string;
  /** What was measured. */
  name: string;
  /** Throughput. */
  eventsPerSec?: number;
  /** Latency percentiles, milliseconds. */
  p50?: number;
  p99?: number;
  /** Another measured value shown in the value column (e.g. "0.4 % CPU"). */
  value?: string;
  /** The target, in words. */
  target?: string;
  /** Whether the target was met; undefined when there is none. */
  pass?: boolean;
  /** Anything else worth knowing: errors, duplicates, why a row could not run. */
  note?: string;
  /** Details kept in the JSON copy only (profiles, backend counters). */
  detail?: unknown;
}

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** Formats a number of events per second: 12,345. */
export function perSec(n: number): string {
  return Number.isFinite(n) ? int.format(n) : "-";
}

/** Formats milliseconds with sensible precision. */
export function ms(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "-";
  return n < 1 ? n.toFixed(2) : n < 10 ? n.toFixed(1) : int.format(n);
}

const COLUMNS = [
  { title: "row", width: 46 },
  { title: "events/s", width: 10, right: true },
  { title: "p50 ms", width: 7, right: true },
  { title: "p99 ms", width: 7, right: true },
  { title: "target", width: 40 },
  { title: "", width: 4 },
  { title: "notes", width: 0 },
];

/** Renders rows as a plain-text table, grouped by section in first-seen order. */
export function renderTable(rows: Row[]): string {
  const cell = (text: string, i: number) => {
    const c = COLUMNS[i];
    if (c.width === 0) return text;
    return c.right ? text.padStart(c.width) : text.padEnd(c.width);
  };
  const line = (cells: string[]) => cells.map(cell).join(" ").trimEnd();
  const out = [line(COLUMNS.map((c) => c.title))];
  const sections = [...new Set(rows.map((r) => r.section))];
  for (const section of sections) {
    out.push("", section);
    for (const r of rows.filter((x) => x.section === section)) {
      out.push(line([
        "  " + r.name,
        r.value ?? (r.eventsPerSec === undefined ? "-" : perSec(r.eventsPerSec)),
        ms(r.p50),
        ms(r.p99),
        r.target ?? "",
        r.pass === undefined ? "" : r.pass ? "ok" : "MISS",
        r.note ?? "",
      ]));
    }
  }
  return out.join("\n");
}
