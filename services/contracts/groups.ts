/**
 * Events Users publishes about groups and membership. Every event carries the group's id as its
 * ordering key, so a consumer applies one group's changes in order.
 *
 * @module
 */
import { z } from "zod";
import { defineEvent } from "@herald/herald";
import { Version } from "./users.ts";

/** A group as every service sees it. */
export const Group = z.object({
  id: z.string().min(1),
  name: z.string().trim().min(1).max(100),
  ownerId: z.string().min(1),
  version: Version,
});
/** A group as every service sees it. */
export type Group = z.output<typeof Group>;

/**
 * A group was made; its owner's membership follows as `group.member_added`. Group events carry
 * the group's version: memberships are part of the group.
 *
 * @example Keeping a local copy
 * ```ts ignore
 * worker.on(GroupCreated, (e) => db.set(["groups", e.data.id], e.data));
 * ```
 */
export const GroupCreated = defineEvent({ stream: "groups", type: "group.created", schema: Group });

/** A group was renamed. Carries the whole group. */
export const GroupUpdated = defineEvent({ stream: "groups", type: "group.updated", schema: Group });

/** A group was deleted, with all its memberships. */
export const GroupDeleted = defineEvent({
  stream: "groups",
  type: "group.deleted",
  schema: z.object({ id: z.string().min(1), version: Version }),
});

/** Membership of one user in one group, with the group's version after the change. */
export const Membership = z.object({
  groupId: z.string().min(1),
  userId: z.string().min(1),
  version: Version,
});
/** Membership of one user in one group. */
export type Membership = z.output<typeof Membership>;

/** A user joined a group. */
export const MemberAdded = defineEvent({
  stream: "groups",
  type: "group.member_added",
  schema: Membership,
});

/** A user left or was removed from a group: Chat closes their sockets in its room. */
export const MemberRemoved = defineEvent({
  stream: "groups",
  type: "group.member_removed",
  schema: Membership,
});
