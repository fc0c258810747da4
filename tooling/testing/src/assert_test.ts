import {
  AssertionError,
  assert,
  assertAlmostEquals,
  assertArrayIncludes,
  assertEquals,
  assertExists,
  assertFalse,
  assertGreater,
  assertGreaterOrEqual,
  assertInstanceOf,
  assertIsError,
  assertLess,
  assertLessOrEqual,
  assertMatch,
  assertNotEquals,
  assertNotMatch,
  assertNotStrictEquals,
  assertObjectMatch,
  assertRejects,
  assertStrictEquals,
  assertStringIncludes,
  assertThrows,
  fail,
  unimplemented,
  unreachable,
} from "./assert.ts";
import { test } from "./test.ts";

/** Runs `fn` and returns the AssertionError message it threw, or fails. */
function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof AssertionError) return e.message;
    throw new Error(`expected an AssertionError, got ${String(e)}`);
  }
  throw new Error("expected the assertion to fail, but it passed");
}

async function asyncFailure(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof AssertionError) return e.message;
    throw new Error(`expected an AssertionError, got ${String(e)}`);
  }
  throw new Error("expected the assertion to fail, but it passed");
}

test("assert() passes on truthy values and fails on falsy ones with the message", () => {
  assert(1);
  assert("x");
  assertEquals(
    failure(() => assert(0)),
    "Expected expression to be true",
  );
  assertEquals(
    failure(() => assert(false, "custom")),
    "custom",
  );
  assertFalse(0);
  assertEquals(
    failure(() => assertFalse(1)),
    "Expected expression to be false",
  );
});

test("assertEquals() compares deeply and strictly, and prints a line diff", () => {
  assertEquals({ a: [1, 2, { b: 3 }] }, { a: [1, 2, { b: 3 }] });
  assertEquals(new Map([[1, "a"]]), new Map([[1, "a"]]));
  assertEquals(Number.NaN, Number.NaN);
  const msg = failure(() => assertEquals({ a: 1, b: 2 }, { a: 1, b: 3 }, "ctx"));
  assertStringIncludes(msg, "Values are not equal: ctx");
  assertStringIncludes(msg, "[Diff] Actual / Expected");
  assertStringIncludes(msg, "-   { a: 1, b: 2 }");
  assertStringIncludes(msg, "+   { a: 1, b: 3 }");
  // type-strict: 1 and "1" differ
  assertStringIncludes(
    failure(() => assertEquals<unknown>(1, "1")),
    "Values are not equal",
  );
});

test("assertNotEquals() fails only on deep equality", () => {
  assertNotEquals({ a: 1 }, { a: 2 });
  assertStringIncludes(
    failure(() => assertNotEquals([1], [1])),
    "not to be: [ 1 ]",
  );
});

test("assertStrictEquals() uses Object.is and says when only references differ", () => {
  const o = { x: 1 };
  assertStrictEquals(o, o);
  assertStrictEquals(Number.NaN, Number.NaN);
  assertStringIncludes(
    failure(() => assertStrictEquals({ x: 1 }, { x: 1 })),
    "not reference-equal",
  );
  assertStringIncludes(
    failure(() => assertStrictEquals(0, -0)),
    "Values are not strictly equal",
  );
  assertNotStrictEquals({ x: 1 }, { x: 1 });
  assertStringIncludes(
    failure(() => assertNotStrictEquals(o, o)),
    "to not be strictly equal",
  );
});

test("assertExists() rejects null and undefined only", () => {
  assertExists(0);
  assertExists("");
  assertEquals(
    failure(() => assertExists(null)),
    'Expected actual: "null" to not be null or undefined.',
  );
  assertEquals(
    failure(() => assertExists(undefined)),
    'Expected actual: "undefined" to not be null or undefined.',
  );
});

test("assertMatch() and assertNotMatch() test regular expressions", () => {
  assertMatch("dma_map_single", /map_/);
  assertEquals(
    failure(() => assertMatch("abc", /z/)),
    'Expected actual: "abc" to match: "/z/".',
  );
  assertNotMatch("abc", /z/);
  assertEquals(
    failure(() => assertNotMatch("abc", /b/)),
    'Expected actual: "abc" to not match: "/b/".',
  );
});

