/**
 * The app's settings, all from the environment, each with a default that works on a laptop.
 *
 * | variable              | default              | what                                            |
 * | --------------------- | -------------------- | ----------------------------------------------- |
 * | `HERALD_DATA_DIR`     | `.herald/data`       | where each service keeps `<service>.sqlite`     |
 * | `HERALD_BUS_PATH`     | `.herald/bus.sqlite` | the shared bus file (embedded backend)          |
 * | `HERALD_BACKEND`      | `kv`                 | `redis` puts the bus on Redis (`createRedisBackend`)  |
 * | `JWT_SECRET`          | a dev-only secret    | signs and verifies tokens; set it in production |
 * | `PBKDF2_ITERATIONS`   | `210000`             | password hashing cost                           |
 * | `HERALD_INSTANCE`     | random               | this process's name (Chat's live fan-out group) |
 * | `HERALD_KV_WATCH`     | `1`                  | `0`: no file-event wake-ups, only the poll       |
 * | `HERALD_KV_POLL_MS`   | createKvBackend()'s (50 unwatched) | how often idle claims look for new events       |
 *
 * @module
 */
import { join } from "node:path";

/** The dev-only JWT secret: refused when `HERALD_ENV=production`. */
const DEV_SECRET = "herald-dev-secret-change-me";

function env(name: string): string | undefined {
  const value = Deno.env.get(name);
  return value === undefined || value === "" ? undefined : value;
}

/**
 * The folder holding each service's own database file.
 *
 * @returns `HERALD_DATA_DIR`, or `.herald/data`.
 */
export function dataDir(): string {
  return env("HERALD_DATA_DIR") ?? join(".herald", "data");
}

/**
 * The path of one service's own database.
 *
 * @param service The service's name.
 * @returns `<data dir>/<service>.sqlite`.
 */
export function dbPath(service: string): string {
  return join(dataDir(), `${service}.sqlite`);
}

/**
 * The path of the shared bus file of the embedded backend.
 *
 * @returns `HERALD_BUS_PATH`, or `.herald/bus.sqlite`.
 */
export function busPath(): string {
  return env("HERALD_BUS_PATH") ?? join(".herald", "bus.sqlite");
}

/**
 * Which backend carries the bus.
 *
 * @returns `"redis"` when `HERALD_BACKEND=redis`, else `"kv"`.
 */
export function backendKind(): "kv" | "redis" {
  const kind = env("HERALD_BACKEND") ?? "kv";
  if (kind !== "kv" && kind !== "redis") {
    throw new RangeError(`HERALD_BACKEND must be "kv" or "redis" (got "${kind}")`);
  }
  return kind;
}

/**
 * The secret that signs and verifies JWTs; every service must have the same one.
 *
 * @returns `JWT_SECRET`, or a dev-only default outside production.
 */
export function jwtSecret(): string {
  const secret = env("JWT_SECRET");
  if (secret) return secret;
  if (env("HERALD_ENV") === "production") {
    throw new TypeError("JWT_SECRET must be set when HERALD_ENV=production");
  }
  return DEV_SECRET;
}

/**
 * How many PBKDF2 iterations hash a password (OWASP's 2023 figure for SHA-256 by default).
 *
 * @returns `PBKDF2_ITERATIONS`, or 210,000.
 */
export function pbkdf2Iterations(): number {
  const n = Number(env("PBKDF2_ITERATIONS") ?? 210_000);
  if (!Number.isInteger(n) || n < 1) throw new RangeError("PBKDF2_ITERATIONS must be ≥ 1");
  return n;
}

/**
 * This process's name, unique among running instances.
 *
 * @returns `HERALD_INSTANCE`, or a random one per process.
 */
export function instanceId(): string {
  return env("HERALD_INSTANCE") ?? crypto.randomUUID().slice(0, 8);
}

/**
 * Whether the embedded bus wakes waiting claims by file events from other processes.
 *
 * @returns `false` when `HERALD_KV_WATCH=0`.
 */
export function kvWatch(): boolean {
  return env("HERALD_KV_WATCH") !== "0";
}

/**
 * How often an idle claim on the embedded bus looks for new events: the delay a hop may add
 * when no file event wakes it, against the CPU an idle service spends looking.
 *
 * @returns `HERALD_KV_POLL_MS`, or `undefined` for the default.
 */
export function kvPollMs(): number | undefined {
  const raw = env("HERALD_KV_POLL_MS");
  if (raw === undefined) return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 1) throw new RangeError("HERALD_KV_POLL_MS must be ≥ 1");
  return ms;
}
