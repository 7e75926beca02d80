/**
 * Auth's HTTP routes: sign up and log in.
 *
 * @module
 */
import { z } from "zod";
import { Name } from "../contracts/mod.ts";
import { clientAddress, createApp, valid } from "../shared/http.ts";
import type { Auth } from "./core.ts";

const Email = z.email().max(254);
const Register = z.object({ email: Email, password: z.string().min(8).max(200), name: Name });
const Login = z.object({ email: Email, password: z.string().min(1).max(200) });

/**
 * Auth's Hono app.
 *
 * - `POST /register` `{ email, password, name }` → 201 `{ id }`; 409 when the email is taken.
 * - `POST /login` `{ email, password }` → 200 `{ token, userId }`; 401 when wrong; 429 with
 *   `Retry-After` after 10 failures in 15 minutes for the account or from the client's address.
 *
 * @param auth Auth's core.
 * @returns The app.
 *
 * @example
 * ```ts ignore
 * export default createService({ name: "auth", app: authRoutes(auth), ... });
 * ```
 */
export function authRoutes(auth: Auth) {
  return createApp()
    .post("/register", valid("json", Register), async (c) => {
      return c.json(await auth.register(c.req.valid("json")), 201);
    })
    .post("/login", valid("json", Login), async (c) => {
      return c.json(await auth.login(c.req.valid("json"), clientAddress(c)));
    });
}
