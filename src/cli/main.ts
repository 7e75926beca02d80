/**
 * Herald's command line: see and steer streams, consumer groups and dead letters on a Deno KV
 * file or Redis, the same as the admin API does.
 *
 * ```sh
 * deno run -A jsr:@herald/herald/cli groups --kv .herald/bus.sqlite
 * deno task herald dead posts --json      # in the repository
 * ```
 *
 * Connects with `--kv PATH`, `--redis URL` (`--prefix P`), or the environment variables services
 * use. Exit codes: 0 done, 1 failed, 2 wrong command line, 3 not found, 4 invalid event,
 * 5 `lag --max` exceeded.
 *
 * @example Running a command from a program, with its output captured
 * ```ts
 * import { main } from "@herald/herald/cli";
 * const lines: string[] = [];
 * const code = await main(["--help"], {
 *   out: (l) => lines.push(l),
 *   err: (l) => lines.push(l),
 *   stdin: () => Promise.resolve(""),
 * });
 * console.log(code, lines[0]); // 0 "Usage: herald <command> [options]"
 * ```
 *
 * @module
 */
import type { Backend } from "../backend.ts";
import { NotFoundError, UnknownEventError, ValidationError } from "../errors.ts";
import { parseFor } from "./args.ts";
import type { Command } from "./command.ts";
import { connect } from "./connect.ts";
import { type CliIo, EXIT, UsageError } from "./context.ts";
import { publish } from "./publish.ts";
import { dead, groups, lag, streams } from "./read_commands.ts";
import { tail } from "./tail.ts";
import { trace } from "./trace.ts";
import { group, purge, redrive } from "./write_commands.ts";

export type { CliIo } from "./context.ts";
export { EXIT } from "./context.ts";

const COMMANDS: Command[] = [
  streams,
  groups,
  lag,
  tail,
  publish,
  dead,
  redrive,
  purge,
  group,
  trace,
];

const GLOBAL_HELP = [
  "Options of every command:",
  "  --kv PATH      a Deno KV bus file (default: $HERALD_BUS_PATH or .herald/bus.sqlite)",
  "  --redis URL    Redis: redis://… (TCP) or https://… (REST, token in UPSTASH_REDIS_REST_TOKEN)",
  "  --prefix P     the Redis key prefix (default: $HERALD_REDIS_PREFIX or herald:)",
  "  --json         print JSON (one document, or one line per event for tail)",
  "  -h, --help     show help",
  "Without --kv or --redis: HERALD_BACKEND=redis uses HERALD_REDIS_URL or UPSTASH_REDIS_REST_URL.",
  "Exit codes: 0 done, 1 failed, 2 wrong command line, 3 not found, 4 invalid event, 5 lag over --max.",
];

function help(io: CliIo, command?: Command): void {
  if (command) {
    io.out(`Usage: herald ${command.usage}`);
    io.out(command.summary);
  } else {
    io.out("Usage: herald <command> [options]");
    for (const c of COMMANDS) io.out(`  ${c.name.padEnd(9)} ${c.summary}`);
    io.out("Run herald <command> --help for a command's arguments.");
  }
  for (const line of GLOBAL_HELP) io.out(line);
}

const DEFAULT_IO: CliIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  stdin: () => new Response(Deno.stdin.readable).text(),
};

/**
 * Runs the CLI with `args` (as `Deno.args`).
 *
 * @param args The command line, without the program.
 * @param io Where to write and read; the console by default.
 * @returns The exit code (see {@linkcode EXIT}).
 *
 * @example Listing the streams of a Deno KV file as JSON
 * ```ts ignore
 * import { main } from "@herald/herald/cli";
 * const code = await main(["streams", "--kv", ".herald/bus.sqlite", "--json"]);
 * Deno.exit(code);
 * ```
 */
export async function main(args: string[], io: CliIo = DEFAULT_IO): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    help(io);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`Unknown command "${name}". Run herald --help.`);
    return EXIT.usage;
  }
  let backend: Promise<Backend> | undefined;
  try {
    const { positionals, values } = parseFor(command, rest);
    if (values.help) {
      help(io, command);
      return EXIT.ok;
    }
    const target = { kv: values.kv, redis: values.redis, prefix: values.prefix } as Record<
      string,
      string
    >;
    const ctx = { json: Boolean(values.json), io, backend: () => backend ??= connect(target) };
    return await command.run(ctx, positionals, values);
  } catch (err) {
    return report(io, command, err);
  } finally {
    if (backend) await (await backend.catch(() => undefined))?.close();
  }
}

function report(io: CliIo, command: Command, err: unknown): number {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof UsageError) {
    io.err(`${message}\nUsage: herald ${command.usage}`);
    return EXIT.usage;
  }
  io.err(message);
  if (err instanceof NotFoundError) return EXIT.notFound;
  if (err instanceof ValidationError || err instanceof UnknownEventError) return EXIT.invalid;
  return EXIT.failed;
}

if (import.meta.main) {
  const stop = new AbortController();
  Deno.addSignalListener("SIGINT", () => stop.abort());
  Deno.exit(await main(Deno.args, { ...DEFAULT_IO, signal: stop.signal }));
}
