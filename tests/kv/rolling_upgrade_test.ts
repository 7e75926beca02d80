/**
 * A rolling upgrade of a contract: producers still on version 1 and producers on version 2
 * publish at once, in their own processes, into a consumer process already on version 2.
 */
import { assert, assertEquals } from "@std/assert";
import { createKvBackend } from "../../src/kv/mod.ts";

const SCRIPT = new URL("./_evolve.ts", import.meta.url).pathname;
const EACH = 150;

function spawn(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

async function readLines(child: Deno.ChildProcess, each: (line: string) => void): Promise<void> {
  let rest = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    parts.forEach(each);
  }
  if (rest) each(rest);
}

Deno.test("old producers and new consumers at once: every event handled, nothing dead-lettered", async () => {
  const dir = await Deno.makeTempDir({ prefix: "herald-evolve-" });
  const path = `${dir}/bus.db`;
  try {
    const handled: { id: string; first: string; last: string; dataversion: number }[] = [];
    const ready = Promise.withResolvers<void>();
    const consumer = spawn(["consume", path, String(EACH * 2)]);
    const reading = readLines(consumer, (line) => {
      const value = JSON.parse(line);
      if (value.ready) ready.resolve();
      else handled.push(value);
    });
    await ready.promise;
    const producers = [
      spawn(["produce", path, "1", String(EACH), "old"]),
      spawn([
        "produce",
        path,
        "2",
        String(EACH),
        "new",
      ]),
    ];
    for (const p of producers) assertEquals((await p.output()).code, 0);
    // The consumer exits once it handled every event; one dead-lettered keeps it waiting.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), 60_000));
    const status = await Promise.race([consumer.status, late]);
    clearTimeout(timer);
    if (status === "late") consumer.kill("SIGKILL");
    await reading;
    assert(status !== "late", `handled ${handled.length} of ${EACH * 2} within 60 s`);
    assertEquals(status.code, 0);

    assertEquals(new Set(handled.map((h) => h.id)).size, EACH * 2);
    const old = handled.filter((h) => h.id.startsWith("old-"));
    assertEquals(old.length, EACH);
    for (const h of old) {
      const i = h.id.slice(4);
      assertEquals([h.first, h.last, h.dataversion], ["Ada", `${i} Lovelace`, 1]);
    }
    assert(handled.filter((h) => h.id.startsWith("new-")).every((h) => h.dataversion === 2));
    const backend = createKvBackend({ path });
    try {
      assertEquals(await backend.deadLetters("evolve"), []);
    } finally {
      await backend.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
