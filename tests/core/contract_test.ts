import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { z } from "zod";
import {
  createEnvelope,
  decodeEvent,
  defineEvent,
  envelopeProblem,
  EnvelopeTooLargeError,
  idTime,
  MAX_ENVELOPE_BYTES,
  newId,
  UnknownEventError,
  ValidationError,
} from "@herald/herald";

const UserCreated = defineEvent({
  stream: "users",
  type: "user.created",
  schema: z.object({ id: z.string(), email: z.email() }),
});

Deno.test("defineEvent() rejects bad stream and type names, all at once", () => {
  const err = assertThrows(
    () => defineEvent({ stream: "", type: "has space", schema: z.string() }),
    TypeError,
  );
  assert(err.message.includes("stream") && err.message.includes("type"));
});

Deno.test("contract.parse() throws ValidationError with every zod issue", () => {
  const err = assertThrows(() => UserCreated.parse({ email: "nope" }), ValidationError);
  assertEquals(err.stream, "users");
  assertEquals(err.type, "user.created");
  assertEquals(err.issues.map((i) => i.path).sort(), [["email"], ["id"]]);
});

Deno.test("createEnvelope() fills the CloudEvents fields and carries correlation", () => {
  const e = createEnvelope("users", "user.created", { id: "u1" }, "auth", {
    key: "u1",
    correlationid: "c1",
    causationid: "x1",
  });
  assertEquals(e.specversion, "1.0");
  assertEquals(e.datacontenttype, "application/json");
  assertEquals([e.stream, e.type, e.source, e.key], ["users", "user.created", "auth", "u1"]);
  assertEquals([e.correlationid, e.causationid], ["c1", "x1"]);
  assertEquals(envelopeProblem(e), undefined);
  assertEquals(new Date(e.time).getTime(), idTime(e.id));
});

Deno.test("createEnvelope() refuses an envelope over MAX_ENVELOPE_BYTES", () => {
  const err = assertThrows(
    () => createEnvelope("s", "t", "x".repeat(MAX_ENVELOPE_BYTES), "src"),
    EnvelopeTooLargeError,
  );
  assert(err.bytes > err.limit);
  assertInstanceOf(err, RangeError);
});

Deno.test("envelopeProblem() names what is wrong with a foreign entry", () => {
  assertEquals(envelopeProblem("text"), "an envelope must be an object");
  assertEquals(envelopeProblem({ specversion: "1.0" }), "id must be a non-empty string");
});

Deno.test("newId() is strictly increasing within one millisecond and across them", () => {
  const base = Date.now() + 1_000_000; // ahead of every id made before in this isolate
  const ids = Array.from({ length: 10_000 }, (_, i) => newId(base + (i >> 12)));
  for (let i = 1; i < ids.length; i++) assert(ids[i - 1] < ids[i], `${ids[i - 1]} < ${ids[i]}`);
  assertEquals(ids[0].length, 26);
  assertEquals(idTime(ids[0]), base);
  assertEquals(idTime(ids.at(-1)!), base + 2);
});

Deno.test("decodeEvent() names unknown types and invalid payloads", () => {
  const ok = decodeEvent(
    [UserCreated],
    createEnvelope("users", "user.created", {
      id: "u1",
      email: "a@b.co",
    }, "x"),
  );
  assertEquals(ok.data, { id: "u1", email: "a@b.co" });
  const unknown = assertThrows(
    () => decodeEvent([UserCreated], createEnvelope("users", "user.renamed", {}, "x")),
    UnknownEventError,
  );
  assertEquals([unknown.stream, unknown.type], ["users", "user.renamed"]);
  assertThrows(
    () => decodeEvent([UserCreated], createEnvelope("users", "user.created", { id: 1 }, "x")),
    ValidationError,
  );
  assertThrows(() => decodeEvent([UserCreated], { id: "x" }), TypeError, "Not an event envelope");
});
