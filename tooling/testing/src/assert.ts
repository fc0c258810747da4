// Assertions with the names, argument order and semantics of Deno's @std/assert.
import { isDeepStrictEqual } from "node:util";
import { diff, format } from "./_diff.ts";

/** Thrown by every failing assertion. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

function suffix(msg: string | undefined): string {
  return msg ? `: ${msg}` : "";
}

/** Deep equality as the assertions use it: structural, strict on types (NaN equals NaN). */
export function equal(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b);
}

/** Asserts that `expr` is truthy. */
export function assert(expr: unknown, msg = ""): asserts expr {
  if (!expr) throw new AssertionError(msg || "Expected expression to be true");
}

/** Asserts that `expr` is falsy. */
export function assertFalse(expr: unknown, msg = ""): void {
  if (expr) throw new AssertionError(msg || "Expected expression to be false");
}

/** Asserts deep, type-strict equality; the message carries a line diff. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (equal(actual, expected)) return;
  const d = diff(actual, expected);
  throw new AssertionError(
    `Values are not equal${suffix(msg)}${d || `\n\n    actual:   ${format(actual)}\n    expected: ${format(expected)}\n`}`,
  );
}

/** Asserts that the values are not deeply equal. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!equal(actual, expected)) return;
  throw new AssertionError(
    `Expected actual: ${format(actual)} not to be: ${format(expected)}${suffix(msg)}`,
  );
}

/** Asserts `Object.is(actual, expected)`. */
export function assertStrictEquals<T>(
  actual: unknown,
  expected: T,
  msg?: string,
): asserts actual is T {
  if (Object.is(actual, expected)) return;
  const same = format(actual) === format(expected);
  const detail = same
    ? `\n\n    "${format(actual)}"\n\n    (values have the same structure but are not reference-equal)\n`
    : diff(actual, expected);
  throw new AssertionError(`Values are not strictly equal${suffix(msg)}${detail}`);
}

/** Asserts `!Object.is(actual, expected)`. */
export function assertNotStrictEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!Object.is(actual, expected)) return;
  throw new AssertionError(
    `Expected "actual" to not be strictly equal to: ${format(expected)}${suffix(msg)}`,
  );
}

/** Asserts that the value is neither null nor undefined. */
export function assertExists<T>(actual: T, msg?: string): asserts actual is NonNullable<T> {
  if (actual === undefined || actual === null) {
    throw new AssertionError(msg || `Expected actual: "${actual}" to not be null or undefined.`);
  }
}

/** Asserts that `actual` matches the regular expression. */
export function assertMatch(actual: string, expected: RegExp, msg?: string): void {
  if (expected.test(actual)) return;
  throw new AssertionError(msg || `Expected actual: "${actual}" to match: "${expected}".`);
}

/** Asserts that `actual` does not match the regular expression. */
export function assertNotMatch(actual: string, expected: RegExp, msg?: string): void {
  if (!expected.test(actual)) return;
  throw new AssertionError(msg || `Expected actual: "${actual}" to not match: "${expected}".`);
}

/** Asserts that `actual` contains `expected` as a substring. */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  if (actual.includes(expected)) return;
  throw new AssertionError(msg || `Expected actual: "${actual}" to contain: "${expected}".`);
}

// biome-ignore lint/suspicious/noExplicitAny: constructors of any shape are accepted, as in Deno.
type AnyConstructor = abstract new (...args: any[]) => any;

/** Asserts that `actual` is an instance of `expectedType`. */
export function assertInstanceOf<T extends AnyConstructor>(
  actual: unknown,
  expectedType: T,
  msg?: string,
): asserts actual is InstanceType<T> {
  if (actual instanceof expectedType) return;
  const actualName =
    actual === null
      ? "null"
      : actual === undefined
        ? "undefined"
        : ((actual as object).constructor?.name ?? typeof actual);
  throw new AssertionError(
    msg || `Expected object to be an instance of "${expectedType.name}" but was "${actualName}".`,
  );
}

/** Asserts that `actual` is not an instance of `unexpectedType`. */
export function assertNotInstanceOf(
  actual: unknown,
  unexpectedType: AnyConstructor,
  msg?: string,
): void {
  if (!(actual instanceof unexpectedType)) return;
  throw new AssertionError(
    msg || `Expected object to not be an instance of "${unexpectedType.name}".`,
  );
}

/**
 * Asserts that two numbers are within `tolerance` of each other. The default
 * tolerance is one hundred-millionth of the expected value, as in Deno.
 */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance?: number,
  msg?: string,
): void {
  if (Object.is(actual, expected)) return;
  const delta = Math.abs(expected - actual);
  const tol = tolerance ?? Math.abs(expected) / 1e8;
  if (delta <= tol) return;
  throw new AssertionError(
    `Expected actual: "${actual}" to be close to "${expected}": delta "${delta.toExponential()}" is greater than "${tol.toExponential()}"${suffix(msg)}`,
  );
}

/** Asserts that every element of `expected` is deeply equal to some element of `actual`. */
export function assertArrayIncludes<T>(
  actual: ArrayLike<T>,
  expected: ArrayLike<T>,
  msg?: string,
): void {
  const missing: T[] = [];
  for (let i = 0; i < expected.length; i++) {
    let found = false;
    for (let j = 0; j < actual.length; j++) {
      if (equal(expected[i], actual[j])) {
        found = true;
        break;
      }
    }
    if (!found) missing.push(expected[i] as T);
  }
  if (missing.length === 0) return;
  throw new AssertionError(
    `Expected actual: "${format(actual)}" to include: "${format(expected)}"${suffix(msg)}\nmissing: ${format(missing)}`,
  );
}

