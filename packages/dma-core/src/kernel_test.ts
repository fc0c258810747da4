// Clause tests for masks, dispatch, argument validation and the streaming,
// sync, scatter-gather and allocation behaviour of dma-direct (spec §6).
import {
  assert,
  assertEquals,
  assertExists,
  assertGreater,
  assertInstanceOf,
  assertLess,
  assertStrictEquals,
  assertThrows,
  test,
} from "@dmasim/testing";
import { bufferAt, fixture, freeBuffer } from "./_fixture_test_helpers.ts";
import {
  DMA_ATTR_MMIO,
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_REQUIRE_COHERENT,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  DMA_BIT_MASK,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_NONE,
  DMA_TO_DEVICE,
  EINVAL,
  EIO,
  ENOMEM,
  ENXIO,
  GFP_ATOMIC,
  GFP_COMP,
  GFP_DMA,
  GFP_DMA32,
  GFP_KERNEL,
  GFP_NOWARN,
  SIZE_MAX,
  ULONG_MAX,
} from "./constants.ts";
import { dmaCapable } from "./direct.ts";
import { KernelBuildError } from "./dispatch.ts";
import type { DmaMapOps } from "./dma_ops.ts";
import { KernelBug } from "./errors.ts";
import { DmaKernel } from "./kernel.ts";
import { SgTable } from "./scatterlist.ts";

const GiB = 2 ** 30;

test("C001 setMask stores an accepted mask and returns 0; -EIO without a dma_mask pointer", () => {
  const f = fixture("D-C");
  assertEquals(f.kernel.setMask(f.dev, DMA_BIT_MASK(40)), 0);
  assertEquals(f.kernel.getMask(f.dev), DMA_BIT_MASK(40));
  const nomask = f.kernel.addDevice({ name: "platform-dev", hasDmaMaskPointer: false });
  assertEquals(f.kernel.setMask(nomask, DMA_BIT_MASK(32)), -EIO);
});

test("C003 D-C accepts every mask of 32 bits or more, 64 included", () => {
  const f = fixture("D-C");
  for (const bits of [32, 36, 48, 63, 64])
    assertEquals(f.kernel.setMask(f.dev, DMA_BIT_MASK(bits)), 0);
});

test("C003 D-C accepts a 28-bit mask (it reaches ZONE_DMA) but refuses a 20-bit one", () => {
  const f = fixture("D-C");
  assertEquals(f.kernel.setMask(f.dev, DMA_BIT_MASK(28)), 0);
  assertEquals(f.kernel.setMask(f.dev, DMA_BIT_MASK(20)), -EIO);
  assertEquals(f.kernel.getMask(f.dev), DMA_BIT_MASK(28), "a refused mask leaves the old one");
});

test("C006 OPS without dma_supported accepts every mask; with one, its verdict decides even under bypass", () => {
  const f = fixture("OPS");
  assertEquals(f.kernel.setMask(f.dev, DMA_BIT_MASK(20)), 0);
  const picky: DmaMapOps = { name: "picky_ops", dmaSupported: (_d, m) => m >= DMA_BIT_MASK(40) };
  const g = fixture("OPS", { ops: picky });
  g.dev.dmaOpsBypass = true;
  assertEquals(g.kernel.setMask(g.dev, DMA_BIT_MASK(32)), -EIO);
  assertEquals(g.kernel.setMask(g.dev, DMA_BIT_MASK(48)), 0);
});

test("C007 setCoherentMask works without a dma_mask pointer and changes only the coherent mask", () => {
  const f = fixture("D-C");
  const dev = f.kernel.addDevice({ name: "nomask", hasDmaMaskPointer: false });
  assertEquals(f.kernel.setCoherentMask(dev, DMA_BIT_MASK(40)), 0);
  assertEquals(dev.coherentDmaMask, DMA_BIT_MASK(40));
  assertEquals(dev.hasDmaMask, false);
});

test("C008 setMaskAndCoherent returns setMask's result and leaves the coherent mask alone on failure", () => {
  const f = fixture("D-C");
  const before = f.dev.coherentDmaMask;
  assertEquals(f.kernel.setMaskAndCoherent(f.dev, DMA_BIT_MASK(16)), -EIO);
  assertEquals(f.dev.coherentDmaMask, before);
  assertEquals(f.kernel.setMaskAndCoherent(f.dev, DMA_BIT_MASK(64)), 0);
  assertEquals(f.dev.coherentDmaMask, DMA_BIT_MASK(64));
});

test("C009 coerceMaskAndCoherent on a device without dma_mask storage leaves both masks equal", () => {
  const f = fixture("D-C");
  const dev = f.kernel.addDevice({ name: "coerced", hasDmaMaskPointer: false });
  assertEquals(f.kernel.coerceMaskAndCoherent(dev, DMA_BIT_MASK(36)), 0);
  assertEquals(dev.dmaMask, DMA_BIT_MASK(36));
  assertEquals(dev.coherentDmaMask, DMA_BIT_MASK(36));
  f.kernel.setCoherentMask(dev, DMA_BIT_MASK(34));
  assertEquals(dev.dmaMask, DMA_BIT_MASK(34), "the mask pointer now aliases coherent_dma_mask");
});

test("C010 getMask is 32 bits for a device with no mask pointer", () => {
  const f = fixture("D-C");
  const dev = f.kernel.addDevice({ name: "nomask2", hasDmaMaskPointer: false });
  assertEquals(f.kernel.getMask(dev), DMA_BIT_MASK(32));
});

test("C012 addressingLimited on D-C: true with 32 bits and RAM above 4 GiB, false with 64", () => {
  const f = fixture("D-C", { maskBits: 32 });
  assertEquals(f.kernel.addressingLimited(f.dev), true);
  f.kernel.setMask(f.dev, DMA_BIT_MASK(64));
  assertEquals(f.kernel.addressingLimited(f.dev), false);
});

