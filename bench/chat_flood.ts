/**
 * How one socket flooding a chat room affects the others: the four services as `deno serve`
 * processes; Ada floods the room from one socket (3,000 messages as fast as the socket takes
 * them) while Carol says something every 60 ms from another (within the rate limit); Bob listens. Prints the p50/p99
 * time from Carol's send until Bob receives it, beside the target (p99 under 100 ms), how many
 * flood messages got through, and Chat's resident memory before and after. Nothing is asserted.
 *
 *   deno run -A bench/chat_flood.ts
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

const FLOOD = 3_000;
const CALM_EVERY_MS = 60;
/** The issue's target for other members' messages during a flood, in ms. */
const TARGET_P99_MS = 100;

const dir = await Deno.makeTempDir({ prefix: "herald-bench-flood-" });
const env = {
  HERALD_DATA_DIR: join(dir, "data"),
  HERALD_BUS_PATH: join(dir, "bus.sqlite"),
  PBKDF2_ITERATIONS: "1000",
  JWT_SECRET: "bench",
  HERALD_LOG_EVENTS: "0",
};
const procs = {} as Record<string, ServiceProcess>;
for (const name of SERVICES) procs[name] = launch(name, { port: freePort(), env });
await Promise.all(Object.values(procs).map((p) => waitReady(p.url)));

async function call(base: string, method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function until(check: () => Promise<boolean>) {
  while (!await check()) await new Promise((r) => setTimeout(r, 10));
}

async function person(name: string) {
  const creds = { email: `${name}@example.com`, password: "bench password", name };
  const { id } = (await call(procs.auth.url, "POST", "/register", undefined, creds)).body;
  const { token } = (await call(procs.auth.url, "POST", "/login", undefined, creds)).body;
  await until(async () => (await call(procs.users.url, "GET", "/users/me", token)).status === 200);
  return { id, token };
}

async function socket(groupId: string, token: string, onFrame: (f: unknown) => void) {
  const { ticket } = (await call(procs.chat.url, "POST", `/rooms/${groupId}/tickets`, token)).body;
  const ws = new WebSocket(
    `${procs.chat.url.replace("http", "ws")}/rooms/${groupId}/ws?ticket=${ticket}`,
  );
  ws.onmessage = (e) => onFrame(JSON.parse(e.data));
  await new Promise((resolve) => ws.onopen = resolve);
  return ws;
}

function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(status.match(/VmRSS:\s+(\d+)/)![1]) / 1024;
}

const [ada, bob, carol] = [await person("ada"), await person("bob"), await person("carol")];
const groupId = (await call(procs.users.url, "POST", "/groups", ada.token, { name: "Room" })).body
  .id;
for (const p of [bob, carol]) {
  await call(procs.users.url, "POST", `/groups/${groupId}/members`, ada.token, { userId: p.id });
}
await until(async () =>
  (await call(procs.chat.url, "GET", `/rooms/${groupId}/messages`, carol.token)).status === 200
);

const sentAt = new Map<string, number>();
const latencies: number[] = [];
let flooded = 0;
await socket(groupId, bob.token, (f) => {
  const frame = f as { type: string; message?: { text: string } };
  if (frame.type !== "message") return;
  const t = sentAt.get(frame.message!.text);
  if (t !== undefined) latencies.push(performance.now() - t);
  else flooded++;
});
const calm = await socket(groupId, carol.token, () => {});
const flood = await socket(groupId, ada.token, () => {});
const rssBefore = rssMiB(procs.chat.pid);

let calmCount = 0;
const timer = setInterval(() => {
  const text = `calm ${calmCount++}`;
  sentAt.set(text, performance.now());
  calm.send(JSON.stringify({ text }));
}, CALM_EVERY_MS);
for (let i = 0; i < FLOOD && flood.readyState === WebSocket.OPEN; i++) {
  flood.send(JSON.stringify({ text: `flood ${i}` }));
  if (i % 100 === 99) await new Promise((r) => setTimeout(r, 0));
}
await new Promise((r) => setTimeout(r, 3_000));
clearInterval(timer);
const deadline = Date.now() + 10_000;
await until(() => Promise.resolve(latencies.length >= calmCount || Date.now() > deadline));
const rssAfter = rssMiB(procs.chat.pid);

for (const ws of [flood, calm]) ws.close();
await Promise.all(Object.values(procs).map((p) => p.stop()));
await Deno.remove(dir, { recursive: true });

latencies.sort((a, b) => a - b);
const at = (q: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
console.log(
  `chat flood (${FLOOD} from one socket): another member's message p50 ${at(0.5).toFixed(1)} ms, ` +
    `p99 ${at(0.99).toFixed(1)} ms (target < ${TARGET_P99_MS}), ${latencies.length} of ` +
    `${calmCount} heard; ` +
    `flood messages delivered ${flooded}; Chat RSS ${rssBefore.toFixed(0)} → ${
      rssAfter.toFixed(0)
    } MiB`,
);
Deno.exit(0);
