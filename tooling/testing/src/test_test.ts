import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertStringIncludes,
  assertThrows,
} from "./assert.ts";
import { LeakError, registerResourceSource, SANITIZER_KEY } from "./sanitizer.ts";
import { runTest, StepError, test } from "./test.ts";

test("test(name, fn) gives the context its name", (t) => {
  assertEquals(t.name, "test(name, fn) gives the context its name");
  assertStringIncludes(t.origin, "test_test.ts");
});

test("test(name, options, fn) accepts options", { sanitizeResources: true }, (t) => {
  assertEquals(t.name, "test(name, options, fn) accepts options");
});

test({
  name: "test({ name, fn }) runs the definition",
  fn(t) {
    assertEquals(t.parent, undefined);
  },
});

test(function namedFunctionsNameTheirTest(t) {
  assertEquals(t.name, "namedFunctionsNameTheirTest");
});

test({
  name: "test({ ignore: true }) is reported as skipped",
  ignore: true,
  fn: () => {
    throw new Error("an ignored test must not run");
  },
});

test.ignore("test.ignore() skips as well", () => {
  throw new Error("an ignored test must not run");
});

test("t.step() resolves to whether the step passed, and nests", async (t) => {
  const order: string[] = [];
  const ok = await t.step("outer", async (t) => {
    order.push("outer");
    assertEquals(t.parent?.name, "t.step() resolves to whether the step passed, and nests");
    const inner = await t.step("inner", (t) => {
      order.push("inner");
      assertEquals(t.name, "inner");
    });
    assert(inner);
  });
  assert(ok);
  assertEquals(order, ["outer", "inner"]);
  assertEquals(await t.step({ name: "ignored", ignore: true, fn: () => {} }), false);
});

test("runTest(): a failing step does not stop its siblings, and the test fails with the step's full path", async () => {
  const ran: number[] = [];
  const outcome = await runTest({
    name: "outer test",
    async fn(t) {
      const results: boolean[] = [];
      results.push(
        await t.step("outer", async (t) => {
          results.push(
            await t.step("inner", () => {
              ran.push(1);
              throw new Error("boom");
            }),
          );
          ran.push(2);
        }),
      );
      results.push(await t.step("sibling", () => void ran.push(3)));
      assertEquals(results, [false, false, true]);
    },
  });
  assertEquals(ran, [1, 2, 3]);
  assertEquals(outcome.passed, false);
  assertInstanceOf(outcome.error, StepError);
  assertEquals(outcome.error.message, 'step "outer test > outer > inner" failed: Error: boom');
  assertEquals((outcome.error as StepError).path, ["outer test", "outer", "inner"]);
});

test("runTest(): several failures come as an AggregateError listing each path", async () => {
  const outcome = await runTest({
    name: "agg",
    async fn(t) {
      await t.step("a", () => {
        throw new Error("one");
      });
      await t.step("b", async (t) => {
        await t.step("c", () => {
          throw new Error("two");
        });
      });
    },
  });
  assertInstanceOf(outcome.error, AggregateError);
  assertStringIncludes(outcome.error.message, 'step "agg > a" failed: Error: one');
  assertStringIncludes(outcome.error.message, 'step "agg > b > c" failed: Error: two');
});

test("runTest(): a test that returns while a step runs fails", async () => {
  let release = () => {};
  const outcome = await runTest({
    name: "unawaited",
    fn(t) {
      void t.step("slow", () => new Promise<void>((r) => (release = r)));
    },
  });
  release();
  assertEquals(outcome.passed, false);
  assertStringIncludes(outcome.error!.message, "await every t.step()");
});

test("runTest(): a passing test reports passed", async () => {
  assertEquals(await runTest({ name: "ok", fn: () => {} }), { passed: true });
});

test("the sanitizer fails a test that ends with live resources and lists them", async () => {
  const outcome = await runTest({
    name: "leaky",
    fn() {
      registerResourceSource(
        { liveResources: () => ["mapping dma=0xfffff000 size=4096"] },
        "kernel",
      );
    },
  });
  assertInstanceOf(outcome.error, LeakError);
  assertStringIncludes(outcome.error.message, "kernel: mapping dma=0xfffff000 size=4096");
});

test("the sanitizer passes once everything is released, and can be turned off", async () => {
  const live = ["alloc"];
  const released = await runTest({
    name: "tidy",
    fn(t) {
      t.track({ liveResources: () => live }, "pool");
      live.pop();
    },
  });
  assertEquals(released.passed, true);
  const optedOut = await runTest({
    name: "opted out",
    sanitizeResources: false,
    fn() {
      registerResourceSource({ liveResources: () => ["kept"] });
    },
  });
  assertEquals(optedOut.passed, true);
});

test("runTest() restores the enclosing test's sanitizer hook afterwards", async (t) => {
  const outer = (globalThis as Record<symbol, unknown>)[SANITIZER_KEY];
  assert(outer !== undefined);
  await runTest({ name: "nested", fn: () => {} });
  assertEquals((globalThis as Record<symbol, unknown>)[SANITIZER_KEY], outer);
  const live = ["outer resource"];
  t.track({ liveResources: () => live });
  live.length = 0;
});

test("test(name, { timeout }) rejects a timeout that is not a positive number of ms", () => {
  assertThrows(
    () => test("never registered", { timeout: -1 }, () => {}),
    RangeError,
    "timeout must be a positive number of ms, got -1",
  );
  assertThrows(
    () => test("never registered", { timeout: Number.NaN }, () => {}),
    RangeError,
    "got NaN",
  );
});

test("test(name, { timeout }, fn) runs with the longer limit", { timeout: 60_000 }, async () => {
  await new Promise((r) => setTimeout(r, 10));
});
