/**
 * Reading the command line with `node:util`'s `parseArgs`: strict (an unknown option is an
 * error), global options beside each command's own.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { Command, Values } from "./command.ts";
import { UsageError } from "./context.ts";

/** The options every command takes. */
export const GLOBAL_OPTIONS: NonNullable<ParseArgsConfig["options"]> = {
  kv: { type: "string" },
  redis: { type: "string" },
  prefix: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

/** Parses `args` for `command`. */
export function parseFor(
  command: Command,
  args: string[],
): { positionals: string[]; values: Values } {
  try {
    const { positionals, values } = parseArgs({
      args,
      options: { ...GLOBAL_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    });
    return { positionals, values: values as Values };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A time argument: RFC 3339, or milliseconds since the epoch. */
export function timeArg(name: string, raw: string): Date {
  const t = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (Number.isNaN(t)) {
    throw new UsageError(`${name} must be an RFC 3339 time or epoch milliseconds`);
  }
  return new Date(t);
}
