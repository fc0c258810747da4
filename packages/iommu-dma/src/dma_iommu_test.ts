// Clause tests for the IOMMU DMA path (spec §6.7, §6.8, and the IOMMU rows of §6.1–§6.5).
import {
  DMA_ATTR_MMIO,
  DMA_ATTR_REQUIRE_COHERENT,
  DMA_BIDIRECTIONAL,
  DMA_BIT_MASK,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  EIO,
  ENOMEM,
  EOPNOTSUPP,
  EPERM,
  GFP_KERNEL,
  SgTable,
  SIZE_MAX,
} from "@dmasim/dma-core";
import {
  assert,
  assertEquals,
  assertExists,
  assertGreater,
  assertLess,
  assertNotEquals,
  test,
} from "@dmasim/testing";
import fc from "fast-check";
import { iommuFixture } from "./_fixture_test_helpers.ts";

test("C012 I-C: a 32-bit mask is not addressing-limited (the IOMMU's required mask is 32 bits)", () => {
  const f = iommuFixture("I-C", { maskBits: 32 });
  assertEquals(f.kernel.getRequiredMask(f.dev), DMA_BIT_MASK(32));
  assertEquals(f.kernel.addressingLimited(f.dev), false);
});

test("C015 I-C: max mapping size SIZE_MAX, opt 128 KiB, merge boundary 4095; I-U: 256 KiB", () => {
  const f = iommuFixture("I-C");
  assertEquals(f.kernel.maxMappingSize(f.dev), SIZE_MAX);
  assertEquals(f.kernel.optMappingSize(f.dev), 131072n);
  assertEquals(f.kernel.getMergeBoundary(f.dev), 4095n);
  const u = iommuFixture("I-U");
  assertEquals(u.kernel.maxMappingSize(u.dev), 262144n);
});

test("C005/C024 I-C: any mask is accepted; with dma_map_ops as well, setMask warns and fails; maps still go to the IOMMU", () => {
  const f = iommuFixture("I-C", { config: { archHasDmaOps: true } });
  assertEquals(f.kernel.setMask(f.dev, DMA_BIT_MASK(24)), 0);
  f.kernel.setDmaOps(f.dev, { name: "platform_ops", mapPhys: () => 0x1234 });
  assertEquals(f.kernel.setMask(f.dev, DMA_BIT_MASK(64)), -EIO);
  assertEquals(f.kernel.log.withCode("dma-supported-ops-and-iommu").length, 1);
  const d = f.kernel.mapPhys(f.dev, 0x102400000, 4096, DMA_TO_DEVICE);
  assertNotEquals(d, 0x1234, "the IOMMU path wins over the ops table");
  assertEquals(f.unit.domainOf(f.dev.iommuId)!.iovaToPhys(d), 0x102400000);
  f.kernel.unmapPhys(f.dev, d, 4096, DMA_TO_DEVICE);
});

test("C024 an identity (passthrough) domain sends the device to dma-direct", () => {
  const f = iommuFixture("I-C", { domain: "identity" });
  assertEquals(f.dev.dmaIommu, false);
  assertEquals(f.kernel.mapPhys(f.dev, 0x102400000, 4096, DMA_TO_DEVICE), 0x102400000);
  f.kernel.unmapPhys(f.dev, 0x102400000, 4096, DMA_TO_DEVICE);
});

test("C068 I-C: an entry at granule offset 0x100 starts a new segment ending in 0x100; physical contiguity is irrelevant", () => {
  const f = iommuFixture("I-C");
  const sgt = SgTable.fromPhys([
    { phys: 0x102400000, length: 4096 },
    { phys: 0x102402000, length: 4096 },
    { phys: 0x102404100, length: 1024 },
  ]);
  assertEquals(f.kernel.mapSgtable(f.dev, sgt, DMA_TO_DEVICE), 0);
  assertEquals(sgt.nents, 2);
  assertEquals(sgt.sgl[0]!.dmaLength, 8192, "two non-adjacent pages merge in IOVA space");
  assertEquals(sgt.sgl[1]!.dmaAddress % 4096, 0x100);
  assertEquals(sgt.sgl[1]!.dmaLength, 1024);
  f.kernel.unmapSgtable(f.dev, sgt, DMA_TO_DEVICE);
});

