import { assert, assertEquals, assertThrows, test } from "@dmasim/testing";
import fc from "fast-check";
import { PAGE_SIZE } from "./constants.ts";
import { PageAllocator, PageAllocatorError, Zone } from "./page_allocator.ts";
import { PhysicalMemory } from "./physical_memory.ts";

const GiB = 2 ** 30;
const q35 = () =>
  new PhysicalMemory({
    ram: [
      { start: 0, size: 2 * GiB },
      { start: 4 * GiB, size: 4 * GiB },
    ],
  });

test("allocPages() splits a larger block like the buddy allocator and merges it back on free", () => {
  const pages = new PageAllocator(q35());
  const a = pages.allocPages(0, Zone.DMA)!;
  assertEquals(a, 0, "the lowest block of ZONE_DMA");
  const before = pages.stats().zones[0]!.freeBlocksByOrder;
  assertEquals(
    before.slice(0, 10),
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    "one buddy of every order below 10 split off",
  );
  pages.freePages(a, 0);
  assert(pages.isPristine());
});

test("allocPages() falls back from NORMAL to DMA32 to DMA like a zonelist, and GFP_DMA-only allocation stays in ZONE_DMA", () => {
  const mem = new PhysicalMemory({ ram: [{ start: 0, size: 32 * 2 ** 20 }] });
  const pages = new PageAllocator(mem);
  assertEquals(pages.zoneOf(pages.allocPages(0)!), Zone.DMA32, "no NORMAL memory: DMA32 serves");
  const dmaBlocks: number[] = [];
  for (let pa = pages.allocPages(10, Zone.DMA); pa !== null; pa = pages.allocPages(10, Zone.DMA))
    dmaBlocks.push(pa);
  assertEquals(dmaBlocks.length, 4, "16 MiB of ZONE_DMA = 4 blocks of 4 MiB");
  assertEquals(pages.allocPages(0, Zone.DMA), null, "ZONE_DMA exhausted even though DMA32 is free");
});

test("allocPagesAt() carves exactly the recorded block; a taken block is refused", () => {
  const pages = new PageAllocator(q35());
  assert(pages.allocPagesAt(0x102400000, 10));
  assertEquals(pages.allocPagesAt(0x102400000, 0), false);
  pages.freePages(0x102400000, 10);
  assert(pages.isPristine());
});

test("freePages() reports double frees, foreign frees and addresses outside RAM", () => {
  const pages = new PageAllocator(q35());
  const a = pages.allocPages(2)!;
  assertThrows(() => pages.freePages(a, 0), PageAllocatorError, "allocated with order 2");
  pages.freePages(a, 2);
  assertThrows(() => pages.freePages(a, 2), PageAllocatorError, "double free");
  assertThrows(() => pages.freePages(3 * GiB, 0), PageAllocatorError, "outside RAM");
});

test("property: random alloc/free never hands out overlapping frames and returns to the initial state", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 2 }), fc.boolean()),
        { maxLength: 60 },
      ),
      (ops) => {
        const pages = new PageAllocator(
          new PhysicalMemory({ ram: [{ start: 0, size: 64 * 2 ** 20 }] }),
        );
        const live: Array<[number, number]> = [];
        for (const [order, zone, free] of ops) {
          if (free && live.length > 0) {
            const [pa, o] = live.splice(0, 1)[0]!;
            pages.freePages(pa, o);
            continue;
          }
          const pa = pages.allocPages(order, zone);
          if (pa === null) continue;
          assertEquals(pa % (PAGE_SIZE * 2 ** order), 0, "naturally aligned");
          for (const [q, qo] of live) {
            const overlap = pa < q + PAGE_SIZE * 2 ** qo && q < pa + PAGE_SIZE * 2 ** order;
            assert(!overlap, `block ${pa} overlaps ${q}`);
          }
          live.push([pa, order]);
        }
        for (const [pa, o] of live) pages.freePages(pa, o);
        assert(pages.isPristine());
      },
    ),
    { numRuns: 60 },
  );
});
