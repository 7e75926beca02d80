/**
 * Runs the fixture service under a real `deno serve` for the runtime tests: collects its output
 * lines, finds its port, and always cleans up.
 */

const ROOT = new URL("../../", import.meta.url);
const FIXTURE = new URL("./fixtures/main.ts", import.meta.url);

/** A `deno serve` process running the fixture service. */
export class Served {
  readonly lines: string[] = [];
  readonly status: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #readers: Promise<void>[];
  port = 0;

  constructor(env: Record<string, string>, fixture: URL = FIXTURE) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["serve", "-A", "--host", "127.0.0.1", "--port", "0", fixture.pathname],
      cwd: ROOT.pathname,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.status = this.#child.status;
    this.#readers = [this.#read(this.#child.stdout), this.#read(this.#child.stderr)];
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      this.lines.push(...parts);
    }
    if (rest) this.lines.push(rest);
  }

  /** Lines matching `pattern` so far. */
  matching(pattern: RegExp): string[] {
    return this.lines.filter((l) => pattern.test(l));
  }

  /** Waits for a line matching `pattern`. */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    const found = await poll(() => this.lines.find((l) => pattern.test(l)), timeoutMs);
    if (found === undefined) throw new Error(`No line matched ${pattern}:\n${this.output()}`);
    return found;
  }

  /** Waits until the server listens, and notes its port. */
  async listening(): Promise<this> {
    const line = await this.waitFor(/Listening on http:\/\/127\.0\.0\.1:\d+/);
    this.port = Number(line.match(/127\.0\.0\.1:(\d+)/)![1]);
    return this;
  }

  /** Requests `path` from the service; the body is read so nothing leaks. */
  async request(path: string, init?: RequestInit): Promise<{ status: number; body: string }> {
    const res = await fetch(`http://127.0.0.1:${this.port}${path}`, init);
    return { status: res.status, body: await res.text() };
  }

  /** Waits until `/readyz` answers 200. */
  async ready(timeoutMs = 20_000): Promise<void> {
    const ok = await poll(
      async () => (await this.request("/readyz")).status === 200 || undefined,
      timeoutMs,
    );
    if (!ok) throw new Error(`Never ready:\n${this.output()}`);
  }

  /** Sends a signal, unless the process already ended. */
  signal(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch {
      // Already exited.
    }
  }

  /** Everything it printed, for failure messages. */
  output(): string {
    return this.lines.join("\n");
  }

  /** Kills the process if it still runs and waits for it and its output. */
  async close(): Promise<Deno.CommandStatus> {
    this.signal("SIGKILL");
    const status = await this.status;
    await Promise.all(this.#readers);
    return status;
  }
}

/** Starts the fixture service (`fixtures/main.ts` unless told) and waits until it listens. */
export function serve(env: Record<string, string>, fixture?: URL): Promise<Served> {
  const served = new Served(env, fixture);
  return served.listening().catch(async (err) => {
    await served.close();
    throw err;
  });
}

/** Calls `check` every 25 ms until it returns something other than `undefined`, or time is up. */
export async function poll<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return undefined;
}

/** A fresh folder holding the test's database file; removed by the returned function. */
export async function tempDb(): Promise<{ path: string; remove: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "herald-runtime-" });
  return { path: `${dir}/herald.db`, remove: () => Deno.remove(dir, { recursive: true }) };
}
