/**
 * The example app as four `deno serve` processes with `OTEL_DENO=true`, exporting to a receiver
 * this test runs: one trace goes from Auth's registration request through its publish to the
 * consumer spans of Users', Posts' and Chat's workers (each in its Web Worker, in another process);
 * Herald's metrics arrive by name and value.
 */
import { assert, assertEquals } from "@std/assert";
import { api, type BusKind, Cluster } from "../services/_cluster.ts";
import { until } from "../services/_poll.ts";
import { OtlpReceiver, type ReceivedSpan } from "./_otlp.ts";

const SERVER = 2, PRODUCER = 4, CONSUMER = 5;

for (const bus of ["kv", "redis"] as BusKind[]) {
  Deno.test(`OTEL_DENO: one trace from Auth's registration to Users', Posts' and Chat's handlers, and metrics (${bus})`, async () => {
    const otlp = new OtlpReceiver();
    const c = await Cluster.start(bus, { env: otlp.env() });
    try {
      const email = `ada-${crypto.randomUUID().slice(0, 6)}@example.com`;
      const body = { email, password: "correct horse battery", name: "Ada" };
      const reg = await api(c.url("auth"), "POST", "/register", { body });
      assertEquals(reg.status, 201, JSON.stringify(reg.body));

      const span = (s: Partial<ReceivedSpan>) => (x: ReceivedSpan) =>
        Object.entries(s).every(([k, v]) => x[k as keyof ReceivedSpan] === v);
      const producer = await until(
        "Auth's producer span",
        () =>
          otlp.spans.find((s) => span({ service: "auth", kind: PRODUCER, name: "create auth" })(s)),
      );
      // The request's span ends after the response, so it may arrive after its child.
      const server = await until(
        "the producer's parent among Auth's spans",
        () => otlp.spans.find(span({ service: "auth", spanId: producer.parentSpanId })),
      );
      assertEquals(server.kind, SERVER);
      assertEquals(server.traceId, producer.traceId);

      const consumer = await until(
        "Users' consumer span",
        () =>
          otlp.spans.find(span({ service: "users", kind: CONSUMER, traceId: producer.traceId })),
      );
      assertEquals(consumer.name, "process auth");
      assertEquals(consumer.parentSpanId, producer.spanId);
      assertEquals(consumer.attributes["messaging.system"], "herald");
      assertEquals(consumer.attributes["messaging.destination.name"], "auth");
      assertEquals(consumer.attributes["messaging.consumer.group.name"], "users");
      assertEquals(consumer.attributes["messaging.operation.type"], "process");
      assertEquals(consumer.attributes["herald.event.type"], "user.registered");
      assertEquals(consumer.attributes["herald.attempt"], 1);
      assertEquals(consumer.attributes["herald.outcome"], "ack");
      assert(typeof consumer.attributes["messaging.message.id"] === "string");

      // Posts and Chat make their copies from the same event: the same trace, one hop each.
      for (const service of ["posts", "chat"]) {
        const copy = await until(
          `${service}'s consumer span`,
          () => otlp.spans.find(span({ service, kind: CONSUMER, traceId: producer.traceId })),
        );
        assertEquals(copy.parentSpanId, producer.spanId);
        assertEquals(copy.attributes["herald.event.type"], "user.registered");
      }

      const at = (service: string, metric: string, attributes: Record<string, unknown>) =>
        until(`${metric} from ${service}`, () => otlp.latest(service, metric, attributes));
      const auth = { "messaging.destination.name": "auth" };
      const users = { ...auth, "messaging.consumer.group.name": "users" };
      assertEquals(await at("auth", "messaging.client.sent.messages", auth), 1);
      assertEquals(await at("users", "messaging.client.consumed.messages", users), 1);
      assertEquals(
        await at("users", "herald.messages.handled", { ...users, "herald.outcome": "ack" }),
        1,
      );
      assertEquals(
        await at("users", "messaging.process.duration", { ...users, "herald.outcome": "ack" }),
        1,
      );
      assertEquals(await at("users", "herald.delivery.latency", users), 1);
      assertEquals(await at("users", "herald.consumer.lag", users), 0);
      assertEquals(await at("users", "herald.dead_letters", users), 0);
    } catch (err) {
      console.log(c.logs.join("\n"));
      throw err;
    } finally {
      await c.close();
      await otlp.close();
    }
  });
}