test("C013 without dma_parms: 64 KiB segments, ULONG_MAX boundary, no min-align, setters warn once", () => {
  const f = fixture("D-C");
  const dev = f.kernel.addDevice({ name: "noparms", dmaParms: false });
  assertEquals(f.kernel.getMaxSegSize(dev), 65536);
  assertEquals(f.kernel.getSegBoundary(dev), ULONG_MAX);
  assertEquals(f.kernel.getMinAlignMask(dev), 0);
  f.kernel.setMaxSegSize(dev, 1 << 20);
  f.kernel.setMaxSegSize(dev, 1 << 20);
  assertEquals(f.kernel.getMaxSegSize(dev), 65536);
  assertEquals(
    f.kernel.log.events.filter((e) => e.code.startsWith("no-dma-parms:max_seg")).length,
    1,
  );
});

test("C016 D-C: optMappingSize equals maxMappingSize", () => {
  const f = fixture("D-C", { maskBits: 64 });
  assertEquals(f.kernel.optMappingSize(f.dev), f.kernel.maxMappingSize(f.dev));
  assertEquals(f.kernel.maxMappingSize(f.dev), SIZE_MAX);
  f.kernel.setMask(f.dev, DMA_BIT_MASK(32));
  assertEquals(f.kernel.maxMappingSize(f.dev), 262144n, "addressing-limited: swiotlb's maximum");
});

test("C018 after setMask, skip-sync follows coherence; OPS without sync callbacks skips", () => {
  assertEquals(fixture("D-C", { maskBits: 64 }).dev.dmaSkipSync, true);
  assertEquals(fixture("D-N", { maskBits: 64 }).dev.dmaSkipSync, false);
  assertEquals(fixture("OPS", { maskBits: 64 }).dev.dmaSkipSync, true);
});

test("C019 a direction outside 0..2 is a kernel BUG on map, unmap and sync", () => {
  const f = fixture("D-C", { maskBits: 64 });
  const va = bufferAt(f, 0x150000000, 4096);
  assertThrows(
    () => f.kernel.mapSingle(f.dev, va, 4096, DMA_NONE),
    KernelBug,
    "invalid DMA direction 3",
  );
  assertThrows(() => f.kernel.unmapSingle(f.dev, 0x1000, 4096, 7), KernelBug);
  assertThrows(() => f.kernel.syncSingleForCpu(f.dev, 0x1000, 4096, -1), KernelBug);
  freeBuffer(f, va, 4096);
});

test("C020 no dma_mask pointer: map returns the error with a one-time warning, sgtable 'succeeds' with 0 segments", () => {
  const f = fixture("D-C");
  const dev = f.kernel.addDevice({ name: "nomask3", hasDmaMaskPointer: false });
  const va = bufferAt(f, 0x150000000, 4096);
  assertEquals(f.kernel.mapSingle(dev, va, 4096, DMA_TO_DEVICE), DMA_MAPPING_ERROR);
  assertEquals(f.kernel.mapSingle(dev, va, 4096, DMA_TO_DEVICE), DMA_MAPPING_ERROR);
  assertEquals(f.kernel.log.withCode("no-dma-mask:nomask3").length, 1);
  const sgt = SgTable.fromPhys([{ phys: 0x150000000, length: 4096 }]);
  assertEquals(f.kernel.mapSg(dev, sgt.sgl, 1, DMA_TO_DEVICE), 0);
  assertEquals(f.kernel.mapSgtable(dev, sgt, DMA_TO_DEVICE), 0);
  assertEquals(sgt.nents, 0);
  freeBuffer(f, va, 4096);
});

test("C021 mapSingle of vmalloc memory is refused with a one-time warning", () => {
  const f = fixture("D-C", { maskBits: 64 });
  const va = f.machine.kas.vmalloc(8192)!;
  assertEquals(f.kernel.mapSingle(f.dev, va, 8192, DMA_TO_DEVICE), DMA_MAPPING_ERROR);
  assertEquals(
    f.kernel.log.withCode(`vmalloc-map:${f.dev.name}`)[0]?.message,
    "rejecting DMA map of vmalloc memory",
  );
  f.machine.kas.vfree(va);
});

test("C022 mapPage refuses DMA_ATTR_MMIO; unmapPage with it does nothing", () => {
  const f = fixture("D-C", { maskBits: 64 });
  assertEquals(
    f.kernel.mapPage(f.dev, 0x150000000, 0, 4096, DMA_TO_DEVICE, DMA_ATTR_MMIO),
    DMA_MAPPING_ERROR,
  );
  f.kernel.unmapPage(f.dev, 0x150000000, 4096, DMA_TO_DEVICE, DMA_ATTR_MMIO);
  assertEquals(f.kernel.liveResources().length, 0);
});

test("C023 mappingError is -ENOMEM for the error value only, 0 for any address including 0", () => {
  const f = fixture("D-C");
  assertEquals(f.kernel.mappingError(f.dev, DMA_MAPPING_ERROR), -ENOMEM);
  assertEquals(f.kernel.mappingError(f.dev, 0), 0);
  assertEquals(f.kernel.mappingError(f.dev, 0xfffff000), 0);
});

test("C026 OPS without map_phys: mapPhys returns the error, silently", () => {
  const f = fixture("OPS", { maskBits: 64 });
  const before = f.kernel.log.events.length;
  assertEquals(f.kernel.mapPhys(f.dev, 0x150000000, 4096, DMA_TO_DEVICE), DMA_MAPPING_ERROR);
  assertEquals(f.kernel.log.events.length, before);
});

test("C027 OPS whose map_sg returns 0: sgtable -EIO with a one-time warning, mapSg 0", () => {
  const f = fixture("OPS", { ops: { name: "legacy_ops", mapSg: () => 0 } });
  const sgt = SgTable.fromPhys([{ phys: 0x150000000, length: 4096 }]);
  assertEquals(f.kernel.mapSgtable(f.dev, sgt, DMA_TO_DEVICE), -EIO);
  assertEquals(f.kernel.mapSg(f.dev, sgt.sgl, 1, DMA_TO_DEVICE), 0);
  assertEquals(f.kernel.log.withCode("dma-map-sg-bad-return").length, 1);
});

