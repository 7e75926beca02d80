/**
 * A service's own copy of users, groups and memberships, kept from Users' events (and a new user
 * from Auth's `user.registered`, as Users makes its own). Posts and Chat both keep one; each
 * checks membership against its own copy, never by calling Users.
 *
 * Events may arrive more than once (at least once) and in any order (retries, replays). Every
 * event carries its aggregate's version (a user; a group with its memberships), and the copy
 * applies an event only when it is newer than what it holds for that key: a user, a group, one
 * membership. A deletion leaves a tombstone with its version, so a late `user.updated` or
 * `group.member_added` cannot bring the deleted back. Tombstones expire after
 * {@linkcode TOMBSTONE_MS}, far past any redelivery: a lease lapses in seconds and retries end
 * within hours; a replay starts a new, empty copy and lays its own tombstones.
 *
 * @module
 */
import type { EventWorker } from "@herald/herald";
import { createGroupCommit, type GroupedWrite } from "./group_commit.ts";
import {
  type Group,
  GroupCreated,
  GroupDeleted,
  GroupUpdated,
  MemberAdded,
  MemberRemoved,
  type Membership,
  type User,
  UserDeleted,
  userFromRegistration,
  UserRegistered,
  UserUpdated,
} from "../contracts/mod.ts";

/** How long a tombstone is kept: longer than any redelivery, and than a token lives. */
export const TOMBSTONE_MS = 30 * 24 * 60 * 60 * 1000;
/** Memberships removed per commit on a deletion (two keys each). */
const BATCH = 200;

const userKey = (id: string) => ["users", id];
const groupKey = (id: string) => ["groups", id];
const memberKey = (groupId: string, userId: string) => ["members", groupId, userId];
const membershipKey = (userId: string, groupId: string) => ["memberships", userId, groupId];
const goneKey = (kind: "user" | "group", id: string) => ["gone", kind, id];
const leftKey = (groupId: string, userId: string) => ["gone", "member", groupId, userId];

/** Extra work a service does when a user or group is deleted, in commits of its own. */
export interface ReplicaHooks {
  /** After a user's deletion (Posts deletes their posts here, in batches, and says so). */
  userDeleted?(userId: string): Promise<void>;
  /** After a group's deletion. */
  groupDeleted?(groupId: string): Promise<void>;
}

/**
 * Adds the handlers that keep the copy in `db` to a worker.
 *
 * @param worker The service's worker (its group should start at "earliest", to replay).
 * @param db The service's database.
 * @param hooks Extra work on deletions.
 * @returns The worker.
 *
 * @example Posts' worker
 * ```ts ignore
 * export default replicate(createWorker({ bus, group }), db);
 * ```
 */
export function replicate(worker: EventWorker, db: Deno.Kv, hooks: ReplicaHooks = {}): EventWorker {
  const commit = createGroupCommit(db);
  const upsert = (key: Deno.KvKey, gone: Deno.KvKey, value: { version: number }) =>
    upsertIn(db, commit, key, gone, value);
  const upsertUser = (user: User) => upsert(userKey(user.id), goneKey("user", user.id), user);
  return worker
    // A new user, at version 1: the same user Users makes from the same event.
    .on(UserRegistered, (e) => upsertUser(userFromRegistration(e.data)))
    .on(UserUpdated, (e) => upsertUser(e.data))
    .on(UserDeleted, async (e) => {
      const { id, version } = e.data;
      await bury(db, userKey(id), goneKey("user", id), version);
      await dropEach(db, ["memberships", id], (k) => [memberKey(k[2] as string, id)]);
      await hooks.userDeleted?.(id);
    })
    .on(GroupCreated, (e) => upsert(groupKey(e.data.id), goneKey("group", e.data.id), e.data))
    .on(GroupUpdated, (e) => upsert(groupKey(e.data.id), goneKey("group", e.data.id), e.data))
    .on(GroupDeleted, async (e) => {
      const { id, version } = e.data;
      await bury(db, groupKey(id), goneKey("group", id), version);
      await dropEach(db, ["members", id], (k) => [membershipKey(k[2] as string, id)]);
      await hooks.groupDeleted?.(id);
    })
    .on(MemberAdded, (e) => join(db, e.data))
    .on(MemberRemoved, (e) => leave(db, e.data));
}

/**
 * Thrown when the copy changed between reading and writing {@linkcode CONFLICT_TRIES} times in a
 * row: the worker retries the event.
 */
class ReplicaConflictError extends Error {
  constructor() {
    super("Replica write conflicted; retrying");
    this.name = "ReplicaConflictError";
  }
}

/**
 * How often a write that lost a race (another handler changed the key between its read and its
 * commit: a user's `user.registered` and first `user.updated` arrive together, or an event and its
 * redelivery) reads again and decides afresh, at once, before the event goes back to the worker's
 * retry backoff.
 */
const CONFLICT_TRIES = 4;

/**
 * Runs a read-decide-write step until it applies or finds nothing to do.
 *
 * @param step Reads, then writes; `false` when its write's checks failed.
 */
async function untilApplied(step: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < CONFLICT_TRIES; i++) if (await step()) return;
  throw new ReplicaConflictError();
}

