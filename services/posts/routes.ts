/**
 * Posts' HTTP routes. Every route needs a token; group routes need membership (by Posts' own
 * copy of the memberships).
 *
 * @module
 */
import { z } from "zod";
import { MAX_POST_CHARS } from "../contracts/mod.ts";
import { NotFoundError } from "../shared/errors.ts";
import { authenticated, createApp, valid } from "../shared/http.ts";
import { getUser, isDeletedUser } from "../shared/replica.ts";
import { visibleTo } from "../shared/privacy.ts";
import { MAX_PAGE, type Posts } from "./core.ts";

const Id = z.object({ id: z.string().min(1).max(100) });
const NewPost = z.object({ body: z.string().trim().min(1).max(MAX_POST_CHARS) });
const Page = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional(),
  cursor: z.string().min(1).max(1_000).optional(),
});

/**
 * Posts' Hono app.
 *
 * - `POST /groups/:id/posts` `{ body }` → 201 the post (403 unless a member, 404 no group).
 * - `GET /groups/:id/posts?limit=&cursor=` → `{ posts, next }`: up to `limit` (default 50, at
 *   most 100) posts, newest first; pass `next` as `cursor` for the page after (`null`: the end).
 * - `DELETE /posts/:id` → 204 (author only).
 * - `GET /users/:id` → Posts' copy of a user (404 when Posts does not know them).
 *
 * @param posts Posts' core.
 * @param db Posts' database, for reading its copy of users.
 * @returns The app.
 *
 * @example
 * ```ts ignore
 * export default createService({ name: "posts", app: postsRoutes(posts, db), ... });
 * ```
 */
export function postsRoutes(posts: Posts, db: Deno.Kv) {
  const auth = authenticated({ revoked: (id) => isDeletedUser(db, id) });
  return createApp()
    .post("/groups/:id/posts", auth, valid("param", Id), valid("json", NewPost), async (c) => {
      const { id } = c.req.valid("param");
      return c.json(await posts.create(c.var.userId, id, c.req.valid("json").body), 201);
    })
    .get("/groups/:id/posts", auth, valid("param", Id), valid("query", Page), async (c) => {
      return c.json(await posts.list(c.req.valid("param").id, c.var.userId, c.req.valid("query")));
    })
    .delete("/posts/:id", auth, valid("param", Id), async (c) => {
      await posts.remove(c.req.valid("param").id, c.var.userId);
      return c.body(null, 204);
    })
    .get("/users/:id", auth, valid("param", Id), async (c) => {
      const user = await getUser(db, c.req.valid("param").id);
      if (!user) throw new NotFoundError("User not found");
      return c.json(visibleTo(user, c.var.userId));
    });
}