test("C028 OPS missing callbacks: unmap/sync/free do nothing, alloc/alloc_pages NULL, mmap/get_sgtable -ENXIO", () => {
  const f = fixture("OPS", { maskBits: 64 });
  f.kernel.unmapPhys(f.dev, 0x1000, 4096, DMA_TO_DEVICE);
  f.kernel.syncSingleForCpu(f.dev, 0x1000, 4096, DMA_FROM_DEVICE);
  assertEquals(f.kernel.allocCoherent(f.dev, 4096, GFP_KERNEL), null);
  assertEquals(f.kernel.allocPages(f.dev, 4096, DMA_TO_DEVICE, GFP_KERNEL), null);
  assertEquals(
    f.kernel.mmapCoherent(f.dev, { pgoff: 0, size: 4096 }, 0x1000, 0x1000, 4096),
    -ENXIO,
  );
  assertEquals(f.kernel.getSgtableAttrs(f.dev, new SgTable(1), 0x1000, 0x1000, 4096), -ENXIO);
  f.kernel.freeCoherent(f.dev, 4096, 0x1234, 0x1000);
});

test("C030 allocCoherent with __GFP_COMP fails with a warning; zone flags are ignored", () => {
  const f = fixture("D-C", { maskBits: 64 });
  assertEquals(f.kernel.allocCoherent(f.dev, 4096, GFP_KERNEL | GFP_COMP), null);
  assertEquals(f.kernel.log.withCode("dma-alloc-gfp-comp").length, 1);
  const a = f.kernel.allocCoherent(f.dev, 4096, GFP_KERNEL | GFP_DMA);
  assertExists(a);
  assertGreater(
    a.handle,
    16 * 2 ** 20 - 1,
    "GFP_DMA was stripped: the 64-bit device gets normal memory",
  );
  f.kernel.freeCoherent(f.dev, 4096, a.cpuAddr, a.handle);
});

test("C031 allocPages with GFP_DMA32 or a zero coherent mask: NULL and a one-time warning", () => {
  const f = fixture("D-C", { maskBits: 64 });
  assertEquals(f.kernel.allocPages(f.dev, 4096, DMA_TO_DEVICE, GFP_KERNEL | GFP_DMA32), null);
  f.dev.coherentDmaMask = 0n;
  assertEquals(f.kernel.allocPages(f.dev, 4096, DMA_TO_DEVICE, GFP_KERNEL), null);
  assertEquals(f.kernel.log.events.filter((e) => e.code.startsWith("dma_alloc_pages")).length, 2);
});

test("C033 freeCoherent with IRQs disabled warns and still frees; a NULL cpu address is a no-op", () => {
  const f = fixture("D-C", { maskBits: 64 });
  const a = f.kernel.allocCoherent(f.dev, 8192, GFP_KERNEL)!;
  f.kernel.irqsDisabled = true;
  f.kernel.freeCoherent(f.dev, 8192, a.cpuAddr, a.handle);
  f.kernel.irqsDisabled = false;
  assertEquals(f.kernel.log.withCode("dma-free-irqs-disabled").length, 1);
  assertEquals(f.kernel.liveResources().length, 0);
  f.kernel.freeCoherent(f.dev, 8192, 0, 0);
});

test("C034 D-C, 64-bit mask: mapSingle returns the physical address, no copy, no cache operation", () => {
  const f = fixture("D-C", { maskBits: 64 });
  const va = bufferAt(f, 0x150000000, 4096);
  const d = f.kernel.mapSingle(f.dev, va, 4096, DMA_BIDIRECTIONAL);
  assertEquals(d, 0x150000000);
  assertEquals(f.kernel.stats.swiotlbBounces, 0);
  assertEquals(f.kernel.stats.cacheMaintenanceOps, 0);
  assertEquals(
    f.kernel.mapSingle(f.dev, va, 4096, DMA_BIDIRECTIONAL),
    d,
    "mapping twice gives the same address",
  );
  f.kernel.unmapSingle(f.dev, d, 4096, DMA_BIDIRECTIONAL);
  f.kernel.unmapSingle(f.dev, d, 4096, DMA_BIDIRECTIONAL);
  freeBuffer(f, va, 4096);
});

test("C036 D-C, 32-bit mask, buffer at 5 GiB: bounced below 4 GiB; the device writes land in the slot until unmap", () => {
  const f = fixture("D-C", { maskBits: 32 });
  const va = bufferAt(f, 5 * GiB, 4096);
  const d = f.kernel.mapSingle(f.dev, va, 4096, DMA_FROM_DEVICE);
  assertLess(d, 2 ** 32);
  assert(f.kernel.swiotlb!.isSwiotlbBuffer(d));
  assert(f.engine.write(d, new Uint8Array(16).fill(0x5a)));
  assertEquals(f.kernel.cpuRead(va, 1)[0], 0, "the original does not see the device's write yet");
  f.kernel.unmapSingle(f.dev, d, 4096, DMA_FROM_DEVICE);
  assertEquals([...f.kernel.cpuRead(va, 16)], new Array(16).fill(0x5a));
  freeBuffer(f, va, 4096);
});

test("C037 D-C0, 32-bit mask, buffer at 5 GiB: error and the one-time overflow warning", () => {
  const f = fixture("D-C0", { maskBits: 32 });
  const va = bufferAt(f, 5 * GiB, 4096);
  assertEquals(f.kernel.mapSingle(f.dev, va, 4096, DMA_TO_DEVICE), DMA_MAPPING_ERROR);
  const w = f.kernel.log.withCode(`dma-direct-overflow:${f.dev.name}`);
  assertEquals(w.length, 1);
  assertEquals(w[0]!.message, "DMA addr 0x140000000+4096 overflow (mask ffffffff, bus limit 0).");
  freeBuffer(f, va, 4096);
});

