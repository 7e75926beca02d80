/**
 * What every CLI command gets: the backend (connected on first use), output that is JSON with
 * `--json` and text without, and the exit codes.
 *
 * @module
 */
import type { Backend } from "../backend.ts";

/**
 * Exit codes of the CLI.
 *
 * @example Telling "not found" apart in a program
 * ```ts
 * import { EXIT, main } from "@herald/herald/cli";
 * const code = await main(["frobnicate"], {
 *   out: () => {},
 *   err: () => {},
 *   stdin: () => Promise.resolve(""),
 * });
 * console.log(code === EXIT.usage); // true
 * ```
 */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** The operation failed (the backend refused or was unreachable). */
  failed: 1,
  /** The command line was wrong: unknown command or option, a missing argument. */
  usage: 2,
  /** What was named is not there: a group, an event, a dead letter. */
  notFound: 3,
  /** An event did not match its contract, or no contract describes it. */
  invalid: 4,
  /** `lag --max`: some group is further behind than allowed. */
  behind: 5,
} as const;

/** Where the CLI writes; a test or an embedding program can give its own. */
export interface CliIo {
  /** Writes a line to standard output. */
  out(line: string): void;
  /** Writes a line to standard error. */
  err(line: string): void;
  /** Reads all of standard input (for `publish … -`). */
  stdin(): Promise<string>;
  /** Aborted when the user interrupts (`tail`). */
  signal?: AbortSignal;
}

/** A command line error: the message and the usage it breaks. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** What a command runs with. */
export interface CommandContext {
  /** The backend, connected on first use. */
  backend(): Promise<Backend>;
  /** `--json` was given. */
  json: boolean;
  io: CliIo;
}

/** Prints `value` as JSON, or the text lines `text` makes of it. */
export function print<T>(ctx: CommandContext, value: T, text: (v: T) => string[]): void {
  if (ctx.json) ctx.io.out(JSON.stringify(value));
  else for (const line of text(value)) ctx.io.out(line);
}

/** Lays out rows as columns padded to their widest cell. */
export function table(head: string[], rows: (string | number | undefined | null)[][]): string[] {
  const cells = [
    head,
    ...rows.map((r) => r.map((c) => c === undefined || c === null ? "-" : String(c))),
  ];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
}
