/**
 * One-line lifecycle logs prefixed with the service name, so the output of several services
 * in one terminal stays readable.
 *
 * @module
 */

/** Writes lifecycle lines for one service. */
export interface Log {
  /** A step that went as planned. */
  info(message: string): void;
  /** A failure; the error's stack follows the line. */
  error(message: string, err?: unknown): void;
}

/** Makes the logger of service `name`. */
export function serviceLog(name: string): Log {
  const prefix = `[${name}]`;
  return {
    info: (message) => console.log(`${prefix} ${message}`),
    error: (message, err) => {
      if (err === undefined) console.error(`${prefix} ${message}`);
      else console.error(`${prefix} ${message}: ${describe(err)}`);
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
