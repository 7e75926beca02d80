/**
 * The parent side of the bench protocol: spawns `deno run -A bench/<role>.ts` children, reads
 * their JSON lines, tells them to stop, and reads their CPU time from `/proc`.
 *
 * @module
 */

import { cpuMs } from "./_cpu.ts";

const ROOT = new URL("../", import.meta.url);

/** Options of {@linkcode Child.spawn}. */
export interface SpawnOptions {
  /** Extra `deno run` flags, before the script. */
  flags?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Echo the child's stderr. */
  verbose?: boolean;
}

/** A role process. */
export class Child {
  readonly role: string;
  readonly #process: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #waiters: Array<{ key: string; resolve: (v: unknown) => void }> = [];
  readonly #messages: Record<string, unknown>[] = [];
  /** The last progress count reported. */
  progress = 0;
  /** Everything the child wrote on stderr. */
  stderr = "";
  /** Resolves with the exit status once the child is gone and its pipes are drained. */
  readonly exited: Promise<Deno.CommandStatus>;

  private constructor(role: string, params: unknown, options: SpawnOptions) {
    this.role = role;
    const script = new URL(`bench/${role}.ts`, ROOT).pathname;
    this.#process = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ...(options.flags ?? []), script],
      cwd: ROOT.pathname,
      // Plain error text for the table's notes.
      env: { NO_COLOR: "1", ...options.env, BENCH_PARAMS: JSON.stringify(params) },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = this.#process.stdin.getWriter();
    const out = this.#readLines(this.#process.stdout, (line) => this.#onLine(line));
    const err = this.#readLines(this.#process.stderr, (line) => {
      this.stderr += line + "\n";
      if (options.verbose) console.error(`  [${role}] ${line}`);
    });
    this.exited = Promise.all([out, err]).then(() => this.#process.status);
  }

  /** Starts `bench/<role>.ts` with `params` in `BENCH_PARAMS`. */
  static spawn(role: string, params: unknown, options: SpawnOptions = {}): Child {
    return new Child(role, params, options);
  }

  /** The child's process id. */
  get pid(): number {
    return this.#process.pid;
  }

  /** Waits for a message that has `key`, at most `ms` milliseconds. */
  async wait<T = unknown>(key: string, ms: number): Promise<T> {
    const found = this.#messages.find((m) => key in m);
    if (found) return found[key] as T;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exit = this.exited.then((s) => {
      throw new Error(`${this.role} exited (code ${s.code}) before "${key}": ${this.#tail()}`);
    });
    try {
      return await Promise.race([
        new Promise<T>((resolve) => this.#waiters.push({ key, resolve: resolve as never })),
        exit,
        new Promise<never>((_, reject) =>
          timer = setTimeout(
            () => reject(new Error(`${this.role}: no "${key}" within ${ms} ms ${this.#tail()}`)),
            ms,
          )
        ),
      ]);
    } finally {
      clearTimeout(timer);
      exit.catch(() => {});
    }
  }

  /** Asks the child to stop (writes `stop` on its stdin). */
  async stop(): Promise<void> {
    try {
      await this.#stdin.write(new TextEncoder().encode("stop\n"));
      await this.#stdin.close();
    } catch {
      // Already gone.
    }
  }

  /** Kills the child and waits for it. */
  async kill(): Promise<void> {
    try {
      this.#process.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.stop();
    await this.exited;
  }

  /** User + system CPU time the child has used so far, in seconds (Linux `/proc`). */
  cpuSeconds(): number {
    return cpuMs(this.pid) / 1000;
  }

  #tail(): string {
    const lines = this.stderr.trim().split("\n").slice(-5).join(" | ");
    return lines ? `(stderr: ${lines.slice(0, 600)})` : "";
  }

  #onLine(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line);
    } catch {
      this.stderr += line + "\n";
      return;
    }
    if (typeof message.progress === "number") this.progress = message.progress;
    this.#messages.push(message);
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i];
      if (w.key in message) {
        this.#waiters.splice(i, 1);
        w.resolve(message[w.key]);
      }
    }
  }

  async #readLines(stream: ReadableStream<Uint8Array>, onLine: (l: string) => void) {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      rest += text;
      let nl;
      while ((nl = rest.indexOf("\n")) >= 0) {
        onLine(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
      }
    }
    if (rest) onLine(rest);
  }
}
