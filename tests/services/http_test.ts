/**
 * End to end, the four services as `deno serve` processes: HTTP answers a client can trust
 * (415, 405, 404 before authentication, every validation issue, JSON ending in a newline),
 * tokens only in the header, a deleted user's token refused everywhere, emails shown to their
 * owner only, paginated posts, and over-long path parameters.
 */
import { assert, assertEquals } from "@std/assert";
import { api, Cluster, type Person, register } from "./_cluster.ts";
import { until } from "./_poll.ts";

async function raw(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

Deno.test("the services answer 415, 405, 404 before auth, every issue, and JSON ending in a newline", async () => {
  const c = await Cluster.start();
  try {
    const ada = await register(c, "Ada");
    const auth = c.url("auth");
    const form = await raw(`${auth}/register`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "email=a@example.com",
    });
    assertEquals(form.status, 415, form.text);
    const none = await raw(`${auth}/login`, { method: "POST", body: "{}" });
    assertEquals(none.status, 415, none.text);

    const wrongMethod = await raw(`${auth}/login`);
    assertEquals(wrongMethod.status, 405);
    assertEquals(wrongMethod.headers.get("allow"), "POST");
    const del = await raw(`${c.url("posts")}/groups/x/posts`, { method: "PUT" });
    assertEquals(del.status, 405);
    assertEquals(del.headers.get("allow"), "GET, HEAD, POST");

    for (const svc of ["auth", "users", "posts", "chat"]) {
      const unknown = await raw(`${c.url(svc)}/nowhere/at/all`);
      assertEquals(unknown.status, 404, `${svc}: ${unknown.text}`);
    }

    const bad = await api(auth, "POST", "/register", {
      body: { email: "nope", password: "short", name: "" },
    });
    assertEquals(bad.status, 400);
    assertEquals(
      bad.body.issues.map((i: { field: string }) => i.field).sort(),
      ["email", "name", "password"],
    );
    assertEquals(bad.body.field, bad.body.issues[0].field);

    const bodies = [
      await raw(`${c.url("users")}/users/me`, {
        headers: { authorization: `Bearer ${ada.token}` },
      }),
      await raw(`${auth}/register`, { method: "POST" }),
      await raw(`${c.url("chat")}/nope`),
      await raw(`${auth}/login`),
    ];
    for (const b of bodies) assert(b.text.endsWith("}\n"), JSON.stringify(b.text));
  } catch (err) {
    console.error(c.logs.slice(-60).join("\n"));
    throw err;
  } finally {
    await c.close();
  }
});

Deno.test("tokens work only in the header; a deleted user's token gets 401 everywhere; emails are their owner's", async () => {
  const c = await Cluster.start();
  try {
    const [ada, bob] = await Promise.all([register(c, "Ada"), register(c, "Bob")]);
    for (const svc of ["posts", "chat"]) {
      await until(
        `${svc} knows Bob`,
        async () =>
          (await api(c.url(svc), "GET", `/users/${bob.id}`, { token: ada.token })).status === 200,
      );
    }
    const inUrl = await raw(`${c.url("users")}/users/me?token=${ada.token}`);
    assertEquals(inUrl.status, 401);

    const own = await api(c.url("users"), "GET", `/users/${ada.id}`, { token: ada.token });
    assertEquals(own.body.email, ada.email);
    for (const svc of ["users", "posts", "chat"]) {
      const other = await api(c.url(svc), "GET", `/users/${bob.id}`, { token: ada.token });
      assertEquals(other.status, 200);
      assertEquals(other.body.email, undefined, `${svc} showed Bob's email to Ada`);
      assertEquals(other.body.name, "Bob");
    }

    const group = await api(c.url("users"), "POST", "/groups", {
      body: { name: "G" },
      token: bob.token,
    });
    assertEquals(
      (await api(c.url("users"), "DELETE", "/users/me", { token: bob.token })).status,
      204,
    );
    const paths: [string, string, string][] = [
      ["users", "GET", `/users/${ada.id}`],
      ["users", "GET", "/users/me"],
      ["posts", "GET", `/users/${ada.id}`],
      ["posts", "GET", `/groups/${group.body.id}/posts`],
      ["chat", "GET", `/users/${ada.id}`],
      ["chat", "POST", `/rooms/${group.body.id}/tickets`],
    ];
    for (const [svc, method, path] of paths) {
      await until(
        `${svc} ${method} ${path} refuses Bob's token`,
        async () => (await api(c.url(svc), method, path, { token: bob.token })).status === 401,
      );
    }
  } catch (err) {
    console.error(c.logs.slice(-60).join("\n"));
    throw err;
  } finally {
    await c.close();
  }
});

