/**
 * Captures what the code under test logs, so that a test of a failure on purpose asserts the line
 * it expects instead of printing an error among a passing run's output.
 *
 * @module
 */

/** What {@linkcode captureConsole} collected, and how to stop collecting. */
export interface CapturedConsole {
  /** Every line logged since the capture began, through any console method. */
  readonly lines: string[];
  /** Whether some line contains `text`. */
  has(text: string): boolean;
  /** Puts the console back. */
  restore(): void;
}

/**
 * Sends `console.log`, `info`, `warn` and `error` to a list until `restore()`.
 *
 * @returns The capture.
 */
export function captureConsole(): CapturedConsole {
  const saved = { log: console.log, info: console.info, warn: console.warn, error: console.error };
  const lines: string[] = [];
  const keep = (...args: unknown[]) => {
    lines.push(args.map((a) => typeof a === "string" ? a : Deno.inspect(a)).join(" "));
  };
  Object.assign(console, { log: keep, info: keep, warn: keep, error: keep });
  return {
    lines,
    has: (text) => lines.some((l) => l.includes(text)),
    restore: () => void Object.assign(console, saved),
  };
}
