/**
 * Event contracts: a stream, an event type and a zod schema for the payload.
 *
 * @module
 */
import type { Envelope } from "./envelope.ts";
import { InvalidOptionsError, type SchemaIssue, ValidationError } from "./errors.ts";

/**
 * A payload schema, as Herald sees it: any zod 4 schema fits. It is written out here (the
 * Standard Schema properties zod implements, and the `safeParse` Herald calls) so that the
 * public types name no type private to zod.
 *
 * @typeParam Output The payload type after parsing (what handlers receive).
 * @typeParam Input The payload type before parsing (what publishers pass).
 */
export interface Schema<Output = unknown, Input = unknown> {
  /** The Standard Schema properties; Herald reads only their types. */
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: string;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
  /** Checks a value without throwing, as zod's `safeParse`. */
  safeParse(data: unknown):
    | { readonly success: true; readonly data: Output }
    | {
      readonly success: false;
      readonly error: {
        readonly issues: readonly { message: string; path: PropertyKey[]; code?: string }[];
      };
    };
}

/** The payload type after parsing by schema `S`. */
type OutputOf<S extends Schema> = NonNullable<S["~standard"]["types"]>["output"];

/** Names of streams, types and groups: letters, digits, `.`, `_`, `-`, `:`; 1–200 characters. */
export const NAME_PATTERN: RegExp = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

/** What {@linkcode defineEvent} takes. */
export interface EventContractOptions<S extends Schema> {
  /** The stream the event is published on, such as `users`. */
  stream: string;
  /** The event type, such as `user.created`. */
  type: string;
  /** The zod schema of the payload (`event.data`). */
  schema: S;
  /**
   * The payload's version: raise it with each change that old payloads would fail, and give
   * `upcast` a step from the version before. Published envelopes record it (`dataversion`).
   * @default {1}
   */
  version?: number;
  /**
   * Steps that turn a payload of version `n` into one of version `n + 1`, by `n`: an older
   * event runs through them before its schema check, so old producers and new consumers work
   * at once. Each step's parameter is typed by you (the shape that version had).
   */
  // deno-lint-ignore no-explicit-any
  upcast?: Readonly<Record<number, (old: any) => unknown>>;
}

/** A typed event contract, made by {@linkcode defineEvent}. */
export interface EventContract<S extends Schema = Schema> {
  /** The stream the event is published on. */
  readonly stream: string;
  /** The event type. */
  readonly type: string;
  /** The payload's schema. */
  readonly schema: S;
  /** The payload's version (1 unless the contract says otherwise). */
  readonly version: number;
  /** The steps from each older version to the next. */
  // deno-lint-ignore no-explicit-any
  readonly upcast: Readonly<Record<number, (old: any) => unknown>>;
  /**
   * Checks a payload against the schema.
   *
   * @throws {ValidationError} with the zod issues when it does not match.
   */
  parse(data: unknown): NonNullable<S["~standard"]["types"]>["output"];
}

/** The payload type a contract's handlers receive. */
export type EventData<C extends EventContract> = NonNullable<
  C["schema"]["~standard"]["types"]
>["output"];

/** The payload type a contract's publishers pass. */
export type EventInput<C extends EventContract> = NonNullable<
  C["schema"]["~standard"]["types"]
>["input"];

/**
 * Defines an event contract shared by the services that publish and consume it.
 *
 * @param options The stream, type and schema.
 * @returns The contract.
 * @throws {InvalidOptionsError} (a `TypeError`) listing every problem with the options.
 *
 * @example Defining and checking a contract
 * ```ts
 * import { z } from "zod";
 * import { defineEvent } from "@herald/herald";
 *
 * const UserCreated = defineEvent({
 *   stream: "users",
 *   type: "user.created",
 *   schema: z.object({ id: z.string(), name: z.string().min(1) }),
 * });
 * console.log(UserCreated.parse({ id: "u1", name: "Ada" }).name); // Ada
 * ```
 */
