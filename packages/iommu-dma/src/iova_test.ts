import { assert, assertEquals, assertThrows, test } from "@dmasim/testing";
import fc from "fast-check";
import { IovaDomain, IovaError } from "./iova.ts";

const LIMIT32 = 2 ** 20 - 1; // 4 GiB in 4 KiB pfns, inclusive

function q35Domain(): IovaDomain {
  const d = new IovaDomain(4096, 1);
  for (const [lo, hi] of [
    [0xa0000, 0xbffff],
    [0x80000000, 0xafffffff],
    [0xc0000000, 0xfebfffff],
    [0xfee00000, 0xfeefffff],
  ]) {
    d.reserveIova(Math.floor(lo! / 4096), Math.floor(hi! / 4096));
  }
  return d;
}

test("allocIovaFast: top-down below the limit; sizes under 32 granules round up to a power of two and align to it", () => {
  const d = q35Domain();
  const sizes = [1, 1, 2, 3, 2, 1, 2, 16, 32, 64, 256, 33, 48];
  const got = sizes.map((n) => d.allocIovaFast(n, LIMIT32, false) * 4096);
  assertEquals(
    got,
    [
      0xfffff000, 0xffffe000, 0xffffc000, 0xffff8000, 0xffff6000, 0xffff5000, 0xffff2000,
      0xfffe0000, 0xfffc0000, 0xfff80000, 0xffe00000, 0xffdc0000, 0xffd80000,
    ],
  );
});

test("a 512 MiB request skips the reserved PCI windows and lands at 0x60000000", () => {
  const d = q35Domain();
  assertEquals(d.allocIovaFast(131072, LIMIT32, false) * 4096, 0x60000000);
});

test("freed IOVAs come back last-in first-out through the per-CPU magazine", () => {
  const d = q35Domain();
  const a = [
    d.allocIovaFast(1, LIMIT32, false),
    d.allocIovaFast(1, LIMIT32, false),
    d.allocIovaFast(1, LIMIT32, false),
  ];
  for (const pfn of a) d.freeIovaFast(pfn, 1);
  assertEquals(
    [
      d.allocIovaFast(1, LIMIT32, false),
      d.allocIovaFast(1, LIMIT32, false),
      d.allocIovaFast(1, LIMIT32, false),
    ],
    [a[2], a[1], a[0]],
  );
});

test("a failed 32-bit allocation sets the max32 hint; freeing below 4 GiB resets it", () => {
  const d = new IovaDomain(4096, 1);
  const big = d.allocIova(2 ** 19, LIMIT32, true)!;
  assertEquals(d.allocIova(2 ** 19, LIMIT32, true), null);
  assertEquals(d.max32AllocSize, 2 ** 19);
  d.freeIovaNode(big);
  assertEquals(d.max32AllocSize, d.dma32BitPfn);
  assert(d.allocIova(2 ** 19, LIMIT32, true) !== null);
});

test("allocIovaFast with flush: cached IOVAs are returned to the tree and the allocation retried", () => {
  const d = new IovaDomain(4096, 1);
  const pfns = Array.from({ length: 8 }, () => d.allocIovaFast(1, 15, false));
  assertEquals(pfns.filter((p) => p !== 0).length, 8, "pfns 8..15 above startPfn");
  for (const p of pfns) d.freeIovaFast(p, 1);
  assertEquals(d.allocIovaFast(8, 15, false), 0, "the single pages sit in the rcache");
  assertEquals(d.allocIovaFast(8, 15, true), 8, "after the flush they merge back into room for 8");
});

test("freeing something never allocated is a simulator error", () => {
  const d = new IovaDomain(4096, 1);
  assertThrows(() => d.freeIova(1234), IovaError, "not allocated");
  assertThrows(() => new IovaDomain(3000, 1), RangeError, "power of two");
});

test("property: allocations never overlap each other or reserved ranges, respect alignment and limit, and leak nothing", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.integer({ min: 1, max: 70 }),
          fc.constantFrom(0xfff, 0xffff, 0xfffff),
          fc.boolean(),
          fc.integer({ min: 0, max: 1 }),
        ),
        { maxLength: 80 },
      ),
      (ops) => {
        const d = new IovaDomain(4096, 1, { cpus: 2 });
        d.reserveIova(0x800, 0x9ff);
        const live: Array<[number, number]> = [];
        for (const [size, limit, free, cpu] of ops) {
          if (free && live.length > 0) {
            const [pfn, n] = live.splice(live.length - 1, 1)[0]!;
            d.freeIovaFast(pfn, n, cpu);
            continue;
          }
          const pfn = d.allocIovaFast(size, limit, true, cpu);
          if (pfn === 0) continue;
          const n = size < 32 ? 2 ** Math.ceil(Math.log2(size)) : size;
          const align = 2 ** Math.ceil(Math.log2(n));
          assertEquals(pfn % align, 0, "size-aligned");
          assert(pfn + n - 1 <= limit, "below the limit");
          assert(pfn + n - 1 < 0x800 || pfn > 0x9ff, "outside the reserved range");
          for (const [q, m] of live) assert(pfn + n <= q || q + m <= pfn, "no overlap");
          live.push([pfn, n]);
        }
        for (const [pfn, n] of live) d.freeIovaFast(pfn, n, 0);
        d.rcache.flushAll();
        assertEquals(d.liveRanges(), [], "after freeing and flushing only reserved ranges remain");
      },
    ),
    { numRuns: 80 },
  );
});
