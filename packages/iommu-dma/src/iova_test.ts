import { readFileSync } from "node:fs";
import { assert, assertEquals, assertStrictEquals, assertThrows, test } from "@dmasim/testing";
import fc from "fast-check";
import { IOVA_ANCHOR_PFN, IovaDomain, IovaError, roundupPowOfTwo } from "./iova.ts";
import {
  GRANULE,
  LIMIT32_PFN,
  LIMIT39_PFN,
  PciIovaUser,
  pagesFor,
  Q35_RESERVED,
  q35Domain,
} from "./iova_test_helpers.ts";

const hex = (n: number) => `0x${n.toString(16)}`;

interface OracleMap {
  phys?: string;
  size: number;
  dma: string;
}
interface OracleSeg {
  off: number;
  len: number;
}
interface OracleRecord {
  cases: Record<string, OracleMap[]>;
  sg: Record<string, { in: OracleSeg[]; out: { dma: string }[] }>;
}

function loadOracle(): OracleRecord {
  return JSON.parse(
    readFileSync(new URL("../../../../shared/oracle/iommu-strict.json", import.meta.url), "utf8"),
  );
}

test("oracle replay: the whole dma_oracle.c call order on q35 VT-d gives Linux 6.12's IOVAs (top-down below 4 GiB, power-of-two rounding, LIFO rcache, reserved PCI windows)", () => {
  // Inputs are only the sizes/offsets the module used and dma_oracle.c's
  // order of map and unmap calls; the allocator decides every address.
  const rec = loadOracle();
  const d = q35Domain();
  const dev = new PciIovaUser(d);
  const got: string[] = [];
  const want: string[] = [];
  const offOf = (m: OracleMap) => (m.phys === undefined ? 0 : Number(BigInt(m.phys) & 0xfffn));
  /** Maps every record of a case in order, checks them, returns [iova, pages] for the unmaps. */
  const mapAll = (name: string): Array<[number, number]> =>
    rec.cases[name]!.map((m) => {
      const off = offOf(m);
      const pages = pagesFor(m.size, off);
      const iova = dev.map(pages);
      got.push(`${name} ${hex(iova + off)}`);
      want.push(`${name} ${m.dma}`);
      return [iova, pages];
    });

  // single_seq: 13 maps kept together, then unmapped in order 0..12.
  for (const [iova, pages] of mapAll("single_seq")) dev.unmap(iova, pages);
  // reuse_*: map three pages, unmap them in reverse (strict: freed at once).
  for (const name of ["reuse_first", "reuse_immediate", "reuse_settled"]) {
    for (const [iova, pages] of mapAll(name).reverse()) dev.unmap(iova, pages);
  }
  for (const [iova, pages] of mapAll("map_page")) dev.unmap(iova, pages);
  // sg: one IOVA for the whole list: the sum of the granule-aligned segments
  // (no segment-boundary padding below a 4 GiB boundary).
  for (const name of [
    "gapped4",
    "contig4",
    "mixed6",
    "short_first",
    "gapped32",
    "gapped32_seg1m",
  ]) {
    const list = rec.sg[name]!;
    const pages = list.in.reduce((n, s) => n + pagesFor(s.len, s.off), 0);
    const iova = dev.map(pages);
    got.push(`sg ${name} ${hex(iova + list.in[0]!.off)}`);
    want.push(`sg ${name} ${list.out[0]!.dma}`);
    dev.unmap(iova, pages);
  }
  // coherent: three allocations, freed in allocation order.
  for (const [iova, pages] of mapAll("coherent")) dev.unmap(iova, pages);
  for (const [iova, pages] of mapAll("resource")) dev.unmap(iova, pages);
  for (const [iova, pages] of mapAll("big512m")) dev.unmap(iova, pages);
  // edu: two buffers mapped, both unmapped, then the stale-use buffer.
  for (const [iova, pages] of mapAll("edu_map")) dev.unmap(iova, pages);
  for (const [iova, pages] of mapAll("edu_stale_map")) dev.unmap(iova, pages);

  assertEquals(got, want);
  assertEquals(got.length, 37, "13 + 9 + 1 + 6 + 3 + 1 + 1 + 2 + 1 mappings");
  assert(dev.pci32bitWorkaround, "everything fitted below 4 GiB: the device never switched to DAC");
  d.rcache.flushAll();
  assertEquals(d.liveRanges(), [], "every IOVA came back");
});

