/**
 * A worker process killed with SIGKILL replays at most what was in flight plus the ack window:
 * an event whose handler finished longer than the window before the kill is never handled again.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { z } from "zod";
import { createBus, defineEvent } from "@herald/herald";
import { createKvBackend } from "../../src/kv/mod.ts";
import { ACK_WINDOW_MS } from "../../src/kv/settle.ts";
import { until } from "../_until.ts";
import { tempDb } from "./_helpers.ts";

const Tick = defineEvent({ stream: "ticks", type: "tick", schema: z.object({ i: z.number() }) });

/** Room for a loaded machine's timers and a commit waiting on other processes, in ms. */
const SLACK_MS = 1_000;

interface Line {
  kind: "ready" | "start" | "done";
  i: number;
  at: number;
}

/** `_acker.ts` in its own process, its lines collected as they arrive. */
function acker(path: string, name: string) {
  const lines: Line[] = [];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./_acker.ts", import.meta.url).pathname, path, "g", name],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reading = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let n;
      while ((n = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, n);
        buffer = buffer.slice(n + 1);
        if (line.startsWith("{")) lines.push(JSON.parse(line));
      }
    }
  })();
  return { lines, child, reading };
}

Deno.test("a worker killed with SIGKILL replays only what was in flight or acked in the last window", async () => {
  const db = await tempDb();
  const bus = createBus({ backend: createKvBackend({ path: db.path }), source: "t" });
  const doomed = acker(db.path, "doomed");
  let heir: ReturnType<typeof acker> | undefined;
  try {
    await bus.backend.subscribe("g", ["ticks"], "earliest");
    await until(() => doomed.lines.some((l) => l.kind === "ready"), 30_000);
    // A steady stream of events, handled as they come (no claim may follow the last acks).
    let published = 0;
    const publishing = (async () => {
      while (published < 2_000) {
        const batch = Array.from(
          { length: 10 },
          () => ({ contract: Tick, data: { i: published++ } }),
        );
        await bus.publishMany(batch);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await until(() => doomed.lines.filter((l) => l.kind === "done").length >= 500, 60_000, 1);
    doomed.child.kill("SIGKILL");
    const killedAt = Date.now();
    await doomed.child.status;
    await doomed.reading;
    await publishing;

    const doneAt = new Map<number, number>();
    for (const l of doomed.lines) if (l.kind === "done") doneAt.set(l.i, l.at);
    const started = new Set(doomed.lines.filter((l) => l.kind === "start").map((l) => l.i));
    const inFlight = [...started].filter((i) => !doneAt.has(i)).length;

    heir = acker(db.path, "heir");
    const handled = new Set(doneAt.keys());
    await until(() => {
      for (const l of heir!.lines) if (l.kind === "done") handled.add(l.i);
      return handled.size === published;
    }, 60_000);
    const replayed = heir.lines.filter((l) => l.kind === "start" && doneAt.has(l.i));
    const ages = replayed.map((l) => killedAt - doneAt.get(l.i)!);
    const window = ACK_WINDOW_MS + SLACK_MS;
    const recent = [...doneAt.values()].filter((at) => killedAt - at <= window).length;
    console.log(
      `replayed ${replayed.length} handled events (acked up to ${Math.max(0, ...ages)} ms ` +
        `before the kill), ${inFlight} in flight`,
    );
    assertEquals(ages.filter((age) => age > window), [], "an event acked long before was replayed");
    assert(replayed.length <= recent, `${replayed.length} replays, ${recent} acked in the window`);
  } finally {
    if (heir) {
      heir.child.kill("SIGTERM");
      await heir.child.status;
      await heir.reading;
    }
    await bus.close();
    await db.cleanup();
  }
});
