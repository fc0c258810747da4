import { DMA_BIT_MASK, DMA_TO_DEVICE, GFP_KERNEL, KernelBuildError } from "@dmasim/dma-core";
import { assert, assertEquals, assertThrows, test } from "@dmasim/testing";
import { parseCommandLine } from "./cmdline.ts";
import { resolveKernelConfig } from "./kconfig.ts";
import { designMatrix, MATRIX_CASES } from "./matrix.ts";
import { PROFILES } from "./profiles.ts";
import { createSystem } from "./system.ts";

test("createSystem: five lines from nothing to a mapped buffer the device reads", () => {
  const sys = createSystem("x86_64-vtd");
  const buf = sys.kmalloc(4096);
  sys.dma.cpuWrite(buf, Uint8Array.of(1, 2, 3));
  const iova = sys.dma.mapSingle(sys.dev, buf, 4096, DMA_TO_DEVICE);
  assertEquals([...sys.device.readBytes(iova, 3)!], [1, 2, 3]);
  assertEquals(iova, 0xfffff000, "VT-d, 32-bit first, top-down");
  sys.dma.unmapSingle(sys.dev, iova, 4096, DMA_TO_DEVICE);
  sys.kfree(buf);
});

test("profile defaults: x86 is lazy, arm64 strict, iommu.strict and iommu=pt override, caching mode forces strict", () => {
  assertEquals(createSystem("x86_64-vtd").defaultDomain, "dma-fq");
  assertEquals(createSystem("arm64-smmuv3").defaultDomain, "dma");
  assertEquals(createSystem("x86_64-vtd", { cmdline: "iommu.strict=1" }).defaultDomain, "dma");
  const pt = createSystem("x86_64-vtd", { cmdline: "iommu=pt" });
  assertEquals(pt.defaultDomain, "identity");
  assertEquals(pt.dev.dmaIommu, false);
  const cm = createSystem("x86_64-vtd", { cachingMode: true });
  assertEquals(cm.defaultDomain, "dma");
  assertEquals(
    cm.log.withCode("iommu-batching-disallowed")[0]?.message,
    "DMAR: IOMMU batching disallowed due to virtualization",
  );
  assertEquals(
    createSystem("x86_64-vtd", { cmdline: "iommu.strict=1" }).log.withCode("iommu-dma-policy")[0]
      ?.message,
    "iommu: DMA domain TLB invalidation policy: strict mode (set via kernel command line)",
  );
});

test("x86_64 without an IOMMU bounces a 32-bit device's high buffers; x86_64-coco bounces everything", () => {
  const plain = createSystem("x86_64", { maskBits: 32 });
  const va = plain.machine.kas.physToVirt(0x150000000);
  plain.machine.pages.allocPagesAt(0x150000000, 0);
  const d = plain.dma.mapSingle(plain.dev, va, 4096, DMA_TO_DEVICE);
  assert(plain.dma.swiotlb!.isSwiotlbBuffer(d));
  plain.dma.unmapSingle(plain.dev, d, 4096, DMA_TO_DEVICE);
  const coco = createSystem("x86_64-coco");
  const low = coco.kmalloc(64);
  const c = coco.dma.mapSingle(coco.dev, low, 64, DMA_TO_DEVICE);
  assert(coco.dma.swiotlb!.isSwiotlbBuffer(c), "a confidential guest bounces every streaming map");
  coco.dma.unmapSingle(coco.dev, c, 64, DMA_TO_DEVICE);
  coco.kfree(low);
});

test("arm64-smmuv3 granules: 16K and 64K give their merge boundaries", () => {
  const s16 = createSystem("arm64-smmuv3", { granule: 16384 });
  assertEquals(s16.dma.getMergeBoundary(s16.dev), 16383n);
  const s = createSystem("arm64-smmuv3", { granule: 65536 });
  assertEquals(s.dma.getMergeBoundary(s.dev), 65535n);
});

