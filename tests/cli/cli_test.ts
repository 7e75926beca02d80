/**
 * The CLI run as a subprocess against a Deno KV file (and Redis): every command, `--json`,
 * `--help`, exit codes.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { createEnvelope, createKvBackend, type Envelope, type KvBackend } from "@herald/herald";
import type { GroupInfo } from "../../src/inspect.ts";
import { tempDb } from "../kv/_helpers.ts";
import { REDIS_URL, SKIP, startEmulator, testBackend } from "../redis/_redis.ts";
import { herald, spawnHerald } from "./_cli.ts";

async function withBus(fn: (b: KvBackend, path: string) => Promise<void>): Promise<void> {
  const db = await tempDb();
  const backend = createKvBackend({ path: db.path });
  try {
    await backend.open();
    await fn(backend, db.path);
  } finally {
    await backend.close();
    await db.cleanup();
  }
}

function events(stream: string, n: number): Envelope[] {
  return Array.from({ length: n }, (_, i) => createEnvelope(stream, "thing.done", { i }, "tests"));
}

Deno.test("herald --help works on every command; a wrong command line exits 2", async () => {
  const all = await herald(["--help"]);
  assertEquals(all.code, 0);
  const names = [...all.stdout.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]);
  assertEquals(names, [
    "streams",
    "groups",
    "lag",
    "tail",
    "publish",
    "dead",
    "redrive",
    "purge",
    "group",
    "trace",
  ]);
  for (const name of names) {
    const one = await herald([name, "--help"]);
    assertEquals(one.code, 0, name);
    assertMatch(one.stdout, new RegExp(`^Usage: herald ${name}`));
  }
  assertEquals((await herald(["frobnicate"])).code, 2);
  assertEquals((await herald(["streams", "--no-such-option"])).code, 2);
  assertEquals((await herald(["streams", "--kv", "/nonexistent/bus.sqlite"])).code, 2);
});

Deno.test("herald publish, streams, groups and lag on a Deno KV file", async () => {
  await withBus(async (backend, path) => {
    await backend.subscribe("billing", ["orders"], "earliest");
    const one = await herald([
      "publish",
      "orders",
      "order.placed",
      '{"n":1}',
      "--kv",
      path,
      "--json",
    ]);
    assertEquals(one.code, 0, one.stderr);
    const two = await herald(["publish", "orders", "order.placed", "-", "--kv", path], {
      stdin: '{"n":2}',
    });
    assertEquals(two.code, 0, two.stderr);
    const peeked = await backend.peek("orders");
    assertEquals(peeked.events.map((e) => e.envelope?.data), [{ n: 1 }, { n: 2 }]);
    assertEquals(peeked.events[0].envelope?.id, one.json<{ id: string }>().id);
    const streams = await herald(["streams", "--kv", path, "--json"]);
    assertEquals(
      streams.json<{ stream: string; length: number }[]>().map((s) => [s.stream, s.length]),
      [["orders", 2]],
    );
    const groups = await herald(["groups", "orders", "--kv", path, "--json"]);
    const [g] = groups.json<GroupInfo[]>();
    assertEquals([g.group, g.lag, g.pending], ["billing", 2, 0]);
    const text = await herald(["groups", "--kv", path]);
    assertMatch(text.stdout, /^GROUP\s+STREAM\s+LAG/);
    assertEquals((await herald(["lag", "--max", "5", "--kv", path])).code, 0);
    const behind = await herald(["lag", "--max", "1", "--kv", path]);
    assertEquals(behind.code, 5);
    assertMatch(behind.stderr, /1 group\(s\) lag more than 1/);
    assertEquals((await herald(["publish", "orders", "x", "{not json", "--kv", path])).code, 2);
  });
});

Deno.test("herald publish --contracts refuses an invalid or unknown event (exit 4)", async () => {
  await withBus(async (_, path) => {
    const contracts = new URL("./fixtures/contracts.ts", import.meta.url).pathname;
    const args = (
      type: string,
      json: string,
    ) => ["publish", "orders", type, json, "--kv", path, "--contracts", contracts];
    const bad = await herald(args("order.placed", '{"id":"o1","total":-3}'));
    assertEquals(bad.code, 4);
    assertMatch(bad.stderr, /total/);
    assertEquals((await herald(args("order.lost", '{"id":"o1"}'))).code, 4);
    const ok = await herald(args("order.placed", '{"id":"o1","total":3}'));
    assertEquals(ok.code, 0, ok.stderr);
    assertEquals(
      (await herald(["streams", "--kv", path, "--json"])).json<{ length: number }[]>()[0].length,
      1,
    );
  });
});

Deno.test("herald dead, redrive, purge and group reset|delete steer a group", async () => {
  await withBus(async (backend, path) => {
    await backend.subscribe("billing", ["orders"], "earliest");
    await backend.append(events("orders", 3));
    const got = await backend.claim("billing", ["orders"], {
      consumer: "c",
      max: 10,
      leaseMs: 30_000,
      waitMs: 0,
    });
    const error = { name: "TypeError", message: "card declined" };
    await backend.settle("billing", [
      { delivery: got[0], outcome: "ack" },
      { delivery: got[1], outcome: "dead", error },
      { delivery: got[2], outcome: "dead", error },
    ]);
    const kvArgs = ["--kv", path];
    const dead = await herald(["dead", "billing", "--json", ...kvArgs]);
    const letters = dead.json<{ id: string }[]>();
    assertEquals(letters.length, 2);
    const show = await herald(["dead", "billing", "show", letters[0].id, "--json", ...kvArgs]);
    assertEquals(show.json<{ error: { message: string } }>().error.message, "card declined");
    assertEquals((await herald(["dead", "billing", "show", "nope", ...kvArgs])).code, 3);
    assertEquals(
      (await herald(["dead", "billing", "--error", "RangeError", "--json", ...kvArgs])).json(),
      [],
    );
    assertEquals((await herald(["redrive", "billing", ...kvArgs])).code, 2, "needs --id or --all");
    const moved = await herald(["redrive", "billing", "--id", letters[0].id, "--json", ...kvArgs]);
    assertEquals(moved.json(), { moved: 1 });
    assertEquals((await herald(["purge", "billing", "--all", "--json", ...kvArgs])).json(), {
      purged: 1,
    });
    assertEquals(await backend.deadLetters("billing"), []);
    const reset = await herald([
      "group",
      "reset",
      "billing",
      "--stream",
      "orders",
      "--to",
      "earliest",
      ...kvArgs,
    ]);
    assertEquals(reset.code, 0, reset.stderr);
    assertEquals((await backend.groups("orders"))[0].lag, 3);
    assertEquals(
      (await herald([
        "group",
        "reset",
        "nobody",
        "--stream",
        "orders",
        "--to",
        "latest",
        ...kvArgs,
      ])).code,
      3,
    );
    assertEquals(
      (await herald([
        "group",
        "reset",
        "billing",
        "--stream",
        "orders",
        "--to",
        "someday",
        ...kvArgs,
      ])).code,
      2,
    );
    assertEquals((await herald(["group", "delete", "billing", ...kvArgs])).code, 0);
    assertEquals(await backend.groups(), []);
    assertEquals((await herald(["group", "delete", "billing", ...kvArgs])).code, 3);
  });
});

Deno.test("herald tail follows a stream without joining a group", async () => {
  await withBus(async (backend, path) => {
    await backend.append(events("orders", 1));
    const { child, lines } = spawnHerald([
      "tail",
      "orders",
      "--from",
      "earliest",
      "--count",
      "3",
      "--json",
      "--kv",
      path,
    ]);
    try {
      const first = JSON.parse((await lines.next()).value);
      assertEquals(first.event.data, { i: 0 });
      const more = events("orders", 2);
      await backend.append(more);
      const rest = [JSON.parse((await lines.next()).value), JSON.parse((await lines.next()).value)];
      assertEquals(rest.map((r) => r.event.id), more.map((e) => e.id));
      assertEquals((await child.status).code, 0);
      assertEquals(await backend.groups(), [], "tail made no group");
    } finally {
      try {
        child.kill();
      } catch {
        // ended already
      }
      await child.status;
    }
  });
});

Deno.test({
  name: "herald streams and dead over Redis (--redis, --prefix)",
  ignore: Boolean(SKIP),
  async fn() {
    const { backend, prefix, cleanup } = testBackend({ url: REDIS_URL });
    try {
      await backend.subscribe("billing", ["orders"], "earliest");
      await backend.append(events("orders", 2));
      const args = ["--redis", REDIS_URL, "--prefix", prefix, "--json"];
      const streams = await herald(["streams", ...args]);
      assertEquals(streams.code, 0, streams.stderr);
      assertEquals(
        streams.json<{ stream: string; length: number }[]>().map((s) => [s.stream, s.length]),
        [["orders", 2]],
      );
      const groups = await herald(["groups", ...args]);
      assertEquals(groups.json<GroupInfo[]>().map((g) => [g.group, g.lag]), [["billing", 2]]);
      const tail = await herald(["tail", "orders", "--from", "earliest", "--count", "2", ...args]);
      assertEquals(tail.stdout.trim().split("\n").length, 2);
      assert(tail.code === 0);
    } finally {
      await backend.close();
      await cleanup();
    }
  },
});

Deno.test({
  name: "herald groups and redrive over Redis REST (--redis https URL, token from the environment)",
  ignore: Boolean(SKIP),
  async fn() {
    const emulator = await startEmulator();
    const { backend, prefix, cleanup } = testBackend({ url: REDIS_URL });
    try {
      await backend.subscribe("billing", ["orders"], "earliest");
      await backend.append(events("orders", 1));
      const [d] = await backend.claim("billing", ["orders"], {
        consumer: "c",
        max: 1,
        leaseMs: 30_000,
        waitMs: 0,
      });
      await backend.settle("billing", [{
        delivery: d,
        outcome: "dead",
        error: { name: "E", message: "x" },
      }]);
      const args = ["--redis", emulator.url, "--prefix", prefix, "--json"];
      const noToken = await herald(["groups", ...args]);
      assertEquals(noToken.code, 2, "a REST URL needs its token");
      const env = { UPSTASH_REDIS_REST_TOKEN: emulator.token };
      const groups = await herald(["groups", ...args], { env });
      assertEquals(groups.code, 0, groups.stderr);
      assertEquals(groups.json<GroupInfo[]>().map((g) => [g.group, g.pending, g.deadLetters]), [[
        "billing",
        0,
        1,
      ]]);
      const moved = await herald(["redrive", "billing", "--all", ...args], { env });
      assertEquals(moved.json(), { moved: 1 });
    } finally {
      await backend.close();
      await cleanup();
      await emulator.stop();
    }
  },
});