test("I-C: mapSgtable maps exactly the pages of its entries (small pages and 2 MiB blocks), and unmapSgtable all of them", () => {
  // Entries at random pages and offsets, and now and then a 2 MiB-aligned
  // run that the page table may map as one block: the IOVA pages of the
  // output segments must translate to the entries' pages, as a multiset.
  const entry = fc.oneof(
    fc.record({
      page: fc.integer({ min: 0, max: 4000 }),
      offset: fc.integer({ min: 0, max: 4095 }),
      length: fc.integer({ min: 1, max: 3 * 4096 }),
    }),
    fc.constant({ page: 0x80000, offset: 0, length: 2 ** 21 }),
  );
  fc.assert(
    fc.property(fc.array(entry, { minLength: 1, maxLength: 10 }), (entries) => {
      const f = iommuFixture("I-C");
      const base = 0x100000000;
      const list = entries.map((e) => ({
        phys: base + e.page * 4096 + e.offset,
        length: e.length,
      }));
      const want: number[] = [];
      for (const e of list)
        for (
          let p = Math.floor(e.phys / 4096);
          p <= Math.floor((e.phys + e.length - 1) / 4096);
          p++
        )
          want.push(p);
      const sgt = SgTable.fromPhys(list);
      assertEquals(f.kernel.mapSgtable(f.dev, sgt, DMA_TO_DEVICE), 0);
      const domain = f.unit.domainOf(f.dev.iommuId)!;
      const got: number[] = [];
      const iovaPages: number[] = [];
      for (let i = 0; i < sgt.nents; i++) {
        const s = sgt.sgl[i]!;
        const end = s.dmaAddress + s.dmaLength;
        for (let a = s.dmaAddress - (s.dmaAddress % 4096); a < end; a += 4096) {
          iovaPages.push(a);
          got.push(Math.floor(domain.iovaToPhys(a) / 4096));
        }
      }
      assertEquals(
        got.sort((x, y) => x - y),
        want.sort((x, y) => x - y),
      );
      f.kernel.unmapSgtable(f.dev, sgt, DMA_TO_DEVICE);
      for (const a of iovaPages) assertEquals(domain.iovaToPhys(a), 0);
    }),
    { numRuns: 60 },
  );
});

test("C073 I-C with the IOVA space exhausted: -ENOMEM, and the list's offsets and lengths are restored", () => {
  const f = iommuFixture("I-C", { maskBits: 20 });
  const entries = Array.from({ length: 300 }, (_, i) => ({
    phys: 0x102400000 + i * 8192 + 0x80,
    length: 100,
  }));
  const sgt = SgTable.fromPhys(entries);
  assertEquals(f.kernel.mapSgtable(f.dev, sgt, DMA_TO_DEVICE), -ENOMEM);
  sgt.sgl.forEach((s, i) => {
    assertEquals([s.phys, s.length], [entries[i]!.phys, 100]);
  });
});

test("C074 I-U: every entry mapped on its own (bounced when unaligned), no merging, the list flagged swiotlb", () => {
  const f = iommuFixture("I-U");
  const sgt = SgTable.fromPhys([
    { phys: 0x102400000, length: 4096 },
    { phys: 0x102401000, length: 512 },
  ]);
  assertEquals(f.kernel.mapSgtable(f.dev, sgt, DMA_TO_DEVICE), 0);
  assertEquals(sgt.nents, 2);
  assert((sgt.sgl[0]!.dmaFlags & 2) !== 0);
  const pa1 = f.unit.domainOf(f.dev.iommuId)!.iovaToPhys(sgt.sgl[1]!.dmaAddress);
  assert(f.kernel.swiotlb!.isSwiotlbBuffer(pa1), "the 512-byte entry is bounced");
  f.kernel.unmapSgtable(f.dev, sgt, DMA_TO_DEVICE);
});

