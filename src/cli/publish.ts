/**
 * `herald publish <stream> <type> <json|->`: appends one event; with `--contracts module.ts`, only
 * an event a contract exported by that module describes, and only when its payload matches.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { createBus } from "../bus.ts";
import type { EventContract } from "../contract.ts";
import { createEnvelope } from "../envelope.ts";
import { UnknownEventError } from "../errors.ts";
import type { Command } from "./command.ts";
import { EXIT, print, UsageError } from "./context.ts";

/** The `source` of events the CLI publishes. */
const SOURCE = "herald-cli";

function isContract(value: unknown): value is EventContract {
  const c = value as Partial<EventContract>;
  return typeof c?.stream === "string" && typeof c.type === "string" &&
    typeof c.parse === "function";
}

/** The contracts a module exports (at the top level, or in exported objects one level down). */
async function contractsOf(path: string): Promise<EventContract[]> {
  const url = /^[a-z]+:/.test(path) ? path : pathToFileURL(resolve(path)).href;
  const mod = await import(url) as Record<string, unknown>;
  const found: EventContract[] = [];
  for (const value of Object.values(mod)) {
    if (isContract(value)) found.push(value);
    else if (typeof value === "object" && value !== null) {
      found.push(...Object.values(value).filter(isContract));
    }
  }
  return found;
}

export const publish: Command = {
  name: "publish",
  usage: "publish <stream> <type> <json|-> [--key K] [--contracts module.ts]",
  summary: "Publish one event (data as JSON, or - to read it from stdin), checked by a contract.",
  options: { key: { type: "string" }, contracts: { type: "string" } },
  async run(ctx, [stream, type, json], v) {
    if (!stream || !type || json === undefined) {
      throw new UsageError("Use publish <stream> <type> <json|->");
    }
    const text = json === "-" ? await ctx.io.stdin() : json;
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new UsageError("The event data is not JSON");
    }
    const options = v.key ? { key: String(v.key) } : {};
    const backend = await ctx.backend();
    let id: string;
    if (v.contracts) {
      const contract = (await contractsOf(String(v.contracts)))
        .find((c) => c.stream === stream && c.type === type);
      if (!contract) throw new UnknownEventError(stream, type);
      const bus = createBus({ backend, source: SOURCE });
      id = (await bus.publish(contract, data as never, options)).id;
    } else {
      const envelope = createEnvelope(stream, type, data, SOURCE, options);
      await backend.append([envelope]);
      id = envelope.id;
    }
    print(ctx, { id, stream, type }, () => [id]);
    return EXIT.ok;
  },
};
