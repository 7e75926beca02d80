/**
 * The Redis part (placeholder until the rows land).
 *
 * @module
 */
import type { Context } from "./_context.ts";

/** Runs the selected Redis parts. */
export async function redisParts(_ctx: Context, _parts: Set<string>): Promise<void> {
}
