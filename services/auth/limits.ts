/**
 * Failed logins, counted per account and per client address in Auth's own database, so the
 * limit holds across restarts and across Auth instances sharing the database. After
 * {@linkcode MAX_FAILURES} failures within {@linkcode WINDOW_MS}, logins for that account, or
 * from that address, are refused with 429 until the window ends.
 *
 * @module
 */
import type { Bus } from "@herald/herald";
import { TooManyRequestsError } from "../shared/errors.ts";

/** Failed logins allowed per account, and per address, within a window. */
export const MAX_FAILURES = 10;
/** The window, from its first failure. */
export const WINDOW_MS = 15 * 60 * 1000;

interface Count {
  failures: number;
  since: number;
}

const accountKey = (email: string) => ["login_failures", "account", email];
const clientKey = (address: string) => ["login_failures", "client", address];

/** The failed-login limit over Auth's database. Made by {@linkcode createLoginLimit}. */
export interface LoginLimit {
  /** @throws {TooManyRequestsError} when the account or the address is over the limit. */
  check(email: string, address: string): Promise<void>;
  /** Counts one failure against both. */
  failed(email: string, address: string): Promise<void>;
  /** Clears the account's count after a login that succeeded. */
  succeeded(email: string): Promise<void>;
}

/**
 * Makes the failed-login limit over Auth's database.
 *
 * @param bus The bus (its atomic writes wait out another connection's lock on the database).
 * @param db Auth's database.
 * @returns The limit.
 *
 * @example
 * ```ts ignore
 * const limit = createLoginLimit(bus, db);
 * await limit.check(email, address); // 429 when over
 * ```
 */
export function createLoginLimit(bus: Bus, db: Deno.Kv): LoginLimit {
  const live = (count: Count | null, now: number) =>
    count && now - count.since < WINDOW_MS ? count : null;
  return {
    async check(email, address) {
      const now = Date.now();
      const counts = await db.getMany<Count[]>([accountKey(email), clientKey(address)]);
      const over = counts.map((c) => live(c.value, now))
        .filter((c): c is Count => c !== null && c.failures >= MAX_FAILURES);
      if (over.length === 0) return;
      const until = Math.max(...over.map((c) => c.since + WINDOW_MS));
      throw new TooManyRequestsError(
        "Too many failed logins; try again later",
        Math.ceil((until - now) / 1000),
      );
    },

    async failed(email, address) {
      const keys = [accountKey(email), clientKey(address)];
      for (let attempt = 0; attempt < 20; attempt++) {
        const now = Date.now();
        const entries = await db.getMany<Count[]>(keys);
        const op = bus.atomic(db).check(...entries);
        for (const entry of entries) {
          const count = live(entry.value, now);
          const next = count
            ? { failures: count.failures + 1, since: count.since }
            : { failures: 1, since: now };
          op.set(entry.key, next, { expireIn: WINDOW_MS });
        }
        if ((await op.commit()).ok) return;
      }
      throw new Error("Could not count a failed login: too many at once");
    },

    async succeeded(email) {
      await bus.atomic(db).delete(accountKey(email)).commit();
    },
  };
}
