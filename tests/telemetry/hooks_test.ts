/**
 * A worker's logger and hooks: every retry and dead letter is logged at warn with the event's
 * id, type, group, attempt and error, and handed to `onRetry` / `onDead`; the worker's own
 * failures go to `onError`. Real Deno KV in memory.
 */
import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { z } from "zod";
import {
  createBus,
  createKvBackend,
  createLogger,
  createWorker,
  type DeadInfo,
  defineEvent,
  InvalidOptionsError,
  type LogFields,
  type Logger,
  type RetryInfo,
  type WorkerErrorInfo,
} from "@herald/herald";
import { until } from "../_until.ts";

const Job = defineEvent({
  stream: "jobs",
  type: "job.queued",
  schema: z.object({ n: z.number() }),
});

interface Line {
  level: string;
  message: string;
  fields?: LogFields;
}

function capture(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (message: string, fields?: LogFields) =>
    lines.push({ level, message, fields });
  return {
    lines,
    logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") },
  };
}

Deno.test("a worker logs and hooks every retry and the dead letter", async () => {
  const bus = createBus({ backend: createKvBackend({ path: ":memory:" }), source: "t" });
  const { logger, lines } = capture();
  const retries: RetryInfo[] = [];
  const dead: DeadInfo[] = [];
  const worker = createWorker({
    bus,
    group: "hooks",
    logger,
    retry: { attempts: 3, baseMs: 1, maxMs: 5 },
    onRetry: (info) => void retries.push(info),
    onDead: (info) => void dead.push(info),
  }).on(Job, () => {
    throw new TypeError("always fails");
  });
  await worker.start();
  try {
    const event = await bus.publish(Job, { n: 1 });
    await until(() => dead.length === 1);
    assertEquals(retries.map((r) => r.attempt), [1, 2]);
    assertEquals(retries[0].event.id, event.id);
    assertEquals(retries[0].group, "hooks");
    assertEquals(retries[0].error.name, "TypeError");
    assertEquals(dead[0].event?.id, event.id);
    assertEquals(dead[0].attempt, 3);
    assertEquals(dead[0].error.message, "always fails");
    const warned = lines.filter((l) => l.level === "warn");
    assertEquals(warned.map((l) => l.message), [
      "handler failed, retrying",
      "handler failed, retrying",
      "event dead-lettered",
    ]);
    for (const [i, l] of warned.entries()) {
      assertEquals(l.fields?.event, event.id);
      assertEquals(l.fields?.type, "job.queued");
      assertEquals(l.fields?.group, "hooks");
      assertEquals(l.fields?.attempt, i + 1);
      assertEquals((l.fields?.error as { message: string }).message, "always fails");
    }
  } finally {
    await worker.stop();
    await bus.close();
  }
});

Deno.test("a hook that throws is logged and changes nothing", async () => {
  const bus = createBus({ backend: createKvBackend({ path: ":memory:" }), source: "t" });
  const { logger, lines } = capture();
  let handled = 0;
  const worker = createWorker({
    bus,
    group: "hook-throws",
    logger,
    retry: { attempts: 2, baseMs: 1, maxMs: 5 },
    onRetry: () => {
      throw new Error("hook broke");
    },
  }).on(Job, () => {
    if (handled++ === 0) throw new Error("first time");
  });
  await worker.start();
  try {
    await bus.publish(Job, { n: 1 });
    await until(() => worker.stats.acked === 1);
    const failed = lines.find((l) => l.message === "onRetry hook failed");
    assert(failed, JSON.stringify(lines));
    assertEquals(failed.level, "error");
  } finally {
    await worker.stop();
    await bus.close();
  }
});

Deno.test("a worker whose claims fail tells onError and logs each failure", async () => {
  const backend = createKvBackend({ path: ":memory:" });
  const bus = createBus({ backend, source: "t" });
  const { logger, lines } = capture();
  const errors: WorkerErrorInfo[] = [];
  const worker = createWorker({ bus, group: "claims", logger, onError: (i) => void errors.push(i) })
    .on(Job, () => {});
  await worker.start();
  await backend.close(); // every claim from here on fails: the backend is gone
  try {
    await until(() => errors.length >= 1);
    assertEquals(errors[0].during, "claim");
    assertEquals(errors[0].group, "claims");
    const line = lines.find((l) => l.message === "claim failed, retrying");
    assertEquals(line?.level, "warn");
    assertEquals(typeof line?.fields?.retry_in_ms, "number");
  } finally {
    await worker.stop();
  }
});

Deno.test("createWorker() and createBus() reject a logger or hook that is not one", () => {
  const bus = createBus({ backend: createKvBackend({ path: ":memory:" }), source: "t" });
  const err = assertThrows(() =>
    createWorker({
      bus,
      group: "g",
      logger: { info: () => {} } as never,
      onRetry: "no" as never,
      onDead: 1 as never,
      onError: {} as never,
    })
  );
  assertInstanceOf(err, InvalidOptionsError);
  assertEquals(err.problems.length, 4, err.problems.join("\n"));
  assertThrows(
    () => createBus({ backend: bus.backend, source: "t", logger: {} as never }),
    InvalidOptionsError,
  );
  void bus.close();
});

Deno.test("createLogger() writes readable lines, or JSON lines, from the least level up", () => {
  const out: string[] = [];
  const text = createLogger({ name: "svc", format: "text", write: (l) => out.push(l) });
  text.debug("hidden");
  text.warn("handler failed, retrying", { event: "e1", attempt: 2, error: new TypeError("x y") });
  assertEquals(out, ['[svc] handler failed, retrying event=e1 attempt=2 error="TypeError: x y"']);

  out.length = 0;
  const json = createLogger({ format: "json", level: "debug", write: (l) => out.push(l) });
  json.debug("detail", { group: "g" });
  const record = JSON.parse(out[0]);
  assertEquals([record.level, record.msg, record.group], ["debug", "detail", "g"]);
  assert(!("trace_id" in record)); // no OpenTelemetry here: no trace
});
