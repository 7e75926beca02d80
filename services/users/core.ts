/**
 * Users' core: the owner of users, groups and membership, in Users' own database. The only
 * place in Users that emits events, each atomically with the write it describes. User events are
 * keyed by user id and group events by group id, so consumers apply each one's changes in order;
 * each carries its aggregate's version (a user; a group with its memberships), raised by one in
 * the same commit, so a copy can tell an old event from a new one whatever order they arrive in.
 * A new user is the one change it does not announce: Auth's `user.registered` makes it, at version
 * 1, in Users and in every copy alike.
 *
 * Deleting a user or a group is one commit that removes it and says so; its memberships, which
 * have no bound, are then removed in batches (`purgeUser`, `purgeGroup`), and again by Users'
 * worker on the deletion's event, so a purge cut short by a crash is finished.
 *
 * @module
 */
import { type Bus, newId, type OutboxAtomic } from "@herald/herald";
import {
  type Group,
  GroupCreated,
  GroupDeleted,
  GroupUpdated,
  MemberAdded,
  MemberRemoved,
  type User,
  UserDeleted,
  userFromRegistration,
  UserUpdated,
} from "../contracts/mod.ts";
import { ConflictError, ForbiddenError, NotFoundError } from "../shared/errors.ts";

const userKey = (id: string) => ["users", id];
const deletedKey = (id: string) => ["deleted_users", id];
const groupKey = (id: string) => ["groups", id];
const memberKey = (groupId: string, userId: string) => ["members", groupId, userId];
const membershipKey = (userId: string, groupId: string) => ["memberships", userId, groupId];

/** Memberships removed per commit: two keys each, well under Deno KV's 1,000 mutations. */
const PURGE_BATCH = 200;

/** A group with its members' ids. */
export type GroupView = Group & { members: string[] };

/**
 * Makes Users' core over its database and the bus.
 *
 * @param db Users' database.
 * @param bus The bus.
 * @returns Users' operations.
 *
 * @example
 * ```ts ignore
 * const users = createUsers(db, bus);
 * const group = await users.createGroup(userId, "Climbers");
 * ```
 */
