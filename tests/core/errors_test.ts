/**
 * One error family: every error Herald throws is a `HeraldError` with a stable code, and schema
 * issues have one shape wherever they are reported.
 *
 * @module
 */
import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { z } from "zod";
import {
  BackendUnavailableError,
  createBus,
  createEnvelope,
  createMemoryBackend,
  createWorker,
  decodeEvent,
  defineEvent,
  DoNotRetryError,
  EnvelopeTooLargeError,
  HeraldError,
  InvalidOptionsError,
  LeaseLostError,
  MalformedEventError,
  RetryLaterError,
  UnknownEventError,
  ValidationError,
} from "@herald/herald";
import { RedisReplyError } from "@herald/herald/redis";
import { until } from "../_until.ts";

const Signup = defineEvent({
  stream: "signups",
  type: "signup.made",
  schema: z.object({ email: z.string().email(), age: z.number().int() }),
});
const bad = { email: "nope", age: 1.5 };

Deno.test("every Herald error is a HeraldError with its own stable code", () => {
  const errors: [HeraldError, string][] = [
    [new ValidationError("s", "t", []), "VALIDATION_FAILED"],
    [new UnknownEventError("s", "t"), "UNKNOWN_EVENT"],
    [new MalformedEventError("no id"), "MALFORMED_EVENT"],
    [new EnvelopeTooLargeError("id", 2, 1), "ENVELOPE_TOO_LARGE"],
    [new InvalidOptionsError("x", ["y"]), "INVALID_OPTIONS"],
    [new LeaseLostError("g", "id"), "LEASE_LOST"],
    [new BackendUnavailableError("kv", "closed"), "BACKEND_UNAVAILABLE"],
    [new RedisReplyError("NOSCRIPT No matching script."), "REDIS_REPLY"],
    [new RetryLaterError(10), "RETRY_LATER"],
    [new DoNotRetryError("no"), "DO_NOT_RETRY"],
  ];
  for (const [err, code] of errors) {
    assertInstanceOf(err, HeraldError);
    assertEquals(err.code, code);
  }
  // instanceof a subclass still means that subclass.
  assert(!(new LeaseLostError("g", "id") instanceof ValidationError));
  assert(!(new Error("x") instanceof HeraldError));
  // Errors about bad arguments stay the built-in kinds callers already catch.
  assertInstanceOf(new InvalidOptionsError("x", []), TypeError);
  assertInstanceOf(new MalformedEventError("x"), TypeError);
  assertInstanceOf(new EnvelopeTooLargeError("id", 2, 1), RangeError);
});

Deno.test("defineEvent() and decodeEvent() throw Herald errors", () => {
  const options = assertThrows(
    () => defineEvent({ stream: "", type: "bad type", schema: z.object({}) }),
    InvalidOptionsError,
  );
  assertInstanceOf(options, HeraldError);
  assertEquals(options.problems.length, 2);
  const malformed = assertThrows(() => decodeEvent([Signup], { id: "x" }), MalformedEventError);
  assertInstanceOf(malformed, HeraldError);
  assertEquals(malformed.code, "MALFORMED_EVENT");
});

Deno.test("ValidationError.issues has one shape from parse, decodeEvent, publish and a worker", async () => {
  const shape = (issues: readonly unknown[]) =>
    issues.map((i) => Object.keys(i as object).sort().join(","));
  const fromParse = assertThrows(() => Signup.parse(bad), ValidationError).issues;
  const fromDecode = assertThrows(
    () => decodeEvent([Signup], createEnvelope("signups", "signup.made", bad, "t")),
    ValidationError,
  ).issues;
  const bus = createBus({ backend: createMemoryBackend(), source: "t" });
  const fromPublish = await bus.publish(Signup, bad as never).then(
    () => [],
    (err: ValidationError) => err.issues,
  );
  // A foreign writer's entry reaches the worker, which dead-letters it with the issues.
  await bus.backend.append([createEnvelope("signups", "signup.made", bad, "t")]);
  const w = createWorker({ bus, group: "g", idleWaitMs: 20 }).on(Signup, () => {});
  await w.start();
  await until(async () => (await bus.backend.deadLetters("g")).length === 1);
  await w.stop();
  const fromWorker = (await bus.backend.deadLetters("g"))[0].error.issues ?? [];
  await bus.close();
  assertEquals(shape(fromParse), ["code,message,path", "code,message,path"]);
  assertEquals(fromDecode, fromParse);
  assertEquals(fromPublish, fromParse);
  assertEquals(fromWorker, fromParse);
});