test("C097 I-C: a device write through a TO_DEVICE IOVA faults, a read through FROM_DEVICE faults, BIDIRECTIONAL allows both", () => {
  const f = iommuFixture("I-C");
  const to = f.kernel.mapPhys(f.dev, 0x102400000, 4096, DMA_TO_DEVICE);
  const from = f.kernel.mapPhys(f.dev, 0x102401000, 4096, DMA_FROM_DEVICE);
  const bi = f.kernel.mapPhys(f.dev, 0x102402000, 4096, DMA_BIDIRECTIONAL);
  assertEquals(f.engine.write(to, new Uint8Array(4)), false);
  assertEquals(f.engine.lastFault?.code, 0x05);
  assertEquals(f.engine.readBytes(from, 4), null);
  assertEquals(f.engine.lastFault?.code, 0x06);
  assert(f.engine.write(bi, new Uint8Array(4)) && f.engine.readBytes(bi, 4) !== null);
  f.kernel.unmapPhys(f.dev, to, 4096, DMA_TO_DEVICE);
  f.kernel.unmapPhys(f.dev, from, 4096, DMA_FROM_DEVICE);
  f.kernel.unmapPhys(f.dev, bi, 4096, DMA_BIDIRECTIONAL);
});

test("C098 strict: after unmap the device's access to the IOVA faults", () => {
  const f = iommuFixture("I-C");
  const d = f.kernel.mapPhys(f.dev, 0x102400000, 4096, DMA_FROM_DEVICE);
  assert(f.engine.write(d, new Uint8Array(8)));
  f.kernel.unmapPhys(f.dev, d, 4096, DMA_FROM_DEVICE);
  assertEquals(f.engine.write(d, new Uint8Array(8)), false);
  assertEquals(f.unit.hazards.length, 0);
});

test("C098 lazy: the freed IOVA is not reused until the flush queue flushes, and the stale IOTLB window is observable", () => {
  const f = iommuFixture("I-C", { domain: "dma-fq" });
  const d = f.kernel.mapPhys(f.dev, 0x102400000, 4096, DMA_FROM_DEVICE);
  assert(f.engine.write(d, new Uint8Array(8)), "fills the IOTLB");
  f.kernel.unmapPhys(f.dev, d, 4096, DMA_FROM_DEVICE);
  assert(
    f.engine.write(d, Uint8Array.of(0xee)),
    "no invalidation yet: the stale entry still translates",
  );
  assertEquals(f.unit.hazards[0]?.kind, "stale-iotlb");
  const again = f.kernel.mapPhys(f.dev, 0x102401000, 4096, DMA_FROM_DEVICE);
  assertNotEquals(again, d, "the queued IOVA is not handed out");
  f.kernel.unmapPhys(f.dev, again, 4096, DMA_FROM_DEVICE);
  f.machine.clock.advance(10_000_000);
  assertEquals(
    f.engine.write(d, new Uint8Array(8)),
    false,
    "after the 10 ms flush the access faults",
  );
  const reused = f.kernel.mapPhys(f.dev, 0x102402000, 4096, DMA_FROM_DEVICE);
  assert(reused === d || reused === again, "flushed IOVAs come back from the rcache");
  f.kernel.unmapPhys(f.dev, reused, 4096, DMA_FROM_DEVICE);
  f.machine.clock.advance(10_000_000);
});

