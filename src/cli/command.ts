/**
 * The shape of one CLI command.
 *
 * @module
 */
import type { ParseArgsConfig } from "node:util";
import type { CommandContext } from "./context.ts";

/** The values of a command's options, as `parseArgs` returns them. */
export type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** One command of the CLI. */
export interface Command {
  /** The word that selects it. */
  name: string;
  /** Its synopsis, after `herald`. */
  usage: string;
  /** What it does, in a sentence. */
  summary: string;
  /** Its own options, beside the global ones. */
  options: NonNullable<ParseArgsConfig["options"]>;
  /** Runs it. @returns the exit code. */
  run(ctx: CommandContext, positionals: string[], values: Values): Promise<number>;
}
