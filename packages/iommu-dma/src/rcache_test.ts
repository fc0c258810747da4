import { assert, assertEquals, assertThrows, test } from "@dmasim/testing";
import { ManualClock } from "./flush_queue.ts";
import { IOVA_DEPOT_DELAY_NS, IOVA_MAG_SIZE, IovaRcache, iovaSizeClass } from "./rcache.ts";

/** An rcache whose "tree" just records what is freed back to it, in order. */
function rcache(cpus = 1, clock: ManualClock | null = null) {
  const freed: number[] = [];
  const rc = new IovaRcache((pfn) => freed.push(pfn), cpus, clock);
  return { rc, freed };
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const BIG = 2 ** 40; // a limit nothing exceeds

test("size classes are order_base_2 of the size: 1, 2, 4, 8, 16, 32 granules; 33 and up bypass the cache", () => {
  assertEquals(
    [1, 2, 3, 4, 5, 8, 9, 16, 17, 32, 33, 64, 2 ** 33].map(iovaSizeClass),
    [0, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 32],
  );
  const { rc } = rcache();
  assertEquals(rc.insert(1000, 33, 0), false, "not cached: the caller frees it to the tree");
  assertEquals(rc.get(33, BIG, 0), 0);
  assertEquals(rc.stats.bypassed, 1);
  assert(
    rc.insert(1000, 3, 0),
    "3 granules share the class of 4 (freed unrounded, allocated rounded)",
  );
  assertEquals(rc.get(4, BIG, 0), 1000);
});

test("get() returns the most recently freed pfn first (LIFO) and fills the hole with the top element (kernel: iova_magazine_pop)", () => {
  const { rc } = rcache();
  for (const p of [0xfffff, 0xffffe, 0xffff5]) rc.insert(p, 1, 0);
  assertEquals(
    [rc.get(1, BIG, 0), rc.get(1, BIG, 0), rc.get(1, BIG, 0)],
    [0xffff5, 0xffffe, 0xfffff],
  );
  assertEquals(rc.get(1, BIG, 0), 0, "empty: miss");
  assertEquals(
    [rc.stats.hits, rc.stats.misses, rc.stats.hitsByClass[0], rc.stats.missesByClass[0]],
    [3, 1, 3, 1],
  );
});

test("the pop honours the limit: it scans down for the first pfn whose range ends below it and swap-removes it; nothing suitable is a miss", () => {
  const { rc } = rcache();
  for (const p of [10, 500, 20]) rc.insert(p, 2, 0);
  // limit (exclusive) 103 for 2 granules: highest acceptable start is 101.
  assertEquals(rc.get(2, 103, 0), 20);
  assertEquals(rc.get(2, 103, 0), 10, "500 is skipped");
  assertEquals(rc.magazineContents(1, 0).loaded, [500], "the last element took 10's slot");
  assertEquals(rc.get(2, 103, 0), 0, "500 does not fit: miss, and it stays cached");
  assertEquals(rc.get(2, 502, 0), 500, "502 − 2 = 500 is acceptable");
});

test("insert swaps loaded and prev when loaded is full, and get swaps them when loaded is empty", () => {
  const { rc } = rcache();
  for (const p of range(1, IOVA_MAG_SIZE + 1)) rc.insert(p, 1, 0);
  const m = rc.magazineContents(0, 0);
  assertEquals(
    m.loaded,
    [IOVA_MAG_SIZE + 1],
    "the 128th pfn went into the (empty) previous magazine, now loaded",
  );
  assertEquals(m.prev, range(1, IOVA_MAG_SIZE));
  assertEquals(rc.stats.swaps, 1);
  assertEquals(rc.get(1, BIG, 0), IOVA_MAG_SIZE + 1);
  assertEquals(
    rc.get(1, BIG, 0),
    IOVA_MAG_SIZE,
    "loaded empty: swapped with the full prev, popped from its top",
  );
  assertEquals(rc.stats.swaps, 2);
});

test("with both magazines full the loaded one moves to the depot and a fresh one replaces it; get takes the newest depot magazine when both are empty", () => {
  const clock = new ManualClock();
  const { rc, freed } = rcache(1, clock);
  for (const p of range(1, 2 * IOVA_MAG_SIZE + 1)) rc.insert(p, 8, 0);
  assertEquals(rc.depotSize(3), 1);
  assertEquals(rc.stats.depotPushes, 1);
  assert(rc.trimPending(3), "the trim work is scheduled on a depot push");
  const m = rc.magazineContents(3, 0);
  assertEquals([m.loaded, m.prev.length], [[2 * IOVA_MAG_SIZE + 1], IOVA_MAG_SIZE]);
  // drain loaded and prev, then the depot magazine comes back
  for (let i = 0; i < IOVA_MAG_SIZE + 1; i++) rc.get(8, BIG, 0);
  // 1..127 filled the first magazine, which became prev at the swap; the
  // second (128..254) was loaded when both were full, so it went to the depot.
  assertEquals(rc.get(8, BIG, 0), 2 * IOVA_MAG_SIZE, "the depot magazine holds 128..254");
  assertEquals([rc.depotSize(3), rc.stats.depotPops], [0, 1]);
  assertEquals(freed, []);
});

test("depot trimming: every 100 ms the newest depot magazine goes back to the tree while the depot holds more magazines than CPUs, then the work stops (kernel: iova_depot_work_func)", () => {
  const clock = new ManualClock();
  const { rc, freed } = rcache(1, clock);
  // 5 magazines' worth: loaded + prev + 3 in the depot
  for (const p of range(1, 5 * IOVA_MAG_SIZE)) rc.insert(p, 1, 0);
  assertEquals(rc.depotSize(0), 3);
  clock.advance(IOVA_DEPOT_DELAY_NS - 1);
  assertEquals(freed.length, 0, "not before 100 ms");
  clock.advance(1);
  assertEquals(rc.depotSize(0), 2);
  assertEquals(
    freed,
    range(3 * IOVA_MAG_SIZE + 1, IOVA_MAG_SIZE),
    "the newest depot magazine, in slot order",
  );
  clock.advance(IOVA_DEPOT_DELAY_NS);
  assertEquals([rc.depotSize(0), freed.length], [1, 2 * IOVA_MAG_SIZE]);
  assert(rc.trimPending(0), "rescheduled after freeing one");
  clock.advance(IOVA_DEPOT_DELAY_NS);
  assertEquals(rc.depotSize(0), 1, "depot size ≤ online CPUs: kept");
  assert(!rc.trimPending(0), "and the work is not rescheduled");
  assertEquals(rc.stats.trims, 2);
  assertEquals(clock.pending, 0);
});

test("depot trimming keeps one magazine per online CPU", () => {
  const clock = new ManualClock();
  const { rc } = rcache(4, clock);
  for (const p of range(1, 8 * IOVA_MAG_SIZE)) rc.insert(p, 1, 0);
  assertEquals(rc.depotSize(0), 6);
  clock.advance(10 * IOVA_DEPOT_DELAY_NS);
  assertEquals(rc.depotSize(0), 4);
});

test("magazines are per CPU: what one CPU freed is not seen by another until it reaches the depot", () => {
  const { rc } = rcache(2);
  rc.insert(42, 1, 1);
  assertEquals(rc.get(1, BIG, 0), 0, "CPU 0 misses");
  assertEquals(rc.get(1, BIG, 1), 42, "CPU 1 hits");
  for (const p of range(100, 3 * IOVA_MAG_SIZE)) rc.insert(p, 1, 1);
  assertEquals(rc.depotSize(0), 1);
  assertEquals(
    rc.get(1, BIG, 0),
    100 + 2 * IOVA_MAG_SIZE - 1,
    "CPU 0 now takes CPU 1's full magazine from the depot",
  );
  assertThrows(() => rc.insert(1, 1, 2), RangeError, "cpu");
});

test("flushCpu and flushDepot give cached pfns back to the tree in magazine order (kernel: free_cpu_cached_iovas, free_global_cached_iovas)", () => {
  const { rc, freed } = rcache(2);
  rc.insert(7, 1, 0);
  rc.insert(8, 2, 0);
  rc.insert(9, 1, 1);
  rc.flushCpu(0);
  assertEquals(freed, [7, 8]);
  assertEquals(rc.cachedCounts(), [1, 0, 0, 0, 0, 0]);
  for (const p of range(100, 2 * IOVA_MAG_SIZE + 1)) rc.insert(p, 4, 1);
  rc.flushDepot();
  assertEquals(
    freed.slice(2),
    range(100 + IOVA_MAG_SIZE, IOVA_MAG_SIZE),
    "the depot held the second magazine",
  );
  rc.flushAll();
  assertEquals(rc.cachedCounts(), [0, 0, 0, 0, 0, 0]);
  assertEquals(rc.cachedPfns(), []);
  assertEquals(rc.stats.pfnsFreed, freed.length);
});

test("destroy cancels the trim work and drops magazines without freeing pfns (kernel: free_iova_rcaches before the tree goes)", () => {
  const clock = new ManualClock();
  const { rc, freed } = rcache(1, clock);
  for (const p of range(1, 3 * IOVA_MAG_SIZE)) rc.insert(p, 1, 0);
  assertEquals(clock.pending, 1);
  rc.destroy();
  assertEquals(clock.pending, 0);
  assertEquals(rc.cachedCounts(), [0, 0, 0, 0, 0, 0]);
  clock.advance(IOVA_DEPOT_DELAY_NS);
  assertEquals(freed, []);
});

test("without a clock the depot is never trimmed", () => {
  const { rc, freed } = rcache(1);
  for (const p of range(1, 4 * IOVA_MAG_SIZE)) rc.insert(p, 1, 0);
  assertEquals([rc.depotSize(0), rc.trimPending(0), freed.length], [2, false, 0]);
});