test("C099 I-N: the map cleans the buffer for the device and the unmap invalidates for the CPU", () => {
  const f = iommuFixture("I-N");
  const va = f.machine.kas.kmalloc(4096)!;
  f.kernel.cpuFill(va, 4096, 0x31);
  const d = f.kernel.mapSingle(f.dev, va, 4096, DMA_BIDIRECTIONAL);
  assertEquals(f.engine.readBytes(d, 1)![0], 0x31, "dirty lines were cleaned at map");
  f.engine.write(d, Uint8Array.of(0x32));
  f.kernel.unmapSingle(f.dev, d, 4096, DMA_BIDIRECTIONAL);
  assertEquals(f.kernel.cpuRead(va, 1)[0], 0x32);
  assertEquals(
    f.kernel.maintenance.map((m) => m.edge),
    ["for-device", "for-cpu"],
  );
  f.machine.kas.kfree(va);
});

test("C101/C102 I-U: a page-aligned page is not bounced; without swiotlb an unaligned buffer fails with the warning", () => {
  const f = iommuFixture("I-U");
  const d = f.kernel.mapPhys(f.dev, 0x102400000, 4096, DMA_TO_DEVICE);
  assertEquals(f.kernel.stats.swiotlbBounces, 0);
  f.kernel.unmapPhys(f.dev, d, 4096, DMA_TO_DEVICE);
  const g = iommuFixture("I-U", { swiotlb: false });
  assertEquals(g.kernel.mapPhys(g.dev, 0x102400100, 100, DMA_TO_DEVICE), DMA_MAPPING_ERROR);
  assertEquals(
    g.kernel.log.events.at(-1)?.message,
    "DMA bounce buffers are inactive, unable to map unaligned transaction.",
  );
});

test("I-U: an unaligned buffer is bounced into whole granules whose padding is zeroed (no stale kernel data)", () => {
  const f = iommuFixture("I-U");
  // Leftover kernel data in the bounce pool.
  f.machine.memory.fill(f.kernel.swiotlb!.start, 65536, 0xcc);
  f.kernel.cpuFill(f.machine.kas.physToVirt(0x102400100), 100, 0x11);
  const d = f.kernel.mapPhys(f.dev, 0x102400100, 100, DMA_TO_DEVICE);
  assertEquals(d % 4096, 0, "without a min_align_mask the bounce starts its granule");
  const page = f.engine.readBytes(d, 4096)!;
  assertEquals(page[0], 0x11);
  assertEquals(page[99], 0x11);
  assert(
    page.subarray(100).every((b) => b === 0),
    "post-padding zeroed",
  );
  f.kernel.unmapPhys(f.dev, d, 100, DMA_TO_DEVICE);
});

test("C103 I-C: a min_align_mask above granule - 1 fails with 'Unsupported alignment constraint'", () => {
  const f = iommuFixture("I-C");
  f.kernel.setMinAlignMask(f.dev, 0x1fff);
  assertEquals(f.kernel.mapPhys(f.dev, 0x102400000, 4096, DMA_TO_DEVICE), DMA_MAPPING_ERROR);
  assertEquals(f.kernel.log.events.at(-1)?.message, "Unsupported alignment constraint");
});

test("C104 I-C: mapResource maps with IOMMU_MMIO and no cache operation", () => {
  const f = iommuFixture("I-C");
  const d = f.kernel.mapResource(f.dev, 0xfea00000, 4096, DMA_BIDIRECTIONAL);
  const pte = { pa: 0, prot: 0, pageSize: 0 };
  assert(f.unit.domainOf(f.dev.iommuId)!.pageTable!.lookup(d, pte));
  assertEquals(pte.prot & 16, 16, "IOMMU_MMIO");
  assertEquals(pte.prot & 4, 0, "never IOMMU_CACHE");
  assertEquals(f.kernel.stats.cacheMaintenanceOps, 0);
  f.kernel.unmapResource(f.dev, d, 4096, DMA_BIDIRECTIONAL);
});

