/**
 * Base64 for bytes (JSR's `@std/encoding` is not reachable here).
 *
 * @module
 */

/**
 * Encodes bytes as base64.
 *
 * @example
 * ```ts ignore
 * encodeBase64(new Uint8Array([1, 2])); // "AQI="
 * ```
 */
export function encodeBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/**
 * Decodes base64 to bytes.
 *
 * @example
 * ```ts ignore
 * decodeBase64("AQI="); // Uint8Array [1, 2]
 * ```
 */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const s = atob(text);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}