test("allocIovaFast rounds sizes below 32 granules up to a power of two and aligns every size to its power of two (kernel: alloc_iova_fast + size_aligned)", () => {
  const d = new IovaDomain(GRANULE, 1);
  assertEquals(
    d.allocIovaFast(3, LIMIT32_PFN, false),
    0xffffc,
    "3 → 4 granules at a multiple of 4",
  );
  assertEquals(
    d.allocIovaFast(33, LIMIT32_PFN, false),
    0xfffc0,
    "33 stays 33 but starts at a multiple of 64",
  );
  const n = d.findIova(0xfffc0)!;
  assertEquals(n.pfnHi - n.pfnLo + 1, 33, "only 33 granules are taken: 0xfffe1..0xffffb stay free");
  assertEquals(d.allocIovaFast(1, LIMIT32_PFN, false), 0xfffbf, "the walk continues below it");
  assertEquals(
    d.allocIova(3, LIMIT32_PFN, false)!.pfnLo,
    0xfffbc,
    "alloc_iova without size_aligned: no rounding, no alignment",
  );
});

test("roundupPowOfTwo is exact beyond 32 bits", () => {
  assertEquals([1, 2, 3, 4, 5, 31, 33].map(roundupPowOfTwo), [1, 2, 4, 4, 8, 32, 64]);
  assertEquals(roundupPowOfTwo(2 ** 31 + 1), 2 ** 32);
  assertEquals(roundupPowOfTwo(2 ** 40 - 5), 2 ** 40);
});

test("large pfns and alignments use exact arithmetic (no 32-bit truncation)", () => {
  const d = new IovaDomain(GRANULE, 1);
  const a = d.allocIova(2 ** 35, 2 ** 40 - 1, true)!;
  assertEquals([a.pfnLo, a.pfnHi], [2 ** 40 - 2 ** 35, 2 ** 40 - 1]);
  const b = d.allocIova(3 * 2 ** 33, 2 ** 40 - 1, true)!;
  assertEquals(b.pfnLo, 2 ** 40 - 2 * 2 ** 35, "aligned down to 2^35 below the first");
});

test("the 32-bit cached node is shared by every limit up to 4 GiB, so a walk starts below the last 32-bit allocation (kernel: __get_cached_rbnode)", () => {
  const d = new IovaDomain(GRANULE, 1);
  assertEquals(d.allocIova(1, LIMIT32_PFN, true)!.pfnLo, 0xfffff);
  assertEquals(d.allocIova(4, 15, true)!.pfnLo, 12, "a low-limit allocation becomes cached32Node");
  assertEquals(
    d.allocIova(2, LIMIT32_PFN, true)!.pfnLo,
    10,
    "walks down from pfn 12, not from the top",
  );
  assertEquals(d.stats().retries, 0);
});

test("when nothing fits below the cached node the walk is retried once from the limit down to just above it (kernel: retry via iova_find_limit)", () => {
  const d = new IovaDomain(GRANULE, 1);
  d.allocIova(1, LIMIT32_PFN, true); // 0xfffff
  d.allocIova(4, 15, true); // [12, 15] becomes the cached node
  const n = d.allocIova(16, LIMIT32_PFN, true)!;
  assertEquals(n.pfnLo, 0xfffe0, "found in the second walk, from the top");
  assertEquals(d.stats().retries, 1);
});

test("allocations above 4 GiB use the other cached node and start at their limit", () => {
  const d = q35Domain();
  const low = d.allocIova(1, LIMIT32_PFN, true)!;
  const high = d.allocIova(1, LIMIT39_PFN, true)!;
  assertEquals(high.pfnLo, LIMIT39_PFN);
  const c = d.cachedNodes();
  assertStrictEquals(c.cachedNode, high);
  assertStrictEquals(c.cached32Node, low);
});

