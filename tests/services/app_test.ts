/**
 * The four services' cores, routes and handlers wired in one process over the in-memory bus:
 * fast checks of the app's logic. The end-to-end test (`e2e_test.ts`) runs them as processes.
 */
import { assert, assertEquals } from "@std/assert";
import { type Bus, createBus, createWorker, type EventWorker } from "@herald/herald";
import { createTestBus } from "@herald/herald/testing";
import {
  GroupDeleted,
  PostDeleted,
  UserDeleted,
  UserRegistered,
} from "../../services/contracts/mod.ts";
import { createAuth } from "../../services/auth/core.ts";
import { authHandlers } from "../../services/auth/handlers.ts";
import { authRoutes } from "../../services/auth/routes.ts";
import { createUsers } from "../../services/users/core.ts";
import { usersHandlers } from "../../services/users/handlers.ts";
import { usersRoutes } from "../../services/users/routes.ts";
import { createPosts } from "../../services/posts/core.ts";
import { postsRoutes } from "../../services/posts/routes.ts";
import { replicate } from "../../services/shared/replica.ts";
import { until } from "./_poll.ts";

interface App {
  request(path: string, init?: RequestInit): Response | Promise<Response>;
}

async function wire() {
  const tb = createTestBus({ source: "auth" });
  const bus = (source: string): Bus => createBus({ backend: tb.backend, source });
  const dbs = {
    auth: await Deno.openKv(":memory:"),
    users: await Deno.openKv(":memory:"),
    posts: await Deno.openKv(":memory:"),
  };
  const auth = createAuth({ db: dbs.auth, bus: tb, iterations: 1_000 });
  const users = createUsers(dbs.users, bus("users"));
  const posts = createPosts(dbs.posts, bus("posts"));
  const workers: EventWorker[] = [
    authHandlers(createWorker({ bus: tb, group: "auth", idleWaitMs: 20 }), auth, dbs.auth),
    usersHandlers(createWorker({ bus: bus("users"), group: "users" }), users, dbs.users),
    replicate(createWorker({ bus: bus("posts"), group: "posts" }), dbs.posts, posts),
  ];
  for (const w of workers) await w.start();
  const apps = {
    auth: authRoutes(auth) as App,
    users: usersRoutes(users) as App,
    posts: postsRoutes(posts, dbs.posts) as App,
  };
  const close = async () => {
    for (const w of workers) await w.stop();
    for (const db of Object.values(dbs)) db.close();
    await tb.close();
  };
  return { tb, apps, close };
}

