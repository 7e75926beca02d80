/**
 * Replicas that converge: a real history made by the four services as `deno serve` processes,
 * fed to fresh replicas shuffled and partly duplicated, ends equal to Users' own state; and a
 * user with more posts than one Deno KV commit can delete is deleted from Posts all the same.
 */
import { assertEquals } from "@std/assert";
import {
  createBus,
  createEnvelope,
  createKvBackend,
  createMemoryBackend,
  createWorker,
  type Envelope,
} from "@herald/herald";
import type { Backend } from "@herald/herald/backend";
import { join } from "node:path";
import {
  GroupCreated,
  GroupDeleted,
  GroupUpdated,
  MemberAdded,
  MemberRemoved,
  UserDeleted,
  UserRegistered,
  UserUpdated,
} from "../../services/contracts/mod.ts";
import { replicate } from "../../services/shared/replica.ts";
import { api, Cluster, type Person, register } from "./_cluster.ts";
import { until } from "./_poll.ts";

const CONTRACTS = [
  UserRegistered,
  UserUpdated,
  UserDeleted,
  GroupCreated,
  GroupUpdated,
  GroupDeleted,
  MemberAdded,
  MemberRemoved,
];

/** Users, groups and memberships as a database holds them, comparable with assertEquals. */
async function stateOf(db: Deno.Kv) {
  const users: Record<string, unknown> = {};
  const groups: Record<string, unknown> = {};
  const members: string[] = [];
  for await (const e of db.list({ prefix: ["users"] })) users[e.key[1] as string] = e.value;
  for await (const e of db.list({ prefix: ["groups"] })) groups[e.key[1] as string] = e.value;
  for await (const e of db.list({ prefix: ["members"] })) members.push(e.key.slice(1).join("/"));
  return { users, groups, members: members.sort() };
}

/** A small seeded generator, so a failing order can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function call(c: Cluster, method: string, path: string, who: Person, body?: unknown) {
  const res = await api(c.url("users"), method, path, { token: who.token, body });
  if (res.status >= 300) {
    throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** Makes a history with every kind of change, some undone and redone. */
async function makeHistory(c: Cluster): Promise<void> {
  const [ada, bob, carol, dan] = await Promise.all(
    ["Ada", "Bob", "Carol", "Dan"].map((n) => register(c, n)),
  );
  for (const p of [ada, bob, carol, dan]) {
    await until(
      "Users made the user",
      async () =>
        (await api(c.url("users"), "GET", "/users/me", { token: p.token })).status === 200,
    );
  }
  const g1 = (await call(c, "POST", "/groups", ada, { name: "One" })).id;
  const g2 = (await call(c, "POST", "/groups", ada, { name: "Two" })).id;
  const g3 = (await call(c, "POST", "/groups", dan, { name: "Dan's" })).id;
  for (const p of [bob, carol, dan]) {
    await call(c, "POST", `/groups/${g1}/members`, ada, { userId: p.id });
  }
  await call(c, "POST", `/groups/${g2}/members`, ada, { userId: bob.id });
  await call(c, "POST", `/groups/${g3}/members`, dan, { userId: carol.id });
  await call(c, "DELETE", `/groups/${g1}/members/${carol.id}`, ada);
  await call(c, "POST", `/groups/${g1}/members`, ada, { userId: carol.id });
  await call(c, "DELETE", `/groups/${g1}/members/${bob.id}`, bob);
  await call(c, "PATCH", `/groups/${g1}`, ada, { name: "One, renamed" });
  await call(c, "PATCH", "/users/me", bob, { bio: "climbs" });
  await call(c, "PATCH", "/users/me", bob, { name: "Robert" });
  await call(c, "DELETE", `/groups/${g2}`, ada);
  await call(c, "DELETE", "/users/me", dan); // with the group they own
  await call(c, "DELETE", `/groups/${g1}/members/${carol.id}`, ada);
  await call(c, "PATCH", `/groups/${g1}`, ada, { name: "last" });
  await call(c, "PATCH", "/users/me", ada, { bio: "last" });
}

/**
 * Reads every user and group event on the bus, in a group of its own, until the last ones: from
 * `user.registered` (the event that makes a user) on.
 */
async function readHistory(backend: Backend): Promise<Envelope[]> {
  const seen: Envelope[] = [];
  const bus = createBus({ backend, source: "test" });
  let worker = createWorker({ bus, group: `history-${crypto.randomUUID()}`, start: "earliest" });
  for (const contract of CONTRACTS) worker = worker.on(contract, (e) => void seen.push(e));
  await worker.start();
  try {
    await until(
      "the whole history was read",
      () =>
        seen.some((e) =>
          e.type === "group.updated" && (e.data as { name: string }).name === "last"
        ) &&
        seen.some((e) => e.type === "user.updated" && (e.data as { bio: string }).bio === "last") &&
        // Deletions have a stream of their own: read in no order with the others.
        seen.some((e) => e.type === "user.deleted"),
    );
  } finally {
    await worker.stop();
  }
  return seen;
}

/** Feeds events to a fresh replica through a bus of its own, and waits for it to match. */
async function replay(events: Envelope[], expected: Awaited<ReturnType<typeof stateOf>>) {
  const backend = createMemoryBackend();
  const bus = createBus({ backend, source: "test" });
  const db = await Deno.openKv(":memory:");
  const worker = replicate(
    createWorker({ bus, group: "fresh", start: "earliest", idleWaitMs: 5 }),
    db,
  );
  try {
    for (const e of events) await backend.append([e]);
    await worker.start();
    let last: unknown;
    await until("the replica equals Users' state", async () => {
      last = await stateOf(db);
      return JSON.stringify(last) === JSON.stringify(expected);
    }, 10_000).catch(() => assertEquals(last, expected));
  } finally {
    await worker.stop();
    db.close();
    await bus.close();
  }
}