export function createUsers(db: Deno.Kv, bus: Bus) {
  const commit = async (build: () => OutboxAtomic, conflict: string) => {
    const result = await build().commit();
    if (!result.ok) throw new ConflictError(conflict);
  };
  const mustGetGroup = async (id: string) => {
    const entry = await db.get<Group>(groupKey(id));
    if (!entry.value) throw new NotFoundError("Group not found");
    return entry as Deno.KvEntry<Group>;
  };
  const mustGetUser = async (id: string) => {
    const entry = await db.get<User>(userKey(id));
    if (!entry.value) throw new NotFoundError("User not found");
    return entry as Deno.KvEntry<User>;
  };
  const members = async (groupId: string) => {
    const ids: string[] = [];
    for await (const m of db.list({ prefix: ["members", groupId] })) ids.push(m.key[2] as string);
    return ids;
  };
  /** A group's next version, and the group at it. */
  const bump = (group: Group): Group => ({ ...group, version: (group.version ?? 0) + 1 });

  /** Deletes each key with its mirror, as one commit. */
  const deleteAll = (keys: Deno.KvKey[]) => {
    const op = bus.atomic(db);
    for (const key of keys) op.delete(key);
    return op.commit();
  };

  /** Removes a deleted group's memberships, in batches. */
  const purgeGroup = async (groupId: string) => {
    while (true) {
      const keys: Deno.KvKey[] = [];
      for await (const m of db.list({ prefix: ["members", groupId] }, { limit: PURGE_BATCH })) {
        keys.push(m.key, membershipKey(m.key[2] as string, groupId));
      }
      if (keys.length === 0) return;
      await deleteAll(keys);
    }
  };

  /** Deletes a group in one commit with its event (its memberships follow in batches). */
  const dropGroup = async (entry: Deno.KvEntry<Group>, correlationid?: string) => {
    const version = (entry.value.version ?? 0) + 1;
    const result = await bus.atomic(db).check(entry).delete(groupKey(entry.value.id))
      .publish(GroupDeleted, { id: entry.value.id, version }, {
        key: entry.value.id,
        correlationid,
      })
      .commit();
    return result.ok;
  };

  /** Removes a deleted user's memberships in batches, deleting the groups they own. */
  const purgeUser = async (userId: string, correlationid?: string) => {
    while (true) {
      const keys: Deno.KvKey[] = [];
      for await (const m of db.list({ prefix: ["memberships", userId] }, { limit: PURGE_BATCH })) {
        const groupId = m.key[2] as string;
        const group = await db.get<Group>(groupKey(groupId));
        if (group.value?.ownerId === userId) {
          await dropGroup(group as Deno.KvEntry<Group>, correlationid);
          await purgeGroup(groupId);
        }
        keys.push(m.key, memberKey(groupId, userId));
      }
      if (keys.length === 0) return;
      await deleteAll(keys);
    }
  };

  return {
    /**
     * Creates the user of a registration, inside the handler's `op`; once per user. Publishes
     * nothing: Posts and Chat make the same user, at the same version, from `user.registered`.
     */
    async registered(data: { id: string; email: string; name: string }, op: OutboxAtomic) {
      const user = userFromRegistration(data);
      const result = await op
        .check({ key: userKey(user.id), versionstamp: null })
        .check({ key: deletedKey(user.id), versionstamp: null })
        .set(userKey(user.id), user)
        .commit();
      // Not ok: applied before, or the user exists or was deleted; nothing to do either way.
      return result.ok;
    },

    /** Tells whether a user was deleted (their tokens are refused). */
    async isDeleted(id: string): Promise<boolean> {
      return (await db.get(deletedKey(id))).versionstamp !== null;
    },

    /** A user's profile; {NotFoundError} when unknown (or not yet made from the event). */
    async getUser(id: string): Promise<User> {
      return (await mustGetUser(id)).value;
    },

    /** Changes a profile and publishes `user.updated` with the whole user. */
    async updateUser(id: string, patch: { name?: string; bio?: string }): Promise<User> {
      const entry = await mustGetUser(id);
      const user = { ...entry.value, ...patch, version: (entry.value.version ?? 0) + 1 };
      await commit(
        () =>
          bus.atomic(db).check(entry).set(userKey(id), user)
            .publish(UserUpdated, user, { key: id }),
        "User changed meanwhile; try again",
      );
      return user;
    },

    /** Deletes a user, then their memberships and the groups they own. */
    async deleteUser(id: string): Promise<void> {
      const entry = await mustGetUser(id);
      // One correlation id for everything this deletion says, so logs tie it together.
      const correlationid = newId();
      const version = (entry.value.version ?? 0) + 1;
      await commit(
        () =>
          bus.atomic(db).check(entry).delete(userKey(id)).set(deletedKey(id), version)
            .publish(UserDeleted, { id, version }, { key: id, correlationid }),
        "User changed meanwhile; try again",
      );
      await purgeUser(id, correlationid);
    },

    /** Finishes a user's deletion (Users' worker, on `user.deleted`); safe to repeat. */
    purgeUser,
    /** Finishes a group's deletion (Users' worker, on `group.deleted`); safe to repeat. */
    purgeGroup,

    /** Makes a group owned by (and with the one member) `ownerId`. */
    async createGroup(ownerId: string, name: string): Promise<Group> {
      const owner = await mustGetUser(ownerId);
      const group: Group = { id: crypto.randomUUID(), name, ownerId, version: 1 };
      const membership = { groupId: group.id, userId: ownerId, version: 1 };
      const correlationid = newId();
      await commit(
        () =>
          bus.atomic(db).check(owner)
            .set(groupKey(group.id), group)
            .set(memberKey(group.id, ownerId), true)
            .set(membershipKey(ownerId, group.id), true)
            .publish(GroupCreated, group, { key: group.id, correlationid })
            .publish(MemberAdded, membership, { key: group.id, correlationid }),
        "User changed meanwhile; try again",
      );
      return group;
    },

    /** A group and its members, for its members only. */
    async getGroup(id: string, viewerId: string): Promise<GroupView> {
      const group = (await mustGetGroup(id)).value;
      const ids = await members(id);
      if (!ids.includes(viewerId)) throw new ForbiddenError("Not a member of this group");
      return { ...group, members: ids };
    },

    /** Renames a group; only its owner may. */
    async renameGroup(id: string, actorId: string, name: string): Promise<Group> {
      const entry = await mustGetGroup(id);
      if (entry.value.ownerId !== actorId) throw new ForbiddenError("Only the owner may rename");
      const group = { ...bump(entry.value), name };
      await commit(
        () =>
          bus.atomic(db).check(entry).set(groupKey(id), group)
            .publish(GroupUpdated, group, { key: id }),
        "Group changed meanwhile; try again",
      );
      return group;
    },

    /** Deletes a group, then its memberships; only its owner may. */
    async deleteGroup(id: string, actorId: string): Promise<void> {
      const entry = await mustGetGroup(id);
      if (entry.value.ownerId !== actorId) throw new ForbiddenError("Only the owner may delete");
      if (!await dropGroup(entry)) throw new ConflictError("Group changed meanwhile; try again");
      await purgeGroup(id);
    },

    /** Adds a user to a group; only its owner may; {ConflictError} when already in. */
    async addMember(groupId: string, actorId: string, userId: string): Promise<void> {
      const entry = await mustGetGroup(groupId);
      if (entry.value.ownerId !== actorId) throw new ForbiddenError("Only the owner may add");
      const user = await mustGetUser(userId);
      const group = bump(entry.value);
      await commit(
        () =>
          bus.atomic(db).check(entry, user)
            .check({ key: memberKey(groupId, userId), versionstamp: null })
            .set(groupKey(groupId), group)
            .set(memberKey(groupId, userId), true)
            .set(membershipKey(userId, groupId), true)
            .publish(MemberAdded, { groupId, userId, version: group.version }, { key: groupId }),
        "Already a member",
      );
    },

    /** Removes a member: the owner removes anyone but themself; a member may leave. */
    async removeMember(groupId: string, actorId: string, userId: string): Promise<void> {
      const entry = await mustGetGroup(groupId);
      if (actorId !== userId && entry.value.ownerId !== actorId) {
        throw new ForbiddenError("Only the owner may remove others");
      }
      if (userId === entry.value.ownerId) {
        throw new ConflictError("The owner cannot leave; delete the group instead");
      }
      const member = await db.get(memberKey(groupId, userId));
      if (member.versionstamp === null) throw new NotFoundError("Not a member");
      const group = bump(entry.value);
      await commit(
        () =>
          bus.atomic(db).check(entry, member)
            .set(groupKey(groupId), group)
            .delete(memberKey(groupId, userId))
            .delete(membershipKey(userId, groupId))
            .publish(MemberRemoved, { groupId, userId, version: group.version }, { key: groupId }),
        "Membership changed meanwhile; try again",
      );
    },
  };
}

/** Users' operations. */
export type Users = ReturnType<typeof createUsers>;
