/**
 * Building an AsyncAPI 3.0 document from event contracts.
 *
 * @module
 */
import { z } from "zod";
import { type EventContract, NAME_PATTERN } from "../contract.ts";
import { InvalidOptionsError } from "../errors.ts";
import { envelopeHeaders, type JsonSchema } from "./headers.ts";

/** The document's `info`: what the API is. */
export interface AsyncApiInfo {
  /** The API's title, such as the app's name. */
  title: string;
  /** The API's version (of the document, not of AsyncAPI). */
  version: string;
  /** What it is, in CommonMark. */
  description?: string;
}

/** A server the events travel through: the Deno KV database or the Redis server. */
export interface AsyncApiServer {
  /** Host (and port), such as `redis.example.com:6379`. */
  host: string;
  /** Protocol, such as `redis` or `https`. */
  protocol: string;
  /** What it is. */
  description?: string;
}

/** Options of {@linkcode createAsyncApi}. */
export interface AsyncApiOptions {
  /**
   * The contracts: an array, or a module's exports (`import * as contracts from …`), of which
   * only the event contracts are taken, each named by its export name.
   */
  contracts: readonly EventContract[] | Record<string, unknown>;
  /** The document's `info`. */
  info: AsyncApiInfo;
  /** The servers, by name. */
  servers?: Record<string, AsyncApiServer>;
}

/** An AsyncAPI 3.0 document, as a plain JSON value. */
export type AsyncApiDocument = Record<string, unknown> & { asyncapi: "3.0.0" };

// AsyncAPI's rule for component and operation keys.
const KEY = /^[A-Za-z0-9.\-_]+$/;

/**
 * Builds an AsyncAPI 3.0 document describing event contracts: one channel per stream, one
 * message per event type (its payload the contract's zod schema as JSON Schema, its headers the
 * envelope's CloudEvents attributes), and a `send` operation per message.
 *
 * @param options The contracts, the document's info and the servers.
 * @returns The document: serve it as JSON, or feed it to AsyncAPI tools.
 * @throws {InvalidOptionsError} listing every problem (no contracts, two contracts for one
 * stream and type, a bad name, a missing title or version).
 *
 * @example A document for one contract
 * ```ts
 * import { z } from "zod";
 * import { defineEvent } from "@herald/herald";
 * import { createAsyncApi } from "@herald/herald/asyncapi";
 *
 * const UserCreated = defineEvent({
 *   stream: "users",
 *   type: "user.created",
 *   schema: z.object({ id: z.string(), email: z.email() }),
 * });
 * const doc = createAsyncApi({
 *   contracts: { UserCreated },
 *   info: { title: "Users", version: "1.0.0" },
 * });
 * console.log(Object.keys(doc.channels as object)); // ["users"]
 * ```
 */
export function createAsyncApi(options: AsyncApiOptions): AsyncApiDocument {
  const named = namedContracts(options);
  const channels: Record<string, { address: string; messages: Record<string, unknown> }> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  for (const [name, contract] of named) {
    // A stream name may hold ":", which AsyncAPI keys may not; the address keeps it.
    const id = contract.stream.replaceAll(":", "_");
    const channel = channels[id] ??= { address: contract.stream, messages: {} };
    channel.messages[name] = { $ref: `#/components/messages/${name}` };
    messages[name] = message(name, contract);
    operations[`send.${name}`] = {
      action: "send",
      summary: `Publishes "${contract.type}" on stream "${contract.stream}".`,
      channel: { $ref: `#/channels/${id}` },
      messages: [{ $ref: `#/channels/${id}/messages/${name}` }],
    };
  }
  const doc: AsyncApiDocument = {
    asyncapi: "3.0.0",
    info: { ...options.info },
    defaultContentType: "application/json",
    channels,
    operations,
    components: { messages },
  };
  if (options.servers) doc.servers = structuredClone(options.servers);
  return doc;
}

function message(name: string, contract: EventContract): Record<string, unknown> {
  return {
    name,
    title: contract.type,
    summary: `"${contract.type}" on stream "${contract.stream}"` +
      (contract.version > 1 ? `, version ${contract.version}` : ""),
    contentType: "application/json",
    headers: envelopeHeaders(contract),
    payload: jsonSchema(contract),
  };
}

function jsonSchema(contract: EventContract): JsonSchema {
  // Contracts are typed by the Standard Schema shape; their schemas are zod's.
  const zodSchema = contract.schema as unknown as z.ZodType;
  const schema = z.toJSONSchema(zodSchema, { target: "draft-7", unrepresentable: "any" });
  // The document's schema format is AsyncAPI's own (a superset of draft 7): no `$schema` inside.
  const { $schema: _, ...rest } = schema as JsonSchema;
  return rest;
}

function namedContracts(options: AsyncApiOptions): [string, EventContract][] {
  const problems: string[] = [];
  if (typeof options?.info?.title !== "string" || options.info.title === "") {
    problems.push("info.title must be a non-empty string");
  }
  if (typeof options?.info?.version !== "string" || options.info.version === "") {
    problems.push("info.version must be a non-empty string");
  }
  const given = options?.contracts;
  const entries: [string, unknown][] = Array.isArray(given)
    ? given.map((c) => [String((c as EventContract)?.type), c])
    : Object.entries(given ?? {});
  const named: [string, EventContract][] = [];
  const seen = new Map<string, string>();
  for (const [name, value] of entries) {
    if (!isContract(value)) continue;
    const route = `${value.stream} ${value.type}`;
    const other = seen.get(route);
    if (other === name || named.some(([, c]) => c === value)) continue; // re-exported twice
    if (other) problems.push(`"${other}" and "${name}" both describe ${route}`);
    if (!KEY.test(name)) problems.push(`message name ${JSON.stringify(name)} must match ${KEY}`);
    seen.set(route, name);
    named.push([name, value]);
  }
  if (named.length === 0) problems.push("contracts holds no event contract (from defineEvent)");
  if (problems.length > 0) throw new InvalidOptionsError("createAsyncApi", problems);
  return named;
}

function isContract(value: unknown): value is EventContract {
  const c = value as EventContract;
  return typeof c === "object" && c !== null && typeof c.stream === "string" &&
    NAME_PATTERN.test(c.stream) && typeof c.type === "string" &&
    typeof c.schema?.safeParse === "function" && typeof c.parse === "function";
}
