/**
 * Event contracts: a stream, an event type and a zod schema for the payload.
 *
 * @module
 */
import type { z } from "zod";
import { InvalidOptionsError, ValidationError } from "./errors.ts";

/** Names of streams, types and groups: letters, digits, `.`, `_`, `-`, `:`; 1–200 characters. */
export const NAME_PATTERN: RegExp = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

/** What {@linkcode defineEvent} takes. */
export interface EventContractOptions<S extends z.ZodType> {
  /** The stream the event is published on, such as `users`. */
  stream: string;
  /** The event type, such as `user.created`. */
  type: string;
  /** The zod schema of the payload (`event.data`). */
  schema: S;
}

/** A typed event contract, made by {@linkcode defineEvent}. */
export interface EventContract<S extends z.ZodType = z.ZodType> {
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
  parse(data: unknown): z.output<S>;
}

/** The payload type a contract's handlers receive. */
export type EventData<C extends EventContract> = z.output<C["schema"]>;

/** The payload type a contract's publishers pass. */
export type EventInput<C extends EventContract> = z.input<C["schema"]>;

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
export function defineEvent<S extends z.ZodType>(
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
    parse(data: unknown): z.output<S> {
      const result = schema.safeParse(data);
      if (!result.success) {
        throw new ValidationError(stream, type, result.error.issues);
      }
      return result.data;
    },
  });
}

/** The routing key of a contract: `stream` and `type` joined by a space. */
export function routeOf(stream: string, type: string): string {
  return `${stream} ${type}`;
}
