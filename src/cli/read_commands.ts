/**
 * The CLI commands that only read: `streams`, `groups`, `lag` and `dead`.
 *
 * @module
 */
import type { DeadLetter } from "../backend.ts";
import { NotFoundError } from "../errors.ts";
import type { GroupInfo } from "../inspect.ts";
import { type CommandContext, EXIT, print, table, UsageError } from "./context.ts";
import { timeArg } from "./args.ts";
import type { Command } from "./command.ts";

function ago(ms: number | undefined): string {
  if (ms === undefined) return "-";
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 120_000) return `${Math.round(ms / 1_000)}s`;
  return `${Math.round(ms / 60_000)}m`;
}

function groupRows(groups: GroupInfo[]): string[] {
  return table(
    ["GROUP", "STREAM", "LAG", "PENDING", "OLDEST", "DEAD", "CONSUMERS", "POSITION"],
    groups.map((g) => [
      g.group,
      g.stream,
      g.lag,
      g.pending,
      ago(g.oldestPendingMs),
      g.deadLetters,
      g.consumers.length,
      g.position,
    ]),
  );
}

export const streams: Command = {
  name: "streams",
  usage: "streams",
  summary: "List the streams: length, first and last event time, retention.",
  options: {},
  async run(ctx) {
    const list = await (await ctx.backend()).streams();
    print(ctx, list, (l) =>
      table(
        ["STREAM", "LENGTH", "FIRST", "LAST", "RETENTION"],
        l.map((s) => [
          s.stream,
          s.length,
          s.firstTime,
          s.lastTime,
          s.retention ? JSON.stringify(s.retention) : "all",
        ]),
      ));
    return EXIT.ok;
  },
};

export const groups: Command = {
  name: "groups",
  usage: "groups [stream]",
  summary: "List consumer groups (of one stream, or all): lag, pending, dead letters, consumers.",
  options: {},
  async run(ctx, [stream]) {
    const list = await (await ctx.backend()).groups(stream);
    print(ctx, list, groupRows);
    return EXIT.ok;
  },
};

export const lag: Command = {
  name: "lag",
  usage: "lag [--max N]",
  summary: "Show each group's lag and pending; with --max, exit 5 when any lag is above N.",
  options: { max: { type: "string" } },
  async run(ctx, _, values) {
    const max = values.max === undefined ? undefined : Number(values.max);
    if (max !== undefined && !(Number.isInteger(max) && max >= 0)) {
      throw new UsageError("--max must be a whole number");
    }
    const list = await (await ctx.backend()).groups();
    const behind = max === undefined ? [] : list.filter((g) => g.lag > max);
    print(
      ctx,
      list.map((g) => ({ group: g.group, stream: g.stream, lag: g.lag, pending: g.pending })),
      (rows) =>
        table(
          ["GROUP", "STREAM", "LAG", "PENDING"],
          rows.map((g) => [g.group, g.stream, g.lag, g.pending]),
        ),
    );
    if (behind.length > 0) {
      ctx.io.err(`${behind.length} group(s) lag more than ${max} events`);
      return EXIT.behind;
    }
    return EXIT.ok;
  },
};

function deadRows(letters: DeadLetter[]): string[] {
  return table(
    ["ID", "STREAM", "TYPE", "ATTEMPTS", "AT", "ERROR"],
    letters.map((d) => [
      d.id,
      d.stream,
      d.envelope?.type ?? "(malformed)",
      d.attempts,
      d.at,
      `${d.error.name}: ${d.error.message}`.slice(0, 80),
    ]),
  );
}

async function showDead(ctx: CommandContext, group: string, id: string): Promise<number> {
  const backend = await ctx.backend();
  let after: string | undefined;
  while (true) {
    const page = await backend.deadLetters(group, { limit: 500, after });
    const found = page.find((d) => d.id === id);
    if (found) {
      print(ctx, found, (d) => JSON.stringify(d, null, 2).split("\n"));
      return EXIT.ok;
    }
    if (page.length < 500 || !page.at(-1)?.cursor) break;
    after = page.at(-1)!.cursor;
  }
  throw new NotFoundError("dead letter", `No dead letter "${id}" in group "${group}"`);
}

export const dead: Command = {
  name: "dead",
  usage: "dead <group> [list] [--type T] [--error NAME] [--since TIME] [--until TIME] " +
    "[--limit N] [--after CURSOR] | dead <group> show <id>",
  summary: "List a group's dead letters (filtered, paged), or show one with its payload and error.",
  options: {
    type: { type: "string" },
    error: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
    limit: { type: "string" },
    after: { type: "string" },
  },
  async run(ctx, [group, action = "list", id], v) {
    if (!group) throw new UsageError("Name the group: dead <group>");
    if (action === "show") {
      if (!id) throw new UsageError("Name the dead letter: dead <group> show <id>");
      return await showDead(ctx, group, id);
    }
    if (action !== "list") throw new UsageError(`Unknown action "${action}": use list or show`);
    const limit = v.limit === undefined ? 50 : Number(v.limit);
    if (!(Number.isInteger(limit) && limit > 0)) throw new UsageError("--limit must be positive");
    const letters = await (await ctx.backend()).deadLetters(group, {
      limit,
      ...(v.after ? { after: String(v.after) } : {}),
      ...(v.type ? { type: String(v.type) } : {}),
      ...(v.error ? { errorName: String(v.error) } : {}),
      ...(v.since ? { since: timeArg("--since", String(v.since)) } : {}),
      ...(v.until ? { until: timeArg("--until", String(v.until)) } : {}),
    });
    print(ctx, letters, deadRows);
    return EXIT.ok;
  },
};
