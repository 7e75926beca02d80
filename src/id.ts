/**
 * Time-sortable event ids: 48 bits of milliseconds and 80 random bits in Crockford base32
 * (the ULID layout), strictly increasing within one isolate even inside one millisecond.
 *
 * @module
 */

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

let lastTime = -1;
/** `lastTime` encoded: ids made in one millisecond (a batch) share it. */
let lastTimeText = "";
const lastRandom = new Uint8Array(10);

/**
 * Returns a new 26-character id that sorts after every id this isolate made before it.
 *
 * @param now The time to stamp, in milliseconds since the epoch.
 * @returns The id.
 *
 * @example
 * ```ts
 * import { newId } from "@herald/herald";
 * const a = newId();
 * const b = newId();
 * console.log(a < b); // true
 * ```
 */
export function newId(now: number = Date.now()): string {
  if (now <= lastTime) {
    // Same (or an earlier, clock went back) millisecond: bump the random part so ids keep order.
    now = lastTime;
    for (let i = lastRandom.length - 1; i >= 0; i--) {
      if (lastRandom[i] === 255) {
        lastRandom[i] = 0;
        continue;
      }
      lastRandom[i]++;
      break;
    }
  } else {
    lastTime = now;
    lastTimeText = encodeTime(now);
    crypto.getRandomValues(lastRandom);
    lastRandom[0] &= 0x7f; // leave headroom so increments within a millisecond never wrap
  }
  return lastTimeText + encodeRandom(lastRandom);
}

/**
 * Reads the millisecond timestamp back out of an id made by {@linkcode newId}.
 *
 * @param id The id.
 * @returns Milliseconds since the epoch.
 *
 * @example
 * ```ts
 * import { idTime, newId } from "@herald/herald";
 * console.log(idTime(newId(1_700_000_000_000))); // 1700000000000
 * ```
 */
export function idTime(id: string): number {
  let t = 0;
  for (let i = 0; i < 10; i++) t = t * 32 + ALPHABET.indexOf(id[i]);
  return t;
}

function encodeTime(t: number): string {
  let out = "";
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >> bits) & 31];
    }
  }
  return out;
}
