/**
 * Posts' core: posts, in Posts' own database, checked against Posts' own copy of users, groups
 * and memberships (see `../shared/replica.ts`). The only place in Posts that emits events.
 *
 * @module
 */
import { type Bus, newId, type OutboxAtomic } from "@herald/herald";
import { type Post, PostCreated, PostDeleted } from "../contracts/mod.ts";
import { ConflictError, ForbiddenError, NotFoundError } from "../shared/errors.ts";
import { getGroup } from "../shared/replica.ts";

const postKey = (id: string) => ["posts", id];
const groupPostKey = (groupId: string, id: string) => ["group_posts", groupId, id];
const userPostKey = (userId: string, id: string) => ["user_posts", userId, id];
const memberKey = (groupId: string, userId: string) => ["members", groupId, userId];

/** The most posts one listing returns, newest first. */
const PAGE = 50;

/**
 * Makes Posts' core over its database and the bus.
 *
 * @param db Posts' database (which also holds its replica).
 * @param bus The bus.
 * @returns Posts' operations.
 *
 * @example
 * ```ts ignore
 * const posts = createPosts(db, bus);
 * await posts.create(userId, groupId, "Hello");
 * ```
 */
export function createPosts(db: Deno.Kv, bus: Bus) {
  const memberOf = async (groupId: string, userId: string) => {
    if (!await getGroup(db, groupId)) throw new NotFoundError("Group not found");
    const member = await db.get(memberKey(groupId, userId));
    if (member.versionstamp === null) throw new ForbiddenError("Not a member of this group");
    return member;
  };
  const deleteAll = async (op: OutboxAtomic, prefix: Deno.KvKey) => {
    for await (const entry of db.list<string>({ prefix })) {
      const post = (await db.get<Post>(postKey(entry.key[2] as string))).value;
      if (post) drop(op, post);
    }
  };

  return {
    async create(authorId: string, groupId: string, body: string): Promise<Post> {
      const member = await memberOf(groupId, authorId);
      const post: Post = {
        id: newId(),
        groupId,
        authorId,
        body,
        createdAt: new Date().toISOString(),
      };
      const result = await bus.atomic(db)
        // Still a member when the post lands: a removal racing this request wins.
        .check(member)
        .set(postKey(post.id), post)
        .set(groupPostKey(groupId, post.id), post.id)
        .set(userPostKey(authorId, post.id), post.id)
        .publish(PostCreated, post, { key: groupId })
        .commit();
      if (!result.ok) throw new ConflictError("Membership changed meanwhile");
      return post;
    },

    /** The newest posts of a group, for its members. */
    async list(groupId: string, viewerId: string): Promise<Post[]> {
      await memberOf(groupId, viewerId);
      const ids: string[] = [];
      const entries = db.list<string>({ prefix: ["group_posts", groupId] }, {
        reverse: true,
        limit: PAGE,
      });
      for await (const entry of entries) ids.push(entry.value);
      const posts = await db.getMany<Post[]>(ids.map(postKey));
      return posts.flatMap((p) => p.value ? [p.value] : []);
    },

    /** Deletes a post; only its author may. */
    async remove(id: string, actorId: string): Promise<void> {
      const entry = await db.get<Post>(postKey(id));
      if (!entry.value) throw new NotFoundError("Post not found");
      if (entry.value.authorId !== actorId) throw new ForbiddenError("Not your post");
      const post = entry.value;
      const result = await drop(bus.atomic(db).check(entry), post).commit();
      if (!result.ok) throw new NotFoundError("Post not found");
    },

    /** Adds the deletion of a deleted user's posts to the replica's operation. */
    userDeleted: (op: OutboxAtomic, userId: string) => deleteAll(op, ["user_posts", userId]),
    /** Adds the deletion of a deleted group's posts to the replica's operation. */
    groupDeleted: (op: OutboxAtomic, groupId: string) => deleteAll(op, ["group_posts", groupId]),
  };
}

function drop(op: OutboxAtomic, post: Post): OutboxAtomic {
  return op.delete(postKey(post.id))
    .delete(groupPostKey(post.groupId, post.id))
    .delete(userPostKey(post.authorId, post.id))
    .publish(PostDeleted, { id: post.id, groupId: post.groupId }, { key: post.groupId });
}

/** Posts' operations. */
export type Posts = ReturnType<typeof createPosts>;
