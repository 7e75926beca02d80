/**
 * A process with `OTEL_DENO=true` exporting to a receiver this test runs: publishMany's producer
 * span, a failed attempt's consumer span (error recorded, outcome retry), the retry's JSON log
 * line carrying that span's ids, and the handler's `ctx.publish` under the successful attempt.
 * On Deno KV and on Redis.
 */
import { assert, assertEquals } from "@std/assert";
import { dropPrefix, REDIS_URL, SKIP } from "../redis/_redis.ts";
import { until } from "../services/_poll.ts";
import { OtlpReceiver, type ReceivedSpan } from "./_otlp.ts";

const PRODUCER = 4, CONSUMER = 5, ERROR = 2;

for (const backend of ["kv", "redis"]) {
  Deno.test({
    name: `OTEL_DENO: spans of a retried delivery and its ctx.publish, and JSON logs (${backend})`,
    ignore: backend === "redis" && SKIP !== undefined,
    async fn() {
      const otlp = new OtlpReceiver();
      const prefix = `traced-${crypto.randomUUID().slice(0, 8)}:`;
      const run = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("./fixtures/traced.ts", import.meta.url).pathname],
        env: {
          ...otlp.env(),
          OTEL_SERVICE_NAME: "traced",
          HERALD_LOG_FORMAT: "json",
          TRACED_BACKEND: backend,
          TRACED_REDIS_URL: REDIS_URL,
          TRACED_PREFIX: prefix,
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
      try {
        assert(run.success && out.includes("traced: done"), out);
        const find = (p: (s: ReceivedSpan) => boolean, what: string) =>
          until(what, () => otlp.spans.find(p));
        const publish = await find((s) => s.name === "publish orders", "the publish span");
        assertEquals(publish.kind, PRODUCER);
        assertEquals(publish.attributes["messaging.operation.type"], "send");
        const attempt = (n: number) =>
          find(
            (s) => s.kind === CONSUMER && s.attributes["herald.attempt"] === n,
            `the consumer span of attempt ${n}`,
          );
        const [first, second] = [await attempt(1), await attempt(2)];
        for (const span of [first, second]) {
          assertEquals(span.name, "process orders");
          assertEquals(span.traceId, publish.traceId);
          assertEquals(span.parentSpanId, publish.spanId);
        }
        assertEquals(first.attributes["herald.outcome"], "retry");
        assertEquals(first.attributes["error.type"], "TypeError");
        assertEquals(first.status?.code, ERROR);
        assertEquals(second.attributes["herald.outcome"], "ack");
        const shipped = await find((s) => s.name === "publish shipping", "ctx.publish's span");
        assertEquals(shipped.parentSpanId, second.spanId);
        assertEquals(shipped.traceId, publish.traceId);

        const retry = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
          .find((r) => r.msg === "handler failed, retrying");
        assert(retry, out);
        assertEquals(retry.level, "warn");
        assertEquals([retry.trace_id, retry.span_id], [first.traceId, first.spanId]);
        assertEquals([retry.group, retry.type, retry.attempt], ["shop", "order.placed", 1]);
      } finally {
        await otlp.close();
        if (backend === "redis") await dropPrefix(prefix, REDIS_URL);
      }
    },
  });
}
