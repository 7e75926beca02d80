/**
 * Writes `deno.compat.json` beside `deno.json`: the same configuration less what an older Deno
 * refuses (`test.sanitizeOps`, `test.sanitizeResources`: Deno 2.5 knows neither, and runs its
 * sanitizers by default), with the lock file off so that the older Deno does not rewrite
 * `deno.lock` for the pinned one. Prints the files of the package's exports (`mod.ts` and every
 * subpath), one a line, for the type check. Run by `.ci/run` before the Deno 2.5 checks.
 *
 * @module
 */
const root = new URL("../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
delete config.test?.sanitizeOps;
delete config.test?.sanitizeResources;
config.lock = false;
await Deno.writeTextFile(new URL("deno.compat.json", root), JSON.stringify(config, null, 2) + "\n");
for (const path of Object.values(config.exports as Record<string, string>)) console.log(path);
