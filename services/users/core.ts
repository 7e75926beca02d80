/**
 * Users' core: the owner of users, groups and membership, in Users' own database. The only
 * place in Users that emits events, each atomically with the write it describes. User events are
 * keyed by user id and group events by group id, so consumers apply each one's changes in order.
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
  UserCreated,
  UserDeleted,
  UserUpdated,
} from "../contracts/mod.ts";
import { ConflictError, ForbiddenError, NotFoundError } from "../shared/errors.ts";

const userKey = (id: string) => ["users", id];
const deletedKey = (id: string) => ["deleted_users", id];
const groupKey = (id: string) => ["groups", id];
const memberKey = (groupId: string, userId: string) => ["members", groupId, userId];
const membershipKey = (userId: string, groupId: string) => ["memberships", userId, groupId];

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

  return {
    /** Creates the user of a registration, inside the handler's `op`; once per user. */
    async registered(data: { id: string; email: string; name: string }, op: OutboxAtomic) {
      const user: User = { ...data, bio: "" };
      const result = await op
        .check({ key: userKey(user.id), versionstamp: null })
        .check({ key: deletedKey(user.id), versionstamp: null })
        .set(userKey(user.id), user)
        .publish(UserCreated, user, { key: user.id })
        .commit();
      // Not ok: applied before, or the user exists or was deleted; nothing to do either way.
      return result.ok;
    },

    /** A user's profile; {NotFoundError} when unknown (or not yet made from the event). */
    async getUser(id: string): Promise<User> {
      return (await mustGetUser(id)).value;
    },

    /** Changes a profile and publishes `user.updated` with the whole user. */
    async updateUser(id: string, patch: { name?: string; bio?: string }): Promise<User> {
      const entry = await mustGetUser(id);
      const user = { ...entry.value, ...patch };
      await commit(
        () =>
          bus.atomic(db).check(entry).set(userKey(id), user)
            .publish(UserUpdated, user, { key: id }),
        "User changed meanwhile; try again",
      );
      return user;
    },

    /** Deletes a user, their memberships and the groups they own. */
    async deleteUser(id: string): Promise<void> {
      const entry = await mustGetUser(id);
      // One correlation id for everything this deletion says, so logs tie it together.
      const correlationid = newId();
      const build = async () => {
        const op = bus.atomic(db).check(entry).delete(userKey(id)).set(deletedKey(id), true);
        for await (const m of db.list({ prefix: ["memberships", id] })) {
          const groupId = m.key[2] as string;
          op.delete(m.key).delete(memberKey(groupId, id));
          const group = (await db.get<Group>(groupKey(groupId))).value;
          if (group?.ownerId !== id) continue;
          op.delete(groupKey(groupId))
            .publish(GroupDeleted, { id: groupId }, { key: groupId, correlationid });
          for (const userId of await members(groupId)) {
            op.delete(memberKey(groupId, userId)).delete(membershipKey(userId, groupId));
          }
        }
        return op.publish(UserDeleted, { id }, { key: id, correlationid });
      };
      const result = await (await build()).commit();
      if (!result.ok) throw new ConflictError("User changed meanwhile; try again");
    },

    /** Makes a group owned by (and with the one member) `ownerId`. */
    async createGroup(ownerId: string, name: string): Promise<Group> {
      const owner = await mustGetUser(ownerId);
      const group: Group = { id: crypto.randomUUID(), name, ownerId };
      const membership = { groupId: group.id, userId: ownerId };
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
      const group = { ...entry.value, name };
      await commit(
        () =>
          bus.atomic(db).check(entry).set(groupKey(id), group)
            .publish(GroupUpdated, group, { key: id }),
        "Group changed meanwhile; try again",
      );
      return group;
    },

    /** Deletes a group and its memberships; only its owner may. */
    async deleteGroup(id: string, actorId: string): Promise<void> {
      const entry = await mustGetGroup(id);
      if (entry.value.ownerId !== actorId) throw new ForbiddenError("Only the owner may delete");
      const ids = await members(id);
      await commit(() => {
        const op = bus.atomic(db).check(entry).delete(groupKey(id));
        for (const userId of ids) {
          op.delete(memberKey(id, userId)).delete(membershipKey(userId, id));
        }
        return op.publish(GroupDeleted, { id }, { key: id });
      }, "Group changed meanwhile; try again");
    },

    /** Adds a user to a group; only its owner may; {ConflictError} when already in. */
    async addMember(groupId: string, actorId: string, userId: string): Promise<void> {
      const group = await mustGetGroup(groupId);
      if (group.value.ownerId !== actorId) throw new ForbiddenError("Only the owner may add");
      const user = await mustGetUser(userId);
      await commit(
        () =>
          bus.atomic(db).check(group, user)
            .check({ key: memberKey(groupId, userId), versionstamp: null })
            .set(memberKey(groupId, userId), true)
            .set(membershipKey(userId, groupId), true)
            .publish(MemberAdded, { groupId, userId }, { key: groupId }),
        "Already a member",
      );
    },

    /** Removes a member: the owner removes anyone but themself; a member may leave. */
    async removeMember(groupId: string, actorId: string, userId: string): Promise<void> {
      const group = await mustGetGroup(groupId);
      if (actorId !== userId && group.value.ownerId !== actorId) {
        throw new ForbiddenError("Only the owner may remove others");
      }
      if (userId === group.value.ownerId) {
        throw new ConflictError("The owner cannot leave; delete the group instead");
      }
      const member = await db.get(memberKey(groupId, userId));
      if (member.versionstamp === null) throw new NotFoundError("Not a member");
      await commit(
        () =>
          bus.atomic(db).check(group, member)
            .delete(memberKey(groupId, userId))
            .delete(membershipKey(userId, groupId))
            .publish(MemberRemoved, { groupId, userId }, { key: groupId }),
        "Membership changed meanwhile; try again",
      );
    },
  };
}

/** Users' operations. */
export type Users = ReturnType<typeof createUsers>;