const committed = async (op: Deno.AtomicOperation) => (await op.commit()).ok;

/** Writes a user or group unless it is deleted or what the copy holds is as new. */
async function upsertIn(
  db: Deno.Kv,
  commit: (write: GroupedWrite) => Promise<boolean>,
  key: Deno.KvKey,
  gone: Deno.KvKey,
  value: { version: number },
): Promise<void> {
  await untilApplied(async () => {
    const [current, tomb] = await db.getMany<[{ version?: number }, number]>([key, gone]);
    if (tomb.versionstamp !== null) return true;
    if ((current.value?.version ?? 0) >= value.version) return true;
    return await commit({ checks: [current, tomb], apply: (op) => op.set(key, value) });
  });
}

/** Deletes a user or group and lays its tombstone (deletion is final: any version wins). */
function bury(db: Deno.Kv, key: Deno.KvKey, gone: Deno.KvKey, version: number) {
  return untilApplied(async () => {
    const tomb = await db.get<number>(gone);
    if ((tomb.value ?? 0) >= version) return true;
    return await committed(
      db.atomic().check(tomb).delete(key).set(gone, version, { expireIn: TOMBSTONE_MS }),
    );
  });
}

/** Deletes every key under `prefix` with its mirror keys, in batches. */
async function dropEach(
  db: Deno.Kv,
  prefix: Deno.KvKey,
  mirrors: (key: Deno.KvKey) => Deno.KvKey[],
): Promise<void> {
  while (true) {
    const op = db.atomic();
    let n = 0;
    for await (const entry of db.list({ prefix }, { limit: BATCH })) {
      op.delete(entry.key);
      for (const key of mirrors(entry.key)) op.delete(key);
      n++;
    }
    if (n === 0) return;
    await op.commit();
  }
}

/** The version a membership is at in the copy: its own, or its removal's. */
async function membershipState(db: Deno.Kv, { groupId, userId }: Membership) {
  const [member, left, userGone, groupGone] = await db.getMany<[number, number, number, number]>([
    memberKey(groupId, userId),
    leftKey(groupId, userId),
    goneKey("user", userId),
    goneKey("group", groupId),
  ]);
  const version = Math.max(Number(member.value ?? 0), left.value ?? 0);
  const deleted = userGone.versionstamp !== null || groupGone.versionstamp !== null;
  return { member, left, userGone, groupGone, version, deleted };
}

function join(db: Deno.Kv, m: Membership): Promise<void> {
  return untilApplied(async () => {
    const s = await membershipState(db, m);
    if (s.deleted || s.version >= m.version) return true;
    return await committed(
      db.atomic().check(s.member, s.left, s.userGone, s.groupGone)
        .set(memberKey(m.groupId, m.userId), m.version)
        .set(membershipKey(m.userId, m.groupId), m.version)
        .delete(leftKey(m.groupId, m.userId)),
    );
  });
}

function leave(db: Deno.Kv, m: Membership): Promise<void> {
  return untilApplied(async () => {
    const s = await membershipState(db, m);
    if (s.version >= m.version) return true;
    return await committed(
      db.atomic().check(s.member, s.left)
        .delete(memberKey(m.groupId, m.userId))
        .delete(membershipKey(m.userId, m.groupId))
        .set(leftKey(m.groupId, m.userId), m.version, { expireIn: TOMBSTONE_MS }),
    );
  });
}

/**
 * Reads a user from the copy.
 *
 * @example
 * ```ts ignore
 * const user = await getUser(db, "u1");
 * ```
 */
export async function getUser(db: Deno.Kv, id: string): Promise<User | null> {
  return (await db.get<User>(userKey(id))).value;
}

/**
 * Tells whether the copy knows a user was deleted (their tokens are then refused).
 *
 * @example
 * ```ts ignore
 * const auth = authenticated({ revoked: (id) => isDeletedUser(db, id) });
 * ```
 */
export async function isDeletedUser(db: Deno.Kv, id: string): Promise<boolean> {
  return (await db.get(goneKey("user", id))).versionstamp !== null;
}

/**
 * Reads a group from the copy.
 *
 * @example
 * ```ts ignore
 * const group = await getGroup(db, "g1");
 * ```
 */
export async function getGroup(db: Deno.Kv, id: string): Promise<Group | null> {
  return (await db.get<Group>(groupKey(id))).value;
}

/**
 * Tells whether a user is in a group, by the copy.
 *
 * @example
 * ```ts ignore
 * if (!await isMember(db, groupId, userId)) throw new ForbiddenError("Not a member");
 * ```
 */
export async function isMember(db: Deno.Kv, groupId: string, userId: string): Promise<boolean> {
  return (await db.get(memberKey(groupId, userId))).versionstamp !== null;
}

/**
 * Lists the ids of a group's members, by the copy.
 *
 * @example
 * ```ts ignore
 * const ids = await listMembers(db, "g1");
 * ```
 */
export async function listMembers(db: Deno.Kv, groupId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const m of db.list({ prefix: ["members", groupId] })) ids.push(m.key[2] as string);
  return ids;
}