function subset(actual: unknown, expected: unknown): unknown {
  if (Array.isArray(expected) && Array.isArray(actual)) {
    return expected.map((e, i) => subset(actual[i], e));
  }
  if (
    expected !== null &&
    typeof expected === "object" &&
    actual !== null &&
    typeof actual === "object"
  ) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(expected)) {
      if (key in actual)
        out[key] = subset(
          (actual as Record<string, unknown>)[key],
          (expected as Record<string, unknown>)[key],
        );
    }
    return out;
  }
  return actual;
}

/** Asserts that `actual` contains every property of `expected` with equal values (recursively). */
export function assertObjectMatch(actual: object, expected: object, msg?: string): void {
  const picked = subset(actual, expected);
  if (equal(picked, expected)) return;
  throw new AssertionError(`Values are not equal${suffix(msg)}${diff(picked, expected)}`);
}

/** Asserts `actual > expected`. */
export function assertGreater<T>(actual: T, expected: T, msg?: string): void {
  if (actual > expected) return;
  throw new AssertionError(msg || `Expect ${format(actual)} > ${format(expected)}`);
}

/** Asserts `actual >= expected`. */
export function assertGreaterOrEqual<T>(actual: T, expected: T, msg?: string): void {
  if (actual >= expected) return;
  throw new AssertionError(msg || `Expect ${format(actual)} >= ${format(expected)}`);
}

/** Asserts `actual < expected`. */
export function assertLess<T>(actual: T, expected: T, msg?: string): void {
  if (actual < expected) return;
  throw new AssertionError(msg || `Expect ${format(actual)} < ${format(expected)}`);
}

/** Asserts `actual <= expected`. */
export function assertLessOrEqual<T>(actual: T, expected: T, msg?: string): void {
  if (actual <= expected) return;
  throw new AssertionError(msg || `Expect ${format(actual)} <= ${format(expected)}`);
}

/** Asserts that `error` is an Error, optionally of a class and with a message substring. */
export function assertIsError<E extends Error = Error>(
  error: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: as in Deno.
  ErrorClass?: new (...args: any[]) => E,
  msgIncludes?: string,
  msg?: string,
): asserts error is E {
  const s = suffix(msg);
  if (!(error instanceof Error)) {
    throw new AssertionError(`Expected "error" to be an Error object${s}`);
  }
  if (ErrorClass && !(error instanceof ErrorClass)) {
    throw new AssertionError(
      `Expected error to be instance of "${ErrorClass.name}", but was "${error.constructor.name}"${s}`,
    );
  }
  if (msgIncludes !== undefined && !error.message.includes(msgIncludes)) {
    throw new AssertionError(
      `Expected error message to include ${JSON.stringify(msgIncludes)}, but got ${JSON.stringify(error.message)}${s}`,
    );
  }
}

/** Asserts that `fn` throws; returns what was thrown. */
export function assertThrows(fn: () => unknown, msg?: string): unknown;
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  // biome-ignore lint/suspicious/noExplicitAny: as in Deno.
  ErrorClass: new (...args: any[]) => E,
  msgIncludes?: string,
  msg?: string,
): E;
export function assertThrows(
  fn: () => unknown,
  // biome-ignore lint/suspicious/noExplicitAny: as in Deno.
  classOrMsg?: string | (new (...args: any[]) => Error),
  msgIncludes?: string,
  msg?: string,
): unknown {
  const ErrorClass = typeof classOrMsg === "function" ? classOrMsg : undefined;
  const message = typeof classOrMsg === "string" ? classOrMsg : msg;
  let thrown = false;
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    thrown = true;
    caught = e;
  }
  if (!thrown) throw new AssertionError(`Expected function to throw${suffix(message)}`);
  if (ErrorClass) assertIsError(caught, ErrorClass, msgIncludes, message);
  return caught;
}

/** Asserts that `fn` returns a promise that rejects; resolves to the rejection. */
export function assertRejects(fn: () => PromiseLike<unknown>, msg?: string): Promise<unknown>;
export function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  // biome-ignore lint/suspicious/noExplicitAny: as in Deno.
  ErrorClass: new (...args: any[]) => E,
  msgIncludes?: string,
  msg?: string,
): Promise<E>;
export async function assertRejects(
  fn: () => PromiseLike<unknown>,
  // biome-ignore lint/suspicious/noExplicitAny: as in Deno.
  classOrMsg?: string | (new (...args: any[]) => Error),
  msgIncludes?: string,
  msg?: string,
): Promise<unknown> {
  const ErrorClass = typeof classOrMsg === "function" ? classOrMsg : undefined;
  const message = typeof classOrMsg === "string" ? classOrMsg : msg;
  let rejected = false;
  let caught: unknown;
  try {
    const p = fn();
    if (!p || typeof (p as PromiseLike<unknown>).then !== "function") {
      throw new AssertionError(`Function throws when expected to reject${suffix(message)}`);
    }
    await p;
  } catch (e) {
    if (e instanceof AssertionError && e.message.startsWith("Function throws")) throw e;
    rejected = true;
    caught = e;
  }
  if (!rejected) throw new AssertionError(`Expected function to reject${suffix(message)}`);
  if (ErrorClass) assertIsError(caught, ErrorClass, msgIncludes, message);
  return caught;
}

/** Always fails. */
export function fail(msg?: string): never {
  throw new AssertionError(`Failed assertion${suffix(msg)}`);
}

/** Marks code that must never run. */
export function unreachable(msg?: string): never {
  throw new AssertionError(msg ?? "unreachable");
}

/** Marks code that is not written yet (a failing assertion, never a silent pass). */
export function unimplemented(msg?: string): never {
  throw new AssertionError(`Unimplemented${suffix(msg)}`);
}
