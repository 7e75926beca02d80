/**
 * A stand-in for a platform that stops idle apps (as Deno Deploy does): a proxy in front of a
 * service process that starts the process on a request, stops it (SIGINT, then SIGKILL after
 * 5 s) once it has had no request for `idleMs`, and, like the platform's cron, can wake it for a
 * cron tick and keep it up while the tick runs.
 *
 * @module
 */

const ENTRY = new URL("./fixtures/main.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

/** Why the platform started the app. */
export type Boot = { reason: "request" | "cron"; path?: string; at: number };

/** The platform: a proxy that starts and stops one service process. */
export class Platform {
  readonly boots: Boot[] = [];
  readonly lines: string[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #env: Record<string, string>;
  readonly #idleMs: number;
  #child?: Deno.ChildProcess;
  #up?: Promise<number>;
  #inflight = 0;
  #lastActive = 0;
  #busyUntil = 0;
  #idleTimer: ReturnType<typeof setInterval>;
  #stopping?: Promise<void>;
  #readers: Promise<void>[] = [];

  constructor(env: Record<string, string>, idleMs = 1_000) {
    this.#env = env;
    this.#idleMs = idleMs;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (r) => this.#proxy(r),
    );
    this.#idleTimer = setInterval(() => this.#reap(), 50);
  }

  /** The platform's public URL. */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Whether the app process runs now. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  async #proxy(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    // A route that always fails: the push URL of the "pushes fail" runs.
    if (pathname.startsWith("/broken/")) return new Response("unavailable", { status: 503 });
    this.#inflight++;
    try {
      const port = await this.#start({ reason: "request", path: pathname, at: Date.now() });
      const target = `http://127.0.0.1:${port}${pathname}`;
      const body = request.body ? await request.arrayBuffer() : undefined;
      const res = await fetch(target, { method: request.method, headers: request.headers, body });
      return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
    } finally {
      this.#inflight--;
      this.#lastActive = performance.now();
    }
  }

  /** Wakes the app for a cron tick and keeps it up until `done` sees the tick end (or 5 s). */
  async cronTick(done: (lines: string[]) => boolean): Promise<void> {
    this.#busyUntil = Infinity;
    try {
      await this.#start({ reason: "cron", at: Date.now() });
      const from = this.lines.length;
      const deadline = Date.now() + 5_000;
      while (!done(this.lines.slice(from)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
      }
    } finally {
      this.#busyUntil = 0;
      this.#lastActive = performance.now();
    }
  }

  async #start(boot: Boot): Promise<number> {
    // A request during a stop waits for it and starts a fresh process, as a platform would.
    while (this.#stopping) await this.#stopping;
    if (this.#up) return await this.#up;
    this.boots.push(boot);
    const up = this.#up = this.#spawn();
    up.catch(() => this.#up === up && (this.#up = undefined));
    return await up;
  }

  async #spawn(): Promise<number> {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["serve", "-A", "--host", "127.0.0.1", "--port", String(port), ENTRY],
      cwd: ROOT,
      env: this.#env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    const listening = Promise.withResolvers<void>();
    this.#readers.push(this.#read(child.stdout, listening), this.#read(child.stderr, listening));
    child.status.then(() => {
      if (this.#child === child) {
        this.#child = undefined;
        this.#up = undefined;
      }
      listening.reject(new Error("The app exited before it listened"));
    });
    await listening.promise;
    this.#lastActive = performance.now();
    return port;
  }

  async #read(stream: ReadableStream<Uint8Array>, listening: PromiseWithResolvers<void>) {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const line of parts) {
        this.lines.push(line);
        if (line.includes("Listening on")) listening.resolve();
      }
    }
  }

  // Stops an app that has been idle for idleMs: SIGINT, and SIGKILL 5 s later.
  #reap(): void {
    const child = this.#child;
    if (!child || this.#stopping || this.#inflight > 0 || !this.#up) return;
    // Not listening yet: #lastActive is set once it does.
    if (performance.now() < this.#busyUntil) return;
    if (performance.now() - this.#lastActive < this.#idleMs) return;
    this.#up = undefined;
    this.#stopping = (async () => {
      this.lines.push("[platform] idle: stopping the app");
      child.kill("SIGINT");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await child.status;
      clearTimeout(killer);
      this.#stopping = undefined;
    })();
  }

  /** Waits until the app is stopped. */
  async down(): Promise<void> {
    while (this.#child || this.#stopping) await new Promise((r) => setTimeout(r, 25));
  }

  /** Stops everything. */
  async close(): Promise<void> {
    clearInterval(this.#idleTimer);
    const child = this.#child;
    if (child) {
      child.kill("SIGKILL");
      await child.status;
    }
    await this.#stopping;
    await Promise.all(this.#readers);
    await this.#server.shutdown();
  }
}