test("C039 dma_capable checks the end: a buffer straddling the mask limit is bounced", () => {
  const f = fixture("D-C", { maskBits: 30, swiotlb: { enable: true, start: 0x10000000 } });
  assertEquals(
    dmaCapable(f.kernel, f.dev, 0x3fff0000, 0x10000, true),
    true,
    "ends exactly at the 30-bit limit",
  );
  assertEquals(
    dmaCapable(f.kernel, f.dev, 0x3fff8000, 0x10000, true),
    false,
    "starts below, ends above",
  );
  const va = bufferAt(f, 0x3ff00000, 1 << 20);
  const inside = f.kernel.mapSingle(f.dev, va + 0xf0000, 0x10000, DMA_TO_DEVICE);
  assertEquals(inside, 0x3fff0000);
  const straddle = f.kernel.mapSingle(f.dev, va + 0xf8000, 0x8000, DMA_TO_DEVICE);
  assertEquals(straddle, 0x3fff8000, "0x3fff8000+32K ends at the limit: direct");
  f.kernel.unmapSingle(f.dev, straddle, 0x8000, DMA_TO_DEVICE);
  const across = f.kernel.mapSingle(
    f.dev,
    va + 0xf8000 - 0x100000 + 0x100000,
    0x8000 + 1,
    DMA_TO_DEVICE,
  );
  assert(f.kernel.swiotlb!.isSwiotlbBuffer(across), "one byte more crosses the limit: bounced");
  f.kernel.unmapSingle(f.dev, inside, 0x10000, DMA_TO_DEVICE);
  f.kernel.unmapSingle(f.dev, across, 0x8001, DMA_TO_DEVICE);
  freeBuffer(f, va, 1 << 20);
});

test("C040 D-F: an addressable buffer is still bounced; the device cannot see the original", () => {
  const f = fixture("D-F", { maskBits: 64 });
  const va = bufferAt(f, 0x150000000, 4096);
  f.kernel.cpuFill(va, 4096, 0x11);
  const d = f.kernel.mapSingle(f.dev, va, 4096, DMA_TO_DEVICE);
  assert(f.kernel.swiotlb!.isSwiotlbBuffer(d));
  assertEquals(f.engine.readBytes(d, 4)![0], 0x11, "the slot holds the copy");
  f.kernel.unmapSingle(f.dev, d, 4096, DMA_TO_DEVICE);
  freeBuffer(f, va, 4096);
});

test("C041 D-F: mapResource and REQUIRE_COHERENT maps fail (phys design)", () => {
  const f = fixture("D-F", { maskBits: 64 });
  assertEquals(f.kernel.mapResource(f.dev, 0xfea00000, 4096, DMA_BIDIRECTIONAL), DMA_MAPPING_ERROR);
  assertEquals(
    f.kernel.mapPhys(f.dev, 0x150000000, 4096, DMA_TO_DEVICE, DMA_ATTR_REQUIRE_COHERENT),
    DMA_MAPPING_ERROR,
  );
});

test("C041 (6.12, direct-calls design) D-F: mapResource is never bounced and succeeds", () => {
  const f = fixture("D-F", { maskBits: 64, design: "direct-calls" });
  const d = f.kernel.mapResource(f.dev, 0xfea00000, 4096, DMA_BIDIRECTIONAL);
  assertEquals(d, 0xfea00000);
  f.kernel.unmapResource(f.dev, d, 4096, DMA_BIDIRECTIONAL);
});

test("C042 a dma_range_map offset applies to RAM but not to mapResource; overflow is an error", () => {
  const f = fixture("D-C");
  const dev = f.kernel.addDevice({
    name: "offset-dev",
    dmaRangeMap: [{ cpuStart: 0, dmaStart: 0x80000000, size: 8 * GiB }],
  });
  f.kernel.setMask(dev, DMA_BIT_MASK(64));
  const va = bufferAt(f, 0x150000000, 4096);
  const d = f.kernel.mapSingle(dev, va, 4096, DMA_TO_DEVICE);
  assertEquals(d, 0x150000000 + 0x80000000);
  f.kernel.unmapSingle(dev, d, 4096, DMA_TO_DEVICE);
  assertEquals(f.kernel.mapResource(dev, 0xfea00000, 4096, DMA_TO_DEVICE), 0xfea00000);
  f.kernel.unmapResource(dev, 0xfea00000, 4096, DMA_TO_DEVICE);
  f.kernel.setMask(dev, DMA_BIT_MASK(32));
  assertEquals(f.kernel.mapResource(dev, 0xfffff800, 4096, DMA_TO_DEVICE), DMA_MAPPING_ERROR);
  assertEquals(f.kernel.stats.cacheMaintenanceOps, 0);
  freeBuffer(f, va, 4096);
});

test("C044 D-N TO_DEVICE: dirty CPU lines are written back at map, so the device reads the new data", () => {
  const f = fixture("D-N", { maskBits: 64 });
  const va = bufferAt(f, 0x150000000, 4096);
  f.kernel.cpuFill(va, 4096, 0x77);
  assertEquals(
    f.engine.readBytes(0x150000000, 1)![0],
    0,
    "before the map the data sits in dirty cache lines",
  );
  const d = f.kernel.mapSingle(f.dev, va, 4096, DMA_TO_DEVICE);
  assertEquals(
    f.engine.readBytes(d, 4096)!.every((b) => b === 0x77),
    true,
  );
  f.kernel.unmapSingle(f.dev, d, 4096, DMA_TO_DEVICE);
  freeBuffer(f, va, 4096);
});

