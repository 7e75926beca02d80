/**
 * Users' HTTP routes: profiles, groups and membership. Every route needs a token.
 *
 * @module
 */
import { z } from "zod";
import { Name } from "../contracts/mod.ts";
import { authenticated, createApp, valid } from "../shared/http.ts";
import { visibleTo } from "../shared/privacy.ts";
import type { Users } from "./core.ts";

const IdText = z.string().min(1).max(100);
const Id = z.object({ id: IdText });
const MemberParams = z.object({ id: IdText, userId: IdText });
const Profile = z.object({ name: Name.optional(), bio: z.string().max(500).optional() })
  .refine((p) => p.name !== undefined || p.bio !== undefined, { message: "Nothing to change" });
const NewGroup = z.object({ name: z.string().trim().min(1).max(100) });
const NewMember = z.object({ userId: IdText });

/**
 * Users' Hono app.
 *
 * - `GET /users/:id` → the user (404 when unknown, e.g. registration still on its way); the
 *   email only to its owner.
 * - `GET /users/me`, `PATCH /users/me` `{ name?, bio? }`, `DELETE /users/me` → 204.
 * - `POST /groups` `{ name }` → 201 the group (you are its owner and first member).
 * - `GET /groups/:id` → the group and its members (403 unless you are one).
 * - `PATCH /groups/:id` `{ name }`, `DELETE /groups/:id` (owner only).
 * - `POST /groups/:id/members` `{ userId }` (owner only; 409 when already in).
 * - `DELETE /groups/:id/members/:userId` (owner, or yourself to leave).
 *
 * @param users Users' core.
 * @returns The app.
 *
 * @example
 * ```ts ignore
 * export default createService({ name: "users", app: usersRoutes(users), ... });
 * ```
 */
export function usersRoutes(users: Users) {
  const auth = authenticated({ revoked: (id) => users.isDeleted(id) });
  return createApp()
    .get("/users/me", auth, async (c) => c.json(await users.getUser(c.var.userId)))
    .patch("/users/me", auth, valid("json", Profile), async (c) => {
      return c.json(await users.updateUser(c.var.userId, c.req.valid("json")));
    })
    .delete("/users/me", auth, async (c) => {
      await users.deleteUser(c.var.userId);
      return c.body(null, 204);
    })
    .get("/users/:id", auth, valid("param", Id), async (c) => {
      return c.json(visibleTo(await users.getUser(c.req.valid("param").id), c.var.userId));
    })
    .post("/groups", auth, valid("json", NewGroup), async (c) => {
      return c.json(await users.createGroup(c.var.userId, c.req.valid("json").name), 201);
    })
    .get("/groups/:id", auth, valid("param", Id), async (c) => {
      return c.json(await users.getGroup(c.req.valid("param").id, c.var.userId));
    })
    .patch("/groups/:id", auth, valid("param", Id), valid("json", NewGroup), async (c) => {
      const { id } = c.req.valid("param");
      return c.json(await users.renameGroup(id, c.var.userId, c.req.valid("json").name));
    })
    .delete("/groups/:id", auth, valid("param", Id), async (c) => {
      await users.deleteGroup(c.req.valid("param").id, c.var.userId);
      return c.body(null, 204);
    })
    .post("/groups/:id/members", auth, valid("param", Id), valid("json", NewMember), async (c) => {
      const { id } = c.req.valid("param");
      await users.addMember(id, c.var.userId, c.req.valid("json").userId);
      return c.body(null, 204);
    })
    .delete("/groups/:id/members/:userId", auth, valid("param", MemberParams), async (c) => {
      const { id, userId } = c.req.valid("param");
      await users.removeMember(id, c.var.userId, userId);
      return c.body(null, 204);
    });
}
