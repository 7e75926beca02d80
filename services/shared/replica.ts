/**
 * A service's own copy of users, groups and memberships, kept from Users' events. Posts and Chat
 * both keep one; each checks membership against its own copy, never by calling Users.
 *
 * Events may arrive more than once (at least once) and, after a retry, out of order: every
 * handler records "applied" atomically with its writes (`ctx.atomic`), and a deletion leaves a
 * tombstone so that a late `user.updated` or `group.member_added` cannot bring the deleted back.
 *
 * @module
 */
import type { EventWorker, OutboxAtomic } from "@herald/herald";
import {
  type Group,
  GroupCreated,
  GroupDeleted,
  GroupUpdated,
  MemberAdded,
  MemberRemoved,
  type User,
  UserCreated,
  UserDeleted,
  UserUpdated,
} from "../contracts/mod.ts";

const userKey = (id: string) => ["users", id];
const groupKey = (id: string) => ["groups", id];
const memberKey = (groupId: string, userId: string) => ["members", groupId, userId];
const membershipKey = (userId: string, groupId: string) => ["memberships", userId, groupId];
const goneKey = (kind: "user" | "group", id: string) => ["gone", kind, id];

/** Extra writes a service adds to the replica's own when a user or group is deleted. */
export interface ReplicaHooks {
  /** Adds to the deletion of a user (Posts deletes their posts here, and says so). */
  userDeleted?(op: OutboxAtomic, userId: string): Promise<void>;
  /** Adds to the deletion of a group. */
  groupDeleted?(op: OutboxAtomic, groupId: string): Promise<void>;
}

/**
 * Adds the handlers that keep the copy in `db` to a worker.
 *
 * @param worker The service's worker (its group should start at "earliest", to replay).
 * @param db The service's database.
 * @param hooks Extra writes on deletions.
 * @returns The worker.
 *
 * @example Posts' worker
 * ```ts ignore
 * export default replicate(createWorker({ bus, group }), db);
 * ```
 */
export function replicate(worker: EventWorker, db: Deno.Kv, hooks: ReplicaHooks = {}): EventWorker {
  const commit = (op: OutboxAtomic, unlessGone: Deno.KvKey[] = []) =>
    commitUnlessGone(db, op, unlessGone);
  const upsertUser = (user: User, op: OutboxAtomic) =>
    commit(op.set(userKey(user.id), user), [goneKey("user", user.id)]);
  const upsertGroup = (group: Group, op: OutboxAtomic) =>
    commit(op.set(groupKey(group.id), group), [goneKey("group", group.id)]);
  return worker
    .on(UserCreated, (e, ctx) => upsertUser(e.data, ctx.atomic(db)))
    .on(UserUpdated, (e, ctx) => upsertUser(e.data, ctx.atomic(db)))
    .on(UserDeleted, async (e, ctx) => {
      const id = e.data.id;
      const op = ctx.atomic(db).delete(userKey(id)).set(goneKey("user", id), true);
      for await (const m of db.list({ prefix: ["memberships", id] })) {
        const groupId = m.key[2] as string;
        op.delete(m.key).delete(memberKey(groupId, id));
      }
      await hooks.userDeleted?.(op, id);
      await commit(op);
    })
    .on(GroupCreated, (e, ctx) => upsertGroup(e.data, ctx.atomic(db)))
    .on(GroupUpdated, (e, ctx) => upsertGroup(e.data, ctx.atomic(db)))
    .on(GroupDeleted, async (e, ctx) => {
      const id = e.data.id;
      const op = ctx.atomic(db).delete(groupKey(id)).set(goneKey("group", id), true);
      for await (const m of db.list({ prefix: ["members", id] })) {
        const userId = m.key[2] as string;
        op.delete(m.key).delete(membershipKey(userId, id));
      }
      await hooks.groupDeleted?.(op, id);
      await commit(op);
    })
    .on(MemberAdded, async (e, ctx) => {
      const { groupId, userId } = e.data;
      const op = ctx.atomic(db)
        .set(memberKey(groupId, userId), true)
        .set(membershipKey(userId, groupId), true);
      await commit(op, [goneKey("user", userId), goneKey("group", groupId)]);
    })
    .on(MemberRemoved, async (e, ctx) => {
      const { groupId, userId } = e.data;
      await commit(
        ctx.atomic(db).delete(memberKey(groupId, userId)).delete(membershipKey(userId, groupId)),
      );
    });
}

/**
 * Commits a handler's operation unless one of `unlessGone` (tombstones) exists: a change to
 * something deleted is dropped, a redelivery of an applied event is fine, and anything else
 * fails so the worker retries.
 */
async function commitUnlessGone(
  db: Deno.Kv,
  op: OutboxAtomic,
  unlessGone: Deno.KvKey[],
): Promise<void> {
  const result = await op.check(...unlessGone.map((key) => ({ key, versionstamp: null })))
    .commit();
  if (result.ok || ("duplicate" in result && result.duplicate)) return;
  const tombstones = await db.getMany(unlessGone);
  if (tombstones.some((t) => t.versionstamp !== null)) return;
  throw new Error("Replica write conflicted; retrying");
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
