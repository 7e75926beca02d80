/**
 * The admin API over real HTTP on a Deno KV file: tokens, every route, errors with reasons,
 * the log of write actions, and the live groups stream.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { until } from "../_until.ts";
import { Failed, Placed, READ, startAdmin } from "./_fixture.ts";

Deno.test("createAdmin() refuses requests without a valid token, and writes with the read token", async () => {
  const t = await startAdmin();
  try {
    const none = await t.call("/streams", { token: null });
    assertEquals(none.status, 401);
    assertMatch(String(none.headers.get("www-authenticate")), /^Bearer/);
    assertEquals((await t.call("/streams", { token: "wrong-token-0123456789" })).status, 401);
    const read = await t.call("/groups", { token: READ });
    assertEquals(read.status, 200);
    const write = await t.call("/groups/billing/redrive", {
      method: "POST",
      token: READ,
      body: JSON.stringify({ all: true }),
    });
    assertEquals([write.status, write.body.code], [403, "forbidden"]);
    assertEquals((await t.call("/", { token: READ })).body.access, "read");
    assertEquals((await t.call("/nope")).status, 404);
  } finally {
    await t.close();
  }
});

Deno.test("createAdmin() lists streams, groups and dead letters with payload and error", async () => {
  const t = await startAdmin();
  try {
    await t.worker.start();
    await t.bus.publish(Placed, { n: 1 });
    await t.bus.publish(Failed, { n: 2 });
    await t.bus.publish(Failed, { n: 3 });
    let dead: Record<string, unknown>[] = [];
    await until(async () => {
      dead = (await t.call("/groups/billing/dead")).body.deadLetters as typeof dead;
      return dead.length === 2;
    });
    const streams = (await t.call("/streams")).body.streams as { stream: string; length: number }[];
    assertEquals(streams.find((s) => s.stream === "orders")?.length, 3);
    const [group] = (await t.call("/groups?stream=orders")).body.groups as {
      group: string;
      lag: number;
      deadLetters: number;
    }[];
    assertEquals([group.group, group.lag, group.deadLetters], ["billing", 0, 2]);
    const first = dead[0] as {
      id: string;
      envelope: { data: unknown };
      error: { message: string };
    };
    assertEquals([first.envelope.data, first.error.message], [{ n: 2 }, "card declined"]);
    const one = await t.call(`/groups/billing/dead/${first.id}`);
    assertEquals(one.body.id, first.id);
    assertEquals((await t.call("/groups/billing/dead/no-such-id")).status, 404);
    const page = await t.call("/groups/billing/dead?limit=1&type=order.failed");
    assertEquals((page.body.deadLetters as unknown[]).length, 1);
    const next = await t.call(`/groups/billing/dead?after=${page.body.next}`);
    assertEquals((next.body.deadLetters as { id: string }[])[0].id, dead[1].id);
    const events = await t.call("/streams/orders/events?limit=2");
    assertEquals((events.body.events as unknown[]).length, 2);
    const garbage = await t.call("/streams/orders/events?after=garbage");
    assertEquals([garbage.status, garbage.body.code], [400, "bad_request"]);
    assertEquals((await t.call("/streams/orders/events?limit=0")).status, 400);
  } finally {
    await t.close();
  }
});

Deno.test("createAdmin() redrives, purges, resets and deletes, and logs each action", async () => {
  const t = await startAdmin();
  try {
    await t.worker.start();
    await t.bus.publish(Failed, { n: 1 });
    await t.bus.publish(Failed, { n: 2 });
    await t.bus.publish(Placed, { n: 3 });
    const dead = async () =>
      (await t.call("/groups/billing/dead")).body.deadLetters as { id: string }[];
    await until(async () => (await dead()).length === 2);
    const noSelection = await t.call("/groups/billing/redrive", { method: "POST", body: "{}" });
    assertEquals(noSelection.status, 400);
    assertMatch(String(noSelection.body.error), /all/);
    const ids = (await dead()).map((d) => d.id);
    const redriven = await t.call("/groups/billing/redrive", {
      method: "POST",
      body: JSON.stringify({ ids: [ids[0]] }),
    });
    assertEquals(redriven.body, { moved: 1 });
    await until(async () => (await dead()).length === 2); // fails again, dead again
    const purged = await t.call("/groups/billing/purge", {
      method: "POST",
      body: JSON.stringify({ all: true }),
    });
    assertEquals([purged.status, purged.body], [200, { purged: 2 }]);
    assertEquals(await dead(), []);
    await until(() => t.handled() === 1);
    const reset = await t.call("/groups/billing/reset", {
      method: "POST",
      body: JSON.stringify({ stream: "orders", to: "earliest" }),
    });
    assertEquals(reset.status, 200);
    await until(() => t.handled() === 2); // the placed order is handled again
    const badReset = await t.call("/groups/billing/reset", {
      method: "POST",
      body: JSON.stringify({ stream: "orders", to: "yesterday-ish" }),
    });
    assertEquals(badReset.status, 400);
    const missing = await t.call("/groups/nobody/reset", {
      method: "POST",
      body: JSON.stringify({ stream: "orders", to: "latest" }),
    });
    assertEquals([missing.status, missing.body.code], [404, "not_found"]);
    await t.worker.stop();
    assertEquals((await t.call("/groups/billing", { method: "DELETE" })).body, { deleted: true });
    assertEquals((await t.call("/groups/billing", { method: "DELETE" })).status, 404);
    assertEquals((await t.call("/groups")).body.groups, []);
    assertEquals(t.lines.length, 4, t.lines.join("\n"));
    assertMatch(t.lines.join("\n"), /redrive group "billing".*1 moved/);
    assertMatch(t.lines.join("\n"), /deleted group "billing"/);
  } finally {
    await t.close();
  }
});

Deno.test("createAdmin() streams the groups' lag as Server-Sent Events", async () => {
  const t = await startAdmin();
  const ctl = new AbortController();
  try {
    await t.bus.backend.subscribe("billing", ["orders"], "earliest");
    const res = await fetch(`${t.base}/groups/live`, {
      headers: { authorization: `Bearer ${READ}` },
      signal: ctl.signal,
    });
    assertEquals(res.headers.get("content-type"), "text/event-stream");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const lags: number[] = [];
    let buffer = "";
    let published = false;
    while (!lags.includes(2)) {
      const { value, done } = await reader.read();
      assert(!done, "the stream ended");
      buffer += value;
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const data = buffer.slice(0, end).split("\n").find((l) => l.startsWith("data: "));
        buffer = buffer.slice(end + 2);
        const groups = JSON.parse(data!.slice(6)).groups as { lag: number }[];
        lags.push(groups[0].lag);
      }
      if (!published && lags.length > 0) {
        published = true;
        await t.bus.publish(Placed, { n: 1 });
        await t.bus.publish(Placed, { n: 2 });
      }
    }
    assertEquals(lags[0], 0);
    await reader.cancel();
  } finally {
    ctl.abort();
    await t.close();
  }
});