test("assertInstanceOf() names both classes", () => {
  class A {}
  class B {}
  assertInstanceOf(new A(), A);
  assertEquals(
    failure(() => assertInstanceOf(new B(), A)),
    'Expected object to be an instance of "A" but was "B".',
  );
  assertEquals(
    failure(() => assertInstanceOf(null, A)),
    'Expected object to be an instance of "A" but was "null".',
  );
});

test("assertAlmostEquals() accepts a tolerance and defaults to 1e-8 relative", () => {
  assertAlmostEquals(0.1 + 0.2, 0.3);
  assertAlmostEquals(10, 10.4, 0.5);
  assertStringIncludes(
    failure(() => assertAlmostEquals(10, 11, 0.5)),
    'to be close to "11"',
  );
  assertStringIncludes(
    failure(() => assertAlmostEquals(1, 1.001)),
    "is greater than",
  );
});

test("assertArrayIncludes() checks every expected element deeply", () => {
  assertArrayIncludes([1, { a: 2 }, 3], [{ a: 2 }, 3]);
  assertStringIncludes(
    failure(() => assertArrayIncludes([1, 2], [2, 5])),
    "missing: [ 5 ]",
  );
});

test("assertObjectMatch() compares only the expected keys, recursively", () => {
  assertObjectMatch({ a: 1, b: { c: 2, d: 3 }, e: 4 }, { a: 1, b: { c: 2 } });
  const msg = failure(() => assertObjectMatch({ a: 1, b: { c: 9 } }, { b: { c: 2 } }));
  assertStringIncludes(msg, "Values are not equal");
  assertStringIncludes(msg, "c: 9");
});

test("assertGreater/Less(OrEqual) compare with the operators", () => {
  assertGreater(2, 1);
  assertGreaterOrEqual(2, 2);
  assertLess(1, 2);
  assertLessOrEqual(2, 2);
  assertEquals(
    failure(() => assertGreater(1, 1)),
    "Expect 1 > 1",
  );
  assertEquals(
    failure(() => assertGreaterOrEqual(1, 2)),
    "Expect 1 >= 2",
  );
  assertEquals(
    failure(() => assertLess(2, 2)),
    "Expect 2 < 2",
  );
  assertEquals(
    failure(() => assertLessOrEqual(3, 2)),
    "Expect 3 <= 2",
  );
});

test("assertThrows() returns the error and checks class and message", () => {
  const e = assertThrows(
    () => {
      throw new RangeError("size out of range");
    },
    RangeError,
    "out of range",
  );
  assertInstanceOf(e, RangeError);
  assertEquals(
    failure(() => assertThrows(() => 1)),
    "Expected function to throw",
  );
  assertStringIncludes(
    failure(() =>
      assertThrows(() => {
        throw new TypeError("x");
      }, RangeError),
    ),
    'Expected error to be instance of "RangeError", but was "TypeError"',
  );
  assertStringIncludes(
    failure(() =>
      assertThrows(
        () => {
          throw new Error("abc");
        },
        Error,
        "zzz",
      ),
    ),
    'Expected error message to include "zzz"',
  );
  const anything = assertThrows(() => {
    throw "a string";
  });
  assertEquals(anything, "a string");
});

test("assertRejects() awaits the rejection and checks it", async () => {
  const e = await assertRejects(() => Promise.reject(new TypeError("bad")), TypeError, "bad");
  assertEquals(e.message, "bad");
  assertEquals(
    await asyncFailure(() => assertRejects(() => Promise.resolve(1))),
    "Expected function to reject",
  );
  assertStringIncludes(
    await asyncFailure(() => assertRejects(() => Promise.reject(new Error("x")), TypeError)),
    'Expected error to be instance of "TypeError"',
  );
});

test("assertIsError() checks Error-ness", () => {
  assertIsError(new Error("m"), Error, "m");
  assertStringIncludes(
    failure(() => assertIsError("nope")),
    'Expected "error" to be an Error object',
  );
});

test("fail(), unreachable() and unimplemented() always throw AssertionError", () => {
  assertEquals(
    failure(() => fail("why")),
    "Failed assertion: why",
  );
  assertEquals(
    failure(() => unreachable()),
    "unreachable",
  );
  assertEquals(
    failure(() => unimplemented("later")),
    "Unimplemented: later",
  );
});
