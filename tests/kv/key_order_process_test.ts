/**
 * Key order across OS processes on one Deno KV file: three worker processes of one group and a
 * publisher process; every key's events are handled one at a time, in publish order.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { tempDb, until } from "./_helpers.ts";

function spawn(script: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(script, import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

/** Waits for a process to print `ready`; what it prints after is drained by `drained`. */
async function ready(child: Deno.ChildProcess): Promise<{ drained: Promise<void> }> {
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("ready")) {
    const { value, done } = await lines.read();
    if (done) throw new Error("The worker process ended before it was ready");
    seen += value;
  }
  const drained = (async () => {
    while (!(await lines.read()).done) { /* drain */ }
  })();
  return { drained };
}

async function logOf(dir: string, key: string): Promise<[number, string][]> {
  try {
    const text = await Deno.readTextFile(`${dir}/${key}.log`);
    return text.trim().split("\n").map((l) => l.split(" ")).map(([n, who]) => [Number(n), who]);
  } catch {
    return [];
  }
}

Deno.test("key order holds across three worker processes and a publisher process on one file", async () => {
  const db = await tempDb();
  const dir = await Deno.makeTempDir({ prefix: "herald-keys-" });
  const total = 600, keys = 12;
  const names = ["w1", "w2", "w3"];
  const workers = names.map((name) =>
    spawn("./_key_consumer.ts", [db.path, "keyed-g", "keyed", dir, name])
  );
  try {
    const drains = await Promise.all(workers.map(ready));
    const publisher = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./_key_publisher.ts", import.meta.url).pathname,
        db.path,
        "keyed",
        String(total),
        String(keys),
      ],
    });
    const published = await publisher.output();
    const told = new TextDecoder().decode(published.stderr);
    assert(published.success, `the publisher ran: ${told}`);
    const count = async () => {
      let n = 0;
      for (let k = 0; k < keys; k++) n += (await logOf(dir, `k${k}`)).length;
      return n;
    };
    await until(async () => await count() >= total, 60_000, 100);
    for (const w of workers) w.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.status));
    await Promise.all(drains.map((d) => d.drained));

    const overlaps = await Deno.readTextFile(`${dir}/overlaps`).catch(() => "");
    assertEquals(overlaps, "", "no two events of one key were handled at once");
    const by = new Set<string>();
    for (let k = 0; k < keys; k++) {
      const log = await logOf(dir, `k${k}`);
      const want = Array.from({ length: total / keys }, (_, i) => k + keys * i);
      assertEquals(log.map(([n]) => n), want, `key k${k} in publish order, each once`);
      for (const [, who] of log) by.add(who);
    }
    assert(by.size >= 2, `the group's processes shared the keys (handled by ${[...by]})`);
  } finally {
    for (const w of workers) {
      try {
        w.kill("SIGKILL");
      } catch { /* already exited */ }
      await w.status;
    }
    await Deno.remove(dir, { recursive: true });
    await db.cleanup();
  }
});
