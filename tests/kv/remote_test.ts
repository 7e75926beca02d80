/**
 * A KV Connect URL as `path` (one Deno KV database shared by apps, as on Deno Deploy) opens the
 * remote database and makes nothing on the local disk: no folder, no doorbell.
 */
import { assertEquals, assertStringIncludes } from "@std/assert";

Deno.test("createKvBackend() with a KV Connect URL makes no local folders", async () => {
  const cwd = await Deno.makeTempDir({ prefix: "herald-remote-" });
  const script = `
    import { kv } from "${new URL("../../mod.ts", import.meta.url).href}";
    const b = createKvBackend({ path: "http://127.0.0.1:9/db" });
    try { await b.streams(); } catch (e) { console.log("failed:", e.message); }
    await b.close().catch(() => {});
  `;
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--config", new URL("../../deno.json", import.meta.url).pathname, script],
      cwd,
      env: { DENO_KV_ACCESS_TOKEN: "not-a-real-token" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    // It did try the URL (nothing listens there).
    assertStringIncludes(text, "127.0.0.1:9");
    assertEquals([...Deno.readDirSync(cwd)].map((e) => e.name), []);
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});
