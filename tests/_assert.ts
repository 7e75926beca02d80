/**
 * A small stand-in for `jsr:@std/assert@^1` over `node:assert`, because JSR is not reachable
 * where Herald is built. On a machine that reaches JSR, map `@std/assert` to
 * `jsr:@std/assert@^1` in `deno.json`; the names and meanings below match it.
 *
 * @module
 */
import nodeAssert from "node:assert/strict";

/** Thrown when an assertion fails. */
export class AssertionError extends Error {
  /** @param message What failed. */
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function wrap(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof nodeAssert.AssertionError) throw new AssertionError(err.message);
    throw err;
  }
}

/** Asserts that `actual` is truthy. */
export function assert(actual: unknown, msg?: string): asserts actual {
  if (!actual) throw new AssertionError(msg ?? "Expected actual to be truthy");
}

/** Asserts deep equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  wrap(() => nodeAssert.deepStrictEqual(actual, expected, msg));
}

/** Asserts deep inequality. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  wrap(() => nodeAssert.notDeepStrictEqual(actual, expected, msg));
}

/** Asserts `Object.is` equality. */
export function assertStrictEquals<T>(actual: unknown, expected: T, msg?: string): void {
  wrap(() => nodeAssert.strictEqual(actual, expected, msg));
}

/** Asserts that `actual` is not null or undefined. */
export function assertExists<T>(actual: T, msg?: string): asserts actual is NonNullable<T> {
  if (actual === null || actual === undefined) {
    throw new AssertionError(msg ?? `Expected actual to not be null or undefined`);
  }
}

/** Asserts that `actual` is greater than `expected`. */
export function assertGreater<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual > expected)) throw new AssertionError(msg ?? `Expected ${actual} > ${expected}`);
}

/** Asserts that `actual` is greater than or equal to `expected`. */
export function assertGreaterOrEqual<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual >= expected)) throw new AssertionError(msg ?? `Expected ${actual} >= ${expected}`);
}

/** Asserts that `actual` is less than or equal to `expected`. */
export function assertLessOrEqual<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual <= expected)) throw new AssertionError(msg ?? `Expected ${actual} <= ${expected}`);
}

/** Asserts that `actual` includes `expected`. */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  if (!actual.includes(expected)) {
    throw new AssertionError(msg ?? `Expected "${actual}" to include "${expected}"`);
  }
}

/** Asserts that `actual` matches the regular expression. */
export function assertMatch(actual: string, expected: RegExp, msg?: string): void {
  if (!expected.test(actual)) {
    throw new AssertionError(msg ?? `Expected "${actual}" to match ${expected}`);
  }
}

/** Asserts that `actual` contains every element of `expected`. */
export function assertArrayIncludes<T>(
  actual: ArrayLike<T>,
  expected: ArrayLike<T>,
  msg?: string,
): void {
  const list = Array.from(actual);
  for (const item of Array.from(expected)) {
    if (!list.some((x) => isDeepEqual(x, item))) {
      throw new AssertionError(msg ?? `Expected array to include ${JSON.stringify(item)}`);
    }
  }
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    nodeAssert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

/** Asserts that `actual` is an instance of `expectedType`. */
export function assertInstanceOf<T extends abstract new (...args: never[]) => unknown>(
  actual: unknown,
  expectedType: T,
  msg?: string,
): asserts actual is InstanceType<T> {
  if (!(actual instanceof expectedType)) {
    throw new AssertionError(msg ?? `Expected object to be an instance of "${expectedType.name}"`);
  }
}

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

/** Asserts that `fn` throws, optionally of a class and with a message part; returns the error. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  ErrorClass?: ErrorClass<E>,
  msgIncludes?: string,
): E {
  try {
    fn();
  } catch (err) {
    checkError(err, ErrorClass, msgIncludes);
    return err as E;
  }
  throw new AssertionError("Expected function to throw.");
}

/** Asserts that `fn` rejects, optionally of a class and with a message part; returns the error. */
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  ErrorClass?: ErrorClass<E>,
  msgIncludes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    checkError(err, ErrorClass, msgIncludes);
    return err as E;
  }
  throw new AssertionError("Expected function to reject.");
}

function checkError<E extends Error>(
  err: unknown,
  ErrorClass?: ErrorClass<E>,
  msgIncludes?: string,
): void {
  if (ErrorClass && !(err instanceof ErrorClass)) {
    throw new AssertionError(
      `Expected error to be instance of "${ErrorClass.name}", but was "${
        (err as Error)?.name ?? typeof err
      }": ${(err as Error)?.message}`,
    );
  }
  if (msgIncludes && !String((err as Error)?.message).includes(msgIncludes)) {
    throw new AssertionError(
      `Expected error message to include "${msgIncludes}", but got "${(err as Error)?.message}"`,
    );
  }
}

/** Always fails: marks code that must not be reached. */
export function fail(msg?: string): never {
  throw new AssertionError(`Failed assertion${msg ? `: ${msg}` : "."}`);
}
