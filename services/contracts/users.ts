/**
 * Events Users publishes about users: it owns User, every other service keeps a copy. A user
 * begins with Auth's `user.registered` (see {@linkcode userFromRegistration}); Users' events
 * carry what changes after that, each at a higher version.
 *
 * @module
 */
import { z } from "zod";
import { defineEvent } from "@herald/herald";
import { Name } from "./auth.ts";

/**
 * The version of an aggregate (a user, or a group with its memberships) an event leaves it at:
 * Users raises it by one with each change, in the same commit. A copy applies an event only
 * when it is newer than what it holds, so redeliveries and reordering change nothing.
 */
export const Version: z.ZodNumber = z.number().int().min(1);

/** A user as every service sees it. */
export const User = z.object({
  id: z.string().min(1),
  email: z.email(),
  name: Name,
  bio: z.string().max(500).default(""),
  version: Version,
});
/** A user as every service sees it. */
export type User = z.output<typeof User>;

/**
 * The user a registration makes, at version 1, everywhere: Auth's `user.registered` is the one
 * event that creates a user. Users makes its own from it, and Posts and Chat their copies from the
 * same event; nobody publishes a second event to say so (each would cost every copy a claim, a
 * read and a settlement, for a user it already holds).
 *
 * @example
 * ```ts ignore
 * worker.on(UserRegistered, (e) => upsert(userFromRegistration(e.data)));
 * ```
 */
export function userFromRegistration(data: { id: string; email: string; name: string }): User {
  return { id: data.id, email: data.email, name: data.name, bio: "", version: 1 };
}

/** A user changed their profile. Carries the whole user. Keyed by user id. */
export const UserUpdated = defineEvent({ stream: "users", type: "user.updated", schema: User });

/**
 * A user was deleted: every service forgets them, their memberships, and what is theirs.
 * Keyed by user id. On a stream of its own, `deletions`: Auth, Chat's sockets and Users itself
 * need nothing else of a user's, and a consumer group claims and acknowledges every event of the
 * streams it reads, handled or not (with `user.deleted` on `users`, each sign-up cost those
 * three groups a claim of every `user.updated`). The copies in Posts and Chat do not need it
 * ordered with `user.updated`: they go by versions and tombstones.
 */
export const UserDeleted = defineEvent({
  stream: "deletions",
  type: "user.deleted",
  schema: z.object({ id: z.string().min(1), version: Version }),
});
