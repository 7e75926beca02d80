/**
 * `herald trace <id>`: one request followed across services, as a tree of the events it caused
 * with where each stands in every group.
 *
 * @module
 */
import { NotFoundError } from "../errors.ts";
import { type Journey, journey, type JourneyNode, type Reach, TRACE_LIMIT } from "../trace.ts";
import type { Command } from "./command.ts";
import { EXIT, print, UsageError } from "./context.ts";

function ms(n: number | undefined): string {
  if (n === undefined) return "";
  if (Math.abs(n) < 1_000) return `+${n}ms`;
  return `+${(n / 1_000).toFixed(n < 10_000 ? 2 : 0)}s`;
}

function reachLine(r: Reach, published: string): string {
  const parts: string[] = [r.state];
  if (r.attempt !== undefined) parts.push(`attempt ${r.attempt}`);
  if (r.at && r.state === "dead") parts.push(ms(Date.parse(r.at) - Date.parse(published)));
  if (r.at && r.state === "retrying") parts.push(`next ${r.at}`);
  const error = r.error ? `  ${r.error.name}: ${r.error.message.split("\n")[0]}` : "";
  return `${r.group.padEnd(16)} ${parts.join(", ")}${error}`;
}

function nodeLines(node: JourneyNode, indent: string, out: string[]): void {
  const e = node.envelope;
  const timing = node.afterCauseMs === undefined ? e.time : ms(node.afterCauseMs);
  out.push(`${indent}└ ${e.type}  ${e.id}  stream ${e.stream}  from ${e.source}  ${timing}`);
  for (const r of node.reached) out.push(`${indent}    ${reachLine(r, e.time)}`);
  if (node.reached.length === 0) out.push(`${indent}    (no group reads stream ${e.stream})`);
  for (const child of node.caused) nodeLines(child, `${indent}  `, out);
}

/** The journey as text lines. */
export function journeyLines(j: Journey): string[] {
  const out = [
    `Journey ${j.correlationId}: ${j.count} event(s)${j.truncated ? " (more not read)" : ""}`,
  ];
  for (const root of j.roots) nodeLines(root, "", out);
  return out;
}

export const trace: Command = {
  name: "trace",
  usage: "trace <event-id|correlation-id> [--limit N]",
  summary: "Follow one request: the events it caused, across streams, and each group's outcome.",
  options: { limit: { type: "string" } },
  async run(ctx, [id], values) {
    if (!id) throw new UsageError("Name an event id or a correlation id");
    const limit = values.limit === undefined ? TRACE_LIMIT : Number(values.limit);
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= TRACE_LIMIT)) {
      throw new UsageError(`--limit must be a whole number from 1 to ${TRACE_LIMIT}`);
    }
    const found = await (await ctx.backend()).trace(id, { limit });
    if (found.events.length === 0) {
      throw new NotFoundError(
        "event",
        `No events with correlation or event id "${id}" (trimmed, or published by a backend ` +
          "made without journeys: true, which writes no correlation index)",
      );
    }
    print(ctx, journey(found), journeyLines);
    return EXIT.ok;
  },
};