test("freeing moves the cached nodes to the successor of what is freed (kernel: __cached_rbnode_delete_update)", () => {
  const d = new IovaDomain(GRANULE, 1);
  const a = d.allocIova(1, LIMIT32_PFN, true)!; // 0xfffff
  const b = d.allocIova(1, LIMIT32_PFN, true)!; // 0xffffe
  const c = d.allocIova(1, LIMIT32_PFN, true)!; // 0xffffd
  assertStrictEquals(d.cachedNodes().cached32Node, c);
  d.freeIovaNode(b);
  assertStrictEquals(
    d.cachedNodes().cached32Node,
    a,
    "b was above the cached node: move to b's successor",
  );
  const b2 = d.allocIova(1, LIMIT32_PFN, true)!;
  assertEquals(b2.pfnLo, 0xffffe, "so the hole is found again");
  assertStrictEquals(d.cachedNodes().cached32Node, b2, "the new range becomes the cached node");
  d.freeIovaNode(c);
  assertStrictEquals(d.cachedNodes().cached32Node, b2, "c was below the cached node: no move");
});

test("a failed 32-bit allocation sets max32AllocSize; same-or-larger requests then fail without a walk until something below 4 GiB is freed", () => {
  const d = new IovaDomain(GRANULE, 1);
  const big = d.allocIova(2 ** 19, LIMIT32_PFN, true)!;
  assertEquals(
    d.allocIova(2 ** 19, LIMIT32_PFN, true),
    null,
    "only 2^19 − 1 granules remain (pfn 0 is never used)",
  );
  assertEquals(d.max32AllocSize, 2 ** 19);
  const before = d.stats();
  assertEquals(d.allocIova(2 ** 19 + 5, LIMIT32_PFN, true), null);
  assertEquals(d.stats().max32FastFails, before.max32FastFails + 1, "refused by the hint");
  assertEquals(d.stats().walkSteps, before.walkSteps, "no walk");
  assert(
    d.allocIova(2 ** 18, LIMIT32_PFN, true) !== null,
    "smaller requests still walk and succeed",
  );
  assert(
    d.allocIova(2 ** 19, LIMIT39_PFN, true) !== null,
    "the hint applies to ≤ 4 GiB limits only",
  );
  const above = d.allocIova(1, LIMIT39_PFN, true)!;
  d.allocIova(2 ** 19, LIMIT32_PFN, true);
  d.freeIovaNode(above);
  assertEquals(d.max32AllocSize, 2 ** 19, "a free above 4 GiB does not lift it");
  d.freeIovaNode(big);
  assertEquals(d.max32AllocSize, d.dma32BitPfn, "a free below 4 GiB does");
  assert(d.allocIova(2 ** 19, LIMIT32_PFN, true) !== null);
});

test("a failed allocation above 4 GiB also sets the max32 hint (the kernel sets it whatever the limit)", () => {
  const d = new IovaDomain(GRANULE, 1);
  d.reserveIova(1, 2 ** 21 - 1);
  assertEquals(d.allocIova(64, 2 ** 21 - 1, true), null);
  assertEquals(d.max32AllocSize, 64);
});

test("reserveIova stretches the ranges it overlaps and inserts a node only for the rest (kernel: reserve_iova + __adjust_overlap_range)", () => {
  const d = new IovaDomain(GRANULE, 1);
  d.reserveIova(100, 200);
  d.reserveIova(150, 300);
  const ranges = () => d.allRanges().map((r) => [r.pfnLo, r.pfnHi]);
  assertEquals(
    ranges(),
    [
      [100, 200],
      [201, 300],
      [IOVA_ANCHOR_PFN, IOVA_ANCHOR_PFN],
    ],
    "adjacent, not merged",
  );
  d.reserveIova(50, 120);
  assertEquals(ranges()[0], [50, 200], "stretched down");
  const inside = d.reserveIova(60, 70);
  assertEquals([inside.pfnLo, inside.pfnHi], [50, 200], "wholly covered: the existing node");
  d.reserveIova(40, 400);
  assertEquals(ranges(), [
    [40, 200],
    [201, 300],
    [301, 400],
    [IOVA_ANCHOR_PFN, IOVA_ANCHOR_PFN],
  ]);
  assertEquals(d.liveRanges(), []);
  assertEquals(d.stats().reservedNodes, 3);
  assertThrows(() => d.freeIova(250), IovaError, "reserved");
  assertThrows(() => d.reserveIova(5, 4), RangeError, "pfnHi");
});

test("q35: the PCI windows and the VT-d interrupt range are never handed out", () => {
  const d = q35Domain();
  const big = d.allocIovaFast(131072, LIMIT32_PFN, false);
  assertEquals(big * GRANULE, 0x60000000, "512 MiB below the 0x80000000 window");
  for (const [lo, hi] of Q35_RESERVED) {
    const r = d.findIova(lo / GRANULE)!;
    assert(r.reserved && r.pfnLo <= lo / GRANULE && r.pfnHi >= Math.floor(hi / GRANULE), hex(lo));
  }
});

