/**
 * Posts' core: posts, in Posts' own database, checked against Posts' own copy of users, groups
 * and memberships (see `../shared/replica.ts`). The only place in Posts that emits events.
 *
 * @module
 */
import { type Bus, newId, type OutboxAtomic } from "@herald/herald";
import { type Post, PostCreated, PostDeleted } from "../contracts/mod.ts";
import { AppError, ConflictError, ForbiddenError, NotFoundError } from "../shared/errors.ts";
import { getGroup } from "../shared/replica.ts";

const postKey = (id: string) => ["posts", id];
const groupPostKey = (groupId: string, id: string) => ["group_posts", groupId, id];
const userPostKey = (userId: string, id: string) => ["user_posts", userId, id];
const memberKey = (groupId: string, userId: string) => ["members", groupId, userId];

/** How many posts a listing returns when the client does not say. */
export const DEFAULT_PAGE = 50;
/** The most posts one listing returns. */
export const MAX_PAGE = 100;
/** Posts deleted per commit: four mutations each, well under Deno KV's 1,000. */
const DELETE_BATCH = 100;
/** Deno KV's `getMany` reads at most this many keys at once. */
const GET_MANY = 10;

/** One page of a group's posts, newest first; `next` is the cursor of the next page. */
export interface PostPage {
  /** The posts, newest first. */
  posts: Post[];
  /** Pass it as `cursor` to get the next page; `null` on the last. */
  next: string | null;
}

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
  const readPosts = async (ids: string[]) => {
    const posts: Post[] = [];
    for (let i = 0; i < ids.length; i += GET_MANY) {
      const entries = await db.getMany<Post[]>(ids.slice(i, i + GET_MANY).map(postKey));
      for (const e of entries) if (e.value) posts.push(e.value);
    }
    return posts;
  };
  // A deleted user or group can have any number of posts: delete them a batch per commit, each
  // batch with its `post.deleted` events, until none is left (a retried event resumes).
  const deleteAll = async (prefix: Deno.KvKey) => {
    while (true) {
      const keys: Deno.KvKey[] = [];
      for await (const e of db.list<string>({ prefix }, { limit: DELETE_BATCH })) keys.push(e.key);
      if (keys.length === 0) return;
      const posts = await readPosts(keys.map((k) => k[2] as string));
      const found = new Set(posts.map((p) => p.id));
      const op = bus.atomic(db);
      for (const post of posts) drop(op, post);
      for (const key of keys) if (!found.has(key[2] as string)) op.delete(key);
      await op.commit();
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

    /** A page of a group's posts, newest first, for its members. */
    async list(
      groupId: string,
      viewerId: string,
      page: { limit?: number; cursor?: string } = {},
    ): Promise<PostPage> {
      await memberOf(groupId, viewerId);
      const limit = page.limit ?? DEFAULT_PAGE;
      const ids: string[] = [];
      const entries = db.list<string>({ prefix: ["group_posts", groupId] }, {
        reverse: true,
        limit,
        cursor: page.cursor,
      });
      try {
        for await (const entry of entries) ids.push(entry.value);
      } catch (err) {
        if (page.cursor === undefined) throw err;
        throw new AppError(400, "Invalid cursor");
      }
      const next = ids.length === limit && entries.cursor ? entries.cursor : null;
      return { posts: await readPosts(ids), next };
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

    /** Deletes a deleted user's posts, in batches. */
    userDeleted: (userId: string) => deleteAll(["user_posts", userId]),
    /** Deletes a deleted group's posts, in batches. */
    groupDeleted: (groupId: string) => deleteAll(["group_posts", groupId]),
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