async function groupWith(c: Cluster, owner: Person): Promise<string> {
  const group = await api(c.url("users"), "POST", "/groups", {
    body: { name: "Busy" },
    token: owner.token,
  });
  assertEquals(group.status, 201);
  const id = group.body.id as string;
  await until(
    "Posts knows the group",
    async () =>
      (await api(c.url("posts"), "GET", `/groups/${id}/posts`, { token: owner.token })).status ===
        200,
  );
  return id;
}

Deno.test("GET /groups/:id/posts pages with limit and cursor; over-long path parameters get 400 or 404", async () => {
  const c = await Cluster.start();
  try {
    const ada = await register(c, "Ada");
    const groupId = await groupWith(c, ada);
    const bodies: string[] = [];
    for (let i = 0; i < 25; i++) {
      const body = `post ${i}`;
      const res = await api(c.url("posts"), "POST", `/groups/${groupId}/posts`, {
        body: { body },
        token: ada.token,
      });
      assertEquals(res.status, 201);
      bodies.push(body);
    }
    const all = await api(c.url("posts"), "GET", `/groups/${groupId}/posts`, { token: ada.token });
    assertEquals(all.status, 200, JSON.stringify(all.body));
    assertEquals(all.body.posts.length, 25);
    assertEquals(all.body.next, null);

    const seen: string[] = [];
    let cursor: string | null = "";
    let pages = 0;
    while (cursor !== null) {
      const q: string = `?limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const page = await api(c.url("posts"), "GET", `/groups/${groupId}/posts${q}`, {
        token: ada.token,
      });
      assertEquals(page.status, 200, JSON.stringify(page.body));
      seen.push(...page.body.posts.map((p: { body: string }) => p.body));
      cursor = page.body.next;
      pages++;
    }
    assertEquals(pages, 3);
    assertEquals(seen, bodies.toReversed());
    const badLimit = await api(c.url("posts"), "GET", `/groups/${groupId}/posts?limit=1000`, {
      token: ada.token,
    });
    assertEquals(badLimit.status, 400);
    const badCursor = await api(c.url("posts"), "GET", `/groups/${groupId}/posts?cursor=%%%`, {
      token: ada.token,
    });
    assertEquals(badCursor.status, 400);

    const long = "x".repeat(3_000);
    const probes: [string, string, string, unknown?][] = [
      ["users", "GET", `/users/${long}`],
      ["users", "GET", `/groups/${long}`],
      ["users", "PATCH", `/groups/${long}`, { name: "n" }],
      ["users", "DELETE", `/groups/${long}`],
      ["users", "POST", `/groups/${long}/members`, { userId: ada.id }],
      ["users", "POST", `/groups/${groupId}/members`, { userId: long }],
      ["users", "DELETE", `/groups/${long}/members/${ada.id}`],
      ["users", "DELETE", `/groups/${groupId}/members/${long}`],
      ["posts", "GET", `/groups/${long}/posts`],
      ["posts", "POST", `/groups/${long}/posts`, { body: "b" }],
      ["posts", "DELETE", `/posts/${long}`],
      ["posts", "GET", `/users/${long}`],
      ["chat", "GET", `/rooms/${long}/messages`],
      ["chat", "POST", `/rooms/${long}/messages`, { text: "t" }],
      ["chat", "POST", `/rooms/${long}/tickets`],
      ["chat", "GET", `/rooms/${long}/ws?ticket=${long}`],
      ["chat", "GET", `/users/${long}`],
    ];
    for (const [svc, method, path, body] of probes) {
      const res = await api(c.url(svc), method, path, { token: ada.token, body });
      assert(
        [400, 404].includes(res.status),
        `${svc} ${method} ${path.slice(0, 40)}…: ${res.status}`,
      );
    }
  } catch (err) {
    console.error(c.logs.slice(-60).join("\n"));
    throw err;
  } finally {
    await c.close();
  }
});
