import { Clock } from "@dmasim/machine";
import { assertEquals, test } from "@dmasim/testing";
import { FlushQueue, IOVA_DEFAULT_FQ_SIZE } from "./flush_queue.ts";
import { IovaDomain } from "./iova.ts";
import { IOVA_MAG_SIZE } from "./rcache.ts";

test("lazy unmap: queued IOVAs are reused only after the 10 ms flush-all", () => {
  const clock = new Clock();
  const d = new IovaDomain(4096, 1);
  let flushes = 0;
  const fq = new FlushQueue(d, () => flushes++, clock);
  const a = d.allocIovaFast(1, 0xfffff, false);
  fq.queue(a, 1, 0);
  const b = d.allocIovaFast(1, 0xfffff, false);
  assertEquals(b, a - 1, "a fresh IOVA: the freed one waits in the queue");
  clock.advance(9_999_999);
  assertEquals(flushes, 0);
  clock.advance(1);
  assertEquals(flushes, 1);
  assertEquals(d.allocIovaFast(1, 0xfffff, false), a, "back through the rcache");
  fq.queue(b, 1, 0);
  fq.destroy();
});

test("a full 256-entry ring forces a flush-all before queuing", () => {
  const clock = new Clock();
  const d = new IovaDomain(4096, 1);
  let flushes = 0;
  const fq = new FlushQueue(d, () => flushes++, clock);
  const pfns = Array.from({ length: IOVA_DEFAULT_FQ_SIZE + 1 }, () =>
    d.allocIovaFast(1, 0xfffff, false),
  );
  for (const p of pfns) fq.queue(p, 1, 0);
  assertEquals(flushes, 1);
  assertEquals(fq.stats.fullFlushes, 1);
  assertEquals(fq.depth, 1, "the ring drained to the one entry queued after the flush");
  fq.destroy();
});

test("shadow-on-flush IOMMUs use one 32768-entry queue with a 1 s timeout", () => {
  const clock = new Clock();
  const d = new IovaDomain(4096, 1);
  let flushes = 0;
  const fq = new FlushQueue(d, () => flushes++, clock, { shadowOnFlush: true });
  assertEquals([fq.size, fq.timeoutNs], [32768, 1e9]);
  fq.queue(d.allocIovaFast(1, 0xfffff, false), 1, 0);
  clock.advance(100_000_000);
  assertEquals(flushes, 0, "100 ms is not enough");
  clock.advance(900_000_000);
  assertEquals(flushes, 1);
});

test("rcache: when both magazines are full a magazine goes to the depot, trimmed after 100 ms while the depot outgrows the CPUs", () => {
  const clock = new Clock();
  const d = new IovaDomain(4096, 1);
  d.rcache.setClock(clock);
  const n = IOVA_MAG_SIZE * 4;
  const pfns = Array.from({ length: n }, () => d.allocIovaFast(1, 0xfffff, false));
  for (const p of pfns) d.freeIovaFast(p, 1);
  assertEquals(d.rcache.depotSize(0), 2, "loaded + prev full, two magazines pushed");
  clock.advance(100_000_000);
  assertEquals(d.rcache.depotSize(0), 1, "one trimmed back to the tree");
  clock.advance(100_000_000);
  assertEquals(d.rcache.depotSize(0), 1, "no more trimming once depot size ≤ CPUs");
});
