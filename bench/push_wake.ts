/**
 * A push-woken consumer beside an always-on one: p50 from publish to handler, on one Deno KV file.
 *
 * The service (`tests/deploy/fixtures/main.ts`) runs as a `deno serve` process behind the
 * platform stand-in of the platform test. Always-on: it stays up and its worker claims. Push-woken:
 * it is stopped after a second without a request, and each event is published while it sleeps, so
 * the publisher's signed push starts it (process start, worker start, claim, handler). Each event
 * is published by its own process (`publish.ts` of the fixtures); latency runs from the stamp the
 * publisher puts in the event to the handler's record. Nothing is asserted.
 *
 *   deno run -A bench/push_wake.ts            # 10 events each
 *   PUSH_N=20 deno run -A bench/push_wake.ts
 *
 * @module
 */
import { Platform } from "../tests/deploy/_platform.ts";

const N = Number(Deno.env.get("PUSH_N") ?? 10);
const PUBLISHER = new URL("../tests/deploy/fixtures/publisher.ts", import.meta.url).pathname;
const SECRET = `whsec_${btoa("bench-push-secret-0123456789")}`;

async function publish(env: Record<string, string>, id: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", PUBLISHER, id],
    env,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

async function handledMs(resultsPath: string, id: string): Promise<number> {
  const kv = await Deno.openKv(resultsPath);
  try {
    for (;;) {
      for await (
        const e of kv.list<{ at: number; publishedAt: number }>({ prefix: ["handled", id] })
      ) {
        return e.value.at - e.value.publishedAt;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    kv.close();
  }
}

async function run(mode: "always-on" | "push-woken"): Promise<number[]> {
  const dir = await Deno.makeTempDir({ prefix: "herald-bench-push-" });
  const env: Record<string, string> = {
    BUS_PATH: `${dir}/bus.db`,
    RESULTS_PATH: `${dir}/results.db`,
    DENO_DEPLOYMENT_ID: "bench",
    NO_COLOR: "1",
  };
  const platform = new Platform(env, mode === "always-on" ? Infinity : 1_000);
  if (mode === "push-woken") {
    Object.assign(env, {
      HERALD_PUSH_URL: `${platform.url}/herald/push`,
      HERALD_PUSH_SECRET: SECRET,
    });
  }
  const ms: number[] = [];
  try {
    await (await fetch(`${platform.url}/healthz`)).body?.cancel();
    while (!platform.lines.some((l) => l.includes("worker: ready"))) {
      await new Promise((r) => setTimeout(r, 25));
    }
    for (let i = 0; i < N; i++) {
      if (mode === "push-woken") await platform.down();
      else await new Promise((r) => setTimeout(r, 200));
      await publish(env, `e${i}`);
      ms.push(await handledMs(env.RESULTS_PATH, `e${i}`));
    }
  } finally {
    await platform.close();
    await Deno.remove(dir, { recursive: true });
  }
  return ms;
}

function row(name: string, ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return `| ${name} | ${s.length} | ${at(0.5)} | ${at(0.9)} | ${s[s.length - 1]} |`;
}

const always = await run("always-on");
const woken = await run("push-woken");
console.log("| consumer (Deno KV file) | events | p50 ms | p90 ms | max ms |");
console.log("| --- | --- | --- | --- | --- |");
console.log(row("always-on worker (claim loop, file-event wake-up)", always));
console.log(row("push-woken (app asleep; push starts process and worker)", woken));
console.log(`ratio of p50s: ${
  (woken.sort((a, b) => a - b)[Math.floor(woken.length / 2)] /
    Math.max(1, always.sort((a, b) => a - b)[Math.floor(always.length / 2)])).toFixed(1)
}×`);
