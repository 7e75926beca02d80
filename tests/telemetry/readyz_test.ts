/**
 * `/readyz` tells the truth about the bus: a worker in the service's Web Worker on a Redis that
 * goes away makes readiness 503, with the reason, once the outage passes `unreachableMs`; 200
 * again once Redis is back. A private redis-server on a free port (append-only, so the group
 * survives), killed and started again for real.
 */
import { assert, assertEquals } from "@std/assert";
import { createService } from "@herald/herald";
import { until } from "../_until.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function startRedis(port: number, dir: string): Deno.ChildProcess {
  return new Deno.Command("redis-server", {
    args: ["--port", String(port), "--bind", "127.0.0.1", "--appendonly", "yes", "--dir", dir],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function stopRedis(proc: Deno.ChildProcess): Promise<void> {
  proc.kill("SIGKILL");
  await proc.status;
}

async function pings(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buf = new Uint8Array(16);
    const n = await conn.read(buf);
    conn.close();
    return new TextDecoder().decode(buf.subarray(0, n ?? 0)).startsWith("+PONG");
  } catch {
    return false;
  }
}

Deno.test("/readyz answers 503 while the Web Worker's bus is unreachable, 200 once it is back", async () => {
  const port = freePort();
  const dir = await Deno.makeTempDir();
  let redis = startRedis(port, dir);
  await until(() => pings(port));
  Deno.env.set("READY_TEST_REDIS_URL", `redis://127.0.0.1:${port}`);
  const s = createService({
    name: "ready",
    worker: new URL("./fixtures/redis_worker.ts", import.meta.url),
    isolate: "worker",
    unreachableMs: 300,
    signals: false,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  const readyz = async () => {
    const res = await s.fetch(new Request("http://localhost/readyz"));
    return { status: res.status, body: await res.json() };
  };
  try {
    await until(async () => (await readyz()).status === 200, 20_000);
    await stopRedis(redis);
    await until(async () => (await readyz()).status === 503, 20_000);
    const down = await readyz();
    assert(
      down.body.reasons.some((r: string) => r.startsWith("the bus has been unreachable for")),
      JSON.stringify(down.body),
    );
    assertEquals(down.body.roles.worker, "up"); // the Web Worker runs; its bus does not answer
    redis = startRedis(port, dir);
    await until(async () => (await readyz()).status === 200, 20_000);
  } finally {
    await s.shutdown();
    await stopRedis(redis).catch(() => {});
    Deno.env.delete("READY_TEST_REDIS_URL");
    await Deno.remove(dir, { recursive: true });
  }
});
