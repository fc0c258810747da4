import { DOMAIN_DMA, DOMAIN_IDENTITY } from "@dmasim/iommu";
import { Zone } from "@dmasim/memory";
import { assert, assertEquals, assertThrows, test } from "@dmasim/testing";
import { createMachine, EDU_NAME, q35Description, q35LowMemSize } from "./presets.ts";

const GiB = 2 ** 30;

test("q35-vtd matches the oracle's board (QEMU 7.2 q35, -m 6G, intel-iommu, edu)", async (t) => {
  const m = createMachine("q35-vtd");
  await t.step("RAM [0, 2 GiB) and [4 GiB, 8 GiB)", () => {
    assertEquals(
      m.memory.ramRanges.map((r) => [r.start, r.size]),
      [
        [0, 2 * GiB],
        [4 * GiB, 4 * GiB],
      ],
    );
  });
  await t.step("root bus windows as Linux reports them, ECAM at 0xb0000000", () => {
    assertEquals(
      m.pciHostBridge.windows.map((w) => [w.start, w.end]),
      [
        [0xa0000, 0xbffff],
        [0x80000000, 0xafffffff],
        [0xc0000000, 0xfebfffff],
        [0x200000000, 0x9ffffffff],
      ],
    );
    assertEquals(m.pciHostBridge.ecam, { start: 0xb0000000, size: 256 * 2 ** 20 });
    assertEquals(m.memory.rangeAt(0xb0000000)?.kind, "mmio");
  });
  await t.step(
    "one VT-d unit dmar0: pgsize bitmap 0x40201000, 39-bit aperture, MSI window reserved",
    () => {
      assertEquals([...m.iommus.keys()], ["dmar0"]);
      const unit = m.iommus.get("dmar0")!;
      assertEquals(unit.kind, "vtd");
      const d = unit.allocDomain(DOMAIN_DMA);
      assertEquals(d.pgsizeBitmap, 0x40201000);
      assertEquals(d.geometry.apertureEnd, 2 ** 39 - 1);
      assertEquals(
        unit.reservedRegions.map((r) => [r.start, r.size, r.type]),
        [[0xfee00000, 2 ** 20, "msi"]],
      );
      assertEquals(m.memory.rangeAt(0xfed90000)?.name.startsWith("DMAR"), true);
    },
  );
  await t.step(
    "the edu device: coherent PCI device 00:01.0, BAR0 1 MiB at 0xfea00000, ident 0x10000ed",
    () => {
      const dev = m.device(EDU_NAME);
      assertEquals(
        [dev.iommuId, dev.coherent, dev.pci, dev.dmaAddressBits],
        ["00:01.0", true, true, 64],
      );
      assertEquals(dev.bars, [{ start: 0xfea00000, size: 2 ** 20 }]);
      assertEquals(dev.edu!.barPhys, 0xfea00000);
      assertEquals(dev.edu!.readReg(0), 0x10000ed);
      assertEquals(m.iommuFor(EDU_NAME), m.iommus.get("dmar0"));
      assertEquals(m.memory.rangeAt(0xfea00000)?.owner, EDU_NAME);
    },
  );
  await t.step("one CPU, 64-byte lines, x86 zones and 8-byte kmalloc alignment", () => {
    assertEquals(m.cpus, 1);
    assertEquals(m.cache.lineSize, 64);
    assertEquals(m.kas.kmallocMinAlign, 8);
    assertEquals(m.pages.zoneOf(0x800000), Zone.DMA);
    assertEquals(m.pages.zoneOf(0x7f000000), Zone.DMA32);
    assertEquals(m.pages.zoneOf(0x102400000), Zone.NORMAL);
  });
  await t.step("the first 1 MiB is reserved: the page allocator never hands it out", () => {
    assertEquals(m.reservedRanges[0]!.start, 0);
    assertEquals(m.pages.allocPagesAt(0x1000, 0), false);
    const pa = m.pages.allocPages(0, Zone.DMA)!;
    assert(pa >= 2 ** 20, `first ZONE_DMA page ${pa.toString(16)}`);
  });
});

test("q35 without VT-d is the same board with no IOMMU in front of the edu device", () => {
  const m = createMachine("q35");
  assertEquals(m.iommus.size, 0);
  assertEquals(m.iommuFor(EDU_NAME), null);
  assertEquals(m.memory.rangeAt(0xfed90000), undefined);
  assertEquals(m.pciHostBridge.windows[1]!.start, 0x80000000);
});

