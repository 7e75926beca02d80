/**
 * What each viewer may see of a user: an email is seen by its owner only.
 *
 * @module
 */
import type { User } from "../contracts/mod.ts";

/** What others see of a user: no email. */
export type PublicUser = Pick<User, "id" | "name" | "bio">;

/**
 * What a viewer may see of a user: all of it for themself, no email for anyone else.
 *
 * @param user The user.
 * @param viewerId The user asking.
 * @returns The user, or its public part.
 *
 * @example
 * ```ts ignore
 * return c.json(visibleTo(user, c.var.userId));
 * ```
 */
export function visibleTo(user: User, viewerId: string): User | PublicUser {
  return user.id === viewerId ? user : { id: user.id, name: user.name, bio: user.bio };
}