test("powerpc64-tce: a 64-bit mask sets dma_ops_bypass (dma-direct), a 32-bit mask maps TCEs the device translates", () => {
  const by = createSystem("powerpc64-tce", { maskBits: 64 });
  assertEquals(by.dev.dmaOpsBypass, true);
  const tce = createSystem("powerpc64-tce", { maskBits: 32 });
  assertEquals(tce.dev.dmaOpsBypass, false);
  const buf = tce.kmalloc(4096);
  tce.dma.cpuWrite(buf, Uint8Array.of(7));
  const calls = tce.stats().indirectCalls;
  const d = tce.dma.mapSingle(tce.dev, buf, 4096, DMA_TO_DEVICE);
  assert(
    d < 2 ** 31 && d !== tce.machine.kas.virtToPhys(buf),
    "an address in the 2 GiB TCE window",
  );
  assertEquals(tce.device.readBytes(d, 1)![0], 7);
  assertEquals(tce.stats().indirectCalls - calls, 1, "one indirect call through dma_iommu_ops");
  tce.dma.unmapSingle(tce.dev, d, 4096, DMA_TO_DEVICE);
  tce.kfree(buf);
});

test("x86_64-gart: reachable buffers are used as is, unreachable ones are remapped through the aperture", () => {
  const g = createSystem("x86_64-gart", { maskBits: 32 });
  const hi = g.machine.kas.physToVirt(0x150000000);
  g.machine.pages.allocPagesAt(0x150000000, 0);
  g.dma.cpuWrite(hi, Uint8Array.of(9));
  const d = g.dma.mapSingle(g.dev, hi, 4096, DMA_TO_DEVICE);
  assert(d >= 0xc8000000 && d < 0xcc000000);
  g.dma.syncSingleForDevice(g.dev, d, 4096, DMA_TO_DEVICE);
  assertEquals(g.device.readBytes(d, 1)![0], 9);
  g.dma.unmapSingle(g.dev, d, 4096, DMA_TO_DEVICE);
  const low = g.machine.kas.physToVirt(0x10000000);
  assertEquals(g.dma.mapSingle(g.dev, low, 4096, DMA_TO_DEVICE), 0x10000000);
  g.dma.unmapSingle(g.dev, 0x10000000, 4096, DMA_TO_DEVICE);
});

test("arm32-legacy: arm_dma_ops cleans at map and invalidates at unmap; alloc gives an uncached alias", () => {
  const a = createSystem("arm32-legacy", { maskBits: 32 });
  const buf = a.kmalloc(256);
  a.dma.cpuWrite(buf, Uint8Array.of(5));
  const d = a.dma.mapSingle(a.dev, buf, 256, DMA_TO_DEVICE);
  assertEquals(d, a.machine.kas.virtToPhys(buf));
  assertEquals(a.device.readBytes(d, 1)![0], 5);
  a.dma.unmapSingle(a.dev, d, 256, DMA_TO_DEVICE);
  const c = a.dma.allocCoherent(a.dev, 4096, GFP_KERNEL)!;
  a.dma.cpuWrite(c.cpuAddr, Uint8Array.of(3));
  assertEquals(a.device.readBytes(c.handle, 1)![0], 3, "uncached: visible without a sync");
  a.dma.freeCoherent(a.dev, 4096, c.cpuAddr, c.handle);
  a.kfree(buf);
});

test("impossible combinations fail with the linker's or Kconfig's message", () => {
  assertThrows(
    () => createSystem("powerpc64-tce", { design: "static-call-v0" }),
    KernelBuildError,
    "undefined reference to `iommu_dma_map_page'",
  );
  assertThrows(
    () => createSystem("arm32-legacy", { design: "static-call-v0", config: { IOMMU_API: true } }),
    KernelBuildError,
    "iommu_dma_map_page",
  );
  assertThrows(
    () => resolveKernelConfig(PROFILES.x86_64.kconfig, { IOMMU_API: false }),
    KernelBuildError,
    "IOMMU_DMA depends on IOMMU_API",
  );
  assertThrows(
    () => resolveKernelConfig(PROFILES.x86_64.kconfig, { DMA_OPS_BYPASS: true }),
    KernelBuildError,
    "DMA_OPS_BYPASS depends on ARCH_HAS_DMA_OPS",
  );
});

