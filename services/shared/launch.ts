/**
 * Starting a service as its own `deno serve` process, with its output split into lines. Used by
 * `deno task dev`, the end-to-end tests and the registration bench, so all three run the
 * services exactly the same way.
 *
 * @module
 */
import { fileURLToPath as fromFileUrl } from "node:url";

/** The four services, in the order they start. */
export const SERVICES = ["auth", "users", "posts", "chat"] as const;
/** One of the four services. */
export type ServiceName = typeof SERVICES[number];

/** A running service process. */
export interface ServiceProcess {
  /** The service. */
  readonly name: ServiceName;
  /** Its HTTP port. */
  readonly port: number;
  /** Its process id. */
  readonly pid: number;
  /** `http://<hostname>:<port>`. */
  readonly url: string;
  /** Resolves with its exit status once it has exited and its output is drained. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** Sends a signal (default SIGTERM) and waits for the exit; SIGKILL after `graceMs`. */
  stop(signal?: Deno.Signal, graceMs?: number): Promise<Deno.CommandStatus>;
}

/** Options of {@linkcode launch}. */
export interface LaunchOptions {
  /** The HTTP port. */
  port: number;
  /**
   * The address to listen on: only this machine by default, so a laptop's dev services are not
   * reachable from its network.
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /** Environment added to this process's own. */
  env?: Record<string, string>;
  /** Receives each line the process prints, with the stream it came from. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /**
   * Run it in its own process group, so a terminal's Ctrl-C reaches only the launcher, which
   * then stops it with one signal (a second signal makes `createService()` exit at once).
   * @default {false}
   */
  ownProcessGroup?: boolean;
}

const CONFIG = fromFileUrl(new URL("../../deno.json", import.meta.url));

/**
 * Starts `deno serve` on a service's `main.ts`.
 *
 * @param name The service.
 * @param options Port, environment, and where its lines go.
 * @returns The process.
 *
 * @example
 * ```ts ignore
 * const auth = launch("auth", { port: 8001, onLine: (l) => console.log(`auth | ${l}`) });
 * await waitHealthy(auth.url);
 * await auth.stop();
 * ```
 */
export function launch(name: ServiceName, options: LaunchOptions): ServiceProcess {
  const main = fromFileUrl(new URL(`../${name}/main.ts`, import.meta.url));
  const hostname = options.hostname ?? "127.0.0.1";
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "serve",
      "-A",
      // V8's young generation capped as docs/running.md recommends (see its "Memory" section).
      "--v8-flags=--max-semi-space-size=16",
      "--config",
      CONFIG,
      "--host",
      hostname,
      "--port",
      String(options.port),
      main,
    ],
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: options.ownProcessGroup ?? false,
  }).spawn();
  const onLine = options.onLine ?? (() => {});
  const drained = Promise.all([
    lines(child.stdout, (l) => onLine(l, "stdout")),
    lines(child.stderr, (l) => onLine(l, "stderr")),
  ]);
  const exited = child.status.then(async (status) => {
    await drained;
    return status;
  });
  let done = false;
  exited.then(() => done = true);
  return {
    name,
    port: options.port,
    pid: child.pid,
    url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${options.port}`,
    exited,
    async stop(signal: Deno.Signal = "SIGTERM", graceMs = 10_000) {
      if (!done) child.kill(signal);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((r) => timer = setTimeout(r, graceMs));
      await Promise.race([exited, late]);
      clearTimeout(timer);
      if (!done) child.kill("SIGKILL");
      return await exited;
    },
  };
}

/**
 * Waits until a service answers `GET /readyz` with 200.
 *
 * @param url The service's base URL.
 * @param timeoutMs How long to wait.
 * @throws {Error} when it is not ready in time.
 *
 * @example
 * ```ts ignore
 * await waitReady("http://127.0.0.1:8001");
 * ```
 */
export async function waitReady(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/readyz`);
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} was not ready within ${timeoutMs} ms`);
}

/**
 * Finds a free TCP port on 127.0.0.1.
 *
 * @returns A port nothing listens on right now.
 *
 * @example
 * ```ts ignore
 * const port = freePort();
 * ```
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function lines(stream: ReadableStream<Uint8Array>, each: (line: string) => void) {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    for (const line of parts) each(line);
  }
  if (rest) each(rest);
}
