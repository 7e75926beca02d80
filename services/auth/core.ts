/**
 * Auth's core: credentials, in Auth's own database. The only place in Auth that emits events:
 * a registration commits the credentials and `user.registered` together.
 *
 * @module
 */
import type { Bus, OutboxAtomic } from "@herald/herald";
import { UserRegistered } from "../contracts/mod.ts";
import { ConflictError, UnauthorizedError } from "../shared/errors.ts";
import { signToken } from "../shared/http.ts";
import { createLoginLimit } from "./limits.ts";
import { hashPassword, verifyPassword } from "./password.ts";

interface Credentials {
  id: string;
  email: string;
  hash: string;
}

const emailKey = (email: string) => ["emails", email];
const credentialsKey = (id: string) => ["credentials", id];

/** Auth's operations. Made by {@linkcode createAuth}. */
export interface Auth {
  /**
   * Stores credentials and publishes `user.registered`, together.
   * @throws {ConflictError} when the email is taken.
   */
  register(input: { email: string; password: string; name: string }): Promise<{ id: string }>;
  /**
   * Checks a password and signs a token. `client` is the caller's address: failures count
   * against it and against the account.
   * @throws {UnauthorizedError} for an unknown email or a wrong password.
   * @throws {TooManyRequestsError} after too many failures for the account or from the client.
   */
  login(
    input: { email: string; password: string },
    client: string,
  ): Promise<{ token: string; userId: string }>;
  /** Forgets a deleted user's credentials, inside the handler's operation `op`. */
  forget(userId: string, op: OutboxAtomic): Promise<void>;
}

/**
 * Makes Auth's core over its database and the bus.
 *
 * @param options The database, the bus and the PBKDF2 cost.
 * @returns Auth's operations.
 *
 * @example
 * ```ts ignore
 * const auth = createAuth({ db, bus, iterations: 210_000 });
 * const { id } = await auth.register({ email, password, name });
 * ```
 */
export function createAuth(options: { db: Deno.Kv; bus: Bus; iterations: number }): Auth {
  const { db, bus, iterations } = options;
  const dummyHash = `pbkdf2-sha256$${iterations}$${ZEROS_16}$${ZEROS_32}`;
  const limit = createLoginLimit(bus, db);
  return {
    async register({ email, password, name }) {
      email = email.toLowerCase();
      const id = crypto.randomUUID();
      const hash = await hashPassword(password, iterations);
      const result = await bus.atomic(db)
        .check({ key: emailKey(email), versionstamp: null })
        .set(emailKey(email), id)
        .set(credentialsKey(id), { id, email, hash } satisfies Credentials)
        // No key: one registration per user id, so key order would have nothing to order, and
        // a keyed event makes each consuming group hold its key while handling it, and write
        // the release at once instead of with its next claim.
        .publish(UserRegistered, { id, email, name })
        .commit();
      if (!result.ok) throw new ConflictError("Email already registered");
      return { id };
    },

    async login({ email, password }, client) {
      email = email.toLowerCase();
      await limit.check(email, client);
      const id = (await db.get<string>(emailKey(email))).value;
      const creds = id ? (await db.get<Credentials>(credentialsKey(id))).value : null;
      // Hash even for an unknown email, so timing does not tell which emails exist.
      const ok = await verifyPassword(password, creds?.hash ?? dummyHash);
      if (!creds || !ok) {
        await limit.failed(email, client);
        throw new UnauthorizedError("Wrong email or password");
      }
      await limit.succeeded(email);
      return { token: await signToken(creds.id), userId: creds.id };
    },

    async forget(userId, op) {
      const creds = (await db.get<Credentials>(credentialsKey(userId))).value;
      op.delete(credentialsKey(userId));
      if (creds) op.delete(emailKey(creds.email));
      const result = await op.commit();
      if (!result.ok && !("duplicate" in result && result.duplicate)) {
        throw new Error("Credentials changed while forgetting them; retrying");
      }
    },
  };
}

// A well-formed hash (of the same cost) checked against when the email is unknown.
const ZEROS_16 = "AAAAAAAAAAAAAAAAAAAAAA==";
const ZEROS_32 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
