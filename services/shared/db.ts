/**
 * Each service's own database, and the consumer group name bound to it.
 *
 * @module
 */
import { dirname } from "node:path";
import { dbPath, onDeploy } from "./config.ts";

/**
 * Opens a service's own Deno KV database (`<data dir>/<service>.sqlite`), making the folder; on
 * Deno Deploy without `HERALD_DATA_DIR`, the app's own database.
 *
 * @param service The service's name.
 * @returns The database.
 *
 * @example Opening Posts' database
 * ```ts ignore
 * const db = await openDb("posts");
 * ```
 */
export async function openDb(service: string): Promise<Deno.Kv> {
  // On Deno Deploy the disk does not outlive the isolate: keep the data in the app's database.
  if (onDeploy() && Deno.env.get("HERALD_DATA_DIR") === undefined) return await Deno.openKv();
  const path = dbPath(service);
  await Deno.mkdir(dirname(path), { recursive: true });
  return await openRetrying(path);
}

/** Opening sets the file up, which meets the other isolate's or replica's lock: try again. */
async function openRetrying(path: string): Promise<Deno.Kv> {
  for (let attempt = 1;; attempt++) {
    try {
      return await Deno.openKv(path);
    } catch (err) {
      if (attempt >= 100 || !/database is locked/i.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 20));
    }
  }
}

/**
 * The consumer group of a service whose database is a copy built from events.
 *
 * A group's position lives in the bus, not in the service's database: a service started with an
 * empty database under its old group name would carry on from where the old database left off,
 * and never see the users and groups made before. So the group name carries an epoch made
 * once per database (`posts.01J…`): a new, empty database gets a new group, which starts at the
 * beginning of every stream and rebuilds the copy by replay. Every instance sharing the database
 * shares the epoch, so they still share the group's events.
 *
 * @param db The service's database.
 * @param service The service's name.
 * @returns `<service>.<epoch>`.
 *
 * @example The group Posts' worker joins
 * ```ts ignore
 * const group = await replicaGroup(db, "posts"); // "posts.k3x9…"
 * ```
 */
export async function replicaGroup(db: Deno.Kv, service: string): Promise<string> {
  const key = ["meta", "epoch"];
  const epoch = Date.now().toString(36) + crypto.randomUUID().slice(0, 6);
  // Two instances opening one empty database at once: the first epoch written wins.
  await db.atomic().check({ key, versionstamp: null }).set(key, epoch).commit();
  const stored = await db.get<string>(key);
  return `${service}.${stored.value}`;
}