test("alloc_iova_fast with flush: cached IOVAs go back to the tree and the allocation is retried once", () => {
  const d = new IovaDomain(GRANULE, 1);
  const pfns = Array.from({ length: 8 }, () => d.allocIovaFast(1, 15, false));
  assertEquals(pfns, [15, 14, 13, 12, 11, 10, 9, 8]);
  for (const p of pfns) d.freeIovaFast(p, 1);
  assertEquals(d.allocIovaFast(8, 15, false), 0, "the single pages are held by the rcache");
  assertEquals(d.allocIovaFast(8, 15, true), 8, "after the flush they merge back into room for 8");
  assertEquals(d.stats().rcacheFlushes, 1);
  assertEquals(d.rcache.cachedCounts(), [0, 0, 0, 0, 0, 0]);
});

test("the rcache pop respects the limit: a cached pfn above it is skipped and the tree is used", () => {
  const d = new IovaDomain(GRANULE, 1);
  const high = d.allocIovaFast(1, LIMIT32_PFN, false);
  d.freeIovaFast(high, 1);
  const low = d.allocIovaFast(1, 0xfff, false);
  assertEquals(low, 0xfff, "from the tree, under the lower limit");
  assertEquals(d.allocIovaFast(1, LIMIT32_PFN, false), high, "still cached for a wider limit");
});

test("simulator misuse: bad arguments are RangeErrors, unknown frees and use after putDomain are IovaErrors", () => {
  assertThrows(() => new IovaDomain(3000, 1), RangeError, "power of two");
  assertThrows(() => new IovaDomain(131072, 1), RangeError, "65536");
  const d = new IovaDomain(GRANULE, 1);
  assertEquals([d.dma32BitPfn, d.max32AllocSize], [2 ** 20, 2 ** 20]);
  assertThrows(() => d.allocIovaFast(0, LIMIT32_PFN, false), RangeError, "size");
  assertThrows(() => d.allocIova(1.5, LIMIT32_PFN, false), RangeError, "size");
  assertThrows(() => d.allocIova(1, -1, false), RangeError, "limitPfn");
  assertThrows(() => d.allocIovaFast(1, LIMIT32_PFN, false, 1), RangeError, "cpu");
  assertThrows(() => d.freeIova(1234), IovaError, "not allocated");
  const n = d.allocIova(1, LIMIT32_PFN, true)!;
  d.freeIovaNode(n);
  assertThrows(() => d.freeIovaNode(n), IovaError, "not allocated");
  assertThrows(() => d.freeIova(IOVA_ANCHOR_PFN), IovaError, "reserved");
  d.allocIovaFast(1, LIMIT32_PFN, false);
  d.putDomain();
  assertEquals(d.allRanges(), []);
  assertThrows(() => d.allocIovaFast(1, LIMIT32_PFN, false), IovaError, "put");
});

test("free_iova_fast of a never-allocated pfn: cached as in the kernel, and the flush that gives it back skips it (iova_magazine_free_pfns' WARN_ON and continue)", () => {
  const d = new IovaDomain(GRANULE, 1);
  const live = d.allocIovaFast(1, LIMIT32_PFN, false);
  d.freeIovaFast(0x7000, 1);
  d.freeIovaFast(live, 1);
  assertEquals(d.rcache.magazineContents(0, 0).loaded, [0x7000, live], "both cached, unchecked");
  d.rcache.flushAll();
  assertEquals(d.liveRanges(), [], "the real range went back to the tree");
  assertEquals(d.stats().unknownCachedFrees, 1, "the unknown pfn was skipped and counted");
  const p = d.allocIovaFast(1, LIMIT32_PFN, false);
  assert(p > 0, "the allocator still works");
  // Ill-typed pfns and sizes are refused before anything is cached.
  assertThrows(() => d.freeIovaFast(Number.NaN, 1), RangeError, "freeIovaFast: pfn");
  assertThrows(() => d.freeIovaFast("4096" as never, 1), RangeError, 'got "4096"');
  assertThrows(() => d.freeIovaFast(p, 1.5), RangeError, "freeIovaFast: size");
  assertThrows(() => d.freeIovaFast(p, 1, 1), RangeError, "freeIovaFast: cpu");
  assertThrows(() => d.allocIovaFast(1, LIMIT32_PFN, 0 as never), TypeError, "flushRcache");
  assertEquals(d.stats().fastFrees, 2, "nothing counted for the refused calls");
});