test("C107 iovaTryAlloc with size 0 is false with a one-time warning; a real one reserves granules", () => {
  const f = iommuFixture("I-C");
  const st = { addr: 0, size: 0, useSwiotlb: false };
  assertEquals(f.kernel.iovaTryAlloc(f.dev, st, 0, 0), false);
  assertEquals(f.kernel.log.withCode("iova-try-alloc-size").length, 1);
  assert(f.kernel.iovaTryAlloc(f.dev, st, 0x123, 8192));
  assertEquals(st.addr % 4096, 0x123);
  assert(f.kernel.useIova(st));
  f.kernel.iovaFree(f.dev, st);
});

test("C109/C111/C113 link, sync and destroy: unaligned later links fail, unsynced use is flagged, destroy unmaps and frees", () => {
  const f = iommuFixture("I-C");
  const st = { addr: 0, size: 0, useSwiotlb: false };
  assert(f.kernel.iovaTryAlloc(f.dev, st, 0, 16384));
  assertEquals(f.kernel.iovaLink(f.dev, st, 0x102400000, 0, 8192, DMA_BIDIRECTIONAL), 0);
  assertEquals(f.kernel.iovaLink(f.dev, st, 0x102402100, 8192, 4096, DMA_BIDIRECTIONAL), -EIO);
  assert(f.engine.write(st.addr, Uint8Array.of(1)));
  assertEquals(f.unit.hazards.at(-1)?.kind, "unsynced-map");
  assertEquals(f.kernel.iovaSync(f.dev, st, 0, 8192), 0);
  const before = f.unit.hazards.length;
  assert(f.engine.write(st.addr + 4096, Uint8Array.of(2)));
  assertEquals(f.unit.hazards.length, before, "after dma_iova_sync the access is fine");
  const addr = st.addr;
  f.kernel.iovaDestroy(f.dev, st, 8192, DMA_BIDIRECTIONAL);
  assertEquals(f.engine.write(addr, Uint8Array.of(3)), false);
  assertEquals(f.kernel.liveResources(), []);
});

test("C110 I-N with REQUIRE_COHERENT: link -EOPNOTSUPP; I-U unaligned with MMIO: -EPERM", () => {
  const n = iommuFixture("I-N");
  const st = { addr: 0, size: 0, useSwiotlb: false };
  assert(n.kernel.iovaTryAlloc(n.dev, st, 0, 4096));
  assertEquals(
    n.kernel.iovaLink(n.dev, st, 0x50000000, 0, 4096, DMA_TO_DEVICE, DMA_ATTR_REQUIRE_COHERENT),
    -EOPNOTSUPP,
  );
  n.kernel.iovaFree(n.dev, st);
  const u = iommuFixture("I-U");
  const s2 = { addr: 0, size: 0, useSwiotlb: false };
  assert(u.kernel.iovaTryAlloc(u.dev, s2, 0x100, 100));
  assertEquals(
    u.kernel.iovaLink(u.dev, s2, 0x102400100, 0, 100, DMA_TO_DEVICE, DMA_ATTR_MMIO),
    -EPERM,
  );
  u.kernel.iovaFree(u.dev, s2);
});

test("C088 I-C: a 64 KiB coherent allocation is one contiguous IOVA range over separate pages, zeroed, with a vmalloc-style CPU address", () => {
  const f = iommuFixture("I-C", { maskBits: 32 });
  const a = f.kernel.allocCoherent(f.dev, 65536, GFP_KERNEL)!;
  assertExists(a);
  assertLess(a.handle + 65535, 2 ** 32);
  assertEquals(f.machine.kas.regionOf(a.cpuAddr), "vmalloc");
  assert(f.engine.readBytes(a.handle, 65536)!.every((b) => b === 0));
  f.kernel.cpuWrite(a.cpuAddr + 40000, Uint8Array.of(9));
  assertEquals(f.engine.readBytes(a.handle + 40000, 1)![0], 9);
  f.kernel.freeCoherent(f.dev, 65536, a.cpuAddr, a.handle);
});

