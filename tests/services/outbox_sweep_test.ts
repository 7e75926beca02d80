/**
 * The example app's outbox sweep is a cron job of the worker module: a `deno serve` of Posts
 * forwards an event left in its outbox (as after a stop between commit and forward) from its
 * Web Worker.
 */
import { assert, assertEquals } from "@std/assert";
import { join } from "node:path";
import { createEnvelope } from "../../src/envelope.ts";
import { OUTBOX_PREFIX } from "../../src/outbox.ts";
import { freePort, launch } from "../../services/shared/launch.ts";
import { until } from "./_poll.ts";

Deno.test("Posts' worker module sweeps the outbox on its cron tick, off the HTTP isolate", async () => {
  const dir = await Deno.makeTempDir({ prefix: "herald-sweep-" });
  await Deno.mkdir(join(dir, "data"));
  const db = await Deno.openKv(join(dir, "data", "posts.sqlite"));
  const event = createEnvelope("posts", "post.created", {
    id: "p-sweep",
    groupId: "g1",
    authorId: "u1",
    body: "left behind",
    createdAt: new Date(0).toISOString(),
  }, "posts");
  await db.set([...OUTBOX_PREFIX, event.id], event);
  const lines: string[] = [];
  const posts = launch("posts", {
    port: freePort(),
    env: {
      HERALD_DATA_DIR: join(dir, "data"),
      HERALD_BUS_PATH: join(dir, "bus.sqlite"),
      JWT_SECRET: "sweep-secret",
      DENO_CRON_TEST_SCHEDULE_OFFSET: "1000",
    },
    onLine: (line) => lines.push(line),
  });
  try {
    await until("the outbox swept by the worker's cron job", async () => {
      const left = await Array.fromAsync(db.list({ prefix: OUTBOX_PREFIX }));
      const ran = lines.some((l) => /cron "outbox-sweep": tick \S+ ran in the worker/.test(l));
      return left.length === 0 && ran;
    }, 30_000).catch((err) => {
      throw new Error(`${err.message}\n${lines.join("\n")}`);
    });
    assert(
      lines.some((l) => l.includes("outbox: forwarded 1 deferred event(s)")),
      lines.join("\n"),
    );
    assertEquals(lines.filter((l) => /cron "outbox-sweep".*failed/.test(l)), []);
  } finally {
    await posts.stop();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