test("property: random alloc/free on several CPUs never overlaps (reserved ranges included), keeps alignment and limits, and the tree = held + rcache-cached at every step", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          size: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(64, 100, 129)),
          limit: fc.constantFrom(0x3ff, 0xfff, 0xffff, 0x1ffff),
          free: fc.boolean(),
          pick: fc.nat(),
          cpu: fc.integer({ min: 0, max: 2 }),
          flush: fc.boolean(),
        }),
        { maxLength: 120 },
      ),
      (ops) => {
        const d = new IovaDomain(GRANULE, 1, { cpus: 3 });
        d.reserveIova(0x800, 0x9ff);
        d.reserveIova(0x10000, 0x10000);
        const reserved: Array<[number, number]> = [
          [0x800, 0x9ff],
          [0x10000, 0x10000],
        ];
        const held = new Map<number, number>(); // pfn → granules
        for (const op of ops) {
          if (op.free && held.size > 0) {
            const keys = [...held.keys()];
            const pfn = keys[op.pick % keys.length]!;
            d.freeIovaFast(pfn, held.get(pfn)!, op.cpu);
            held.delete(pfn);
          } else {
            const pfn = d.allocIovaFast(op.size, op.limit, op.flush, op.cpu);
            if (pfn !== 0) {
              const n = op.size < 32 ? roundupPowOfTwo(op.size) : op.size;
              assertEquals(pfn % roundupPowOfTwo(n), 0, "size-aligned");
              assert(pfn >= 1 && pfn + n - 1 <= op.limit, "within [startPfn, limit]");
              for (const [lo, hi] of reserved)
                assert(pfn + n - 1 < lo || pfn > hi, "outside reserved ranges");
              for (const [q, m] of held)
                assert(pfn + n <= q || q + m <= pfn, "no overlap with held ranges");
              held.set(pfn, n);
            }
          }
          // Accounting: every live tree range is held by a caller or cached, exactly once.
          const cached = d.rcache.cachedPfns().map((c) => c.pfn);
          const live = d.liveRanges().map((r) => r.pfnLo);
          assertEquals(
            live,
            [...held.keys(), ...cached].sort((a, b) => a - b),
            "tree = held ∪ cached",
          );
          const all = d.allRanges();
          for (let i = 1; i < all.length; i++)
            assert(all[i - 1]!.pfnHi < all[i]!.pfnLo, "ordered, disjoint");
        }
        for (const [pfn, n] of held) d.freeIovaFast(pfn, n, 0);
        d.rcache.flushAll();
        assertEquals(d.liveRanges(), [], "only reserved nodes and the anchor remain");
        assertEquals(d.allRanges().length, reserved.length + 1);
        // Every freed granule is usable again: 1-granule requests fill the whole space below 0x3ff.
        let n = 0;
        while (d.allocIova(1, 0x3ff, true) !== null) n++;
        assertEquals(n, 0x3ff, "pfns 1..0x3ff all allocatable");
      },
    ),
    { numRuns: 60, seed: 42 },
  );
});

test("property: the treap keeps pfn order through any insert/delete sequence (allRanges sorted, findIova finds each range)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 9 }), fc.boolean(), fc.nat()), {
        maxLength: 300,
      }),
      (ops) => {
        const d = new IovaDomain(GRANULE, 1);
        const held: number[] = [];
        for (const [size, free, pick] of ops) {
          if (free && held.length > 0) d.freeIova(held.splice(pick % held.length, 1)[0]!);
          else {
            const n = d.allocIova(size, 0xfff, pick % 2 === 0);
            if (n !== null) held.push(n.pfnLo);
          }
        }
        const all = d.allRanges();
        for (let i = 1; i < all.length; i++) assert(all[i - 1]!.pfnHi < all[i]!.pfnLo);
        for (const pfn of held) assertEquals(d.findIova(pfn)!.pfnLo, pfn);
        assertEquals(d.stats().nodes, held.length + 1);
      },
    ),
    { numRuns: 100, seed: 7 },
  );
});
