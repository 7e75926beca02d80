/**
 * The service's lifecycle log: one-line messages through the service's {@linkcode Logger},
 * named after the service, so the output of several services in one terminal stays readable.
 *
 * @module
 */
import { defaultLogger, type Logger } from "../telemetry/log.ts";

/** Writes lifecycle lines for one service. */
export interface Log {
  /** A step that went as planned. */
  info(message: string): void;
  /** A failure; the error follows the message. */
  error(message: string, err?: unknown): void;
}

/** Makes the lifecycle log of service `name`, over `logger` (else the default logger). */
export function serviceLog(name: string, logger?: Logger): Log {
  const out = logger ?? defaultLogger(name);
  return {
    info: (message) => out.info(message),
    error: (message, err) => {
      if (err === undefined) out.error(message);
      else out.error(message, { error: err instanceof Error ? err : describe(err) });
    },
  };
}

/** Renders an error (or an error posted from a Web Worker) for a log line. */
export function describe(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  if (typeof err === "object" && err !== null && "message" in err) {
    const e = err as { name?: string; message: string; stack?: string };
    return e.stack ?? `${e.name ?? "Error"}: ${e.message}`;
  }
  return String(err);
}
