/**
 * Fails when a function in `src/` runs over {@linkcode LIMIT} lines, so that every procedure reads
 * in one pass (split a long one into named steps). Uses the TypeScript compiler's parser, which
 * sees every function-like node: declarations, methods, accessors, constructors, arrows.
 *
 * `deno run -R tools/fn_length.ts [dir...]` (default `src`).
 *
 * @module
 */
import ts from "typescript";

/** The most lines a function may span, from its first line to its closing brace. */
export const LIMIT = 80;

/**
 * Functions being split right now, allowed over the limit until then. Remove an entry when its
 * function is split: the check fails on an entry that no longer needs to be here.
 */
const ALLOWED = new Set<string>([]);

/** One function over the limit. */
export interface LongFunction {
  /** The file, relative to the working directory. */
  file: string;
  /** `Class.method`, `function`, or `<anonymous>` with where it sits. */
  name: string;
  /** The line it starts on (1-based). */
  line: number;
  /** How many lines it spans. */
  lines: number;
}

function nameOf(node: ts.Node, source: ts.SourceFile): string {
  const own = (n: ts.Node): string | undefined => {
    const named = n as { name?: ts.Node };
    if (ts.isConstructorDeclaration(n)) return "constructor";
    if (named.name && (ts.isIdentifier(named.name) || ts.isPrivateIdentifier(named.name))) {
      return named.name.text;
    }
    if (named.name && ts.isStringLiteral(named.name)) return named.name.text;
    const parent = n.parent;
    if (parent && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) {
      return parent.name.text;
    }
    if (parent && ts.isPropertyAssignment(parent) && ts.isIdentifier(parent.name)) {
      return parent.name.text;
    }
    return undefined;
  };
  const parts = [own(node) ?? `<anonymous@${lineOf(node, source)}>`];
  for (let p = node.parent; p; p = p.parent) {
    if ((ts.isClassDeclaration(p) || ts.isClassExpression(p)) && p.name) {
      parts.unshift(p.name.text);
      break;
    }
  }
  return parts.join(".");
}

function lineOf(node: ts.Node, source: ts.SourceFile): number {
  return source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
}

function isFunctionLike(node: ts.Node): node is ts.FunctionLikeDeclaration {
  return ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) || ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node) || ts.isArrowFunction(node) ||
    ts.isFunctionExpression(node);
}

/**
 * Lists the functions of one file that span more than `limit` lines.
 *
 * @param file The file's path, as reported.
 * @param text The file's text.
 * @param limit The most lines allowed.
 * @returns The long functions, outermost first.
 *
 * @example One short function
 * ```ts
 * import { longFunctions } from "./fn_length.ts";
 * console.log(longFunctions("a.ts", "function f() {\n  return 1;\n}\n", 80)); // []
 * ```
 */
export function longFunctions(file: string, text: string, limit: number): LongFunction[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (isFunctionLike(node) && node.body) {
      const start = lineOf(node, source);
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line + 1;
      const lines = end - start + 1;
      if (lines > limit) found.push({ file, name: nameOf(node, source), line: start, lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* tsFiles(path);
    else if (entry.isFile && path.endsWith(".ts")) yield path;
  }
}

async function main(dirs: string[]): Promise<number> {
  const problems: string[] = [];
  const used = new Set<string>();
  for (const dir of dirs) {
    for await (const file of tsFiles(dir)) {
      for (const f of longFunctions(file, await Deno.readTextFile(file), LIMIT)) {
        const key = `${f.file} ${f.name}`;
        if (ALLOWED.has(key)) {
          used.add(key);
          continue;
        }
        problems.push(`${f.file}:${f.line} ${f.name} spans ${f.lines} lines (limit ${LIMIT})`);
      }
    }
  }
  for (const key of ALLOWED) {
    if (dirs.some((d) => key.startsWith(`${d}/`)) && !used.has(key)) {
      problems.push(
        `${key} is within ${LIMIT} lines now: remove it from ALLOWED in tools/fn_length.ts`,
      );
    }
  }
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(
      `${problems.length} function(s) over ${LIMIT} lines: split them into named steps.`,
    );
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args.length > 0 ? Deno.args : ["src"]));
}