export function defineEvent<S extends Schema>(
  options: EventContractOptions<S>,
): EventContract<S> {
  const problems: string[] = [];
  if (typeof options?.stream !== "string" || !NAME_PATTERN.test(options.stream)) {
    problems.push(`stream must match ${NAME_PATTERN} (got ${JSON.stringify(options?.stream)})`);
  }
  if (typeof options?.type !== "string" || !NAME_PATTERN.test(options.type)) {
    problems.push(`type must match ${NAME_PATTERN} (got ${JSON.stringify(options?.type)})`);
  }
  if (typeof options?.schema?.safeParse !== "function") {
    problems.push("schema must be a zod schema");
  }
  problems.push(...versionProblems(options?.version, options?.upcast));
  if (problems.length > 0) throw new InvalidOptionsError("defineEvent", problems);
  const { stream, type, schema, version = 1, upcast = {} } = options;
  return Object.freeze({
    stream,
    type,
    schema,
    version,
    upcast: Object.freeze({ ...upcast }),
    parse(data: unknown): OutputOf<S> {
      const result = schema.safeParse(data);
      if (!result.success) {
        throw new ValidationError(stream, type, result.error.issues);
      }
      return result.data as OutputOf<S>;
    },
  });
}

function versionProblems(version: unknown, upcast: unknown): string[] {
  const v = version ?? 1;
  if (!Number.isInteger(v) || (v as number) < 1) {
    return [`version must be an integer >= 1 (got ${JSON.stringify(version)})`];
  }
  if (upcast === undefined) return [];
  if (typeof upcast !== "object" || upcast === null) return ["upcast must be an object of steps"];
  const problems: string[] = [];
  const steps = Object.entries(upcast).map(([k, f]) => [Number(k), f] as const);
  for (const [from, step] of steps) {
    if (!Number.isInteger(from) || from < 1 || from >= (v as number)) {
      problems.push(`upcast has a step from version ${from}; versions 1 to ${v as number - 1} may`);
    } else if (typeof step !== "function") {
      problems.push(`upcast[${from}] must be a function`);
    }
  }
  // From the oldest step on, every version up to the current one needs its step.
  const oldest = Math.min(...steps.map(([from]) => from));
  for (let from = oldest; from < (v as number); from++) {
    if (!(String(from) in upcast)) problems.push(`upcast needs a step from version ${from}`);
  }
  return problems;
}

/** What {@linkcode decodePayload} found: the payload in the contract's shape, or the issues. */
export type DecodedPayload<T> = { success: true; data: T } | {
  success: false;
  issues: SchemaIssue[];
};

/**
 * Reads an event's payload as `contract` wants it: upcast from the version its envelope records
 * (`dataversion`, 1 when absent) to the contract's, then checked by the schema. A payload newer
 * than the contract is checked as it is (an added field passes; a change the schema rejects
 * fails as any invalid payload does).
 *
 * @param contract The contract that handles the event.
 * @param envelope The event.
 * @returns The payload, or the issues (a missing or throwing step is an issue at the root).
 *
 * @example Reading a version-1 event with a version-2 contract
 * ```ts
 * import { z } from "zod";
 * import { createEnvelope, decodePayload, defineEvent } from "@herald/herald";
 *
 * const Renamed = defineEvent({
 *   stream: "users",
 *   type: "user.renamed",
 *   version: 2,
 *   schema: z.object({ first: z.string(), last: z.string() }),
 *   upcast: { 1: (old: { name: string }) => ({ first: old.name, last: "" }) },
 * });
 * const old = createEnvelope("users", "user.renamed", { name: "Ada" }, "users");
 * const read = decodePayload(Renamed, old);
 * console.log(read.success && read.data); // { first: "Ada", last: "" }
 * ```
 */
export function decodePayload<C extends EventContract>(
  contract: C,
  envelope: Envelope,
): DecodedPayload<EventData<C>> {
  let data = envelope.data;
  for (let v = envelope.dataversion ?? 1; v < contract.version; v++) {
    const step = contract.upcast[v];
    if (!step) return rootIssue(`No upcast from version ${v} to ${v + 1}`, "upcast_missing");
    try {
      data = step(data);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return rootIssue(`Upcast from version ${v} threw: ${why}`, "upcast_failed");
    }
  }
  const parsed = contract.schema.safeParse(data);
  if (parsed.success) return { success: true, data: parsed.data as EventData<C> };
  return { success: false, issues: toIssues(parsed.error.issues) };
}

function rootIssue(message: string, code: string): { success: false; issues: SchemaIssue[] } {
  return { success: false, issues: [{ message, path: [], code }] };
}

function toIssues(
  issues: readonly { message: string; path: PropertyKey[]; code?: string }[],
): SchemaIssue[] {
  return issues.map((i) => ({ message: i.message, path: [...i.path], code: i.code }));
}

/** The routing key of a contract: `stream` and `type` joined by a space. */
export function routeOf(stream: string, type: string): string {
  return `${stream} ${type}`;
}
