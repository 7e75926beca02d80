/**
 * The CLI commands that change something: `redrive`, `purge` and `group delete|reset`. Acting
 * on every dead letter must be asked for with `--all`.
 *
 * @module
 */
import { NotFoundError } from "../errors.ts";
import type { Position } from "../inspect.ts";
import { timeArg } from "./args.ts";
import type { Command, Values } from "./command.ts";
import { EXIT, print, UsageError } from "./context.ts";

function ids(v: Values): string[] | undefined {
  const list = v.id as string[] | undefined;
  return list && list.length > 0 ? list : undefined;
}

export const redrive: Command = {
  name: "redrive",
  usage: "redrive <group> (--id ID ... | --all)",
  summary: "Send dead letters back to be handled again, with a fresh attempt count.",
  options: { id: { type: "string", multiple: true }, all: { type: "boolean" } },
  async run(ctx, [group], v) {
    if (!group) throw new UsageError("Name the group: redrive <group>");
    const chosen = ids(v);
    if (!chosen && !v.all) throw new UsageError("Name dead letters with --id, or give --all");
    const moved = await (await ctx.backend()).redrive(group, chosen);
    print(ctx, { moved }, ({ moved }) => [`${moved} dead letter(s) redriven`]);
    return chosen && moved === 0 ? EXIT.notFound : EXIT.ok;
  },
};

export const purge: Command = {
  name: "purge",
  usage: "purge <group> (--id ID ... | --before TIME | --all)",
  summary: "Delete dead letters for good.",
  options: {
    id: { type: "string", multiple: true },
    before: { type: "string" },
    all: { type: "boolean" },
  },
  async run(ctx, [group], v) {
    if (!group) throw new UsageError("Name the group: purge <group>");
    const chosen = ids(v);
    const before = v.before ? timeArg("--before", String(v.before)) : undefined;
    if (!chosen && !before && !v.all) {
      throw new UsageError("Name dead letters with --id or --before, or give --all");
    }
    const purged = await (await ctx.backend()).purgeDeadLetters(group, {
      ...(chosen ? { ids: chosen } : {}),
      ...(before ? { before } : {}),
    });
    print(ctx, { purged }, ({ purged }) => [`${purged} dead letter(s) deleted`]);
    return EXIT.ok;
  },
};

/** `--to`: earliest, latest, a time, or `event:<id>`. */
export function positionArg(raw: string | undefined): Position {
  if (raw === undefined) throw new UsageError("Give --to earliest|latest|TIME|event:ID");
  if (raw === "earliest" || raw === "latest") return raw;
  if (raw.startsWith("event:") && raw.length > 6) return { eventId: raw.slice(6) };
  return timeArg("--to", raw);
}

export const group: Command = {
  name: "group",
  usage: "group delete <group> [--stream S] | group reset <group> --stream S " +
    "--to earliest|latest|TIME|event:ID",
  summary: "Delete a consumer group (stop its workers first), or move where it reads a stream.",
  options: { stream: { type: "string" }, to: { type: "string" } },
  async run(ctx, [action, name], v) {
    if (!name || (action !== "delete" && action !== "reset")) {
      throw new UsageError("Use group delete <group> or group reset <group>");
    }
    const stream = v.stream ? String(v.stream) : undefined;
    const backend = await ctx.backend();
    if (action === "delete") {
      if (!await backend.deleteGroup(name, stream)) {
        throw new NotFoundError("group", `No group "${name}"${stream ? ` on "${stream}"` : ""}`);
      }
      print(ctx, { deleted: true }, () => [`group "${name}" deleted`]);
      return EXIT.ok;
    }
    if (!stream) throw new UsageError("group reset needs --stream");
    const to = positionArg(v.to as string | undefined);
    await backend.resetGroup(name, stream, to);
    print(ctx, { reset: true }, () => [`group "${name}" on "${stream}" reset`]);
    return EXIT.ok;
  },
};
