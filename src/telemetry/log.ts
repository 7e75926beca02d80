/**
 * Herald's logger: levels and structured fields, readable lines by default, one JSON object per
 * line with `HERALD_LOG_FORMAT=json` (with `trace_id` and `span_id` when there is a trace).
 * The only place in Herald that writes to the console.
 *
 * @module
 */
import { trace } from "@opentelemetry/api";
import { tracingOn } from "./otel.ts";

/**
 * How much a log line matters.
 *
 * @example Only warnings and errors
 * ```ts
 * import { createLogger, type LogLevel } from "@herald/herald";
 * const level: LogLevel = "warn";
 * createLogger({ level }).info("not written");
 * ```
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * Structured fields of a log line: event id, type, group, attempt, error, …
 *
 * @example
 * ```ts
 * import type { LogFields } from "@herald/herald";
 * const fields: LogFields = { event: "01J…", attempt: 2 };
 * console.log(fields);
 * ```
 */
export type LogFields = Record<string, unknown>;

/**
 * Where Herald writes what it does: pass one as `logger` to `createBus`, `createWorker` and
 * `createService()` to route Herald's lines into your own logging.
 *
 * @example Sending Herald's warnings to your own logger
 * ```ts
 * import type { Logger } from "@herald/herald";
 * const logger: Logger = {
 *   debug: () => {},
 *   info: () => {},
 *   warn: (message, fields) => console.warn(message, fields),
 *   error: (message, fields) => console.error(message, fields),
 * };
 * logger.warn("retrying", { attempt: 2 });
 * ```
 */
export interface Logger {
  /** Detail for debugging. */
  debug(message: string, fields?: LogFields): void;
  /** A step that went as planned. */
  info(message: string, fields?: LogFields): void;
  /** Something failed and Herald handles it (a retry, a dead letter, a reconnect). */
  warn(message: string, fields?: LogFields): void;
  /** Something failed that needs a human. */
  error(message: string, fields?: LogFields): void;
}

/**
 * Options of {@linkcode createLogger}.
 *
 * @example JSON lines into your own sink
 * ```ts
 * import { createLogger, type LoggerOptions } from "@herald/herald";
 * const lines: string[] = [];
 * const options: LoggerOptions = { format: "json", write: (line) => lines.push(line) };
 * createLogger(options).warn("hello");
 * console.log(lines.length); // 1
 * ```
 */
export interface LoggerOptions {
  /** A name in every line, such as the service's. */
  name?: string;
  /**
   * `"text"`: one readable line each; `"json"`: one JSON object per line.
   * @default {the `HERALD_LOG_FORMAT` environment variable, else "text"}
   */
  format?: "text" | "json";
  /**
   * The least level written.
   * @default {the `HERALD_LOG_LEVEL` environment variable, else "info"}
   */
  level?: LogLevel;
  /** Where lines go. @default {the console: `console.log`, `.warn`, `.error` by level} */
  write?: (line: string, level: LogLevel) => void;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * Makes Herald's default logger: readable lines, or JSON lines with trace ids.
 *
 * @param options Name, format, least level and where lines go.
 * @returns The logger.
 *
 * @example JSON lines
 * ```ts
 * import { createLogger } from "@herald/herald";
 * const log = createLogger({ name: "users", format: "json", write: (line) => console.log(line) });
 * log.warn("retry scheduled", { event: "01J…", attempt: 2 });
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? (env("HERALD_LOG_FORMAT") === "json" ? "json" : "text");
  const least = LEVELS[options.level ?? (env("HERALD_LOG_LEVEL") as LogLevel)] ?? LEVELS.info;
  const write = options.write ?? toConsole;
  const name = options.name;
  const line = (level: LogLevel) => (message: string, fields?: LogFields) => {
    if (LEVELS[level] < least) return;
    write(
      format === "json"
        ? jsonLine(level, name, message, fields)
        : textLine(level, name, message, fields),
      level,
    );
  };
  return { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") };
}

/** The logger of a part that was given none: named, in the format the environment asks for. */
export function defaultLogger(name?: string): Logger {
  return createLogger({ name });
}

function toConsole(line: string, level: LogLevel): void {
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

function textLine(
  level: LogLevel,
  name: string | undefined,
  message: string,
  fields?: LogFields,
): string {
  let out = name ? `[${name}] ${message}` : message;
  let stack = "";
  for (const [k, v] of Object.entries(fields ?? {})) {
    if (v === undefined) continue;
    if (v instanceof Error || (k === "error" && typeof v === "object" && v !== null)) {
      const e = v as { name?: string; message?: string; stack?: string };
      out += ` ${k}=${JSON.stringify(`${e.name ?? "Error"}: ${e.message}`)}`;
      // The stack of an error that needs a human; a warning's message says enough.
      if (level === "error" && v instanceof Error && e.stack) stack = `\n${e.stack}`;
    } else if (typeof v === "string" && v.includes("\n")) {
      stack += `\n${v}`; // a rendered stack
    } else out += ` ${k}=${typeof v === "string" && !/\s|"/.test(v) ? v : JSON.stringify(v)}`;
  }
  return out + stack;
}

function jsonLine(
  level: LogLevel,
  name: string | undefined,
  message: string,
  fields?: LogFields,
): string {
  const record: Record<string, unknown> = { time: new Date().toISOString(), level };
  if (name) record.name = name;
  record.msg = message;
  for (const [k, v] of Object.entries(fields ?? {})) {
    record[k] = v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v;
  }
  const span = tracingOn() ? trace.getActiveSpan()?.spanContext() : undefined;
  if (span) {
    record.trace_id = span.traceId;
    record.span_id = span.spanId;
  }
  return JSON.stringify(record);
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: the defaults
  }
}
