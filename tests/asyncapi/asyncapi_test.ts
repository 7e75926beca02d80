/**
 * `createAsyncApi()`: the example app's contracts as an AsyncAPI 3.0 document, checked by the
 * official parser (`@asyncapi/parser`).
 */
import { Parser } from "@asyncapi/parser";
import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { z } from "zod";
import { createAsyncApi } from "../../src/asyncapi/mod.ts";
import { defineEvent, type EventContract } from "../../src/contract.ts";
import { InvalidOptionsError } from "../../src/errors.ts";
import * as contracts from "../../services/contracts/mod.ts";

const info = { title: "Herald example app", version: "1.0.0" };
// The parser's severities: 0 error, 1 warning, 2 information, 3 hint.
const ERROR = 0;

function exampleContracts(): EventContract[] {
  return (Object.values(contracts) as unknown[]).filter((v): v is EventContract =>
    typeof (v as EventContract)?.stream === "string" &&
    typeof (v as EventContract).parse === "function"
  );
}

Deno.test("`createAsyncApi()` documents the example app's contracts with no parser error", async () => {
  const doc = createAsyncApi({
    contracts,
    info,
    servers: { bus: { host: "localhost:6379", protocol: "redis", description: "Redis Streams" } },
  });
  const { document, diagnostics } = await new Parser().parse(JSON.stringify(doc));
  const errors = diagnostics.filter((d) => d.severity === ERROR);
  assertEquals(errors.map((d) => `${d.code}: ${d.message} at ${d.path.join(".")}`), []);
  assert(document, "the parser gave no document");

  // Channels are the streams, messages the event types.
  const expected = exampleContracts();
  const streams = [...new Set(expected.map((c) => c.stream))].sort();
  assertEquals(document.channels().all().map((c) => c.address()).sort(), streams);
  const types = document.messages().all().map((m) => m.title()).sort();
  assertEquals(types, expected.map((c) => c.type).sort());
  // The CloudEvents attributes are the headers; the payload is the zod schema.
  const updated = document.messages().all().find((m) => m.title() === "user.updated")!;
  const headers = updated.headers()!.properties()!;
  for (const attr of ["specversion", "id", "source", "type", "time", "correlationid", "stream"]) {
    assert(attr in headers, `no ${attr} header`);
  }
  assertEquals(headers.type.const(), "user.updated");
  assertEquals(
    Object.keys(updated.payload()!.properties()!).sort(),
    Object.keys(contracts.UserUpdated.schema.shape).sort(),
  );
});

Deno.test("`createAsyncApi()` records a contract's version as a fixed dataversion header", async () => {
  const Renamed = defineEvent({
    stream: "users:v",
    type: "user.renamed",
    version: 2,
    schema: z.object({ first: z.string() }),
    upcast: { 1: (old: { name: string }) => ({ first: old.name }) },
  });
  const doc = createAsyncApi({ contracts: [Renamed], info });
  const { document, diagnostics } = await new Parser().parse(JSON.stringify(doc));
  assertEquals(diagnostics.filter((d) => d.severity === ERROR).map((d) => d.message), []);
  assertEquals(document!.channels().all()[0].address(), "users:v");
  const headers = document!.messages().all()[0].headers()!.properties()!;
  assertEquals(headers.dataversion.const(), 2);
});

Deno.test("`createAsyncApi()` lists every problem with its options at once", () => {
  const A = defineEvent({ stream: "s", type: "t", schema: z.object({}) });
  const B = defineEvent({ stream: "s", type: "t", schema: z.object({ x: z.string() }) });
  const err = assertThrows(() =>
    createAsyncApi({ contracts: { A, "B!": B }, info: { title: "", version: "" } })
  );
  assertInstanceOf(err, InvalidOptionsError);
  assertEquals(err.problems.length, 4, err.problems.join("\n"));
  assertThrows(() => createAsyncApi({ contracts: { x: 1 }, info }), InvalidOptionsError);
});
