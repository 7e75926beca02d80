/**
 * What every part of the bench shares: flags, sizes, a scratch folder, and the rows so far.
 *
 * @module
 */
import type { PipelineResult } from "./_run.ts";
import { perSec, renderTable, type Row } from "./_table.ts";

/** The bench's state while it runs. */
export class Context {
  readonly rows: Row[] = [];
  /** Measured numbers later rows compare against, by name. */
  readonly results = new Map<string, number>();
  /** A name unique to this run (Redis key prefixes). */
  readonly runId = crypto.randomUUID().slice(0, 8);

  constructor(
    readonly quick: boolean,
    readonly verbose: boolean,
    readonly tmp: string,
    readonly profile = false,
    readonly rowFilter?: string,
  ) {}

  /** Whether the row of this name runs (`--rows`). */
  wants(name: string): boolean {
    if (!this.rowFilter) return true;
    const lower = name.toLowerCase();
    return this.rowFilter.toLowerCase().split(",").some((part) => lower.includes(part.trim()));
  }

  /** `full` in a full run, `quick` with `--quick`. */
  size(full: number, quick: number): number {
    return this.quick ? quick : full;
  }

  /** Adds a row and prints it at once, so a long run shows progress. */
  add(row: Row): void {
    if (this.rows.at(-1)?.section !== row.section) console.log(`\n${row.section}`);
    this.rows.push(row);
    console.log(renderTable([row]).split("\n").slice(-1)[0]);
  }

  /**
   * A measured number, or the reference number marked with `*` when the row it comes
   * from did not run.
   */
  baseline(key: string, reference: number): { value: number; label: string } {
    const measured = this.results.get(key);
    return measured === undefined
      ? { value: reference, label: `${perSec(reference)}*` }
      : { value: measured, label: perSec(measured) };
  }

  /** Runs `body`, turning a failure into a row that says why. */
  async attempt(section: string, name: string, body: () => Promise<void>): Promise<void> {
    if (!this.wants(name)) return;
    try {
      await body();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.add({ section, name, note: `could not run: ${message.slice(0, 400)}` });
    }
  }
}

/** Notes about a pipeline result worth printing: errors, duplicates, losses. */
export function pipelineNotes(r: PipelineResult): string[] {
  const notes: string[] = [];
  if (r.missing > 0) notes.push(`${r.missing} not handled`);
  if (r.duplicates > 0) {
    const runs = r.doubled ? ` (${r.doubled.slice(0, 3).join(", ")})` : "";
    notes.push(`${r.duplicates} handled twice${runs}`);
  }
  if (r.crashes) notes.push(`crashed at shutdown: ${r.crashes.join(", ")}`);
  if (r.errors > 0) notes.push(`${r.errors} errors (e.g. ${r.errorSamples[0] ?? "?"})`);
  return notes;
}