test("q35 follows QEMU's below-4G rule: 2 GiB low once RAM reaches 2.75 GiB, else all of it", () => {
  assertEquals(q35LowMemSize(0xb0000000), 0x80000000);
  assertEquals(q35LowMemSize(0xaffff000), 0xaffff000);
  const small = createMachine("q35", { ramGiB: 2.5 });
  assertEquals(
    small.memory.ramRanges.map((r) => [r.start, r.size]),
    [[0, 2.5 * GiB]],
  );
  // The hole starts where low RAM ends; with no RAM above 4 GiB the 64-bit window starts at 4 GiB.
  assertEquals(small.pciHostBridge.windows[1], {
    start: 0xa0000000,
    end: 0xafffffff,
    name: "PCI hole below MMCONFIG",
  });
  assertEquals(small.pciHostBridge.windows[3]!.start, 4 * GiB);
  const big = q35Description({ ramGiB: 64, iommu: true });
  assertEquals(big.ram, [
    { start: 0, size: 2 * GiB },
    { start: 4 * GiB, size: 62 * GiB },
  ]);
  assertEquals(big.pciWindows![3]!.start, 66 * GiB);
  const odd = q35Description({ ramGiB: 6.3 });
  assertEquals(odd.pciWindows![3]!.start % GiB, 0, "rounded up to 1 GiB");
  assertEquals(odd.pciWindows![3]!.start, 9 * GiB);
});

test("q35 options: CPUs, caching mode, the edu dma_mask and cache settings reach the board", () => {
  const m = createMachine("q35-vtd", {
    cpus: 4,
    cachingMode: true,
    eduDmaBits: 32,
    cache: { lineSize: 128 },
  });
  assertEquals(m.cpus, 4);
  assertEquals(m.iommus.get("dmar0")!.cachingMode, true);
  assertEquals(m.device(EDU_NAME).engine.addressBits, 32);
  assertEquals(m.cache.lineSize, 128);
  assertThrows(() => createMachine("q35", { ramGiB: 0 }), RangeError, "ramGiB");
  assertThrows(() => createMachine("pc" as never), RangeError, "preset must be one of");
});

test("arm64-virt-smmuv3: QEMU virt memory map, SMMUv3 LPAE tables, non-coherent device, arm64 zones", () => {
  const m = createMachine("arm64-virt-smmuv3");
  assertEquals(
    m.memory.ramRanges.map((r) => [r.start, r.size]),
    [[GiB, 4 * GiB]],
  );
  assertEquals(
    m.pciHostBridge.windows.map((w) => [w.start, w.end]),
    [
      [0x10000000, 0x3efeffff],
      [0x8000000000, 0xffffffffff],
    ],
  );
  const unit = m.iommus.get("smmuv3.0")!;
  assertEquals(unit.kind, "smmuv3");
  assertEquals(unit.allocDomain(DOMAIN_DMA).pgsizeBitmap, 0x40201000, "4K granule: 4K, 2M, 1G");
  assertEquals(unit.reservedRegions[0], { start: 0x8000000, size: 2 ** 20, type: "sw-msi" });
  const dev = m.device(EDU_NAME);
  assertEquals([dev.iommuId, dev.coherent], ["0x8", false]);
  assertEquals(m.kas.kmallocMinAlign, 128);
  // ZONE_DMA covers RAM below 4 GiB; there is no separate DMA32 zone.
  assertEquals(m.pages.zoneOf(0x50000000), Zone.DMA);
  assertEquals(m.pages.zoneOf(0x100000000), Zone.NORMAL);
  assertEquals(m.pages.hasZone(Zone.DMA32), false);
  const g64 = createMachine("arm64-virt-smmuv3", { granule: 65536, coherent: true });
  assertEquals(g64.iommus.get("smmuv3.0")!.allocDomain(DOMAIN_DMA).pgsizeBitmap, 0x20010000);
  assertEquals(g64.device(EDU_NAME).coherent, true);
  assertThrows(
    () => createMachine("arm64-virt", { granule: 8192 as never }),
    RangeError,
    "granule",
  );
});

test("arm64-virt without the SMMU: the device addresses RAM directly", () => {
  const m = createMachine("arm64-virt", { ramGiB: 1 });
  assertEquals(m.iommus.size, 0);
  const e = m.device(EDU_NAME).engine;
  assert(e.write(0x40001000, Uint8Array.of(5)));
  assertEquals(m.memory.read(0x40001000, 1)[0], 5);
  assertEquals(e.write(0x1000, Uint8Array.of(5)), false, "no RAM below 1 GiB on virt");
  // RAM ends at 2 GiB, so ZONE_DMA ends there too.
  assertEquals(m.pages.zoneOf(0x7ffff000), Zone.DMA);
});

test("an identity domain on q35-vtd passes bus addresses straight through", () => {
  const m = createMachine("q35-vtd");
  const dev = m.device(EDU_NAME);
  dev.iommu!.attachDevice(dev.iommuId, dev.iommu!.allocDomain(DOMAIN_IDENTITY));
  assert(dev.engine.write(0x123456000, Uint8Array.of(1, 2)));
  assertEquals([...m.memory.read(0x123456000, 2)], [1, 2]);
});
