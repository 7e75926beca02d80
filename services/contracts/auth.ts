/**
 * Events Auth publishes: a sign-up. Users creates the profile from it (an event, not an HTTP
 * call), so Auth never needs Users to be up.
 *
 * @module
 */
import { z } from "zod";
import { defineEvent } from "@herald/herald";

/** A display name: 1–100 characters. */
export const Name: z.ZodString = z.string().trim().min(1).max(100);

/**
 * Someone signed up: Auth stored their credentials under `id`. The one event that creates a user
 * everywhere, at version 1 (`userFromRegistration` in users.ts): Users makes its own from it, and
 * Posts and Chat their copies, each on its own; no second event follows.
 *
 * @example Publishing a registration with the user's credentials, atomically
 * ```ts ignore
 * await bus.atomic(db).set(["credentials", id], creds)
 *   .publish(UserRegistered, { id, email, name }).commit();
 * ```
 */
export const UserRegistered = defineEvent({
  stream: "auth",
  type: "user.registered",
  schema: z.object({ id: z.string().min(1), email: z.email(), name: Name }),
});
