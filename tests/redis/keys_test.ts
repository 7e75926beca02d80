import { assertEquals } from "@std/assert";
import { createEnvelope } from "../../src/envelope.ts";
import { entryDelivery } from "../../src/redis/keys.ts";

Deno.test("entryDelivery() reads an entry as the backend writes it into an envelope", () => {
  const e = createEnvelope("s", "t", { n: 1 }, "test");
  const d = entryDelivery("s", "ref", 2, ["e", JSON.stringify(e)]);
  assertEquals(d, { stream: "s", ref: "ref", attempt: 2, envelope: e });
});

Deno.test("entryDelivery() says why an entry is not an envelope, and keeps what it held", () => {
  const e = createEnvelope("s", "t", { n: 1 }, "test");
  const cases: [unknown[], string][] = [
    [["hello", "world"], 'the entry has no "e" field'],
    [["e", "{not json"], 'the "e" field is not JSON'],
    [["e", JSON.stringify({ ...e, specversion: "0.3" })], 'specversion must be "1.0"'],
    [["e", "null"], "an envelope must be an object"],
    // Another field beside "e": read as an object, the envelope still counts.
    [["x", "1", "e", JSON.stringify(e)], ""],
  ];
  for (const [fields, reason] of cases) {
    const d = entryDelivery("s", "ref", 1, fields);
    if (reason === "") {
      assertEquals(d.envelope, e);
      continue;
    }
    assertEquals(d.envelope, undefined);
    assertEquals(d.malformed?.reason, reason);
    const raw: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) raw[String(fields[i])] = String(fields[i + 1]);
    assertEquals(d.malformed?.raw, raw);
  }
});
