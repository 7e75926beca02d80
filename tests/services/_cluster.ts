/**
 * The four services as separate `deno serve` processes on free ports, over a temporary data
 * folder, for end-to-end tests and the bench. Logs are kept and printed when a test fails.
 *
 * @module
 */
import { join } from "node:path";
import {
  freePort,
  launch,
  type ServiceName,
  type ServiceProcess,
  SERVICES,
  waitReady,
} from "../../services/shared/launch.ts";
import { dropPrefix } from "../redis/_redis.ts";

/** Where the bus lives for a cluster. */
export type BusKind = "kv" | "redis";

/** Four running services (and any extra instances). */
export class Cluster {
  readonly logs: string[] = [];
  readonly #procs = new Map<string, ServiceProcess>();
  readonly #ports = new Map<string, number>();

  private constructor(readonly dir: string, readonly env: Record<string, string>) {}

  /** Starts the four services on a fresh data folder; `extra` is added to their environment. */
  static async start(
    bus: BusKind = "kv",
    extra: Record<string, string> = {},
  ): Promise<Cluster> {
    const dir = await Deno.makeTempDir({ prefix: "herald-e2e-" });
    const env: Record<string, string> = {
      HERALD_DATA_DIR: join(dir, "data"),
      HERALD_BUS_PATH: join(dir, "bus.sqlite"),
      PBKDF2_ITERATIONS: "1000",
      JWT_SECRET: "e2e-secret",
      HERALD_BACKEND: bus,
      ...extra,
    };
    if (bus === "redis") {
      env.HERALD_REDIS_URL = Deno.env.get("HERALD_REDIS_URL") ?? "redis://127.0.0.1:6379";
      env.HERALD_REDIS_PREFIX = `e2e-${crypto.randomUUID().slice(0, 8)}`;
    }
    const cluster = new Cluster(dir, env);
    await Promise.all(SERVICES.map((name) => cluster.start(name)));
    return cluster;
  }

  /** The base URL of a running instance. */
  url(instance: string): string {
    const proc = this.#procs.get(instance);
    if (!proc) throw new Error(`${instance} is not running`);
    return proc.url;
  }

  /**
   * Starts an instance of a service (again on its old port, if it ran before) and waits until
   * it is ready. `instance` names a second instance, such as "chat-b".
   */
  async start(name: ServiceName, instance: string = name): Promise<void> {
    const port = this.#ports.get(instance) ?? freePort();
    this.#ports.set(instance, port);
    const proc = launch(name, {
      port,
      env: { ...this.env, HERALD_INSTANCE: instance, OTEL_SERVICE_NAME: instance },
      onLine: (line) => this.logs.push(`${instance} | ${line}`),
    });
    this.#procs.set(instance, proc);
    proc.exited.then((s) => this.logs.push(`${instance} | exited: ${JSON.stringify(s)}`));
    await waitReady(proc.url);
  }

  /** Stops an instance with SIGTERM and waits for its exit. */
  async stop(instance: string): Promise<Deno.CommandStatus> {
    const proc = this.#procs.get(instance);
    if (!proc) throw new Error(`${instance} is not running`);
    this.#procs.delete(instance);
    return await proc.stop("SIGTERM", 10_000);
  }

  /** Deletes a (stopped) service's database files. */
  async wipe(name: ServiceName): Promise<void> {
    for (const suffix of ["", "-wal", "-shm"]) {
      await Deno.remove(join(this.env.HERALD_DATA_DIR, `${name}.sqlite${suffix}`)).catch(() => {});
    }
  }

  /** Stops everything and deletes the data folder, and the cluster's keys on Redis. */
  async close(): Promise<void> {
    await Promise.all([...this.#procs.keys()].map((i) => this.stop(i)));
    await Deno.remove(this.dir, { recursive: true });
    const prefix = this.env.HERALD_REDIS_PREFIX;
    if (prefix) await dropPrefix(prefix, this.env.HERALD_REDIS_URL);
  }
}

/** A JSON reply. */
export interface Reply {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/** Calls a service over HTTP with a JSON body and a bearer token, both optional. */
export async function api(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; raw?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined || options.raw !== undefined) {
    headers["content-type"] = "application/json";
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: keep the text.
  }
  return { status: res.status, body };
}

/** A client WebSocket with the frames it received and its close event. */
export class Socket {
  // deno-lint-ignore no-explicit-any
  readonly frames: any[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;
  readonly ws: WebSocket;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.onopen = () => resolve();
      this.ws.onerror = () => reject(new Error(`WebSocket ${url} failed`));
    });
    this.opened.catch(() => {}); // awaited by callers that care
    this.closed = new Promise((resolve) => this.ws.onclose = resolve);
    this.ws.onmessage = (e) => this.frames.push(JSON.parse(e.data));
  }

  /** Sends a JSON frame. */
  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Closes it (if open) and waits until it is closed. */
  async close(): Promise<CloseEvent> {
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close();
    return await this.closed;
  }
}
