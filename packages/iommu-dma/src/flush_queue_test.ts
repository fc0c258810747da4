import { assert, assertEquals, assertThrows, test } from "@dmasim/testing";
import {
  FlushQueue,
  IOVA_DEFAULT_FQ_SIZE,
  IOVA_DEFAULT_FQ_TIMEOUT_NS,
  IOVA_SINGLE_FQ_SIZE,
  IOVA_SINGLE_FQ_TIMEOUT_NS,
  ManualClock,
} from "./flush_queue.ts";
import { IovaDomain } from "./iova.ts";
import { LIMIT32_PFN, PciIovaUser, q35Domain } from "./iova_test_helpers.ts";

const MS = 1_000_000;

function setup(options: { cpus?: number; shadowOnFlush?: boolean } = {}) {
  const clock = new ManualClock();
  const d = new IovaDomain(4096, 1, { cpus: options.cpus ?? 1 });
  let flushes = 0;
  const fq = new FlushQueue(d, () => flushes++, clock, options);
  return { clock, d, fq, flushes: () => flushes };
}

test("lazy mode replay: an immediate remap gets FRESH IOVAs (the freed ones wait in the queue); after the 10 ms timer they are back in the rcache", () => {
  const clock = new ManualClock();
  const d = q35Domain();
  let flushes = 0;
  const fq = new FlushQueue(d, () => flushes++, clock);
  const dev = new PciIovaUser(d, fq);
  const settle = () => clock.advance(100 * MS); // dma_oracle.c's msleep(100)
  // single_seq's page counts, all mapped, then unmapped in order
  const seq = [1, 1, 2, 3, 2, 1, 2, 16, 32, 64, 256, 33, 48].map((n) => [dev.map(n), n] as const);
  for (const [iova, n] of seq) dev.unmap(iova, n);
  assertEquals(fq.depth, 13, "nothing released before a flush");
  settle();
  assertEquals([flushes, fq.depth], [1, 0]);
  const round = () => {
    const got = [dev.map(1), dev.map(1), dev.map(1)];
    for (const iova of [...got].reverse()) dev.unmap(iova, 1);
    return got;
  };
  const first = round();
  assertEquals(
    first,
    [0xffff5000, 0xffffe000, 0xfffff000],
    "after the timer: the same LIFO order as strict mode",
  );
  const immediate = round();
  assert(
    immediate.every((a) => !first.includes(a)),
    "fresh IOVAs: the three freed ones are still queued",
  );
  assertEquals(
    immediate,
    [0xfffbf000, 0xfffbe000, 0xfffbd000],
    "from the tree, below the 32-page range the cached node points at",
  );
  settle();
  const settled = round();
  assertEquals(
    settled,
    immediate,
    "released by the timer in queue order, so the most recently queued come back first",
  );
  settle();
  d.rcache.flushAll();
  assertEquals(d.liveRanges(), []);
});

test("a ring holds IOVA_DEFAULT_FQ_SIZE − 1 entries: queueing into a full ring forces a flush-all that releases them (kernel: fq_full keeps one slot empty)", () => {
  const { d, fq, flushes } = setup();
  const pfns = Array.from({ length: IOVA_DEFAULT_FQ_SIZE }, () =>
    d.allocIovaFast(1, LIMIT32_PFN, false),
  );
  for (const p of pfns.slice(0, IOVA_DEFAULT_FQ_SIZE - 1)) fq.queue(p, 1);
  assertEquals([flushes(), fq.depth], [0, IOVA_DEFAULT_FQ_SIZE - 1]);
  fq.queue(pfns[IOVA_DEFAULT_FQ_SIZE - 1]!, 1);
  assertEquals(
    [flushes(), fq.stats.fullFlushes, fq.depth],
    [1, 1, 1],
    "255 released, the new one queued",
  );
  assertEquals(
    d.rcache.cachedCounts()[0],
    IOVA_DEFAULT_FQ_SIZE - 1,
    "released IOVAs went to the rcache",
  );
  assertEquals(fq.stats.maxDepth, IOVA_DEFAULT_FQ_SIZE - 1);
});

test("an entry is released only by a flush that STARTED after it was queued (fq_flush_start_cnt / fq_flush_finish_cnt)", () => {
  const clock = new ManualClock();
  const d = new IovaDomain(4096, 1, { cpus: 2 });
  const a = d.allocIovaFast(1, LIMIT32_PFN, false);
  const b = d.allocIovaFast(1, LIMIT32_PFN, false);
  let fq: FlushQueue | null = null;
  let during = true;
  // Another CPU unmaps b while CPU 0's flush-all is in progress.
  fq = new FlushQueue(
    d,
    () => {
      if (during) fq!.queue(b, 1, 0, 1);
      during = false;
    },
    clock,
    { cpus: 2 },
  );
  fq.queue(a, 1, 0, 0);
  clock.advance(IOVA_DEFAULT_FQ_TIMEOUT_NS);
  assertEquals(fq.counters, { start: 1, finish: 1 });
  assertEquals(
    fq.depth,
    1,
    "b was queued with start count 1: the flush that finished at 1 does not cover it",
  );
  assertEquals(d.allocIovaFast(1, LIMIT32_PFN, false), a, "a is reusable");
  clock.advance(IOVA_DEFAULT_FQ_TIMEOUT_NS);
  assertEquals(fq.depth, 0, "the next flush covers b");
});

