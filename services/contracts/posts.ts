/**
 * Events Posts publishes.
 *
 * @module
 */
import { z } from "zod";
import { defineEvent } from "@herald/herald";

/** The most characters in a post. */
export const MAX_POST_CHARS = 5_000;

/** A post in a group. */
export const Post = z.object({
  id: z.string().min(1),
  groupId: z.string().min(1),
  authorId: z.string().min(1),
  body: z.string().trim().min(1).max(MAX_POST_CHARS),
  createdAt: z.iso.datetime(),
});
/** A post in a group. */
export type Post = z.output<typeof Post>;

/**
 * A post was published in a group.
 *
 * @example Counting posts per group elsewhere
 * ```ts ignore
 * worker.on(PostCreated, (e) => db.atomic().sum(["count", e.data.groupId], 1n).commit());
 * ```
 */
export const PostCreated = defineEvent({ stream: "posts", type: "post.created", schema: Post });

/** A post was deleted: by its author, or because its author or its group was. */
export const PostDeleted = defineEvent({
  stream: "posts",
  type: "post.deleted",
  schema: z.object({ id: z.string().min(1), groupId: z.string().min(1) }),
});
