/**
 * The publisher's side of push, against real HTTP servers: wake-ups are signed with the
 * registered secret, coalesced, and an endpoint that fails is left alone for a while instead of
 * being called on every publish.
 */
import { assert, assertEquals } from "@std/assert";
import { Webhook } from "standardwebhooks";
import { z } from "zod";
import { createBus, defineEvent, memory } from "@herald/herald";
import { captureConsole } from "../_console.ts";
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
  const backend = memory();
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

Deno.test("a failing push endpoint is not called on every publish, and is logged once", async () => {
  const logs = captureConsole();
  const backend = memory();
  const down = server(503);
  await backend.setPushEndpoint("g", [Ping.stream], { url: down.url, secret: SECRET });
  const bus = createBus({ backend, source: "test", push: true });
  try {
    await bus.publish(Ping, { i: 0 });
    await until(() => down.bodies.length === 1, 5_000);
    for (let i = 1; i < 20; i++) await bus.publish(Ping, { i });
    // Nothing is lost: the events are in the stream.
    assertEquals((await backend.peek(Ping.stream, { limit: 100 })).events.length, 20);
  } finally {
    await bus.close();
    await down.close();
    logs.restore();
  }
  // Backing off 1 s, then 2, 4, 8: twenty quick publishes reach it a few times at most.
  assert(down.bodies.length <= 5, `${down.bodies.length} wake-ups for 20 publishes`);
  assertEquals(logs.lines.filter((l) => l.includes("failed: HTTP 503")).length, 1);
});
