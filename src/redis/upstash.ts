/**
 * The REST adapter, on npm `@upstash/redis`: every command is one HTTPS request, and a claim's
 * commands go together in one `/pipeline` request. REST cannot block, so the backend polls it.
 *
 * @module
 */
import { BackendUnavailableError } from "../errors.ts";
import { type RedisArg, type RedisClient, RedisReplyError } from "./client.ts";

/** What the adapter uses of an `@upstash/redis` client: its generic `exec`. */
export interface UpstashExec {
  /** Runs one command given as `[name, ...args]`. */
  exec<T>(args: [string, ...(string | number | boolean)[]]): Promise<T>;
}

/** Where an Upstash (or Upstash-compatible) REST endpoint is. */
export interface UpstashConfig {
  /** The REST URL, such as `UPSTASH_REDIS_REST_URL`. */
  url: string;
  /** The REST token, such as `UPSTASH_REDIS_REST_TOKEN`. */
  token: string;
}

/**
 * Reaches Redis through Upstash's REST API, or any endpoint that speaks it.
 *
 * @param config The URL and token, or an `@upstash/redis` client you made. A client you pass must
 * be made with `responseEncoding: false` and `automaticDeserialization: false`, because the
 * backend reads raw replies.
 * @returns The client.
 *
 * @example
 * ```ts ignore
 * import { upstashClient } from "@herald/herald/redis";
 * const client = upstashClient({
 *   url: Deno.env.get("UPSTASH_REDIS_REST_URL")!,
 *   token: Deno.env.get("UPSTASH_REDIS_REST_TOKEN")!,
 * });
 * console.log(await client.command(["PING"])); // PONG
 * ```
 */
export function upstashClient(config: UpstashConfig | UpstashExec): RedisClient {
  return new UpstashClient(config);
}

class UpstashClient implements RedisClient {
  readonly transport = "rest";
  /** Only with a URL and token: the REST API's `/pipeline` endpoint, one request for many. */
  readonly pipeline?: (commands: readonly (readonly RedisArg[])[]) => Promise<unknown[]>;
  #config: UpstashConfig | UpstashExec;
  #redis?: Promise<UpstashExec>;
  #closed = false;

  constructor(config: UpstashConfig | UpstashExec) {
    this.#config = config;
    if (!("exec" in config)) this.pipeline = (commands) => this.#pipeline(config, commands);
  }

  async #pipeline(
    config: UpstashConfig,
    commands: readonly (readonly RedisArg[])[],
  ): Promise<unknown[]> {
    if (this.#closed) throw this.#unavailable("the client is closed");
    let body: unknown;
    try {
      const res = await fetch(`${config.url.replace(/\/+$/, "")}/pipeline`, {
        method: "POST",
        headers: { authorization: `Bearer ${config.token}`, "content-type": "application/json" },
        body: JSON.stringify(commands),
      });
      body = await res.json();
      if (!res.ok || !Array.isArray(body)) {
        const error = (body as { error?: string } | null)?.error ?? `HTTP ${res.status}`;
        throw new Error(`pipeline refused: ${error}`);
      }
    } catch (err) {
      throw this.#unavailable(describe(err), err);
    }
    return (body as { result?: unknown; error?: string }[]).map((reply) =>
      reply.error === undefined ? reply.result : new RedisReplyError(reply.error)
    );
  }

  async command(args: readonly RedisArg[], _channel?: string): Promise<unknown> {
    if (this.#closed) throw this.#unavailable("the client is closed");
    const redis = await (this.#redis ??= this.#make());
    try {
      return await redis.exec<unknown>(args as [string, ...RedisArg[]]);
    } catch (err) {
      // @upstash/redis raises UpstashError for error replies; anything else is the network.
      if (err instanceof Error && err.name === "UpstashError") {
        throw new RedisReplyError(err.message, { cause: err });
      }
      throw this.#unavailable(describe(err), err);
    }
  }

  #unavailable(detail: string, cause?: unknown): BackendUnavailableError {
    const url = "url" in this.#config ? (this.#config as UpstashConfig).url : undefined;
    return new BackendUnavailableError("redis", detail, { cause, url });
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  async #make(): Promise<UpstashExec> {
    if ("exec" in this.#config) return this.#config;
    // Loaded here so that TCP users never load the REST client, and the other way round.
    const { Redis } = await import("@upstash/redis");
    const config = this.#config as UpstashConfig;
    return new Redis({
      url: config.url,
      token: config.token,
      responseEncoding: false,
      automaticDeserialization: false,
      // The backend retries claims itself; a publish should learn of an outage quickly.
      retry: { retries: 2, backoff: (n) => 50 * 2 ** n },
      enableTelemetry: false,
    });
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
