/**
 * A consumer process (`_consumer.ts`) run by the multi-process tests, its printed lines collected
 * as they arrive.
 *
 * @module
 */

/** A line a consumer process prints. */
export interface Line {
  kind: "ready" | "start" | "done";
  consumer: string;
  group: string;
  i: number;
  attempt: number;
  at: number;
}

/** A consumer process whose printed lines are collected as they arrive. */
export class ConsumerProcess {
  readonly lines: Line[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #reading: Promise<void>;

  constructor(
    path: string,
    group: string,
    stream: string,
    name: string,
    leaseMs: number,
    handlerMs: number,
  ) {
    const script = new URL("./_consumer.ts", import.meta.url).pathname;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, path, group, stream, name, String(leaseMs), String(handlerMs)],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#reading = this.#read();
  }

  async #read(): Promise<void> {
    let buffer = "";
    for await (const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let n;
      while ((n = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, n).trim();
        buffer = buffer.slice(n + 1);
        if (line.startsWith("{")) this.lines.push(JSON.parse(line));
      }
    }
  }

  get ready(): boolean {
    return this.lines.some((l) => l.kind === "ready");
  }

  /** Stops the process with `signal` and waits for it to exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill(signal);
    } catch {
      // already exited
    }
    const status = await this.#child.status;
    await this.#reading;
    return status;
  }
}
