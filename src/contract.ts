/**
 * Event contracts: a stream, an event type and a zod schema for the payload.
 *
 * @module
 */
import { InvalidOptionsError, ValidationError } from "./errors.ts";

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
}

/** A typed event contract, made by {@linkcode defineEvent}. */
export interface EventContract<S extends Schema = Schema> {
  /** The stream the event is published on. */
  readonly stream: string;
  /** The event type. */
  readonly type: string;
  /** The payload's schema. */
  readonly schema: S;
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
  if (problems.length > 0) throw new InvalidOptionsError("defineEvent", problems);
  const { stream, type, schema } = options;
  return Object.freeze({
    stream,
    type,
    schema,
    parse(data: unknown): OutputOf<S> {
      const result = schema.safeParse(data);
      if (!result.success) {
        throw new ValidationError(stream, type, result.error.issues);
      }
      return result.data as OutputOf<S>;
    },
  });
}

/** The routing key of a contract: `stream` and `type` joined by a space. */
export function routeOf(stream: string, type: string): string {
  return `${stream} ${type}`;
}