test("the timer is armed once, by the first queue, fires 10 ms later, flushes once and drains every CPU's ring into the arming CPU's rcache", () => {
  const { clock, d, fq, flushes } = setup({ cpus: 2 });
  const a = d.allocIovaFast(1, LIMIT32_PFN, false, 1);
  const b = d.allocIovaFast(1, LIMIT32_PFN, false, 0);
  fq.queue(a, 1, 0, 1);
  clock.advance(5 * MS);
  fq.queue(b, 1, 0, 0);
  assert(fq.timerArmed);
  assertEquals(clock.pending, 1, "not re-armed");
  clock.advance(5 * MS - 1);
  assertEquals(flushes(), 0);
  clock.advance(1);
  assertEquals([flushes(), fq.stats.timerFlushes, fq.depth, fq.timerArmed], [1, 1, 0, false]);
  assertEquals(
    d.rcache.magazineContents(0, 1).loaded,
    [b, a],
    "both released on CPU 1, where the timer ran; ring 0 first",
  );
});

test("queueing releases entries an earlier flush already covered before adding (fq_ring_free first)", () => {
  const { clock, d, fq } = setup();
  const a = d.allocIovaFast(1, LIMIT32_PFN, false);
  const b = d.allocIovaFast(1, LIMIT32_PFN, false);
  const c = d.allocIovaFast(1, LIMIT32_PFN, false);
  fq.queue(a, 1);
  fq.queue(b, 1);
  clock.advance(IOVA_DEFAULT_FQ_TIMEOUT_NS);
  fq.queue(c, 1);
  assertEquals([fq.depth, fq.stats.entriesFreed], [1, 2]);
});

test("shadow-on-flush IOMMUs use ONE 32768-entry ring for all CPUs with a 1 s timeout", () => {
  const { clock, d, fq, flushes } = setup({ cpus: 2, shadowOnFlush: true });
  assertEquals(
    [fq.size, fq.timeoutNs, fq.single],
    [IOVA_SINGLE_FQ_SIZE, IOVA_SINGLE_FQ_TIMEOUT_NS, true],
  );
  fq.queue(d.allocIovaFast(1, LIMIT32_PFN, false), 1, 0, 0);
  fq.queue(d.allocIovaFast(1, LIMIT32_PFN, false), 1, 0, 1);
  assertEquals(fq.stats.maxDepth, 2, "both in the same ring");
  clock.advance(100 * MS);
  assertEquals(flushes(), 0, "10 ms is the per-CPU timeout, not this one");
  clock.advance(900 * MS);
  assertEquals([flushes(), fq.depth], [1, 0]);
});

test("page-table pages freed by the unmap are released together with the IOVA, after the flush", () => {
  const clock = new ManualClock();
  const d = new IovaDomain(4096, 1);
  const released: number[] = [];
  const fq = new FlushQueue(d, () => {}, clock, { releasePages: (n) => released.push(n) });
  fq.queue(d.allocIovaFast(512, 2 ** 27 - 1, false), 512, 1);
  fq.queue(d.allocIovaFast(1, LIMIT32_PFN, false), 1, 0);
  assertEquals(released, []);
  clock.advance(IOVA_DEFAULT_FQ_TIMEOUT_NS);
  assertEquals([released, fq.stats.pagesFreed, fq.stats.entriesFreed], [[1], 1, 2]);
  assertEquals(
    d.liveRanges().length,
    1,
    "the 512-granule range went back to the tree, the page to the rcache",
  );
});

test("destroy stops the timer, flushes, and releases what is still queued", () => {
  const { clock, d, fq, flushes } = setup();
  const a = d.allocIovaFast(1, LIMIT32_PFN, false);
  fq.queue(a, 1);
  fq.destroy();
  assertEquals([flushes(), fq.depth, clock.pending], [1, 0, 0]);
  d.rcache.flushAll();
  assertEquals(d.liveRanges(), []);
  assertThrows(() => fq.queue(a, 1, 0, 3), RangeError, "cpu");
});

test("ManualClock runs due timers in time order, each at its own time", () => {
  const clock = new ManualClock();
  const seen: Array<[string, number]> = [];
  clock.setTimer(30, () => seen.push(["c", clock.now()]));
  clock.setTimer(10, () => {
    seen.push(["a", clock.now()]);
    clock.setTimer(20, () => seen.push(["b", clock.now()]));
  });
  const gone = clock.setTimer(15, () => seen.push(["x", clock.now()]));
  clock.clearTimer(gone);
  clock.advance(25);
  assertEquals(seen, [
    ["a", 10],
    ["b", 20],
  ]);
  assertEquals(clock.now(), 25);
  clock.advance(5);
  assertEquals(seen.length, 3);
  assertThrows(() => clock.advance(-1), RangeError, "ns");
});
