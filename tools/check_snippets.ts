/**
 * Type-checks every ```ts block of the user docs (README.md, docs/*.md, and the other guides
 * listed in {@linkcode DEFAULT_FILES}), so that the examples users copy keep compiling as the API
 * changes. Each block becomes its own module in a temporary folder, checked with this project's
 * deno.json (so `@herald/herald` and `zod` resolve as in an app). A block whose first line names
 * a file (`// contracts.ts — …`) is written under that name, so the later blocks of the same page
 * can import it (`import { UserCreated } from "./contracts.ts";`). A block fenced as
 * ```` ```ts ignore ```` is skipped; a block that needs names from elsewhere declares them
 * (`declare const db: Deno.Kv;`).
 *
 * `deno run -A tools/check_snippets.ts [file.md...]`
 *
 * @module
 */

/** The Markdown files whose snippets are checked when none are named. */
export const DEFAULT_FILES = [
  "README.md",
  "CONTRIBUTING.md",
  "bench/README.md",
  "services/README.md",
];

/** One fenced TypeScript block. */
export interface Snippet {
  /** The Markdown file it sits in. */
  file: string;
  /** The line of its opening fence (1-based). */
  line: number;
  /** Its code. */
  code: string;
  /** The file name its first line gives (`// contracts.ts`), if any. */
  name?: string;
}

/**
 * Finds the ```ts blocks of a Markdown text, leaving out those fenced as `ts ignore`.
 *
 * @param file The file's path, as reported.
 * @param text Its Markdown.
 * @returns The blocks, in order.
 *
 * @example One block
 * ```ts ignore
 * import { snippets } from "./check_snippets.ts";
 * console.log(snippets("a.md", "# A\n```ts\nconst a = 1;\n```\n").length); // 1
 * ```
 */
export function snippets(file: string, text: string): Snippet[] {
  const found: Snippet[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(ts|typescript)(\s+\S.*)?\s*$/.exec(lines[i]);
    if (!open) continue;
    const indent = open[1];
    const ignored = /\bignore\b/.test(open[3] ?? "");
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && lines[j].trim() !== "```"; j++) {
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j]);
    }
    const name = /^\/\/ ([\w.-]+\.tsx?)\b/.exec(body[0] ?? "")?.[1];
    if (!ignored) found.push({ file, line: i + 1, code: body.join("\n"), name });
    i = j;
  }
  return found;
}

async function markdownFiles(args: string[]): Promise<string[]> {
  if (args.length > 0) return args;
  const files: string[] = [];
  for (const f of DEFAULT_FILES) {
    try {
      if ((await Deno.stat(f)).isFile) files.push(f);
    } catch { /* a guide not written yet */ }
  }
  try {
    for await (const e of Deno.readDir("docs")) {
      if (e.isFile && e.name.endsWith(".md")) files.push(`docs/${e.name}`);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return files.sort();
}

async function main(args: string[]): Promise<number> {
  const config = new URL("../deno.json", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "herald-snippets-" });
  try {
    const where = new Map<string, Snippet>();
    for (const file of await markdownFiles(args)) {
      // One folder per page: its named blocks import each other, never another page's.
      const page = `${dir}/${file.replaceAll(/[^A-Za-z0-9]/g, "_")}`;
      await Deno.mkdir(page);
      for (const s of snippets(file, await Deno.readTextFile(file))) {
        const name = `${page}/${s.name ?? `block_${s.line}.ts`}`;
        if (where.has(name)) throw new Error(`${file}: two blocks are named ${s.name}`);
        await Deno.writeTextFile(name, `${s.code}\nexport {};\n`);
        where.set(name, s);
      }
    }
    if (where.size === 0) return 0;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "--config", config, ...where.keys()],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (out.success) {
      console.log(`${where.size} snippets type-check`);
      return 0;
    }
    let report = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    for (const [name, s] of where) {
      report = report.replaceAll(`file://${name}`, name).replaceAll(
        name,
        `${s.file} (block at line ${s.line})`,
      );
    }
    console.error(report);
    console.error(
      "A docs snippet does not type-check. Make the block whole (declare what it uses from " +
        "elsewhere: `declare const db: Deno.Kv;`), name a block other blocks import with a first " +
        "line `// name.ts`, or fence a block that is not TypeScript to check as ```ts ignore.",
    );
    return 1;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
