/**
 * One registration followed across three services on a Deno KV file: the admin API's
 * `GET /journeys/:id` and `herald trace <id>` (a subprocess) show Auth → Users → Posts and Chat,
 * with each group's outcome and the timing.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { createBus, createKvBackend, type Journey } from "@herald/herald";
import { createAdmin } from "@herald/herald/admin";
import { until } from "../_until.ts";
import { herald } from "../cli/_cli.ts";
import { tempDb } from "../kv/_helpers.ts";
import { Registered, startServices } from "./_services.ts";

const TOKEN = "journey-token-0123456789";

async function withJourney(
  fn: (t: { base: string; path: string; rootId: string; childId: string }) => Promise<void>,
) {
  const db = await tempDb();
  const bus = createBus({
    backend: createKvBackend({ path: db.path, journeys: true }),
    source: "auth",
  });
  const admin = createAdmin({ bus, token: TOKEN, log: { info() {} } });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, admin.fetch);
  const services = await startServices(bus);
  try {
    const root = await bus.publish(Registered, { email: "ada@example.com" });
    await until(async () => (await bus.backend.deadLetters("chat")).length === 1);
    await until(async () => (await bus.backend.groups("users")).every((g) => g.pending === 0));
    const [dead] = await bus.backend.deadLetters("chat");
    const base = `http://127.0.0.1:${server.addr.port}`;
    await fn({ base, path: db.path, rootId: root.id, childId: dead.envelope!.id });
  } finally {
    await services.stop();
    await server.shutdown();
    await bus.close();
    await db.cleanup();
  }
}

async function get(base: string, path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: res.status, body: await res.json() };
}

Deno.test("GET /journeys/:id shows a registration's journey across streams, by either id", async () => {
  await withJourney(async ({ base, rootId, childId }) => {
    const { status, body } = await get(base, `/journeys/${rootId}`);
    assertEquals(status, 200);
    const j = body as Journey;
    assertEquals([j.correlationId, j.count, j.truncated], [rootId, 2, false]);
    const [root] = j.roots;
    assertEquals([root.envelope.type, root.envelope.stream], ["user.registered", "auth"]);
    assertEquals(root.reached.map((r) => [r.group, r.state]), [["users", "handled"]]);
    const [created] = root.caused;
    assertEquals([created.envelope.type, created.envelope.causationid], ["user.created", rootId]);
    assertEquals(created.reached.map((r) => [r.group, r.state]), [
      ["chat", "dead"],
      ["posts", "handled"],
    ]);
    const chat = created.reached[0];
    assertEquals([chat.attempt, chat.error?.message], [1, "chat is down"]);
    assert(created.afterCauseMs! >= 0 && created.sincePublishMs === created.afterCauseMs);

    const byChild = await get(base, `/journeys/${childId}`);
    assertEquals((byChild.body as Journey).roots[0].envelope.id, rootId);
    const none = await get(base, "/journeys/01NOSUCHEVENT0000000000000");
    assertEquals([none.status, (none.body as { code: string }).code], [404, "not_found"]);
    assertEquals((await get(base, `/journeys/${rootId}?limit=0`)).status, 400);
  });
});

Deno.test("herald trace prints the journey tree, --json the same document; unknown ids exit 3", async () => {
  await withJourney(async ({ path, rootId, childId }) => {
    const text = await herald(["trace", childId, "--kv", path]);
    assertEquals(text.code, 0, text.stderr);
    assertMatch(text.stdout, new RegExp(`^Journey ${rootId}: 2 event\\(s\\)`));
    assertMatch(text.stdout, /└ user\.registered .*stream auth/);
    assertMatch(text.stdout, /\n {2}└ user\.created .*stream users .*\+\d/);
    assertMatch(text.stdout, /chat +dead, attempt 1, \+\d+m?s {2}DoNotRetryError: chat is down/);
    assertMatch(text.stdout, /posts +handled/);
    const json = await herald(["trace", rootId, "--kv", path, "--json"]);
    assertEquals(json.json<Journey>().roots[0].caused[0].reached.length, 2);
    const missing = await herald(["trace", "nope", "--kv", path]);
    assertEquals(missing.code, 3);
    assertEquals((await herald(["trace", "--kv", path])).code, 2);
  });
});

Deno.test("journeys off (the default): GET /journeys/:id answers 404 saying so, herald trace hints at it", async () => {
  const db = await tempDb();
  const bus = createBus({ backend: createKvBackend({ path: db.path }), source: "auth" });
  const admin = createAdmin({ bus, token: TOKEN, log: { info() {} } });
  try {
    const e = await bus.publish(Registered, { email: "ada@example.com" });
    const res = await admin.fetch(
      new Request(`http://admin/journeys/${e.id}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      }),
    );
    const body = await res.json();
    assertEquals([res.status, body.code], [404, "not_found"]);
    assertMatch(body.error, /Journeys are off: the kv backend was made without journeys: true/);
    // The command line reads the index; with none written, it finds nothing and says why.
    const cli = await herald(["trace", e.id, "--kv", db.path]);
    assertEquals(cli.code, 3);
    assertMatch(cli.stderr, /journeys/);
  } finally {
    await bus.close();
    await db.cleanup();
  }
});
