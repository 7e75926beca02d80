/**
 * A Redis that restarted without persistence comes back without streams and consumer groups: a
 * claim, an extend or a settle then meets NOGROUP. The backend makes the group again, at the start
 * of the (new, empty) stream so that nothing published since is skipped, warns, and goes on.
 *
 * @module
 */
import { BackendUnavailableError } from "../errors.ts";
import type { Logger } from "../telemetry/log.ts";
import { type RedisArg, RedisReplyError } from "./client.ts";

/** Whether a call failed because a stream or its consumer group does not exist. */
export function isNoGroup(err: unknown): boolean {
  const reply = err instanceof RedisReplyError
    ? err
    : err instanceof BackendUnavailableError && err.cause instanceof RedisReplyError
    ? err.cause
    : undefined;
  return reply?.reply === "NOGROUP";
}

/**
 * Makes `group` again on each of `streams` (`XGROUP CREATE … 0 MKSTREAM`; one that exists is
 * left alone) and warns once for the lot.
 */
export async function regroup(
  command: (args: readonly RedisArg[]) => Promise<unknown>,
  streamKey: (stream: string) => string,
  group: string,
  streams: readonly string[],
  logger: Logger,
): Promise<void> {
  const made: string[] = [];
  await Promise.all([...new Set(streams)].map(async (stream) => {
    try {
      await command(["XGROUP", "CREATE", streamKey(stream), group, "0", "MKSTREAM"]);
      made.push(stream);
    } catch (err) {
      const reply = err instanceof BackendUnavailableError ? err.cause : err;
      if (!(reply instanceof RedisReplyError && reply.reply === "BUSYGROUP")) throw err;
    }
  }));
  if (made.length === 0) return;
  logger.warn(
    "the consumer group was missing in Redis (restarted without persistence?): made it again " +
      "from the start of the stream; what Redis lost before is gone",
    { group, streams: made.join(",") },
  );
}
