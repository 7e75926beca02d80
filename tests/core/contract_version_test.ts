/** Contract versions: the envelope records them, and older payloads are upcast before the check. */
import { assert, assertEquals, assertThrows } from "@std/assert";
import { z } from "zod";
import { createBus } from "../../src/bus.ts";
import { decodePayload, defineEvent } from "../../src/contract.ts";
import { decodeEvent } from "../../src/decode.ts";
import { createEnvelope, envelopeProblem } from "../../src/envelope.ts";
import { createMemoryBackend } from "../../src/memory/mod.ts";
import { createWorker } from "../../src/worker.ts";
import { until } from "../_until.ts";

type V1 = { id: string; name: string };
type V2 = { id: string; first: string; last: string };

const V1Renamed = defineEvent({
  stream: "versions",
  type: "user.renamed",
  schema: z.object({ id: z.string(), name: z.string() }),
});
const split = (old: V1): V2 => {
  const [first, ...rest] = old.name.split(" ");
  return { id: old.id, first, last: rest.join(" ") };
};
const V2Renamed = defineEvent({
  stream: "versions",
  type: "user.renamed",
  version: 2,
  schema: z.object({ id: z.string(), first: z.string().min(1), last: z.string() }),
  upcast: { 1: split },
});
const V3Renamed = defineEvent({
  stream: "versions",
  type: "user.renamed",
  version: 3,
  schema: z.object({ id: z.string(), full: z.object({ first: z.string(), last: z.string() }) }),
  upcast: {
    1: split,
    2: (old: V2) => ({ id: old.id, full: { first: old.first, last: old.last } }),
  },
});

Deno.test("`defineEvent()` lists every problem with version and upcast", () => {
  const schema = z.object({});
  const err = assertThrows(
    () =>
      defineEvent({
        stream: "s",
        type: "t",
        schema,
        version: 3,
        upcast: { 1: () => ({}), 3: () => ({}), 0.5: "no" as never },
      }),
    TypeError,
  );
  for (const text of ["step from version 3", "step from version 0.5", "step from version 2"]) {
    assert(err.message.includes(text), err.message);
  }
  assertThrows(() => defineEvent({ stream: "s", type: "t", schema, version: 0 }), TypeError);
  assertEquals(defineEvent({ stream: "s", type: "t", schema }).version, 1);
});

Deno.test("`publish()` records a contract's version above 1 in the envelope", async () => {
  const bus = createBus({ backend: createMemoryBackend(), source: "versions" });
  const old = await bus.publish(V1Renamed, { id: "u1", name: "Ada Lovelace" });
  const now = await bus.publish(V2Renamed, { id: "u1", first: "Ada", last: "Lovelace" });
  assertEquals("dataversion" in old, false);
  assertEquals(now.dataversion, 2);
  await bus.close();
});

Deno.test("`decodePayload()` upcasts step by step, and reports a missing or throwing step", () => {
  const v1 = createEnvelope("versions", "user.renamed", { id: "u1", name: "Ada Lovelace" }, "x");
  const v2 = { ...createEnvelope("versions", "user.renamed", split(v1.data), "x"), dataversion: 2 };
  assertEquals(decodePayload(V2Renamed, v1), {
    success: true,
    data: { id: "u1", first: "Ada", last: "Lovelace" },
  });
  const full = { id: "u1", full: { first: "Ada", last: "Lovelace" } };
  assertEquals(decodePayload(V3Renamed, v1), { success: true, data: full });
  assertEquals(decodePayload(V3Renamed, v2), { success: true, data: full });

  const Gap = defineEvent({ ...V3Renamed, upcast: { 2: V3Renamed.upcast[2] } });
  const gap = decodePayload(Gap, v1);
  assert(!gap.success && gap.issues[0].code === "upcast_missing", JSON.stringify(gap));
  const Throws = defineEvent({
    ...V2Renamed,
    upcast: {
      1: () => {
        throw new Error("no name");
      },
    },
  });
  const threw = decodePayload(Throws, v1);
  assert(!threw.success && threw.issues[0].message.includes("no name"), JSON.stringify(threw));
  // An upcast result the schema rejects fails like any invalid payload.
  const empty = createEnvelope("versions", "user.renamed", { id: "u2", name: "" }, "x");
  const invalid = decodePayload(V2Renamed, empty);
  assert(!invalid.success && invalid.issues[0].path[0] === "first", JSON.stringify(invalid));
  // Newer than the contract: checked as it is.
  assertEquals(decodePayload(V1Renamed, { ...v1, dataversion: 2 }).success, true);
  assertEquals(decodeEvent([V2Renamed], v1).data, split(v1.data));
});

Deno.test("`envelopeProblem()` rejects a dataversion that is not a positive integer", () => {
  const e = createEnvelope("versions", "user.renamed", {}, "x");
  assertEquals(envelopeProblem({ ...e, dataversion: 2 }), undefined);
  assertEquals(envelopeProblem({ ...e, dataversion: 0 }), "dataversion must be an integer >= 1");
  assertEquals(envelopeProblem({ ...e, dataversion: "2" }), "dataversion must be an integer >= 1");
});

Deno.test("a worker on a version-2 contract handles version-1 events, dead-lettering only bad ones", async () => {
  const bus = createBus({ backend: createMemoryBackend(), source: "versions" });
  const seen: V2[] = [];
  const worker = createWorker({ bus, group: "versions" }).on(V2Renamed, (e) => {
    seen.push(e.data);
  });
  await worker.start();
  try {
    await bus.publish(V1Renamed, { id: "u1", name: "Ada Lovelace" });
    await bus.publish(V2Renamed, { id: "u2", first: "Grace", last: "Hopper" });
    await bus.publish(V1Renamed, { id: "u3", name: "" }); // upcasts to an empty first name
    await until(async () =>
      seen.length === 2 && (await bus.backend.deadLetters("versions")).length === 1
    );
    assertEquals(seen, [
      { id: "u1", first: "Ada", last: "Lovelace" },
      { id: "u2", first: "Grace", last: "Hopper" },
    ]);
    const dead = await bus.backend.deadLetters("versions");
    assertEquals(dead.map((d) => d.envelope?.data), [{ id: "u3", name: "" }]);
  } finally {
    await worker.stop();
    await bus.close();
  }
});
