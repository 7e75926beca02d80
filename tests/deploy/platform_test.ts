/**
 * Herald on a platform that stops idle apps, acted out locally: the service runs as a process
 * behind a proxy that starts it on a request and stops it after a second without one; another
 * process publishes. Events are handled through push (the app is down when each is published;
 * only the push can start it), through the cron drain when every push fails, and none is lost.
 */
import { assert, assertEquals } from "@std/assert";
import { Platform } from "./_platform.ts";
import { dropPrefix, SKIP as REDIS_SKIP, startEmulator } from "../redis/_redis.ts";

const PUBLISHER = new URL("./fixtures/publisher.ts", import.meta.url).pathname;
const SECRET = `whsec_${btoa("platform-test-secret-0123")}`;

async function publish(env: Record<string, string>, id: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", PUBLISHER, id],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success || !text.includes(`"published":"${id}"`)) {
    throw new Error(`publish failed: ${text}`);
  }
}

async function handled(resultsPath: string) {
  const kv = await Deno.openKv(resultsPath);
  try {
    const rows = await Array.fromAsync(
      kv.list<{ at: number; publishedAt: number }>({ prefix: ["handled"] }),
    );
    return rows.map((r) => ({ id: String(r.key[1]), ...r.value }));
  } finally {
    kv.close();
  }
}

async function setup(push: "works" | "fails", bus: Record<string, string> = {}) {
  const dir = await Deno.makeTempDir({ prefix: "herald-platform-" });
  const env = {
    ...bus,
    BUS_PATH: `${dir}/bus.db`,
    RESULTS_PATH: `${dir}/results.db`,
    DENO_DEPLOYMENT_ID: "platform-test",
    HERALD_PUSH_SECRET: SECRET,
    DENO_CRON_TEST_SCHEDULE_OFFSET: "1000",
    NO_COLOR: "1",
  };
  const platform = new Platform(env);
  const prefix = push === "works" ? "" : "/broken";
  Object.assign(env, { HERALD_PUSH_URL: `${platform.url}${prefix}/herald/push` });
  // The first start (a deploy's warm-up) registers the push endpoint in the bus.
  const first = await fetch(`${platform.url}/healthz`);
  await first.body?.cancel();
  const deadline = Date.now() + 20_000;
  while (!platform.lines.some((l) => l.includes("registered for group"))) {
    if (Date.now() > deadline) throw new Error(`Never registered:\n${platform.lines.join("\n")}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { dir, env, platform };
}

function p50(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

async function wokenByPush(label: string, bus: Record<string, string> = {}): Promise<void> {
  const { dir, env, platform } = await setup("works", bus);
  const ids = ["n1", "n2", "n3", "n4"];
  try {
    for (const id of ids) {
      await platform.down(); // the app sleeps when the event is published
      const boots = platform.boots.length;
      await publish(env, id);
      while ((await handled(env.RESULTS_PATH)).every((h) => h.id !== id)) {
        await new Promise((r) => setTimeout(r, 25));
      }
      // What started the app again: the push.
      assertEquals(platform.boots.slice(boots).map((b) => b.path), ["/herald/push"]);
    }
  } finally {
    await platform.close();
  }
  const rows = await handled(env.RESULTS_PATH);
  await Deno.remove(dir, { recursive: true });
  assertEquals([...new Set(rows.map((r) => r.id))].sort(), ids);
  // Deploy's defaults: stopped with SIGINT, the service gives its work 4 s (Deploy kills at 5 s).
  assert(platform.lines.some((l) => l.includes("shutting down (grace 4000 ms)")));
  const ms = rows.map((r) => r.at - r.publishedAt);
  console.log(
    `${label}: publish → handled (app asleep, started by the push) p50 ${p50(ms)} ms, ` +
      `max ${Math.max(...ms)} ms over ${ms.length}; ${platform.boots.length} starts`,
  );
}

Deno.test("a sleeping service is woken by push: every event handled, each through a push", async () => {
  await wokenByPush("kv file");
});

Deno.test({
  name: "a sleeping service on Upstash REST (the emulator) is woken by push the same way",
  ignore: Boolean(REDIS_SKIP),
  async fn() {
    const emulator = await startEmulator();
    const prefix = `herald-test-platform-${crypto.randomUUID().slice(0, 8)}:`;
    try {
      await wokenByPush("redis rest", {
        HERALD_BACKEND: "redis",
        UPSTASH_REDIS_REST_URL: emulator.url,
        UPSTASH_REDIS_REST_TOKEN: emulator.token,
        HERALD_REDIS_PREFIX: prefix,
      });
    } finally {
      await dropPrefix(prefix);
      await emulator.stop();
    }
  },
});

Deno.test("a sleeping service whose pushes fail is drained by its cron: none lost", async () => {
  const { dir, env, platform } = await setup("fails");
  const ids = ["c1", "c2", "c3"];
  try {
    await platform.down();
    for (const id of ids) await publish(env, id);
    // Every push failed and the app stayed down.
    assert(!platform.running);
    assertEquals(await handled(env.RESULTS_PATH), []);
    // The platform's cron tick starts the app; its drain cron handles the backlog.
    const deadline = Date.now() + 30_000;
    while ((await handled(env.RESULTS_PATH)).length < ids.length && Date.now() < deadline) {
      await platform.down();
      await platform.cronTick((lines) =>
        lines.some((l) => l.includes("drain cron: backlog empty"))
      );
    }
  } finally {
    await platform.close();
  }
  const rows = await handled(env.RESULTS_PATH);
  await Deno.remove(dir, { recursive: true });
  assertEquals([...new Set(rows.map((r) => r.id))].sort(), ids);
  assert(
    platform.lines.some((l) => l.includes("drain cron: backlog empty")),
    platform.lines.join("\n"),
  );
  assert(platform.boots.every((b) => b.reason === "cron" || b.path === "/healthz"));
});
