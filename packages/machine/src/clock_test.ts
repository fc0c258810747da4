import { assert, assertEquals, assertThrows, test } from "@dmasim/testing";
import fc from "fast-check";
import { Clock, type TimerClock } from "./clock.ts";

test("Clock fires timers in deadline order, each seeing now() equal to its deadline", () => {
  const c = new Clock();
  const seen: Array<[string, number]> = [];
  c.setTimer(20, () => seen.push(["b", c.now()]));
  c.setTimer(10, () => seen.push(["a", c.now()]));
  c.setTimer(30, () => seen.push(["late", c.now()]));
  c.advance(25);
  assertEquals(seen, [
    ["a", 10],
    ["b", 20],
  ]);
  assertEquals(c.now(), 25);
  assertEquals(c.pendingTimers(), 1);
  assertEquals(c.nextDeadline(), 30);
});

test("Clock: a timer set during a callback runs in the same advance when it falls due", () => {
  const c = new Clock();
  const seen: Array<[string, number]> = [];
  c.setTimer(20, () => seen.push(["b", c.now()]));
  c.setTimer(10, () => {
    seen.push(["a", c.now()]);
    c.setTimer(15, () => seen.push(["c", c.now()]));
    c.setTimer(40, () => seen.push(["d", c.now()]));
  });
  c.advance(25);
  assertEquals(seen, [
    ["a", 10],
    ["c", 15],
    ["b", 20],
  ]);
  c.advanceTo(40);
  assertEquals(seen[3], ["d", 40]);
});

test("Clock: equal deadlines fire in the order they were set; clearTimer cancels one", () => {
  const c = new Clock();
  const seen: number[] = [];
  const handles = [0, 1, 2, 3, 4].map((i) => c.setTimer(7, () => seen.push(i)));
  c.clearTimer(handles[2]);
  c.clearTimer(handles[2]); // twice is harmless
  c.clearTimer({ at: 7, id: 999 }); // a foreign handle is ignored
  assertEquals(c.pendingTimers(), 4);
  c.advance(7);
  assertEquals(seen, [0, 1, 3, 4]);
  c.clearTimer(handles[0]); // already fired: no effect
  assertEquals(c.pendingTimers(), 0);
});

test("Clock: a deadline in the past fires at the next advance, at the current time", () => {
  const c = new Clock();
  c.advance(100);
  let at = -1;
  c.setTimer(50, () => {
    at = c.now();
  });
  c.advance(0);
  assertEquals(at, 100);
});

test("Clock rejects bad times and re-entrant advances", () => {
  const c = new Clock();
  assertThrows(() => c.advance(-1), RangeError, "ns");
  assertThrows(() => c.advance(Number.NaN), RangeError, "ns");
  assertThrows(() => c.setTimer(Number.POSITIVE_INFINITY, () => {}), RangeError, "atNs");
  c.advance(10);
  assertThrows(() => c.advanceTo(5), RangeError, "now");
  c.setTimer(20, () => c.advance(1));
  assertThrows(() => c.advance(20), Error, "inside a timer callback");
  // The throw leaves time at the failing timer's deadline; the clock is
  // usable afterwards and later timers still fire.
  assertEquals(c.now(), 20);
  let fired = false;
  c.setTimer(24, () => {
    fired = true;
  });
  c.advanceTo(25);
  assertEquals(c.now(), 25);
  assert(fired);
});

test("Clock satisfies the structural TimerClock the flush queue uses", () => {
  const tc: TimerClock = new Clock();
  let fired = false;
  const h = tc.setTimer(tc.now() + 10_000_000, () => {
    fired = true;
  });
  tc.clearTimer(h);
  (tc as Clock).advance(20_000_000);
  assertEquals(fired, false);
});

test("property: timers fire sorted by (deadline, insertion order), whatever the set/clear mix", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.boolean()), { maxLength: 60 }),
      fc.integer({ min: 0, max: 60 }),
      (ops, until) => {
        const c = new Clock();
        const fired: Array<[number, number]> = [];
        const live: Array<[number, number]> = [];
        ops.forEach(([at, cancel], i) => {
          const h = c.setTimer(at, () => fired.push([c.now(), i]));
          if (cancel) c.clearTimer(h);
          else live.push([at, i]);
        });
        c.advanceTo(until);
        const expected = live
          .filter(([at]) => at <= until)
          .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        assertEquals(fired, expected);
        assertEquals(c.pendingTimers(), live.length - expected.length);
      },
    ),
    { numRuns: 200 },
  );
});
