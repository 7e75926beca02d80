/**
 * `herald tail <stream>`: prints a stream's events as they are appended, without joining a
 * group (it peeks, so no delivery is claimed and no group sees it).
 *
 * @module
 */
import type { StreamEvent } from "../inspect.ts";
import { sleep } from "../sleep.ts";
import type { Command } from "./command.ts";
import { type CommandContext, EXIT, UsageError } from "./context.ts";
import { positionArg } from "./write_commands.ts";

/** How often `tail` looks for new events, in milliseconds. */
const POLL_MS = 250;

function line(ctx: CommandContext, stream: string, e: StreamEvent): string {
  if (ctx.json) {
    return JSON.stringify({
      stream,
      position: e.position,
      ...e.envelope ? { event: e.envelope } : { raw: e.raw },
    });
  }
  if (!e.envelope) return `${e.position}  (malformed)  ${JSON.stringify(e.raw)}`;
  const { time, type, id, key, data } = e.envelope;
  return `${time}  ${type}  ${id}${key ? `  key=${key}` : ""}  ${JSON.stringify(data)}`;
}

export const tail: Command = {
  name: "tail",
  usage: "tail <stream> [--from earliest|latest|TIME|event:ID] [--count N]",
  summary: "Follow a stream live without joining a group (Ctrl-C stops); --count stops after N.",
  options: { from: { type: "string" }, count: { type: "string" } },
  async run(ctx, [stream], v) {
    if (!stream) throw new UsageError("Name the stream: tail <stream>");
    const count = v.count === undefined ? Infinity : Number(v.count);
    if (!(count > 0)) throw new UsageError("--count must be positive");
    const backend = await ctx.backend();
    const from = v.from ? positionArg(String(v.from)) : "latest";
    let page = await backend.peek(stream, { from, limit: 100 });
    let shown = 0;
    while (!ctx.io.signal?.aborted) {
      for (const e of page.events) {
        ctx.io.out(line(ctx, stream, e));
        if (++shown >= count) return EXIT.ok;
      }
      if (page.events.length === 0) await sleep(POLL_MS, ctx.io.signal);
      page = await backend.peek(stream, { after: page.next, limit: 100 });
    }
    return EXIT.ok;
  },
};