test("C048 D-N BIDIRECTIONAL: CPU data reaches the device at map, device data reaches the CPU after unmap", () => {
  const f = fixture("D-N", { maskBits: 64 });
  const va = bufferAt(f, 0x150000000, 4096);
  f.kernel.cpuFill(va, 4096, 0x21);
  f.kernel.cpuRead(va, 4096); // the CPU has the lines cached
  const d = f.kernel.mapSingle(f.dev, va, 4096, DMA_BIDIRECTIONAL);
  assertEquals(f.engine.readBytes(d, 1)![0], 0x21);
  f.engine.write(d, new Uint8Array(64).fill(0x42));
  f.kernel.unmapSingle(f.dev, d, 4096, DMA_BIDIRECTIONAL);
  assertEquals(f.kernel.cpuRead(va, 1)[0], 0x42);
  freeBuffer(f, va, 4096);
});

test("C049 D-N with SKIP_CPU_SYNC on map and unmap: no maintenance, stale data both ways", () => {
  const f = fixture("D-N", { maskBits: 64 });
  const va = bufferAt(f, 0x150000000, 4096);
  f.kernel.cpuFill(va, 4096, 0x33);
  const d = f.kernel.mapSingle(f.dev, va, 4096, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
  assertEquals(f.engine.readBytes(d, 1)![0], 0, "the device missed the dirty line");
  f.engine.write(d, new Uint8Array([0x44]));
  f.kernel.unmapSingle(f.dev, d, 4096, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
  assertEquals(f.kernel.cpuRead(va, 1)[0], 0x33, "the CPU reads its stale cached line");
  assertEquals(f.kernel.stats.cacheMaintenanceOps, 0);
  freeBuffer(f, va, 4096);
});

test("C050 D-C: map, unmap and sync never invoke an arch cache operation", () => {
  const f = fixture("D-C", { maskBits: 64, config: { dmaApiDebug: false } });
  const va = bufferAt(f, 0x150000000, 4096);
  const d = f.kernel.mapSingle(f.dev, va, 4096, DMA_BIDIRECTIONAL);
  f.kernel.syncSingleForCpu(f.dev, d, 4096, DMA_BIDIRECTIONAL);
  f.kernel.syncSingleForDevice(f.dev, d, 4096, DMA_BIDIRECTIONAL);
  f.kernel.unmapSingle(f.dev, d, 4096, DMA_BIDIRECTIONAL);
  assertEquals(f.kernel.stats.cacheMaintenanceOps, 0);
  freeBuffer(f, va, 4096);
});

test("C052 D-N with unaligned-kmalloc bouncing: a 40-byte FROM_DEVICE map bounces, TO_DEVICE and 256 bytes do not", () => {
  const f = fixture("D-N", {
    maskBits: 64,
    config: { dmaBounceUnalignedKmalloc: true, dmaCacheAlignment: 128 },
  });
  const va = f.machine.kas.kmalloc(40)!;
  const d = f.kernel.mapSingle(f.dev, va, 40, DMA_FROM_DEVICE);
  assert(f.kernel.swiotlb!.isSwiotlbBuffer(d), "40 bytes FROM_DEVICE is bounced");
  f.kernel.unmapSingle(f.dev, d, 40, DMA_FROM_DEVICE);
  const d2 = f.kernel.mapSingle(f.dev, va, 40, DMA_TO_DEVICE);
  assertEquals(f.kernel.swiotlb!.isSwiotlbBuffer(d2), false);
  f.kernel.unmapSingle(f.dev, d2, 40, DMA_TO_DEVICE);
  const big = f.machine.kas.kmalloc(256)!;
  const d3 = f.kernel.mapSingle(f.dev, big, 256, DMA_FROM_DEVICE);
  assertEquals(f.kernel.swiotlb!.isSwiotlbBuffer(d3), false);
  f.kernel.unmapSingle(f.dev, d3, 256, DMA_FROM_DEVICE);
  f.machine.kas.kfree(va);
  f.machine.kas.kfree(big);
});

test("C053 the same 40-byte FROM_DEVICE map without a swiotlb pool fails with the overflow warning", () => {
  const f = fixture("D-N", {
    maskBits: 64,
    swiotlb: false,
    config: { dmaBounceUnalignedKmalloc: true, dmaCacheAlignment: 128 },
  });
  const va = f.machine.kas.kmalloc(40)!;
  assertEquals(f.kernel.mapSingle(f.dev, va, 40, DMA_FROM_DEVICE), DMA_MAPPING_ERROR);
  assertEquals(f.kernel.log.withCode(`dma-direct-overflow:${f.dev.name}`).length, 1);
  f.machine.kas.kfree(va);
});

test("C054 REQUIRE_COHERENT: error on D-N without a warning; on D-C it refuses to bounce", () => {
  const n = fixture("D-N", { maskBits: 64 });
  const before = n.kernel.log.events.length;
  assertEquals(
    n.kernel.mapPhys(n.dev, 0x150000000, 4096, DMA_TO_DEVICE, DMA_ATTR_REQUIRE_COHERENT),
    DMA_MAPPING_ERROR,
  );
  assertEquals(n.kernel.log.events.length, before);
  const c = fixture("D-C", { maskBits: 32 });
  assertEquals(
    c.kernel.mapPhys(c.dev, 5 * GiB, 4096, DMA_TO_DEVICE, DMA_ATTR_REQUIRE_COHERENT),
    DMA_MAPPING_ERROR,
  );
  assertEquals(c.kernel.stats.swiotlbBounces, 0);
});

test("C056 needUnmap: false for a coherent direct device before any bounce, true after one, true with debug", () => {
  const f = fixture("D-C", { maskBits: 32 });
  assertEquals(f.kernel.needUnmap(f.dev), false);
  const va = bufferAt(f, 5 * GiB, 4096);
  const d = f.kernel.mapSingle(f.dev, va, 4096, DMA_TO_DEVICE);
  assertEquals(f.kernel.needUnmap(f.dev), true);
  f.kernel.unmapSingle(f.dev, d, 4096, DMA_TO_DEVICE);
  const dbg = fixture("D-C", { maskBits: 64, config: { dmaApiDebug: true } });
  assertEquals(dbg.kernel.needUnmap(dbg.dev), true);
  freeBuffer(f, va, 4096);
});

test("C057 D-N: a partial sync_for_cpu invalidates only the lines it covers", () => {
  const f = fixture("D-N", { maskBits: 64 });
  const va = bufferAt(f, 0x150000000, 4096);
  const d = f.kernel.mapSingle(f.dev, va, 4096, DMA_FROM_DEVICE);
  f.kernel.cpuRead(va, 4096); // (a driver bug) lines pulled in while the device owns the buffer
  f.engine.write(d, new Uint8Array(4096).fill(0x99));
  f.kernel.syncSingleForCpu(f.dev, d + 1024, 512, DMA_FROM_DEVICE);
  assertEquals(f.kernel.cpuRead(va + 1024, 1)[0], 0x99, "inside the synced range: fresh");
  assertEquals(f.kernel.cpuRead(va, 1)[0], 0, "outside: the stale line");
  f.kernel.unmapSingle(f.dev, d, 4096, DMA_FROM_DEVICE);
  freeBuffer(f, va, 4096);
});

test("C058 syncSingleRangeForCpu(addr, off, len) is syncSingleForCpu(addr + off, len)", () => {
  const f = fixture("D-N", { maskBits: 64 });
  const va = bufferAt(f, 0x150000000, 4096);
  const d = f.kernel.mapSingle(f.dev, va, 4096, DMA_FROM_DEVICE);
  f.kernel.syncSingleRangeForCpu(f.dev, d, 1024, 512, DMA_FROM_DEVICE);
  const last = f.kernel.maintenance[f.kernel.maintenance.length - 1]!;
  assertEquals([last.pa, last.size, last.edge], [0x150000000 + 1024, 512, "for-cpu"]);
  f.kernel.unmapSingle(f.dev, d, 4096, DMA_FROM_DEVICE);
  freeBuffer(f, va, 4096);
});

test("C059 bounced TO_DEVICE: after a CPU change the device sees new bytes only after sync_for_device", () => {
  const f = fixture("D-C", { maskBits: 32 });
  const va = bufferAt(f, 5 * GiB, 4096);
  f.kernel.cpuFill(va, 4096, 1);
  const d = f.kernel.mapSingle(f.dev, va, 4096, DMA_TO_DEVICE);
  f.kernel.cpuFill(va, 4096, 2);
  assertEquals(f.engine.readBytes(d, 1)![0], 1);
  f.kernel.syncSingleForDevice(f.dev, d, 4096, DMA_TO_DEVICE);
  assertEquals(f.engine.readBytes(d, 1)![0], 2);
  f.kernel.unmapSingle(f.dev, d, 4096, DMA_TO_DEVICE);
  freeBuffer(f, va, 4096);
});

test("C062 coherent direct device after setMask: syncs make no backend call", () => {
  const f = fixture("D-C", { maskBits: 64 });
  const before = f.kernel.stats.directCalls;
  f.kernel.syncSingleForCpu(f.dev, 0x150000000, 4096, DMA_FROM_DEVICE);
  assertEquals(f.kernel.stats.directCalls, before);
});

test("C063 the same device with debug built in: syncs are forwarded", () => {
  const f = fixture("D-C", { maskBits: 64, config: { dmaApiDebug: true } });
  const before = f.kernel.stats.directCalls;
  f.kernel.syncSingleForCpu(f.dev, 0x150000000, 4096, DMA_FROM_DEVICE);
  assertEquals(f.kernel.stats.directCalls, before + 1);
});

test("C066 D-C: mapSg of 32 contiguous page entries returns 32, each with its own length", () => {
  const f = fixture("D-C", { maskBits: 64 });
  const sgt = SgTable.fromPhys(
    Array.from({ length: 32 }, (_, i) => ({ phys: 0x150000000 + i * 4096, length: 4096 })),
  );
  assertEquals(f.kernel.mapSgtable(f.dev, sgt, DMA_TO_DEVICE), 0);
  assertEquals(sgt.nents, 32);
  assertEquals(sgt.origNents, 32);
  sgt.sgl.forEach((s, i) => {
    assertEquals([s.dmaAddress, s.dmaLength], [0x150000000 + i * 4096, 4096]);
  });
  f.kernel.unmapSgtable(f.dev, sgt, DMA_TO_DEVICE);
});

test("C071/C072 D-C0: a failure on entry k unwinds 0..k-1; mapSg 0, sgtable -EIO", () => {
  const f = fixture("D-C0", { maskBits: 32 });
  const sgt = SgTable.fromPhys([
    { phys: 0x10000000, length: 4096 },
    { phys: 0x10001000, length: 4096 },
    { phys: 5 * GiB, length: 4096 },
  ]);
  assertEquals(f.kernel.mapSgtable(f.dev, sgt, DMA_TO_DEVICE), -EIO);
  assertEquals(f.kernel.mapSg(f.dev, sgt.sgl, 3, DMA_TO_DEVICE), 0);
  assertEquals(f.kernel.liveResources(), []);
});

test("C079 D-C: allocCoherent(10000) is zeroed, within the coherent mask, and order-2 aligned", () => {
  const f = fixture("D-C", { maskBits: 32 });
  const a = f.kernel.allocCoherent(f.dev, 10000, GFP_KERNEL)!;
  assertExists(a);
  assertEquals(
    f.kernel.cpuRead(a.cpuAddr, 10000).every((b) => b === 0),
    true,
  );
  assert(a.handle + 10000 - 1 <= 0xffffffff);
  assertEquals(a.handle % 16384, 0);
  f.kernel.freeCoherent(f.dev, 10000, a.cpuAddr, a.handle);
});

test("C082 a declared 64 KiB coherent pool: 16 pages, then NULL with RAM free; one free makes room", () => {
  const f = fixture("D-C", { maskBits: 64 });
  assertEquals(f.kernel.declareCoherentMemory(f.dev, 0x160000000, 0xd0000000, 65536), 0);
  const got = Array.from({ length: 16 }, () => f.kernel.allocCoherent(f.dev, 4096, GFP_KERNEL));
  got.forEach((a) => {
    assertExists(a);
    assert(a.handle >= 0xd0000000 && a.handle < 0xd0010000);
  });
  assertEquals(f.kernel.allocCoherent(f.dev, 4096, GFP_KERNEL), null);
  f.kernel.freeCoherent(f.dev, 4096, got[3]!.cpuAddr, got[3]!.handle);
  assertExists(f.kernel.allocCoherent(f.dev, 4096, GFP_KERNEL));
});

test("C083 D-N with remap: the coherent buffer is an uncached alias, visible both ways without syncs", () => {
  const f = fixture("D-N", { maskBits: 64 });
  const a = f.kernel.allocCoherent(f.dev, 4096, GFP_KERNEL)!;
  f.kernel.cpuWrite(a.cpuAddr, new Uint8Array([1, 2, 3]));
  assertEquals([...f.engine.readBytes(a.handle, 3)!], [1, 2, 3]);
  f.engine.write(a.handle + 8, new Uint8Array([9]));
  assertEquals(f.kernel.cpuRead(a.cpuAddr + 8, 1)[0], 9);
  f.kernel.freeCoherent(f.dev, 4096, a.cpuAddr, a.handle);
});

test("C084 D-N with remap and GFP_ATOMIC: from the atomic pool; too large → NULL with the pool warning", () => {
  const f = fixture("D-N", { maskBits: 64 });
  const a = f.kernel.allocCoherent(f.dev, 4096, GFP_ATOMIC);
  assertExists(a);
  assertEquals(f.kernel.allocCoherent(f.dev, 64 * 2 ** 20, GFP_ATOMIC), null);
  assertEquals(
    f.kernel.log.withCode("atomic-pool-exhausted")[0]?.message,
    `Failed to get suitable pool for ${f.dev.name}`,
  );
  f.kernel.freeCoherent(f.dev, 4096, a.cpuAddr, a.handle);
});

test("C085 D-N with no uncached mechanism: NULL and the one-time log line", () => {
  const f = fixture("D-N", { maskBits: 64, config: { dmaDirectRemap: false } });
  assertEquals(f.kernel.allocCoherent(f.dev, 4096, GFP_KERNEL), null);
  assertEquals(
    f.kernel.log.withCode("coherent-unsupported")[0]?.message,
    "coherent DMA allocations not supported on this platform",
  );
});

test("C086 NO_KERNEL_MAPPING returns a cookie: dereferencing it is a violation; free releases it", () => {
  const f = fixture("D-C", { maskBits: 64 });
  const a = f.kernel.allocAttrs(f.dev, 8192, GFP_KERNEL, DMA_ATTR_NO_KERNEL_MAPPING)!;
  assertThrows(() => f.kernel.cpuRead(a.cpuAddr, 4), KernelBug, "NO_KERNEL_MAPPING cookie");
  assertEquals(f.kernel.log.withCode("cookie-dereference").length, 1);
  f.kernel.freeAttrs(f.dev, 8192, a.cpuAddr, a.handle, DMA_ATTR_NO_KERNEL_MAPPING);
});

test("C087 allocCoherent with __GFP_NOWARN behaves as DMA_ATTR_NO_WARN", () => {
  const f = fixture("D-C", { maskBits: 64 });
  const a = f.kernel.allocCoherent(f.dev, 4096, GFP_KERNEL | GFP_NOWARN);
  assertExists(a);
  f.kernel.freeCoherent(f.dev, 4096, a.cpuAddr, a.handle);
});

test("C090 dma_alloc_pages on D-N: cacheable memory that needs syncs both ways", () => {
  const f = fixture("D-N", { maskBits: 64 });
  const p = f.kernel.allocPages(f.dev, 4096, DMA_BIDIRECTIONAL, GFP_KERNEL)!;
  const va = f.machine.kas.physToVirt(p.pagePhys);
  f.kernel.cpuFill(va, 16, 0x66);
  assertEquals(f.engine.readBytes(p.handle, 1)![0], 0);
  f.kernel.syncSingleForDevice(f.dev, p.handle, 4096, DMA_BIDIRECTIONAL);
  assertEquals(f.engine.readBytes(p.handle, 1)![0], 0x66);
  f.kernel.cpuRead(va, 64);
  f.engine.write(p.handle, new Uint8Array([0x55]));
  assertEquals(f.kernel.cpuRead(va, 1)[0], 0x66, "stale until synced for the CPU");
  f.kernel.syncSingleForCpu(f.dev, p.handle, 4096, DMA_BIDIRECTIONAL);
  assertEquals(f.kernel.cpuRead(va, 1)[0], 0x55);
  f.kernel.freePages(f.dev, 4096, p.pagePhys, p.handle, DMA_BIDIRECTIONAL);
});

test("C091 mmap beyond the allocation is -ENXIO; D-N without NONCOHERENT_MMAP cannot mmap", () => {
  const f = fixture("D-C", { maskBits: 64 });
  const a = f.kernel.allocCoherent(f.dev, 8192, GFP_KERNEL)!;
  assertEquals(
    f.kernel.mmapCoherent(f.dev, { pgoff: 0, size: 8192 }, a.cpuAddr, a.handle, 8192),
    0,
  );
  assertEquals(
    f.kernel.mmapCoherent(f.dev, { pgoff: 0, size: 12288 }, a.cpuAddr, a.handle, 8192),
    -ENXIO,
  );
  assertEquals(
    f.kernel.mmapCoherent(f.dev, { pgoff: 2, size: 4096 }, a.cpuAddr, a.handle, 8192),
    -ENXIO,
  );
  f.kernel.freeCoherent(f.dev, 8192, a.cpuAddr, a.handle);
  const n = fixture("D-N");
  assertEquals(n.kernel.canMmap(n.dev), false);
});

test("C092 getSgtable on D-C: one entry of the page-aligned size", () => {
  const f = fixture("D-C", { maskBits: 64 });
  const a = f.kernel.allocCoherent(f.dev, 5000, GFP_KERNEL)!;
  const sgt = new SgTable(1);
  assertEquals(f.kernel.getSgtableAttrs(f.dev, sgt, a.cpuAddr, a.handle, 5000), 0);
  assertEquals(sgt.sgl[0]!.length, 8192);
  assertEquals(sgt.sgl[0]!.phys, f.machine.kas.virtToPhys(a.cpuAddr));
  f.kernel.freeCoherent(f.dev, 5000, a.cpuAddr, a.handle);
});

test("C093 pgprot: coherent keeps cacheable, non-coherent is uncached or write-combining", () => {
  const c = fixture("D-C");
  assertEquals(c.kernel.pgprot(c.dev, 0), "cacheable");
  const n = fixture("D-N", { config: { archHasDmaWriteCombine: true } });
  assertEquals(n.kernel.pgprot(n.dev, 0), "uncached");
  assertEquals(n.kernel.pgprot(n.dev, 4), "write-combine");
});

test("C093 pgprot: without ARCH_HAS_DMA_WRITE_COMBINE the attribute is ignored (uncached)", () => {
  const n = fixture("D-N", { config: { archHasDmaWriteCombine: false } });
  assertEquals(n.kernel.pgprot(n.dev, 4), "uncached");
  const c = fixture("D-C", { config: { archHasDmaWriteCombine: true } });
  assertEquals(c.kernel.pgprot(c.dev, 4), "cacheable");
});

test("C094 dmam_ allocations are freed at driver unbind; dmam_free removes the devres entry", () => {
  const f = fixture("D-C", { maskBits: 64 });
  f.kernel.bindDriver(f.dev, "edu-driver");
  const a = f.kernel.dmamAllocCoherent(f.dev, 4096, GFP_KERNEL)!;
  const b = f.kernel.dmamAllocCoherent(f.dev, 8192, GFP_KERNEL)!;
  f.kernel.dmamFreeCoherent(f.dev, 4096, a.cpuAddr, a.handle);
  assertEquals(f.kernel.liveResources().length, 1);
  f.kernel.unbindDriver(f.dev);
  assertEquals(f.kernel.liveResources().length, 0);
  assertEquals(f.kernel.log.withCode("dmam-no-devres").length, 0);
  void b;
});

test("C106 D-C: iovaTryAlloc is false, the state zeroed, useIova false", () => {
  const f = fixture("D-C", { maskBits: 64 });
  const st = { addr: 5, size: 7, useSwiotlb: true };
  assertEquals(f.kernel.iovaTryAlloc(f.dev, st, 0, 4096), false);
  assertEquals(st, { addr: 0, size: 0, useSwiotlb: false });
  assertEquals(f.kernel.useIova(st), false);
});

test("C115 without IOMMU DMA support: iovaLink and iovaSync return -EOPNOTSUPP", () => {
  const f = fixture("D-C", { maskBits: 64 });
  const st = { addr: 0, size: 0, useSwiotlb: false };
  assertEquals(f.kernel.iovaLink(f.dev, st, 0, 0, 4096, DMA_TO_DEVICE), -95);
  assertEquals(f.kernel.iovaSync(f.dev, st, 0, 4096), -95);
});

test("the v0 design with IOMMU_API but no IOMMU_DMA fails to link, as the seed thread's latent bug", () => {
  const f = fixture("D-C");
  const e = assertThrows(
    () =>
      new DmaKernel({
        platform: f.machine,
        design: "static-call-v0",
        config: { iommuApi: true, iommuDma: false, archHasDmaOps: true },
        swiotlb: false,
      }),
    KernelBuildError,
  );
  assertStrictEquals(
    e.message,
    "ld: kernel/dma/mapping.o: in function `dma_map_page_attrs': undefined reference to `iommu_dma_map_page'",
  );
});

test("an unknown design or attribute bit is invalid input, named in the error", () => {
  const f = fixture("D-C", { maskBits: 64 });
  assertThrows(
    () => new DmaKernel({ platform: f.machine, design: "fast" as never, swiotlb: false }),
    RangeError,
    "design must be one of",
  );
  assertThrows(
    () => f.kernel.mapPhys(f.dev, 0x1000, 16, DMA_TO_DEVICE, 1 << 20),
    RangeError,
    "attrs has unknown bits",
  );
  assertThrows(
    () => f.kernel.mapPhys(f.dev, 0x1000, -1, DMA_TO_DEVICE),
    RangeError,
    "size must be",
  );
  assertThrows(
    () => f.kernel.mapPhys(f.dev, Number.NaN, 16, DMA_TO_DEVICE),
    RangeError,
    "phys must be",
  );
  assertInstanceOf(f.kernel.log, Object);
  void EINVAL;
});

test("C032 OPS before 6.12: dma_alloc_noncontiguous uses the table's alloc_noncontiguous when it has one", () => {
  const calls: string[] = [];
  const sgt = new SgTable(1);
  const f = fixture("OPS", {
    design: "ops-indirect",
    ops: {
      name: "noncontig_ops",
      allocNoncontiguous: (_d, size) => {
        calls.push(`alloc ${size}`);
        return sgt;
      },
      freeNoncontiguous: (_d, size, t) => {
        calls.push(`free ${size} ${t === sgt}`);
      },
    },
  });
  assertStrictEquals(f.kernel.allocNoncontiguous(f.dev, 8192, DMA_TO_DEVICE, GFP_KERNEL), sgt);
  f.kernel.freeNoncontiguous(f.dev, 8192, sgt, DMA_TO_DEVICE);
  assertEquals(calls, ["alloc 8192", "free 8192 true"]);
});