Deno.test("a fresh replica fed a real history shuffled and partly duplicated ends equal to Users' state", async () => {
  const c = await Cluster.start();
  try {
    await makeHistory(c);
    const backend = createKvBackend({ path: c.env.HERALD_BUS_PATH, watch: false });
    const history = await readHistory(backend).finally(() => backend.close());
    const usersDb = await Deno.openKv(join(c.env.HERALD_DATA_DIR, "users.sqlite"));
    const expected = await stateOf(usersDb).finally(() => usersDb.close());
    // Users keeps `true` for a membership, the copies the version; compare what they mean.
    const postsDb = await Deno.openKv(join(c.env.HERALD_DATA_DIR, "posts.sqlite"));
    await until(
      "Posts' own copy equals Users' state",
      async () => JSON.stringify(await stateOf(postsDb)) === JSON.stringify(expected),
    ).finally(() => postsDb.close());

    for (const seed of [1, 2, 3, 4, 5]) {
      const rand = random(seed);
      const copies = history.flatMap((e) =>
        rand() < 0.3 ? [e, createEnvelope(e.stream, e.type, e.data, e.source, { key: e.key })] : [e]
      );
      for (let i = copies.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [copies[i], copies[j]] = [copies[j], copies[i]];
      }
      await replay(copies, expected);
    }
  } catch (err) {
    console.error(c.logs.slice(-60).join("\n"));
    throw err;
  } finally {
    await c.close();
  }
});

Deno.test("deleting a user with 300 posts deletes them all from Posts, in batches", async () => {
  const c = await Cluster.start();
  try {
    const [ada, bob] = await Promise.all([register(c, "Ada"), register(c, "Bob")]);
    for (const p of [ada, bob]) {
      await until(
        "Users made the user",
        async () =>
          (await api(c.url("users"), "GET", "/users/me", { token: p.token })).status === 200,
      );
    }
    const groupId = (await call(c, "POST", "/groups", ada, { name: "Busy" })).id;
    await call(c, "POST", `/groups/${groupId}/members`, ada, { userId: bob.id });
    await until(
      "Bob may post",
      async () =>
        (await api(c.url("posts"), "GET", `/groups/${groupId}/posts`, { token: bob.token }))
          .status === 200,
    );
    for (let i = 0; i < 300; i += 20) {
      await Promise.all(
        Array.from(
          { length: 20 },
          (_, j) =>
            api(c.url("posts"), "POST", `/groups/${groupId}/posts`, {
              body: { body: `post ${i + j}` },
              token: bob.token,
            }).then((r) => assertEquals(r.status, 201)),
        ),
      );
    }
    await call(c, "DELETE", "/users/me", bob);
    await until("Bob's posts are gone from Posts", async () => {
      const page = await api(c.url("posts"), "GET", `/groups/${groupId}/posts?limit=1`, {
        token: ada.token,
      });
      return page.status === 200 && page.body.posts.length === 0;
    }, 30_000);
  } catch (err) {
    console.error(c.logs.slice(-60).join("\n"));
    throw err;
  } finally {
    await c.close();
  }
});

Deno.test("a member removed while Posts was down cannot post after Posts catches up, nor after it rebuilds by replay", async () => {
  const c = await Cluster.start();
  try {
    const [ada, bob] = await Promise.all([register(c, "Ada"), register(c, "Bob")]);
    for (const p of [ada, bob]) {
      await until(
        "Users made the user",
        async () =>
          (await api(c.url("users"), "GET", "/users/me", { token: p.token })).status === 200,
      );
    }
    const groupId = (await call(c, "POST", "/groups", ada, { name: "G" })).id;
    await call(c, "POST", `/groups/${groupId}/members`, ada, { userId: bob.id });
    const post = (who: Person) =>
      api(c.url("posts"), "POST", `/groups/${groupId}/posts`, {
        body: { body: "hi" },
        token: who.token,
      });
    await until("Bob may post", async () => (await post(bob)).status === 201);

    await c.stop("posts");
    // Removed, added back and removed again while Posts is down.
    await call(c, "DELETE", `/groups/${groupId}/members/${bob.id}`, ada);
    await call(c, "POST", `/groups/${groupId}/members`, ada, { userId: bob.id });
    await call(c, "DELETE", `/groups/${groupId}/members/${bob.id}`, ada);
    await call(c, "PATCH", `/groups/${groupId}`, ada, { name: "caught up" });
    await c.start("posts");
    const caughtUp = async () => {
      const db = await Deno.openKv(join(c.env.HERALD_DATA_DIR, "posts.sqlite"));
      try {
        const group = await db.get<{ name: string }>(["groups", groupId]);
        return group.value?.name === "caught up";
      } finally {
        db.close();
      }
    };
    await until("Posts caught up", caughtUp);
    assertEquals((await post(bob)).status, 403);
    assertEquals((await post(ada)).status, 201);

    await c.stop("posts");
    await c.wipe("posts");
    await c.start("posts");
    await until("Posts rebuilt its copy", caughtUp);
    assertEquals((await post(bob)).status, 403);
    assertEquals((await post(ada)).status, 201);
  } catch (err) {
    console.error(c.logs.slice(-60).join("\n"));
    throw err;
  } finally {
    await c.close();
  }
});
