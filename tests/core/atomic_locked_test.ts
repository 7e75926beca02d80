/**
 * `bus.atomic(db).commit()` on a Deno KV file shared by many processes (replicas of a service):
 * SQLite's "database is locked" is retried inside, never thrown to the caller.
 *
 * @module
 */
import { assertEquals } from "@std/assert";

Deno.test("bus.atomic(db).commit() never throws 'database is locked' with 12 processes on one file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "herald-locked-" });
  const path = `${dir}/service.sqlite3`;
  (await Deno.openKv(path)).close();
  const script = new URL("./_committer.ts", import.meta.url).pathname;
  const commits = 150;
  try {
    const outputs = await Promise.all(
      Array.from({ length: 12 }, () =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", script, path, String(commits)],
          stdout: "piped",
          stderr: "inherit",
        }).output()),
    );
    const results = outputs.map((o) =>
      JSON.parse(new TextDecoder().decode(o.stdout).trim().split("\n").at(-1)!) as {
        ok: number;
        threw: number;
        errors: string[];
      }
    );
    const threw = results.reduce((n, r) => n + r.threw, 0);
    assertEquals(threw, 0, `commits threw: ${results.flatMap((r) => r.errors).join(" | ")}`);
    assertEquals(results.map((r) => r.ok), results.map(() => commits));
    const db = await Deno.openKv(path);
    let notes = 0;
    for await (const _ of db.list({ prefix: ["notes"] })) notes++;
    db.close();
    assertEquals(notes, 12 * commits);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