async function call(app: App, method: string, path: string, body?: unknown, token?: string) {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await app.request(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

Deno.test("`usersHandlers()` and `replicate()` carry a registration to Users and Posts, and a deletion", async () => {
  const { tb, apps, close } = await wire();
  try {
    const reg = await call(apps.auth, "POST", "/register", {
      email: "Ada@example.com",
      password: "correct horse",
      name: "Ada",
    });
    assertEquals(reg.status, 201);
    const id = reg.body.id as string;
    const login = await call(apps.auth, "POST", "/login", {
      email: "ada@example.com",
      password: "correct horse",
    });
    assertEquals(login.status, 200);
    const token = login.body.token as string;
    await until(
      "Users has Ada",
      async () => (await call(apps.users, "GET", `/users/${id}`, undefined, token)).status === 200,
    );
    await until(
      "Posts has Ada",
      async () => (await call(apps.posts, "GET", `/users/${id}`, undefined, token)).status === 200,
    );
    // One event made the user in Users and in Posts' copy: nothing else was published.
    assertEquals(tb.published().map((e) => e.type), [UserRegistered.type]);

    const group = await call(apps.users, "POST", "/groups", { name: "Climbers" }, token);
    assertEquals(group.status, 201);
    const gid = group.body.id as string;
    const post = await until("Posts knows the group", async () => {
      const r = await call(apps.posts, "POST", `/groups/${gid}/posts`, { body: "hi" }, token);
      return r.status === 201 && r;
    });
    assertEquals(post.body.authorId, id);

    assertEquals((await call(apps.users, "DELETE", "/users/me", undefined, token)).status, 204);
    assertEquals(tb.published(UserDeleted).length, 1);
    await until(
      "Posts refuses the deleted Ada's token",
      async () => (await call(apps.posts, "GET", `/users/${id}`, undefined, token)).status === 401,
    );
    await until("Auth forgot Ada", async () =>
      (await call(apps.auth, "POST", "/login", {
        email: "ada@example.com",
        password: "correct horse",
      })).status === 401);
  } finally {
    await close();
  }
});

Deno.test("`authRoutes()`, `usersRoutes()` and `postsRoutes()` answer bad input with 400 naming the field, 401, 404, 409, 413", async () => {
  const { apps, close } = await wire();
  try {
    const bad = await call(apps.auth, "POST", "/register", {
      email: "nope",
      password: "long enough",
      name: "X",
    });
    assertEquals(bad.status, 400);
    assertEquals(bad.body.field, "email");
    const short = await call(apps.auth, "POST", "/register", {
      email: "b@example.com",
      password: "short",
      name: "B",
    });
    assertEquals([short.status, short.body.field], [400, "password"]);
    const b = { email: "b@example.com", password: "long enough", name: "B" };
    assertEquals((await call(apps.auth, "POST", "/register", b)).status, 201);
    assertEquals((await call(apps.auth, "POST", "/register", b)).status, 409);
    const wrong = await call(apps.auth, "POST", "/login", { ...b, password: "wrong one" });
    assertEquals(wrong.status, 401);
    assertEquals((await call(apps.users, "GET", "/users/x")).status, 401);
    assertEquals((await call(apps.users, "GET", "/users/x", undefined, "garbage")).status, 401);
    const { token } = (await call(apps.auth, "POST", "/login", b)).body;
    assertEquals((await call(apps.users, "GET", "/groups/nope", undefined, token)).status, 404);
    assertEquals(
      (await call(apps.posts, "GET", "/groups/nope/posts", undefined, token)).status,
      404,
    );
    const big = await call(apps.users, "POST", "/groups", { name: "x".repeat(20_000) }, token);
    assertEquals(big.status, 413);
    const noName = await call(apps.users, "POST", "/groups", {}, token);
    assertEquals([noName.status, noName.body.field], [400, "name"]);
    assert(typeof noName.body.error === "string");
  } finally {
    await close();
  }
});

Deno.test("`deleteUser()` deletes the groups the user owns, and Posts their posts", async () => {
  const { tb, apps, close } = await wire();
  try {
    const join = async (name: string) => {
      const creds = { email: `${name}@example.com`, password: "long enough", name };
      const { id } = (await call(apps.auth, "POST", "/register", creds)).body;
      const { token } = (await call(apps.auth, "POST", "/login", creds)).body;
      await until(
        `Users has ${name}`,
        async () =>
          (await call(apps.users, "GET", `/users/${id}`, undefined, token)).status === 200,
      );
      return { id, token };
    };
    const owner = await join("owner");
    const member = await join("member");
    const gid = (await call(apps.users, "POST", "/groups", { name: "G" }, owner.token)).body.id;
    assertEquals(
      (await call(apps.users, "POST", `/groups/${gid}/members`, { userId: member.id }, owner.token))
        .status,
      204,
    );
    await until(
      "the member may post",
      async () =>
        (await call(apps.posts, "POST", `/groups/${gid}/posts`, { body: "hi" }, member.token))
          .status === 201,
    );
    const leave = await call(
      apps.users,
      "DELETE",
      `/groups/${gid}/members/${owner.id}`,
      undefined,
      owner.token,
    );
    assertEquals(leave.status, 409);

    assertEquals(
      (await call(apps.users, "DELETE", "/users/me", undefined, owner.token)).status,
      204,
    );
    assertEquals(tb.published(GroupDeleted).map((e) => e.data.id), [gid]);
    assertEquals(
      (await call(apps.users, "GET", `/groups/${gid}`, undefined, member.token)).status,
      404,
    );
    await until(
      "Posts forgot the group",
      async () =>
        (await call(apps.posts, "GET", `/groups/${gid}/posts`, undefined, member.token)).status ===
          404,
    );
    await until(
      "Posts said the member's post went with it",
      () => tb.published(PostDeleted).some((e) => e.data.groupId === gid),
    );
    assertEquals(
      (await call(apps.users, "GET", `/users/${member.id}`, undefined, member.token)).status,
      200,
    );
  } finally {
    await close();
  }
});

Deno.test("`deleteGroup()` and `deleteUser()` remove 600 memberships, over Deno KV's 1,000 mutations a commit", async () => {
  const db = await Deno.openKv(":memory:");
  const tb = createTestBus({ source: "users" });
  try {
    const users = createUsers(db, tb);
    const ids = Array.from({ length: 601 }, (_, i) => `u${i}`);
    for (const id of ids) {
      await users.registered({ id, email: `${id}@example.com`, name: id }, tb.atomic(db));
    }
    const owner = ids[0];
    const kept = await users.createGroup(owner, "Kept");
    const doomed = await users.createGroup(owner, "Doomed");
    for (const id of ids.slice(1)) {
      await users.addMember(doomed.id, owner, id);
      await users.addMember(kept.id, owner, id);
    }
    await users.deleteGroup(doomed.id, owner);
    const left = [];
    for await (const m of db.list({ prefix: ["members", doomed.id] })) left.push(m.key);
    assertEquals(left.length, 0);
    assertEquals((await users.getGroup(kept.id, ids[1])).members.length, 601);

    await users.deleteUser(owner);
    for await (const m of db.list({ prefix: ["members", kept.id] })) left.push(m.key);
    for await (const m of db.list({ prefix: ["memberships"] })) left.push(m.key);
    assertEquals(left.length, 0);
    assertEquals(
      tb.published(GroupDeleted).map((e) => e.data.id).sort(),
      [doomed.id, kept.id].sort(),
    );
  } finally {
    db.close();
    await tb.close();
  }
});
