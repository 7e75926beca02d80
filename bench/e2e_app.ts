/**
 * How long, end to end, a new user takes to appear in Posts and in Chat after registering:
 * the four services as `deno serve` processes, 200 registrations in waves of `E2E_AT_ONCE`
 * (default 50) at once; for each, the time from Auth's 201 until both Posts and Chat hold the
 * user: their own database files read every 2 ms (see `_e2e_seen.ts`); after each wave,
 * `GET /users/:id` must answer 200 from each, outside the timed window. `E2E_SEEN=http` times that GET
 * instead, polled every 5 ms per registration and service (it loads the services it measures).
 * Prints p50/p90/p99/max beside the target. Nothing is asserted.
 *
 *   deno run -A bench/e2e_app.ts                     # embedded Deno KV bus, woken by file events
 *   HERALD_KV_WATCH=0 deno run -A bench/e2e_app.ts   # Deno KV bus, idle claims poll every 50 ms
 *   HERALD_BACKEND=redis deno run -A bench/e2e_app.ts
 *   E2E_N=50 deno run -A bench/e2e_app.ts        # fewer registrations
 *   E2E_AT_ONCE=1 deno run -A bench/e2e_app.ts   # one registration at a time
 *   E2E_SEEN=http deno run -A bench/e2e_app.ts   # visible = a polled GET answering 200
 *
 * @module
 */
import { join } from "node:path";
import {
  freePort,
  launch,
  type ServiceProcess,
  SERVICES,
  waitReady,
} from "../services/shared/launch.ts";
import {
  type BusStats,
  type Handled,
  printBusStats,
  printStages,
  type Registration,
} from "./_e2e_stages.ts";
import { SeenWatcher } from "./_e2e_seen.ts";
import { cpuMs } from "./_cpu.ts";

const N = Number(Deno.env.get("E2E_N") ?? 200);
const AT_ONCE = Number(Deno.env.get("E2E_AT_ONCE") ?? 50);
const SEEN_BY_HTTP = Deno.env.get("E2E_SEEN") === "http";
/** The issue's target for the p99, in ms. */
const TARGET_P99_MS = 50;
const backend = Deno.env.get("HERALD_BACKEND") === "redis" ? "redis" : "kv";
const dir = await Deno.makeTempDir({ prefix: "herald-bench-app-" });
const env: Record<string, string> = {
  HERALD_DATA_DIR: join(dir, "data"),
  HERALD_BUS_PATH: join(dir, "bus.sqlite"),
  HERALD_BACKEND: backend,
  PBKDF2_ITERATIONS: "1000",
  JWT_SECRET: "bench",
  // One JSON line per handled event, with its times: the stages below are read from them.
  HERALD_LOG_EVENTS: Deno.env.get("HERALD_LOG_EVENTS") ?? "json",
};
if (backend === "redis") {
  env.HERALD_REDIS_URL = Deno.env.get("HERALD_REDIS_URL") ?? "redis://127.0.0.1:6379";
  env.HERALD_REDIS_PREFIX = `bench-${crypto.randomUUID().slice(0, 8)}`;
}
const errors: string[] = [];
const handled: Handled[] = [];
const busStats: BusStats[] = [];
const procs: Record<string, ServiceProcess> = {};
for (const name of SERVICES) {
  procs[name] = launch(name, {
    port: freePort(),
    env,
    onLine: (l, s) => {
      if (s === "stdout" && l.startsWith('{"stage"')) return handled.push(JSON.parse(l));
      if (s === "stdout" && l.startsWith('{"stats"')) return busStats.push(JSON.parse(l));
      if ((s === "stderr" && !l.includes("Listening on")) || l.includes("failed")) {
        errors.push(`${name} | ${l}`);
      }
    },
  });
}
await Promise.all(Object.values(procs).map((p) => waitReady(p.url)));

async function post(url: string, body: unknown) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function visible(base: string, id: string, token: string): Promise<number> {
  while (true) {
    const res = await fetch(`${base}/users/${id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await res.body?.cancel();
    if (res.status === 200) return wall();
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Both copies hold the user: wall times for Posts and Chat. */
async function bothHold(id: string): Promise<[number, number]> {
  if (SEEN_BY_HTTP) {
    return await Promise.all([
      visible(procs.posts.url, id, token),
      visible(procs.chat.url, id, token),
    ]);
  }
  return await Promise.all([watchers.posts.seen(id), watchers.chat.seen(id)]);
}

/**
 * Each copy that held a user also serves it: `GET /users/:id` answers 200 from Posts and Chat.
 * Run after a wave, so that these reads do not load the services while the wave is timed.
 */
async function served(ids: string[]): Promise<void> {
  if (SEEN_BY_HTTP) return;
  await Promise.all(ids.flatMap((id) =>
    [procs.posts.url, procs.chat.url].map(async (base) => {
      const res = await fetch(`${base}/users/${id}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await res.body?.cancel();
      if (res.status !== 200) throw new Error(`${base}/users/${id} answered ${res.status}`);
    })
  ));
}

