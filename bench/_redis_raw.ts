/**
 * The bare Redis connections of the raw rows: ioredis over TCP (the client Herald's TCP adapter
 * uses) and @upstash/redis over REST, behind one tiny interface.
 *
 * @module
 */

/** Where the raw rows reach Redis. */
export interface RawTarget {
  transport: "tcp" | "rest";
  /** `redis://…` for TCP, the REST endpoint's `http://…` for REST. */
  url: string;
  /** REST token. */
  token?: string;
}

/** What the raw roles need from a connection. */
export interface RawConn {
  /** Runs one command. */
  run(args: (string | number)[]): Promise<unknown>;
  /** Runs several commands in one round trip (a pipeline). */
  pipeline(commands: (string | number)[][]): Promise<unknown>;
  close(): Promise<void>;
}

/** Opens a connection to `target`. */
export async function connect(target: RawTarget): Promise<RawConn> {
  if (target.transport === "tcp") {
    const { Redis } = await import("ioredis");
    const r = new Redis(target.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
    return {
      run: ([name, ...args]) => r.call(String(name), ...args),
      async pipeline(commands) {
        // ioredis names pipeline commands by their lower-case method names.
        const named = commands.map(([name, ...args]) => [String(name).toLowerCase(), ...args]);
        const replies = await r.pipeline(named).exec();
        for (const [err] of replies ?? []) if (err) throw err;
        return replies;
      },
      async close() {
        await r.quit();
      },
    };
  }
  const { Redis } = await import("@upstash/redis");
  const r = new Redis({
    url: target.url,
    token: target.token!,
    responseEncoding: false,
    automaticDeserialization: false,
    enableTelemetry: false,
  });
  // The REST API's pipeline endpoint takes a JSON array of commands in one request.
  const headers = { authorization: `Bearer ${target.token}`, "content-type": "application/json" };
  return {
    run: (args) => r.exec(args as [string, ...(string | number)[]]),
    async pipeline(commands) {
      const res = await fetch(`${target.url}/pipeline`, {
        method: "POST",
        headers,
        body: JSON.stringify(commands),
      });
      const body = await res.json() as { error?: string }[];
      for (const reply of body) if (reply.error) throw new Error(reply.error);
      return body;
    },
    close: () => Promise.resolve(),
  };
}
