/**
 * A Redis that restarts without persistence comes back without the streams and consumer groups:
 * the running worker makes its group again (warning once) and handles what is published after,
 * and `/readyz` says 200 again. A private redis-server with no AOF and no snapshots, killed by
 * PID and started again.
 */
import { assert, assertEquals } from "@std/assert";
import { createBus, createService } from "@herald/herald";
import { createRedisBackend } from "@herald/herald/redis";
import { until } from "../_until.ts";
import { SKIP } from "./_redis.ts";
import { freePort } from "./_private_redis.ts";

function startRedis(port: number, dir: string): Deno.ChildProcess {
  return new Deno.Command("redis-server", {
    args: ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "no"]
      .concat(["--save", ""]),
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function stopRedis(proc: Deno.ChildProcess): Promise<void> {
  proc.kill("SIGKILL");
  await proc.status;
}

Deno.test({
  name: "a running worker makes its group again after Redis restarts empty, and handles new events",
  ignore: Boolean(SKIP),
  async fn() {
    const port = freePort();
    const dir = await Deno.makeTempDir({ prefix: "herald-regroup-" });
    let server = startRedis(port, dir);
    Deno.env.set("REGROUP_TEST_REDIS_URL", `redis://127.0.0.1:${port}`);
    const fixture = new URL("./fixtures/regroup_worker.ts", import.meta.url);
    const { Noted, handled, warnings, bus: workerBus } = await import(
      "./fixtures/regroup_worker.ts"
    );
    const s = createService({
      name: "regroup",
      worker: fixture,
      isolate: "same",
      unreachableMs: 300,
      signals: false,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    const bus = createBus({
      backend: createRedisBackend({ url: `redis://127.0.0.1:${port}`, prefix: "regroup-test:" }),
      source: "test",
    });
    const readyz = async () => (await s.fetch(new Request("http://localhost/readyz"))).status;
    const publish = async (n: number) => {
      for (;;) {
        try {
          return await bus.publish(Noted, { n });
        } catch {
          await new Promise((r) => setTimeout(r, 100)); // Redis still starting
        }
      }
    };
    try {
      await until(async () => await readyz() === 200, 20_000);
      await publish(1);
      await until(() => handled.includes(1), 20_000);
      await stopRedis(server);
      await until(async () => await readyz() === 503, 20_000);
      server = startRedis(port, dir);
      await publish(2);
      await publish(3);
      await until(() => handled.includes(2) && handled.includes(3), 20_000);
      await until(async () => await readyz() === 200, 20_000);
      assertEquals(handled, [1, 2, 3]);
      assert(
        warnings.some((w) => w.includes("consumer group") && w.includes("again")),
        warnings.join("\n"),
      );
    } finally {
      await s.shutdown();
      await bus.close();
      await workerBus.close();
      await stopRedis(server).catch(() => {});
      Deno.env.delete("REGROUP_TEST_REDIS_URL");
      await Deno.remove(dir, { recursive: true });
    }
  },
});
