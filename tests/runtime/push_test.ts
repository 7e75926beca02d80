/**
 * The push route of a service: signed wake-ups (Standard Webhooks) drain the group's backlog;
 * unsigned, forged, stale and replayed ones get 401 and do nothing. And the bus's side: after a
 * commit, a publisher with `push: true` wakes the group through the registered endpoint, coalesced.
 */
import { assert, assertEquals } from "@std/assert";
import { Webhook } from "standardwebhooks";
import { createBus, createService } from "@herald/herald";
import { Ping } from "./fixtures/contracts.ts";
import { backend, bus, handled } from "./fixtures/push_bus.ts";
import { captureConsole } from "../_console.ts";
import { until } from "../_until.ts";

const SECRET = `whsec_${btoa("push-test-secret-0123456789")}`;
const OTHER = `whsec_${btoa("someone-else-secret-012345")}`;

function signed(
  secret: string,
  payload: unknown,
  at = new Date(),
  id = `msg_${crypto.randomUUID()}`,
) {
  const body = JSON.stringify(payload);
  return {
    method: "POST",
    body,
    headers: {
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": new Webhook(secret).sign(id, at, body),
    },
  };
}

Deno.test("the push route drains on a signed wake-up; unsigned, forged, stale and replayed get 401", async () => {
  const logs = captureConsole();
  const ref: { svc?: ReturnType<typeof createService> } = {};
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (r) => ref.svc!.fetch(r),
  );
  const url = `http://127.0.0.1:${server.addr.port}/herald/push`;
  const svc = ref.svc = createService({
    name: "push-svc",
    bus,
    worker: new URL("./fixtures/push_worker.ts", import.meta.url),
    isolate: "same",
    roles: ["web", "worker"],
    push: { url, secret: SECRET, budgetMs: 10_000 },
    signals: false,
  });
  const publisher = createBus({ backend, source: "publisher", push: { cacheMs: 0 } });
  const post = (init: RequestInit) =>
    fetch(url, init).then(async (r) => ({ status: r.status, body: await r.json() }));
  const drains = () => logs.lines.filter((l) => l.includes("push: backlog empty")).length;
  try {
    await until(() => logs.has("push: " + url + " registered"), 10_000);
    assertEquals((await backend.pushEndpoints(Ping.stream)).map((e) => e.group), ["push-group"]);

    // A backlog that takes a while: five events of 100 ms, one at a time.
    await bus.publishMany(
      ["a", "b", "c", "d", "e"].map((id) => ({ contract: Ping, data: { id, slowMs: 100 } })),
    );
    const payload = { group: "push-group", streams: [Ping.stream] };
    for (
      const [what, init] of [
        ["unsigned", { method: "POST", body: JSON.stringify(payload) }],
        ["forged", signed(OTHER, payload)],
        ["stale", signed(SECRET, payload, new Date(Date.now() - 10 * 60_000))],
      ] as const
    ) {
      const res = await post(init);
      assertEquals(res.status, 401, what);
      assertEquals(res.body.code, "unauthorized", what);
    }
    assertEquals(drains(), 0, "a refused request drains nothing");

    const good = signed(SECRET, payload);
    const ok = await post(good);
    assertEquals(ok.status, 200);
    assertEquals(ok.body.empty, true);
    // The answer came once the backlog was handled and acked.
    assertEquals(handled.slice(0, 5), ["a", "b", "c", "d", "e"]);
    assertEquals(drains(), 1);
    const replay = await post(good);
    assertEquals(replay.status, 401);
    assertEquals(drains(), 1, "a replay drains nothing");
    assertEquals((await post(signed(SECRET, { ...payload, group: "other" }))).status, 404);

    // The publisher's side: 40 events, published one by one, wake the group in a few pushes.
    const before = drains();
    for (let i = 0; i < 40; i++) await publisher.publish(Ping, { id: `p${i}` });
    await until(() => handled.length === 45, 10_000);
    await until(() => drains() > before, 10_000);
    const pushes = drains() - before;
    assert(pushes >= 1 && pushes <= 10, `${pushes} pushes for 40 events`);
  } finally {
    await svc.shutdown();
    await publisher.close(); // the same backend: after the worker stopped
    await server.shutdown();
    logs.restore();
  }
});
