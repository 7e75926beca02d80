/**
 * `createGroupCommit()`: writes made at once share commits, and a failed check fails only its
 * own write, the rest still sharing one commit; and the replica on top of it, whose writes that
 * lose a race read again at once instead of failing their event.
 */
import { assertEquals } from "@std/assert";
import { createBus, createEnvelope, createMemoryBackend, createWorker } from "@herald/herald";
import { userFromRegistration } from "../../services/contracts/mod.ts";
import { createGroupCommit } from "../../services/shared/group_commit.ts";
import { replicate } from "../../services/shared/replica.ts";
import { until } from "../_until.ts";

Deno.test("`createGroupCommit()` applies writes made at once, failing only the one whose check fails", async () => {
  const dir = await Deno.makeTempDir({ prefix: "herald-group-commit-" });
  const db = await Deno.openKv(`${dir}/db.sqlite`);
  try {
    await db.set(["taken"], 1);
    const commit = createGroupCommit(db);
    const writes = Array.from({ length: 100 }, (_, i) =>
      commit({
        checks: [{ key: i === 50 ? ["taken"] : ["free", i], versionstamp: null }],
        apply: (op) => op.set(["n", i], i),
      }));
    const results = await Promise.all(writes);
    assertEquals(results.filter((ok) => !ok).length, 1);
    assertEquals(results[50], false);
    let n = 0;
    for await (const _ of db.list({ prefix: ["n"] })) n++;
    assertEquals(n, 99);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`createGroupCommit()` never lets two writes checking one key both pass", async () => {
  const db = await Deno.openKv(":memory:");
  try {
    const commit = createGroupCommit(db);
    const write = (n: number) =>
      commit({
        checks: [{ key: ["k"], versionstamp: null }],
        apply: (op) => op.set(["k"], n),
      });
    // The first write commits alone; the four after it gather while it runs.
    const first = commit({ checks: [], apply: (op) => op.set(["other"], 0) });
    const results = await Promise.all([write(0), write(1), write(2), write(3)]);
    assertEquals(await first, true);
    assertEquals(results.filter((ok) => ok).length, 1);
    assertEquals((await db.get(["k"])).value, results.indexOf(true));
  } finally {
    db.close();
  }
});

/** A database whose commits are counted: the real one, seen through a proxy. */
function counted(db: Deno.Kv) {
  const count = { commits: 0 };
  const proxy = new Proxy(db, {
    get(target, prop) {
      if (prop !== "atomic") return Reflect.get(target, prop, target).bind?.(target);
      return () => {
        const op = target.atomic();
        const commit = op.commit.bind(op);
        op.commit = () => (count.commits++, commit());
        return op;
      };
    },
  });
  return { db: proxy, count };
}

Deno.test("`createGroupCommit()` commits the rest of a batch together when one write's check fails", async () => {
  const real = await Deno.openKv(":memory:");
  try {
    await real.set(["taken"], 1);
    const { db, count } = counted(real);
    const commit = createGroupCommit(db);
    // The first write commits alone; the forty after it gather while it runs, one stale.
    const first = commit({ checks: [], apply: (op) => op.set(["first"], 0) });
    const writes = Array.from({ length: 40 }, (_, i) =>
      commit({
        checks: [{ key: i === 7 ? ["taken"] : ["free", i], versionstamp: null }],
        apply: (op) => op.set(["n", i], i),
      }));
    const results = await Promise.all(writes);
    assertEquals(await first, true);
    assertEquals(results.map((ok, i) => ok === (i !== 7)).every(Boolean), true);
    // The first, the shared commit that failed, and the 39 others together: not one each.
    assertEquals(count.commits, 3);
  } finally {
    real.close();
  }
});

Deno.test("a replica applies a user's `user.registered` and first `user.updated` arriving together without a retry", async () => {
  const dir = await Deno.makeTempDir({ prefix: "herald-replica-race-" });
  const db = await Deno.openKv(`${dir}/replica.sqlite`);
  const bus = createBus({ backend: createMemoryBackend(), source: "test" });
  const failures: string[] = [];
  let attempts = 0;
  const worker = replicate(
    createWorker({ bus, group: "replica", idleWaitMs: 5 }).use(async (event, _ctx, next) => {
      try {
        await next();
      } catch (err) {
        failures.push(`${event.type}: ${(err as Error).name}`);
        throw err;
      } finally {
        attempts++;
      }
    }),
    db,
  );
  try {
    await worker.start();
    const users = Array.from({ length: 40 }, (_, i) => {
      const id = crypto.randomUUID();
      return { id, email: `u${i}@example.com`, name: `User ${i}` };
    });
    // Each user's two events side by side, as a sign-up and a quick profile change can arrive.
    const updated = (u: (typeof users)[number]) => ({ ...userFromRegistration(u), version: 2 });
    await bus.backend.append(users.flatMap((u) => [
      createEnvelope("auth", "user.registered", u, "auth"),
      createEnvelope("users", "user.updated", updated(u), "users", { key: u.id }),
    ]));
    await until(() => attempts >= 80);
    assertEquals(failures, []);
    const held = await Array.fromAsync(db.list<{ version: number }>({ prefix: ["users"] }));
    assertEquals(held.map((e) => e.value.version), users.map(() => 2));
  } finally {
    await worker.stop();
    await bus.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
