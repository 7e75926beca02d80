/**
 * A private redis-server for tests that kill and restart Redis: its own port and directory,
 * killed by PID.
 *
 * @module
 */

/** A private redis-server with AOF fsynced on every write, on its own port and directory. */
export class PrivateRedis {
  child?: Deno.ChildProcess;
  constructor(readonly port: number, readonly dir: string) {}

  async start(): Promise<void> {
    this.child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--dir",
        this.dir,
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
        conn.close();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error("redis-server did not start");
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Kills it by PID with SIGKILL: no shutdown save, only what the AOF already holds. */
  async kill(): Promise<void> {
    this.child?.kill("SIGKILL");
    await this.child?.status;
    this.child = undefined;
  }
}

export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
