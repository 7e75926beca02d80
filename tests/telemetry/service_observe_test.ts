/**
 * `createService()`'s observation options in this process: their validation, `/metrics` of what the
 * main isolate published, and the service's lifecycle lines through its `logger`.
 */
import { assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { z } from "zod";
import {
  createBus,
  createMemoryBackend,
  createService,
  defineEvent,
  InvalidOptionsError,
  type LogFields,
} from "@herald/herald";

Deno.test("createService() lists every problem with its logger, metrics and unreachableMs", () => {
  const err = assertThrows(() =>
    createService({
      name: "observe-bad",
      signals: false,
      logger: { info: () => {} } as never,
      metrics: "yes" as never,
      unreachableMs: -1,
    })
  );
  assertInstanceOf(err, InvalidOptionsError);
  assertEquals(err.problems.length, 3, err.problems.join("\n"));
});

Deno.test("createService() serves /metrics of its own isolate and logs through its logger", async () => {
  const Noted = defineEvent({ stream: "notes", type: "note.added", schema: z.object({}) });
  const bus = createBus({ backend: createMemoryBackend(), source: "observe" });
  const lines: { message: string; fields?: LogFields }[] = [];
  const at = (message: string, fields?: LogFields) => void lines.push({ message, fields });
  const s = createService({
    name: "observe",
    bus,
    metrics: true,
    signals: false,
    logger: { debug: at, info: at, warn: at, error: at },
  });
  try {
    // prom-client loads on demand: what is published before it has loaded is not counted.
    await (await s.fetch(new Request("http://localhost/metrics"))).body?.cancel();
    await bus.publish(Noted, {});
    await bus.publish(Noted, {});
    const res = await s.fetch(new Request("http://localhost/metrics"));
    assertEquals(res.status, 200);
    const families = parsePrometheusTextFormat(await res.text()) as {
      name: string;
      metrics: { value: string; labels: Record<string, string> }[];
    }[];
    const sent = families.find((f) => f.name === "messaging_client_sent_messages_total");
    const notes = sent?.metrics.find((m) => m.labels.stream === "notes");
    assertEquals(Number(notes?.value), 2);
  } finally {
    await s.shutdown();
  }
  assertEquals(lines.some((l) => l.message.startsWith("starting roles")), true);
  assertEquals(lines.at(-1)?.message, "shut down");
});
