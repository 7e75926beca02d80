/**
 * `deno task dev` (services/dev.ts) starts the four services and stops them all on Ctrl-C.
 */
import { assert, assertEquals } from "@std/assert";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { until } from "./_poll.ts";

const DEV = fileURLToPath(new URL("../../services/dev.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));

/** A first port with the next three free too. */
function fourFreePorts(): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const listeners: Deno.Listener[] = [];
    try {
      for (let i = 0; i < 4; i++) listeners.push(Deno.listen({ port: base + i }));
      return base;
    } catch {
      // taken: try another
    } finally {
      for (const l of listeners) l.close();
    }
  }
  throw new Error("No four free ports in a row");
}

Deno.test("`deno task dev` serves the four services on 127.0.0.1 with a secret of its own, and stops them all on SIGINT", async () => {
  const dir = await Deno.makeTempDir({ prefix: "herald-dev-" });
  const base = fourFreePorts();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, DEV],
    env: {
      HERALD_PORT: String(base),
      HERALD_DATA_DIR: join(dir, "data"),
      HERALD_BUS_PATH: join(dir, "bus.sqlite"),
      PBKDF2_ITERATIONS: "1000",
      JWT_SECRET: "",
      NO_COLOR: "1",
    },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let out = "";
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) out += chunk;
  })();
  try {
    await until("dev: ready", () => out.includes("dev: ready"), 60_000);
    for (const [i, name] of ["auth", "users", "posts", "chat"].entries()) {
      const url = `http://127.0.0.1:${base + i}`;
      assert(out.includes(`Listening on ${url}/`), `${name} does not listen on 127.0.0.1: ${out}`);
      assert(out.includes(`  ${name.padEnd(5)} ${url}`), `${name}'s printed URL`);
    }
    assert(!out.includes("0.0.0.0"), out);
    const secret = await Deno.stat(join(dir, "data", "jwt-secret"));
    assertEquals(secret.mode! & 0o777, 0o600);
    for (const [i, name] of ["auth", "users", "posts", "chat"].entries()) {
      const res = await fetch(`http://127.0.0.1:${base + i}/healthz`);
      await res.body?.cancel();
      assertEquals(res.status, 200, name);
    }
    const reg = await fetch(`http://127.0.0.1:${base}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "dev@example.com", password: "long enough", name: "Dev" }),
    });
    assertEquals(reg.status, 201);
    await reg.body?.cancel();
    // What Ctrl-C does: the services run in their own process groups, so only dev.ts gets it.
    child.kill("SIGINT");
    const status = await child.status;
    await reading;
    assertEquals(status.code, 0);
    assert(out.includes("dev: all stopped"), out);
    for (const name of ["auth", "users", "posts", "chat"]) {
      assert(out.includes(`${name.padEnd(5)} | [${name}] shut down`), `${name} did not shut down`);
    }
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await child.status;
    await reading;
    await Deno.remove(dir, { recursive: true });
  }
});
