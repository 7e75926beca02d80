/**
 * Reading events that arrive from outside a contract-typed call: an HTTP push, a replay file, a
 * message from another system.
 *
 * @module
 */
import { decodePayload, type EventContract, routeOf } from "./contract.ts";
import { type Envelope, envelopeProblem } from "./envelope.ts";
import { MalformedEventError, UnknownEventError, ValidationError } from "./errors.ts";

/**
 * Checks that `value` is an envelope of one of `contracts` and that its payload, upcast from the
 * version its envelope records, matches that contract's schema.
 *
 * @param contracts The contracts the caller knows.
 * @param value What arrived (already parsed from JSON).
 * @returns The envelope, its payload parsed by the schema.
 * @throws {MalformedEventError} (a `TypeError`) when `value` is not an envelope at all.
 * @throws {UnknownEventError} when no contract has its stream and type.
 * @throws {ValidationError} with the zod issues when its payload does not match.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { createEnvelope, decodeEvent, defineEvent, UnknownEventError } from "@herald/herald";
 *
 * const Ping = defineEvent({ stream: "pings", type: "ping", schema: z.object({ n: z.number() }) });
 * const ok = decodeEvent([Ping], createEnvelope("pings", "ping", { n: 1 }, "svc"));
 * console.log(ok.data); // { n: 1 }
 * try {
 *   decodeEvent([Ping], createEnvelope("pings", "pong", {}, "svc"));
 * } catch (err) {
 *   console.log(err instanceof UnknownEventError); // true
 * }
 * ```
 */
export function decodeEvent(contracts: readonly EventContract[], value: unknown): Envelope {
  const problem = envelopeProblem(value);
  if (problem) throw new MalformedEventError(problem);
  const envelope = value as Envelope;
  const contract = contracts.find((c) =>
    routeOf(c.stream, c.type) === routeOf(envelope.stream, envelope.type)
  );
  if (!contract) throw new UnknownEventError(envelope.stream, envelope.type);
  const parsed = decodePayload(contract, envelope);
  if (!parsed.success) throw new ValidationError(envelope.stream, envelope.type, parsed.issues);
  return { ...envelope, data: parsed.data };
}
