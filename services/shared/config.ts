/**
 * The app's settings, all from the environment, each with a default that works on a laptop.
 *
 * | variable              | default              | what                                            |
 * | --------------------- | -------------------- | ----------------------------------------------- |
 * | `HERALD_DATA_DIR`     | `.herald/data`       | where each service keeps `<service>.sqlite`     |
 * | `HERALD_BUS_PATH`     | `.herald/bus.sqlite` | the shared bus file (embedded backend)          |
 * | `HERALD_BACKEND`      | `kv`                 | `redis` puts the bus on Redis (`createRedisBackend`)  |
 * | `JWT_SECRET`          | `<data dir>/jwt-secret` | signs tokens; required in production         |
 * | `HERALD_ENV`          | (dev)                | `production`: no secret made up, `JWT_SECRET` required |
 * | `PBKDF2_ITERATIONS`   | `210000`             | password hashing cost                           |
 * | `HERALD_INSTANCE`     | random               | this process's name (Chat's live fan-out group) |
 * | `HERALD_KV_WATCH`     | `1`                  | `0`: no file-event wake-ups, only the poll       |
 * | `HERALD_KV_POLL_MS`   | createKvBackend()'s (50 unwatched) | how often idle claims look for new events       |
 * | `HERALD_PUSH_PUBLISH` | `1` on Deno Deploy   | `1`: publishers wake sleeping consumers (push)  |
 *
 * On Deno Deploy (`DENO_DEPLOYMENT_ID` is set) with no `HERALD_DATA_DIR`, each service keeps its
 * own data in the app's Deno KV database; `HERALD_BUS_PATH` may be a KV Connect URL.
 *
 * @module
 */
import { join } from "node:path";

/** The file in the data folder holding the secret dev made up on its first run. */
const SECRET_FILE = "jwt-secret";

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

/** A setting is missing or wrong: the service refuses to start. */
export class ConfigError extends Error {
  /** @param message What to set, and how. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

let secret: Promise<string> | undefined;

/**
 * The secret that signs and verifies JWTs; every service must have the same one. There is no
 * built-in default anyone could read: outside production, the first service to start makes a
 * random one in the data folder (`jwt-secret`, readable by its owner only) and the others read
 * it; with `HERALD_ENV=production`, `JWT_SECRET` must be set.
 *
 * @returns `JWT_SECRET`, or the data folder's secret outside production.
 * @throws {ConfigError} in production without `JWT_SECRET`.
 */
export function jwtSecret(): Promise<string> {
  secret ??= readSecret();
  return secret;
}

async function readSecret(): Promise<string> {
  const given = env("JWT_SECRET");
  if (given) return given;
  if (env("HERALD_ENV") === "production") {
    throw new ConfigError(
      "JWT_SECRET must be set when HERALD_ENV=production (the same value in every service; " +
        "for example the output of `openssl rand -base64 32`)",
    );
  }
  const path = join(dataDir(), SECRET_FILE);
  await Deno.mkdir(dataDir(), { recursive: true });
  const made = `${path}.${crypto.randomUUID()}`;
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  await Deno.writeTextFile(made, btoa(String.fromCharCode(...bytes)), { mode: 0o600 });
  // A link is made whole or not at all, and never over an existing file: of several services
  // starting at once, the first one's secret is everybody's.
  await Deno.link(made, path).catch((err) => {
    if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
  });
  await Deno.remove(made);
  return (await Deno.readTextFile(path)).trim();
}

/**
 * Checks the settings a service needs before it serves anything; on a problem, prints it and
 * exits with code 1, so a misconfigured service never reports ready.
 *
 * @param service The service's name, for the message.
 *
 * @example At the top of a service's main.ts
 * ```ts ignore
 * await checkConfig("auth");
 * ```
 */
export async function checkConfig(service: string): Promise<void> {
  try {
    backendKind();
    pbkdf2Iterations();
    kvPollMs();
    await jwtSecret();
  } catch (err) {
    console.error(`[${service}] refusing to start: ${(err as Error).message}`);
    Deno.exit(1);
  }
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

/** Whether this process runs on Deno Deploy. */
export function onDeploy(): boolean {
  return env("DENO_DEPLOYMENT_ID") !== undefined;
}

/**
 * Whether publishers send push wake-ups to consumers that sleep (see docs/deploy.md).
 *
 * @returns `HERALD_PUSH_PUBLISH=1`, or `0`; by default on Deno Deploy only.
 */
export function pushOnPublish(): boolean {
  const raw = env("HERALD_PUSH_PUBLISH");
  return raw === undefined ? onDeploy() : raw === "1";
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
