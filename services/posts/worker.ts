/**
 * Posts' handlers: keep Posts' copy of users, groups and memberships, and delete the posts of a
 * deleted user or group (saying so with `post.deleted`).
 *
 * @module
 */
import { createWorker } from "@herald/herald";
import { openBus, OutboxSweep, sweep } from "../shared/bus.ts";
import { openDb, replicaGroup } from "../shared/db.ts";
import { logEvents } from "../shared/log.ts";
import { replicate } from "../shared/replica.ts";
import { createPosts } from "./core.ts";

const db = await openDb("posts");
const bus = await openBus("posts");
const posts = createPosts(db, bus);

/** Posts' worker: its group is bound to its database, so an empty one replays from the start. */
export default replicate(
  createWorker({ bus, group: await replicaGroup(db, "posts"), start: "earliest" }).use(logEvents),
  db,
  posts,
).cron(OutboxSweep, () => sweep(bus, db));
