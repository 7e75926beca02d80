/**
 * `deno task dev`: the four services, each its own `deno serve` process on its own port of
 * 127.0.0.1 (not reachable from the network), with their logs interleaved under a coloured name,
 * and a clean stop on Ctrl-C. Without `JWT_SECRET`, the first run makes a random secret in the
 * data folder that all four share.
 *
 * The bus is the embedded Deno KV file `.herald/bus.sqlite`; each service keeps its own
 * database in `.herald/data/`. `HERALD_BACKEND=redis deno task dev` puts the bus on Redis
 * (`HERALD_REDIS_URL`, or Upstash's `UPSTASH_REDIS_REST_URL`/`_TOKEN`; by default
 * `redis://127.0.0.1:6379`). `HERALD_PORT` moves the first port
 * (default 8001: Auth 8001, Users 8002, Posts 8003, Chat 8004).
 *
 * @module
 */
import { launch, type ServiceProcess, SERVICES, waitReady } from "./shared/launch.ts";

const COLORS = [36, 33, 35, 32];
const base = Number(Deno.env.get("HERALD_PORT") ?? 8001);
const color = Deno.noColor
  ? (_: number, s: string) => s
  : (c: number, s: string) => `\x1b[${c}m${s}\x1b[0m`;
const env: Record<string, string> = {};
const namesRedis = Deno.env.get("HERALD_REDIS_URL") || Deno.env.get("UPSTASH_REDIS_REST_URL");
if (Deno.env.get("HERALD_BACKEND") === "redis" && !namesRedis) {
  env.HERALD_REDIS_URL = "redis://127.0.0.1:6379";
}
const width = Math.max(...SERVICES.map((s) => s.length));
const encoder = new TextEncoder();

const running: ServiceProcess[] = SERVICES.map((name, i) => {
  const tag = color(COLORS[i], `${name.padEnd(width)} |`);
  const proc = launch(name, {
    port: base + i,
    env,
    ownProcessGroup: true,
    onLine: (line) => Deno.stdout.writeSync(encoder.encode(`${tag} ${line}\n`)),
  });
  proc.exited.then((s) => {
    if (!stopping) {
      console.log(`${tag} exited with code ${s.code}${s.signal ? ` (${s.signal})` : ""}`);
    }
  });
  return proc;
});

let stopping = false;
async function stopAll(why: string, code = 0) {
  if (stopping) return;
  stopping = true;
  console.log(`\ndev: ${why}: stopping the services…`);
  await Promise.all(running.map((p) => p.stop("SIGTERM", 10_000)));
  console.log("dev: all stopped");
  Deno.exit(code);
}
Deno.addSignalListener("SIGINT", () => stopAll("SIGINT"));
Deno.addSignalListener("SIGTERM", () => stopAll("SIGTERM"));

// A service that exits while starting (a port in use, a syntax error) stops the lot: otherwise
// another process on its port could answer the readiness check in its place.
const died = Promise.race(running.map((p) => p.exited.then(() => p)));
const ready = Promise.all(running.map((p) => waitReady(p.url, 60_000))).then(() => undefined);
const failed = await Promise.race([ready, died]);
if (failed) {
  console.error(`dev: ${failed.name} exited while starting (see its lines above); stopping`);
  await stopAll("startup failure", 1);
}
console.log(
  `dev: ready (bus: ${Deno.env.get("HERALD_BACKEND") === "redis" ? "redis" : "Deno KV"})\n` +
    running.map((p) => `  ${p.name.padEnd(width)} ${p.url}`).join("\n") +
    "\ndev: Ctrl-C stops everything",
);
