/**
 * End to end, the services as `deno serve` processes: no public JWT secret (dev makes a random
 * one in its data folder; production without `JWT_SECRET` refuses to start), and the login
 * rate limit per account and per client address, held in Auth's database across a restart.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { sign } from "hono/jwt";
import { join } from "node:path";
import { freePort, launch } from "../../services/shared/launch.ts";
import { api, Cluster, register } from "./_cluster.ts";
import { until } from "./_poll.ts";

Deno.test("a service with HERALD_ENV=production and no JWT_SECRET exits non-zero saying why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "herald-prod-" });
  try {
    const lines: string[] = [];
    const auth = launch("auth", {
      port: freePort(),
      env: {
        HERALD_ENV: "production",
        JWT_SECRET: "",
        HERALD_DATA_DIR: join(dir, "data"),
        HERALD_BUS_PATH: join(dir, "bus.sqlite"),
      },
      onLine: (line) => lines.push(line),
    });
    const status = await auth.exited;
    assertEquals(status.code, 1);
    assertStringIncludes(lines.join("\n"), "[auth] refusing to start: JWT_SECRET must be set");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without JWT_SECRET, dev signs with a random secret kept in its data folder, not a public default", async () => {
  const c = await Cluster.start("kv", { env: { JWT_SECRET: "" } });
  try {
    const secretFile = join(c.env.HERALD_DATA_DIR, "jwt-secret");
    const secret = await Deno.readTextFile(secretFile);
    assert(secret.length >= 40, "a 32-byte secret, base64");
    assertEquals((await Deno.stat(secretFile)).mode! & 0o777, 0o600);
    const ada = await register(c, "Ada");
    // A token of Auth's is good in Users: every service read the same secret.
    await until(
      "Users accepts Auth's token",
      async () =>
        (await api(c.url("users"), "GET", "/users/me", { token: ada.token })).status === 200,
    );
    const now = Math.floor(Date.now() / 1000);
    for (const key of ["herald-dev-secret-change-me", "e2e-secret"]) {
      const forged = await sign({ sub: ada.id, iat: now, exp: now + 60 }, key, "HS256");
      const res = await api(c.url("users"), "GET", "/users/me", { token: forged });
      assertEquals(res.status, 401, `a token signed with "${key}" was accepted`);
    }
  } catch (err) {
    console.error(c.logs.slice(-40).join("\n"));
    throw err;
  } finally {
    await c.close();
  }
});

/** Logs in from a given loopback address (curl binds it), so the server sees that client. */
async function loginFrom(
  from: string,
  url: string,
  email: string,
  password: string,
): Promise<{ status: number; retryAfter: string | null }> {
  const out = await new Deno.Command("curl", {
    args: [
      "-s",
      "-o",
      "/dev/null",
      "-D",
      "-",
      "--interface",
      from,
      "-H",
      "content-type: application/json",
      "-d",
      JSON.stringify({ email, password }),
      `${url}/login`,
    ],
  }).output();
  const head = new TextDecoder().decode(out.stdout);
  const status = Number(head.match(/^HTTP\/[\d.]+ (\d+)/)?.[1]);
  const retryAfter = head.match(/^retry-after: *(\d+)/im)?.[1] ?? null;
  return { status, retryAfter };
}

Deno.test("after 10 failed logins for an account, or from an address, Auth answers 429 with Retry-After, also after a restart", async () => {
  // Listening on every interface of this machine, so curl can come from 127.0.0.x.
  const c = await Cluster.start("kv", { hostname: "0.0.0.0" });
  try {
    const [ada, bob] = await Promise.all([register(c, "Ada"), register(c, "Bob")]);
    const auth = c.url("auth");
    for (let i = 0; i < 10; i++) {
      assertEquals((await loginFrom("127.0.0.2", auth, ada.email, "wrong password")).status, 401);
    }
    // The account is blocked, from anywhere, even with the right password.
    const blocked = await loginFrom("127.0.0.3", auth, ada.email, ada.password);
    assertEquals(blocked.status, 429);
    assert(Number(blocked.retryAfter) > 800 && Number(blocked.retryAfter) <= 900);
    // Bob is not blocked from 127.0.0.3.
    assertEquals((await loginFrom("127.0.0.3", auth, bob.email, bob.password)).status, 200);

    // Ten failures from one address, each for another (unknown) account: the address is blocked.
    for (let i = 0; i < 10; i++) {
      const r = await loginFrom("127.0.0.4", auth, `nobody${i}@example.com`, "guess");
      assertEquals(r.status, 401);
    }
    const fromBad = await loginFrom("127.0.0.4", auth, bob.email, bob.password);
    assertEquals(fromBad.status, 429);
    assertMatch(fromBad.retryAfter ?? "", /^\d+$/);
    assertEquals((await loginFrom("127.0.0.5", auth, bob.email, bob.password)).status, 200);

    await c.stop("auth");
    await c.start("auth");
    assertEquals((await loginFrom("127.0.0.6", auth, ada.email, ada.password)).status, 429);
    assertEquals((await loginFrom("127.0.0.4", auth, bob.email, bob.password)).status, 429);
  } catch (err) {
    console.error(c.logs.slice(-40).join("\n"));
    throw err;
  } finally {
    await c.close();
  }
});