test("bad options name the argument and what is allowed", () => {
  assertThrows(
    () => createSystem("vax" as never),
    RangeError,
    'unknown profile "vax"; allowed: x86_64-vtd',
  );
  assertThrows(
    () => createSystem("x86_64", { design: "fast" as never }),
    RangeError,
    "design must be one of",
  );
  assertThrows(
    () => resolveKernelConfig(PROFILES.x86_64.kconfig, { NOPE: true } as never),
    RangeError,
    "unknown symbol NOPE; allowed:",
  );
  assertThrows(() => parseCommandLine("iommu.strict=2"), RangeError, "iommu.strict takes 0 or 1");
  assertThrows(() => parseCommandLine("quiet"), RangeError, 'unknown option "quiet"; allowed:');
  assertEquals(parseCommandLine("console=ttyS0 iommu.strict=1", { ignoreUnknown: true }).ignored, [
    "console=ttyS0",
  ]);
  assertThrows(() => createSystem("x86_64", { maskBits: 70 }), RangeError, "maskBits must be");
});

test("swiotlb=force and dma_debug=off on the command line take effect", () => {
  const f = createSystem("x86_64", { cmdline: "swiotlb=force", config: { DMA_API_DEBUG: true } });
  assert(f.dma.swiotlb!.force);
  assertEquals(f.dma.config.dmaApiDebug, true);
  const off = createSystem("x86_64", { cmdline: "dma_debug=off", config: { DMA_API_DEBUG: true } });
  assertEquals(
    [off.dma.config.dmaDebugOff, off.dma.debug, off.dma.debugfs?.disabled],
    [true, null, true],
  );
  assertEquals(
    createSystem("x86_64", { cmdline: "swiotlb=1000,1" }).dma.swiotlb!.stats().nslabs,
    1024,
  );
});

test("designMatrix reproduces ../shared/spec/iommu-dma.md §A.4 cell for cell (computed, compared with the spec's table)", () => {
  // The spec's table, read row by row (D0, D1, D1′, D2; the 6.18/6.19 phys design last).
  const spec: Record<string, string[]> = {
    "x86-64, intel-iommu, DMA/DMA-FQ domain": ["IOVA", "IOVA", "IOVA", "IOVA", "IOVA"],
    "x86-64, identity/passthrough domain": [
      "bus(phys)",
      "bus(phys)",
      "bus(phys)",
      "bus(phys)",
      "bus(phys)",
    ],
    "arm64, SMMUv3, DMA domain": ["IOVA", "IOVA", "IOVA", "IOVA", "IOVA"],
    "arm32 with own ops (arm_dma_ops)": ["bus(phys)", "bus(phys)", "ERR", "bus(phys)", "bus(phys)"],
    "powerpc, dma_iommu_ops, bypass active": [
      "bus(phys)",
      "link error",
      "bus(phys)",
      "bus(phys)",
      "bus(phys)",
    ],
    "powerpc, dma_iommu_ops, no bypass": ["IOVA", "link error", "ERR", "IOVA", "IOVA"],
    "arch ops lacking map_page (synthetic)": ["oops", "ERR", "ERR", "oops", "ERR"],
    "no ops at all, no IOMMU": ["bus(phys)", "bus(phys)", "bus(phys)", "bus(phys)", "bus(phys)"],
    "dma_dummy_ops, ARCH_HAS_DMA_OPS=y": ["ERR", "ERR", "ERR", "ERR", "ERR"],
    "dma_dummy_ops on arm64 without Xen": ["ERR", "ERR", "ERR", "bus(phys)", "bus(phys)"],
  };
  const rows = designMatrix();
  assertEquals(rows.length, MATRIX_CASES.length);
  for (const r of rows) {
    assertEquals(
      Object.values(r.cells).map((c) => c.single),
      spec[r.case],
      r.case,
    );
  }
  const direct = rows[0]!.cells["direct-calls"];
  const indirect = rows[0]!.cells["ops-indirect"];
  assertEquals(
    [indirect.indirectCalls, direct.indirectCalls],
    [2, 0],
    "map + unmap: two indirect calls before 6.12, none after",
  );
});

test("every profile builds under the default design and maps a page", () => {
  for (const name of Object.keys(PROFILES) as Array<keyof typeof PROFILES>) {
    const s = createSystem(name);
    assert(s.dma.getMask(s.dev) > 0n, name);
    void DMA_BIT_MASK;
  }
});