// A token to read with: any valid one will do, so log in once.
const me = { email: "bench@example.com", password: "bench password", name: "Bench" };
await post(`${procs.auth.url}/register`, me);
const { token } = (await post(`${procs.auth.url}/login`, me)).body;

/** Wall-clock milliseconds, comparable with the services' stage lines. */
const wall = () => performance.timeOrigin + performance.now();
const watchers = {
  posts: await SeenWatcher.open(join(env.HERALD_DATA_DIR, "posts.sqlite"), wall),
  chat: await SeenWatcher.open(join(env.HERALD_DATA_DIR, "chat.sqlite"), wall),
};

async function one(i: number): Promise<number> {
  const reg = await post(`${procs.auth.url}/register`, {
    email: `u${i}-${crypto.randomUUID().slice(0, 6)}@example.com`,
    password: "bench password",
    name: `User ${i}`,
  });
  const t0 = wall();
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${JSON.stringify(reg.body)}`);
  const [inPosts, inChat] = await bothHold(reg.body.id);
  registrations.push({ id: reg.body.id, t0, posts: inPosts, chat: inChat });
  return Math.max(inPosts, inChat) - t0;
}

/** user+sys CPU ms of a process, from /proc (Linux); NaN elsewhere. */
function cpuMsOr(pid: number | "self"): number {
  try {
    return cpuMs(pid);
  } catch {
    return NaN;
  }
}
function tasks(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const raw = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`);
      const comm = raw.slice(raw.indexOf("(") + 1, raw.lastIndexOf(")"));
      const f = raw.slice(raw.lastIndexOf(") ") + 2).split(" ");
      out[`${comm}#${t.name}`] = (Number(f[11]) + Number(f[12])) * 10;
    } catch { /* gone */ }
  }
  return out;
}
const tasksOf = () => Object.fromEntries(SERVICES.map((s) => [s, tasks(procs[s].pid)]));
const cpuOf = () => [...SERVICES.map((s) => cpuMsOr(procs[s].pid)), cpuMsOr("self")];

const latencies: number[] = [];
const registrations: Registration[] = [];
const cpu0 = cpuOf();
const tasks0 = tasksOf();
for (let i = 0; i < N; i += AT_ONCE) {
  const wave = Array.from({ length: Math.min(AT_ONCE, N - i) }, (_, j) => one(i + j));
  const times = await Promise.all(wave);
  await served(registrations.slice(i).map((r) => r.id));
  latencies.push(...times);
  if (Deno.env.get("E2E_WAVES")) {
    const sorted = times.toSorted((a, b) => a - b);
    console.log(
      `wave ${i / AT_ONCE}: min ${sorted[0].toFixed(1)} max ${sorted.at(-1)!.toFixed(1)}`,
    );
  }
}

const cpu = cpuOf().map((c, i) => (c - cpu0[i]) / N);
const tasks1 = tasksOf();
// The services print their bus counters every 200 ms: wait for the last.
await new Promise((r) => setTimeout(r, 500));
watchers.posts.close();
watchers.chat.close();
await Promise.all(Object.values(procs).map((p) => p.stop()));
await Deno.remove(dir, { recursive: true });

latencies.sort((a, b) => a - b);
const at = (q: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
const wake = backend === "redis"
  ? "redis"
  : Deno.env.get("HERALD_KV_WATCH") !== "0"
  ? "kv, file-watch wake-ups"
  : `kv, ${Deno.env.get("HERALD_KV_POLL_MS") ?? 50} ms poll`;
const seenBy = SEEN_BY_HTTP ? "GET polled every 5 ms" : "their files read every 2 ms";
console.log(
  `registration → visible in Posts and Chat (${wake}, ${seenBy}, n=${N}, ${AT_ONCE} at once): ` +
    `p50 ${at(0.5).toFixed(1)} ms, p90 ${at(0.9).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms ` +
    `(target ≤ ${TARGET_P99_MS}), max ${latencies.at(-1)!.toFixed(1)} ms`,
);
console.log(
  `CPU ms per registration: ${
    [...SERVICES, "bench"].map((s, i) => `${s} ${cpu[i].toFixed(2)}`).join(", ")
  }, total ${cpu.reduce((a, b) => a + b, 0).toFixed(2)}`,
);
printStages(registrations, handled);
printBusStats(busStats);
if (Deno.env.get("E2E_THREADS")) {
  for (const s of SERVICES) {
    const by: Record<string, number> = {};
    for (const [k, v] of Object.entries(tasks1[s])) {
      const name = k.split("#")[0];
      by[name] = (by[name] ?? 0) + (v - (tasks0[s][k] ?? 0)) / N;
    }
    console.log(
      `threads ${s}: ${
        Object.entries(by).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).map(([k, v]) =>
          `${k} ${v.toFixed(2)}`
        ).join(", ")
      }`,
    );
  }
}
if (errors.length > 0) console.log(`stderr of the services:\n${errors.slice(-20).join("\n")}`);