test("PCI devices try 32-bit IOVAs first; when that space is full they switch to the full mask for good, with the notice", () => {
  const f = iommuFixture("I-C");
  const big = 512 * 2 ** 20;
  const got: number[] = [];
  for (let i = 0; i < 5; i++) got.push(f.kernel.mapPhys(f.dev, 0x100000000, big, DMA_TO_DEVICE));
  assertEquals(got.slice(0, 3), [0x60000000, 0x40000000, 0x20000000]);
  assertGreater(got[3]!, 2 ** 32);
  assertEquals(f.kernel.log.withCode("iommu-dac")[0]?.message, "Using 39-bit DMA addresses");
  const small = f.kernel.mapPhys(f.dev, 0x102400000, 4096, DMA_TO_DEVICE);
  assertGreater(small, 2 ** 32, "the workaround stays off for this device");
  f.kernel.unmapPhys(f.dev, small, 4096, DMA_TO_DEVICE);
  for (const d of got) f.kernel.unmapPhys(f.dev, d, big, DMA_TO_DEVICE);
});

test("iommu.forcedac: 64-bit IOVAs from the start", () => {
  const f = iommuFixture("I-C", { forcedac: true });
  const d = f.kernel.mapPhys(f.dev, 0x102400000, 4096, DMA_TO_DEVICE);
  assertEquals(d, 2 ** 39 - 4096);
  f.kernel.unmapPhys(f.dev, d, 4096, DMA_TO_DEVICE);
});

test("C114 I-U: iova_link of an unaligned range bounces only the partial head and tail granules; unlink copies them back and releases the slots", () => {
  const f = iommuFixture("I-U");
  f.kernel.setMinAlignMask(f.dev, 0xfff);
  const base = 0x20000000;
  assert(f.machine.pages.allocPagesAt(base, 2));
  const va = f.machine.kas.physToVirt(base);
  f.kernel.cpuFill(va, 16384, 0xaa);
  const phys = base + 0x100;
  const size = 3 * 4096;
  const st = { addr: 0, size: 0, useSwiotlb: false };
  assert(f.kernel.iovaTryAlloc(f.dev, st, phys, size));
  assertEquals(f.kernel.iovaLink(f.dev, st, phys, 0, size, DMA_FROM_DEVICE), 0);
  assertEquals(f.kernel.iovaSync(f.dev, st, 0, size), 0);
  assert(st.useSwiotlb);
  const dom = f.unit.domainOf(f.dev.iommuId)!;
  const granule = (i: number) => dom.iovaToPhys(st.addr - 0x100 + i * 4096);
  assert(f.kernel.isSwiotlbBuffer(f.dev, granule(0)));
  assertEquals([granule(1), granule(2)], [base + 4096, base + 8192]);
  assert(f.kernel.isSwiotlbBuffer(f.dev, granule(3)));
  assertEquals(f.kernel.swiotlb!.stats().used, 4, "a granule of slots each for head and tail");
  f.engine.write(st.addr, new Uint8Array(size).fill(0x5b));
  f.kernel.iovaUnlink(f.dev, st, 0, size, DMA_FROM_DEVICE);
  assertEquals(f.kernel.swiotlb!.stats().used, 0);
  const b = f.kernel.cpuRead(va, 16384);
  assertEquals([b[0xff], b[0x100], b[0x30ff], b[0x3100]], [0xaa, 0x5b, 0x5b, 0xaa]);
  f.kernel.iovaFree(f.dev, st);
  assertEquals(f.kernel.liveResources(), []);
});

test("C114 I-U without min_align_mask: the head slot loses the granule offset, so the link is refused and the slot released", () => {
  const f = iommuFixture("I-U");
  const st = { addr: 0, size: 0, useSwiotlb: false };
  assert(f.kernel.iovaTryAlloc(f.dev, st, 0x20000100, 4096));
  assertLess(f.kernel.iovaLink(f.dev, st, 0x20000100, 0, 4096, DMA_TO_DEVICE), 0);
  assertEquals(f.kernel.swiotlb!.stats().used, 0);
  f.kernel.iovaFree(f.dev, st);
});
