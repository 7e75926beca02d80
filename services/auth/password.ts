/**
 * Password hashing with PBKDF2-SHA-256 from Web Crypto: slow on purpose, salted, and stored
 * with its cost so the cost can rise without breaking old hashes.
 *
 * @module
 */
import { decodeBase64, encodeBase64 } from "./base64.ts";

const HASH_BYTES = 32;
const SALT_BYTES = 16;

/**
 * Hashes a password.
 *
 * @param password The password.
 * @param iterations The PBKDF2 iteration count.
 * @returns `pbkdf2-sha256$<iterations>$<salt>$<hash>`, base64 parts.
 *
 * @example
 * ```ts ignore
 * const stored = await hashPassword("correct horse", 210_000);
 * ```
 */
export async function hashPassword(password: string, iterations: number): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, iterations);
  return `pbkdf2-sha256$${iterations}$${encodeBase64(salt)}$${encodeBase64(hash)}`;
}

/**
 * Checks a password against a stored hash, in time independent of where they differ.
 *
 * @param password The password given.
 * @param stored What `hashPassword` returned.
 * @returns Whether they match.
 *
 * @example
 * ```ts ignore
 * if (!await verifyPassword(given, stored)) throw new UnauthorizedError("Wrong password");
 * ```
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, iter, salt, hash] = stored.split("$");
  if (scheme !== "pbkdf2-sha256" || !salt || !hash) return false;
  const expected = decodeBase64(hash);
  const actual = await derive(password, decodeBase64(salt), Number(iter));
  let diff = expected.length ^ actual.length;
  for (let i = 0; i < expected.length; i++) diff |= expected[i] ^ (actual[i] ?? 0);
  return diff === 0;
}

async function derive(
  password: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    key,
    HASH_BYTES * 8,
  );
  return new Uint8Array(bits);
}
