/**
 * The publisher's side of push, against real HTTP servers: wake-ups are signed with the
 * registered secret, coalesced, and an endpoint that fails is left alone for a while instead of
 * being called on every publish.
 */
import { assert, assertEquals } from "@std/assert";
import { Webhook } from "standardwebhooks";
import { z } from "zod";
import {
  BackendUnavailableError,
  createBus,
  createMemoryBackend,
  defineEvent,
  type LogFields,
  type Logger,
} from "@herald/herald";
import { reachability } from "../../src/telemetry/health.ts";
import { until } from "../_until.ts";

const Ping = defineEvent({
  stream: "sender-pings",
  type: "ping",
  schema: z.object({ i: z.number() }),
});
const SECRET = `whsec_${btoa("sender-test-secret-012345")}`;

function server(status: number) {
  const bodies: unknown[] = [];
  const verified: boolean[] = [];
  const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.text();
    try {
      bodies.push(new Webhook(SECRET).verify(body, Object.fromEntries(req.headers)));
      verified.push(true);
    } catch {
      verified.push(false);
    }
    return new Response(null, { status });
  });
  return {
    url: `http://127.0.0.1:${s.addr.port}/herald/push`,
    bodies,
    verified,
    close: () => s.shutdown(),
  };
}

Deno.test("createBus({ push }) sends signed wake-ups to the registered endpoint after commit", async () => {
  const backend = createMemoryBackend();
  const ok = server(200);
  await backend.setPushEndpoint("g", [Ping.stream], { url: ok.url, secret: SECRET });
  const bus = createBus({ backend, source: "test", push: { cacheMs: 0 } });
  try {
    await bus.publish(Ping, { i: 1 });
    await until(() => ok.bodies.length === 1, 5_000);
    assertEquals(ok.verified, [true]);
    assertEquals(ok.bodies[0], { group: "g", streams: [Ping.stream] });
  } finally {
    await bus.close();
    await ok.close();
  }
});

/** A logger that keeps what it is told. */
function collect() {
  const lines: { level: string; message: string; fields?: LogFields }[] = [];
  const at = (level: string) => (message: string, fields?: LogFields) =>
    void lines.push({ level, message, fields });
  const logger: Logger = {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
  };
  return { lines, logger };
}

Deno.test("a failing push endpoint is not called on every publish, and is logged once", async () => {
  const logs = collect();
  const backend = createMemoryBackend();
  const down = server(503);
  await backend.setPushEndpoint("g", [Ping.stream], { url: down.url, secret: SECRET });
  const bus = createBus({ backend, source: "test", push: true, logger: logs.logger });
  try {
    await bus.publish(Ping, { i: 0 });
    await until(() => down.bodies.length === 1, 5_000);
    for (let i = 1; i < 20; i++) await bus.publish(Ping, { i });
    // Nothing is lost: the events are in the stream.
    assertEquals((await backend.peek(Ping.stream, { limit: 100 })).events.length, 20);
  } finally {
    await bus.close();
    await down.close();
  }
  // Backing off 1 s, then 2, 4, 8: twenty quick publishes reach it a few times at most.
  assert(down.bodies.length <= 5, `${down.bodies.length} wake-ups for 20 publishes`);
  // Through the bus's logger, once for the outage, with the endpoint and the reason.
  const failed = logs.lines.filter((l) => l.message.startsWith("push failed"));
  assertEquals(failed.length, 1);
  assertEquals(failed[0].level, "warn");
  assertEquals(failed[0].fields?.error, "HTTP 503");
  assertEquals(failed[0].fields?.url, down.url);
});

Deno.test("createBus({ push }) sees the outages its backend reports about itself", () => {
  const backend = createMemoryBackend();
  const logs = collect();
  const bus = createBus({ backend, source: "test", push: true, logger: logs.logger });
  try {
    // Redis reports its own outages (on itself, not on the bus's wrapper of it).
    reachability(backend).down(new BackendUnavailableError("memory", "down on purpose"));
    assert(reachability(bus.backend).outage, "the bus's view of its backend is down too");
    reachability(backend).up();
    assertEquals(reachability(bus.backend).outage, undefined);
    assertEquals(logs.lines.map((l) => l.message), [
      "the bus is unreachable; retrying with backoff until it is back",
      "the bus is reachable again",
    ]);
  } finally {
    void bus.close();
  }
});
