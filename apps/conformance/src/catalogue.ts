// The clause catalogue of ../shared/spec/dma-api.md §6 as data, one executable
// check per clause, written only against the packages' public API. Clauses
// from D001 cover behaviour §1–§5 and iommu-dma.md §B describe that no
// numbered clause does.
import { dummyOps, OwnershipChecker } from "@dmasim/arch";
import {
  DMA_ATTR_ALLOC_SINGLE_PAGES,
  DMA_ATTR_FORCE_CONTIGUOUS,
  DMA_ATTR_MMIO,
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_NO_WARN,
  DMA_ATTR_REQUIRE_COHERENT,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_ATTR_WRITE_COMBINE,
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
  EOPNOTSUPP,
  EREMOTEIO,
  GFP_ATOMIC,
  GFP_COMP,
  GFP_DMA,
  GFP_DMA32,
  GFP_KERNEL,
  GFP_NOWARN,
  KernelBug,
  SgTable,
  SIZE_MAX,
  ULONG_MAX,
} from "@dmasim/dma-core";
import { IOMMU_CACHE, IOMMU_MMIO } from "@dmasim/iommu";
import { CATALOGUE_DEBUG } from "./catalogue_debug.ts";
import { type CheckContext, eq, expect, highPage, lowPage } from "./check.ts";
import type { PresetName } from "./presets.ts";

export interface Clause {
  id: string;
  title: string;
  presets: PresetName[];
  /** Where the behaviour comes from in the kernel. */
  source: string;
  /**
   * What the behaviour needs of the dispatch design; designs without it are
   * expected to differ. "phys": the 6.18/6.19 physical-address API.
   * "dma-iommu-flag": the IOVA two-step API, which only reaches devices that
   * carry dev->dma_iommu (6.12 direct calls on); under an ops-table design
   * use_dma_iommu() is false and dma_iova_try_alloc() always fails.
   * "ops-map-page": dma_alloc_pages behind an IOMMU, which in the ops-table
   * designs is iommu_dma_ops' alloc_pages_op, dma_common_alloc_pages, calling
   * the table's map_page: the v0 patch removed that entry (a NULL call there).
   */
  since?: "phys" | "dma-iommu-flag" | "ops-map-page";
  check(ctx: CheckContext): void;
}

function throwsBug(fn: () => unknown): boolean {
  try {
    fn();
  } catch (e) {
    return e instanceof KernelBug;
  }
  return false;
}

export const CATALOGUE: Clause[] = [
  // ---- 6.1 masks and capabilities
  {
    id: "C001",
    title: "dma_set_mask stores an accepted mask; -EIO without a dma_mask pointer",
    presets: ["D-C", "I-C"],
    source: "mapping.c dma_set_mask",
    check(ctx) {
      const s = ctx.make();
      eq(s.dma.setMask(s.dev, DMA_BIT_MASK(40)), 0, "setMask(40)");
      eq(s.dma.getMask(s.dev), DMA_BIT_MASK(40), "stored mask");
      const nomask = s.dma.addDevice({ name: "nomask", hasDmaMaskPointer: false });
      eq(s.dma.setMask(nomask, DMA_BIT_MASK(32)), -EIO, "no mask pointer");
    },
  },
  {
    id: "C002",
    title: "32-bit dma_addr_t: set_mask(64) succeeds and stores the truncated 0xFFFFFFFF",
    presets: ["D-C", "I-C"],
    source: "mapping.c dma_set_mask",
    check(ctx) {
      const s = ctx.make({ config: { DMA_ADDR_T_32BIT: true } });
      const d = s.dma.addDevice({ name: "addr32", pci: true });
      eq(s.dma.setMask(d, DMA_BIT_MASK(24)), 0, "setMask(24)");
      eq(s.dma.setMask(d, DMA_BIT_MASK(64)), 0, "setMask(64)");
      eq(d.dmaMask, DMA_BIT_MASK(32), "stored mask");
      eq(s.dma.setCoherentMask(d, DMA_BIT_MASK(40)), 0, "setCoherentMask(40)");
      eq(d.coherentDmaMask, DMA_BIT_MASK(32), "stored coherent mask");
    },
  },
  {
    id: "C003",
    title: "dma-direct accepts every mask of 32 bits or more",
    presets: ["D-C", "D-C0"],
    source: "direct.c dma_direct_supported",
    check(ctx) {
      const s = ctx.make();
      for (const b of [32, 40, 64]) eq(s.dma.setMask(s.dev, DMA_BIT_MASK(b)), 0, `mask ${b}`);
    },
  },
  {
    id: "C005",
    title: "IOMMU DMA domain: any mask accepted",
    presets: ["I-C", "I-N"],
    source: "mapping.c dma_supported",
    check(ctx) {
      const s = ctx.make();
      eq(s.dma.setMask(s.dev, DMA_BIT_MASK(24)), 0, "24-bit mask");
    },
  },
  {
    id: "C006",
    title:
      "ops without dma_supported accept every mask; with one its verdict counts, even with dma_ops_bypass",
    presets: ["OPS"],
    source: "mapping.c dma_supported",
    check(ctx) {
      const s = ctx.make({ config: { DMA_OPS_BYPASS: true } });
      const plain = s.dma.addDevice({ name: "plain", pci: true });
      s.dma.setDmaOps(plain, { name: "no_dma_supported", mapPhys: (_d, p) => p });
      eq(s.dma.setMask(plain, DMA_BIT_MASK(20)), 0, "20-bit mask without a callback");
      eq(plain.dmaMask, DMA_BIT_MASK(20), "stored");
      const asked: bigint[] = [];
      const picky = s.dma.addDevice({ name: "picky", pci: true });
      s.dma.setDmaOps(picky, {
        name: "picky_ops",
        mapPhys: (_d, p) => p,
        dmaSupported: (_d, m) => {
          asked.push(m);
          return m >= DMA_BIT_MASK(40);
        },
      });
      eq(s.dma.setMask(picky, DMA_BIT_MASK(32)), -EIO, "32-bit mask refused by the callback");
      eq(picky.dmaMask, DMA_BIT_MASK(32), "mask unchanged after the refusal");
      eq(s.dma.setMask(picky, DMA_BIT_MASK(48)), 0, "48-bit mask accepted");
      picky.dmaOpsBypass = true;
      eq(s.dma.setMask(picky, DMA_BIT_MASK(36)), -EIO, "bypass set: the callback still decides");
      eq(asked, [DMA_BIT_MASK(32), DMA_BIT_MASK(48), DMA_BIT_MASK(36)], "callback consulted");
    },
  },
  {
    id: "C007",
    title: "dma_set_coherent_mask works without a dma_mask pointer",
    presets: ["D-C"],
    source: "mapping.c",
    check(ctx) {
      const s = ctx.make();
      const d = s.dma.addDevice({ name: "nomask", hasDmaMaskPointer: false });
      eq(s.dma.setCoherentMask(d, DMA_BIT_MASK(40)), 0, "rc");
      eq(d.coherentDmaMask, DMA_BIT_MASK(40), "coherent mask");
    },
  },
  {
    id: "C008",
    title:
      "set_mask_and_coherent returns set_mask's result; the coherent mask is unchanged on failure",
    presets: ["D-C"],
    source: "dma-mapping.h",
    check(ctx) {
      const s = ctx.make({ maskBits: 32 });
      eq(s.dma.setMaskAndCoherent(s.dev, DMA_BIT_MASK(16)), -EIO, "16-bit");
      eq(s.dev.coherentDmaMask, DMA_BIT_MASK(32), "coherent unchanged");
    },
  },
  {
    id: "C009",
    title: "coerce_mask_and_coherent without dma_mask storage leaves both masks equal",
    presets: ["D-C"],
    source: "dma-mapping.h",
    check(ctx) {
      const s = ctx.make();
      const d = s.dma.addDevice({ name: "coerced", hasDmaMaskPointer: false });
      eq(s.dma.coerceMaskAndCoherent(d, DMA_BIT_MASK(36)), 0, "rc");
      eq([d.dmaMask, d.coherentDmaMask], [DMA_BIT_MASK(36), DMA_BIT_MASK(36)], "masks");
    },
  },
  {
    id: "C010",
    title: "dma_get_mask is 32 bits when the mask pointer is NULL",
    presets: ["D-C", "I-C"],
    source: "dma-mapping.h",
    check(ctx) {
      const s = ctx.make();
      eq(
        s.dma.getMask(s.dma.addDevice({ name: "nm", hasDmaMaskPointer: false })),
        DMA_BIT_MASK(32),
        "mask",
      );
    },
  },
  {
    id: "C012",
    title:
      "dma_addressing_limited: true on D-C with 32 bits and RAM above 4 GiB; false behind an IOMMU",
    presets: ["D-C", "I-C"],
    source: "mapping.c",
    check(ctx) {
      const s = ctx.make({ maskBits: 32 });
      eq(s.dma.addressingLimited(s.dev), ctx.preset === "D-C", "32-bit mask");
      s.dma.setMask(s.dev, DMA_BIT_MASK(64));
      eq(s.dma.addressingLimited(s.dev), false, "64-bit mask");
    },
  },
  {
    id: "C013",
    title:
      "without dma_parms: 64 KiB segments, ULONG_MAX boundary, no min-align; setters warn once",
    presets: ["D-C"],
    source: "dma-mapping.h",
    check(ctx) {
      const s = ctx.make();
      const d = s.dma.addDevice({ name: "np", dmaParms: false });
      eq(
        [s.dma.getMaxSegSize(d), s.dma.getSegBoundary(d), s.dma.getMinAlignMask(d)],
        [65536, ULONG_MAX, 0],
        "defaults",
      );
      s.dma.setMaxSegSize(d, 1 << 20);
      s.dma.setMaxSegSize(d, 1 << 20);
      eq(s.dma.getMaxSegSize(d), 65536, "unchanged");
      eq(
        s.log.events.filter((e) => e.code.startsWith("no-dma-parms:max_seg")).length,
        1,
        "warned once",
      );
    },
  },
  {
    id: "C015",
    title: "IOMMU: max mapping size SIZE_MAX and opt 128 KiB; untrusted: 256 KiB",
    presets: ["I-C", "I-U"],
    source: "dma-iommu.c",
    check(ctx) {
      const s = ctx.make();
      eq(s.dma.maxMappingSize(s.dev), ctx.preset === "I-U" ? 262144n : SIZE_MAX, "max");
      eq(s.dma.optMappingSize(s.dev), 131072n, "opt");
    },
  },
  {
    id: "C016",
    title: "dma-direct: opt mapping size equals max mapping size",
    presets: ["D-C", "D-F"],
    source: "mapping.c",
    check(ctx) {
      const s = ctx.make();
      eq(s.dma.optMappingSize(s.dev), s.dma.maxMappingSize(s.dev), "opt == max");
    },
  },
  {
    id: "C018",
    title: "after set_mask, skip-sync is the device's coherence",
    presets: ["D-C", "D-N", "I-C", "I-N"],
    source: "mapping.c dma_setup_need_sync",
    check(ctx) {
      const s = ctx.make();
      eq(s.dev.dmaSkipSync, s.dev.dmaCoherent, "skip_sync");
    },
  },
  // ---- 6.2 validation and dispatch
  {
    id: "C019",
    title: "an invalid direction is a kernel BUG on map, unmap and sync",
    presets: ["D-C", "I-C", "OPS"],
    source: "mapping.c BUG_ON",
    check(ctx) {
      const s = ctx.make();
      const { pa } = lowPage(s);
      expect(
        throwsBug(() => s.dma.mapPhys(s.dev, pa, 64, DMA_NONE)),
        "map with DMA_NONE must BUG",
      );
      expect(
        throwsBug(() => s.dma.unmapPhys(s.dev, pa, 64, 7)),
        "unmap with 7 must BUG",
      );
      expect(
        throwsBug(() => s.dma.syncSingleForDevice(s.dev, pa, 64, -1)),
        "sync with -1 must BUG",
      );
    },
  },
  {
    id: "C020",
    title:
      "no dma_mask pointer: map errors with a one-time warning; sgtable 'succeeds' with 0 segments",
    presets: ["D-C", "I-C"],
    source: "mapping.c",
    check(ctx) {
      const s = ctx.make();
      const d = s.dma.addDevice({ name: "nomask", hasDmaMaskPointer: false });
      const { pa } = lowPage(s);
      eq(s.dma.mapPhys(d, pa, 64, DMA_TO_DEVICE), DMA_MAPPING_ERROR, "map");
      const t = SgTable.fromPhys([{ phys: pa, length: 64 }]);
      eq(s.dma.mapSgtable(d, t, DMA_TO_DEVICE), 0, "sgtable rc");
      eq(t.nents, 0, "nents");
    },
  },
  {
    id: "C021",
    title: "dma_map_single of vmalloc memory is refused with 'rejecting DMA map of vmalloc memory'",
    presets: ["D-C", "I-C"],
    source: "dma-mapping.h",
    check(ctx) {
      const s = ctx.make();
      const va = s.machine.kas.vmalloc(8192)!;
      eq(s.dma.mapSingle(s.dev, va, 8192, DMA_TO_DEVICE), DMA_MAPPING_ERROR, "map");
      expect(
        s.log.events.some((e) => e.message === "rejecting DMA map of vmalloc memory"),
        "warning",
      );
    },
  },
  {
    id: "C022",
    title: "dma_map_page_attrs refuses DMA_ATTR_MMIO; the unmap ignores it",
    presets: ["D-C", "I-C"],
    source: "mapping.c",
    since: "phys",
    check(ctx) {
      const s = ctx.make();
      eq(
        s.dma.mapPage(s.dev, 0x10000000, 0, 4096, DMA_TO_DEVICE, DMA_ATTR_MMIO),
        DMA_MAPPING_ERROR,
        "map_page with MMIO",
      );
    },
  },
  {
    id: "C023",
    title: "dma_mapping_error: -ENOMEM for the error value only",
    presets: ["D-C"],
    source: "dma-mapping.h",
    check(ctx) {
      const s = ctx.make();
      eq(
        [s.dma.mappingError(s.dev, DMA_MAPPING_ERROR), s.dma.mappingError(s.dev, 0)],
        [-ENOMEM, 0],
        "results",
      );
    },
  },
  {
    id: "C024",
    title: "an IOMMU DMA domain takes the IOMMU path; identity goes direct",
    presets: ["I-C"],
    source: "mapping.c dma_go_direct",
    check(ctx) {
      const s = ctx.make();
      const { pa } = lowPage(s);
      const d = s.dma.mapPhys(s.dev, pa, 4096, DMA_TO_DEVICE);
      expect(d !== pa && d !== DMA_MAPPING_ERROR, "an IOVA");
      s.dma.unmapPhys(s.dev, d, 4096, DMA_TO_DEVICE);
      const pt = ctx.make({ cmdline: "iommu=pt" });
      const p2 = lowPage(pt).pa;
      eq(pt.dma.mapPhys(pt.dev, p2, 4096, DMA_TO_DEVICE), p2, "identity: the physical address");
      pt.dma.unmapPhys(pt.dev, p2, 4096, DMA_TO_DEVICE);
    },
  },
  {
    id: "C026",
    title: "ops without map_phys: dma_map_phys returns the error, silently",
    presets: ["OPS"],
    source: "mapping.c",
    since: "phys",
    check(ctx) {
      const s = ctx.make();
      s.dma.setDmaOps(s.dev, { name: "no_map_phys" });
      const n = s.log.events.length;
      eq(s.dma.mapPhys(s.dev, 0x10000000, 64, DMA_TO_DEVICE), DMA_MAPPING_ERROR, "map");
      eq(s.log.events.length, n, "no warning");
    },
  },
  {
    id: "C027",
    title: "ops whose map_sg returns 0: sgtable -EIO with a one-time warning, map_sg 0",
    presets: ["OPS"],
    source: "mapping.c __dma_map_sg_attrs",
    check(ctx) {
      const s = ctx.make();
      s.dma.setDmaOps(s.dev, { name: "legacy", mapSg: () => 0 });
      const t = SgTable.fromPhys([{ phys: 0x10000000, length: 64 }]);
      eq(s.dma.mapSgtable(s.dev, t, DMA_TO_DEVICE), -EIO, "sgtable");
      eq(s.dma.mapSg(s.dev, t.sgl, 1, DMA_TO_DEVICE), 0, "map_sg");
    },
  },
  {
    id: "C028",
    title: "ops missing alloc, alloc_pages, mmap, get_sgtable: NULL, NULL, -ENXIO, -ENXIO",
    presets: ["OPS"],
    source: "mapping.c",
    check(ctx) {
      const s = ctx.make();
      s.dma.setDmaOps(s.dev, { name: "bare", mapSg: (_d, _s, n) => n });
      eq(s.dma.allocCoherent(s.dev, 4096, GFP_KERNEL), null, "alloc");
      eq(s.dma.allocPages(s.dev, 4096, DMA_TO_DEVICE, GFP_KERNEL), null, "alloc_pages");
      eq(s.dma.mmapCoherent(s.dev, { pgoff: 0, size: 4096 }, 0, 0x1000, 4096), -ENXIO, "mmap");
      eq(s.dma.getSgtableAttrs(s.dev, new SgTable(1), 0, 0x1000, 4096), -ENXIO, "get_sgtable");
    },
  },
  {
    id: "C029",
    title: "dummy ops: set_mask -EIO, map error, sgtable -EINVAL, mmap -ENXIO",
    presets: ["OPS"],
    source: "dummy.c",
    check(ctx) {
      const s = ctx.make();
      s.dma.setDmaOps(s.dev, dummyOps(s.dma));
      eq(s.dma.setMask(s.dev, DMA_BIT_MASK(64)), -EIO, "set_mask");
      eq(s.dma.mapPhys(s.dev, 0x10000000, 64, DMA_TO_DEVICE), DMA_MAPPING_ERROR, "map");
      eq(
        s.dma.mapSgtable(
          s.dev,
          SgTable.fromPhys([{ phys: 0x10000000, length: 64 }]),
          DMA_TO_DEVICE,
        ),
        -EINVAL,
        "sgtable",
      );
      eq(s.dma.mmapCoherent(s.dev, { pgoff: 0, size: 4096 }, 0, 0, 4096), -ENXIO, "mmap");
    },
  },
  {
    id: "C030",
    title: "alloc_coherent with __GFP_COMP: NULL and a warning; zone flags are ignored",
    presets: ["D-C", "I-C"],
    source: "mapping.c dma_alloc_attrs",
    check(ctx) {
      const s = ctx.make();
      eq(s.dma.allocCoherent(s.dev, 4096, GFP_KERNEL | GFP_COMP), null, "__GFP_COMP");
      const a = s.dma.allocCoherent(s.dev, 4096, GFP_KERNEL | GFP_DMA);
      expect(a !== null, "GFP_DMA allocation succeeds");
      s.dma.freeCoherent(s.dev, 4096, a.cpuAddr, a.handle);
    },
  },
  {
    id: "C031",
    title: "alloc_pages with GFP_DMA32 or a zero coherent mask: NULL and a warning",
    presets: ["D-C"],
    source: "mapping.c __dma_alloc_pages",
    check(ctx) {
      const s = ctx.make();
      eq(s.dma.allocPages(s.dev, 4096, DMA_TO_DEVICE, GFP_KERNEL | GFP_DMA32), null, "GFP_DMA32");
      s.dev.coherentDmaMask = 0n;
      eq(s.dma.allocPages(s.dev, 4096, DMA_TO_DEVICE, GFP_KERNEL), null, "zero mask");
    },
  },
  {
    id: "C032",
    title:
      "alloc_noncontiguous with an attribute other than ALLOC_SINGLE_PAGES: NULL and a warning",
    presets: ["D-C", "I-C"],
    source: "mapping.c dma_alloc_noncontiguous",
    check(ctx) {
      const s = ctx.make();
      for (const attr of [DMA_ATTR_NO_WARN, DMA_ATTR_FORCE_CONTIGUOUS, DMA_ATTR_SKIP_CPU_SYNC])
        eq(
          s.dma.allocNoncontiguous(s.dev, 8192, DMA_BIDIRECTIONAL, GFP_KERNEL, attr),
          null,
          `attrs ${attr}`,
        );
      eq(
        s.log.events.filter((e) => e.message.includes("DMA_ATTR_ALLOC_SINGLE_PAGES")).length,
        1,
        "one warning",
      );
      const t = s.dma.allocNoncontiguous(
        s.dev,
        8192,
        DMA_BIDIRECTIONAL,
        GFP_KERNEL,
        DMA_ATTR_ALLOC_SINGLE_PAGES,
      );
      expect(t !== null, "ALLOC_SINGLE_PAGES is accepted");
      s.dma.freeNoncontiguous(s.dev, 8192, t, DMA_BIDIRECTIONAL);
    },
  },
  {
    id: "C033",
    title: "free_coherent with IRQs disabled warns and still frees; NULL cpu_addr is a no-op",
    presets: ["D-C", "I-C"],
    source: "mapping.c dma_free_attrs",
    check(ctx) {
      const s = ctx.make();
      const a = s.dma.allocCoherent(s.dev, 8192, GFP_KERNEL)!;
      s.dma.irqsDisabled = true;
      s.dma.freeCoherent(s.dev, 8192, a.cpuAddr, a.handle);
      s.dma.irqsDisabled = false;
      eq(s.log.withCode("dma-free-irqs-disabled").length, 1, "warning");
      eq(s.dma.liveResources().length, 0, "freed");
    },
  },
  // ---- 6.3 dma-direct streaming maps
  {
    id: "C034",
    title: "D-C 64-bit: map_single returns the physical address, no copy, no cache op",
    presets: ["D-C"],
    source: "direct.h",
    check(ctx) {
      const s = ctx.make();
      const { va, pa } = highPage(s);
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_BIDIRECTIONAL);
      eq(d, pa, "bus address");
      eq(
        [s.stats().swiotlbBounces, s.stats().cacheMaintenanceOps],
        [0, 0],
        "no bounce, no maintenance",
      );
      s.dma.unmapSingle(s.dev, d, 4096, DMA_BIDIRECTIONAL);
    },
  },
  {
    id: "C036",
    title:
      "D-C 32-bit, buffer above 4 GiB: bounced below 4 GiB; device writes reach the original at unmap",
    presets: ["D-C"],
    source: "swiotlb.c swiotlb_map",
    check(ctx) {
      const s = ctx.make({ maskBits: 32 });
      const { va } = highPage(s);
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_FROM_DEVICE);
      expect(d < 2 ** 32 && s.dma.swiotlb!.isSwiotlbBuffer(d), "a slot below 4 GiB");
      s.device.write(d, Uint8Array.of(0x5a));
      eq(s.dma.cpuRead(va, 1)[0], 0, "not yet in the original");
      s.dma.unmapSingle(s.dev, d, 4096, DMA_FROM_DEVICE);
      eq(s.dma.cpuRead(va, 1)[0], 0x5a, "copied back");
    },
  },
  {
    id: "C037",
    title: "D-C0 32-bit, buffer above 4 GiB: error and the one-time overflow warning",
    presets: ["D-C0"],
    source: "direct.h",
    check(ctx) {
      const s = ctx.make({ maskBits: 32 });
      const { va } = highPage(s);
      eq(s.dma.mapSingle(s.dev, va, 4096, DMA_TO_DEVICE), DMA_MAPPING_ERROR, "map");
      expect(
        s.log.events.some((e) =>
          /^DMA addr 0x[0-9a-f]+\+4096 overflow \(mask ffffffff, bus limit 0\)\.$/.test(e.message),
        ),
        "overflow warning",
      );
    },
  },
  {
    id: "C039",
    title: "dma_capable checks the end: a buffer straddling the 32-bit limit is bounced",
    presets: ["D-N"],
    source: "dma-direct.h dma_capable",
    check(ctx) {
      // arm64 RAM runs contiguously across 4 GiB; the pool moves out of the way.
      const s = ctx.make({ maskBits: 32, swiotlbStart: 0x80000000 });
      const below = 2 ** 32 - 4096;
      // The map only reads the buffer; its tail is the first bytes above 4 GiB.
      expect(s.machine.pages.allocPagesAt(below, 0), "RAM at 0xfffff000");
      const fits = s.dma.mapPhys(s.dev, below, 4096, DMA_TO_DEVICE);
      eq(fits, below, "ending at 0xffffffff: direct");
      s.dma.unmapPhys(s.dev, fits, 4096, DMA_TO_DEVICE);
      const straddle = s.dma.mapPhys(s.dev, below + 2048, 4096, DMA_TO_DEVICE);
      expect(
        straddle !== DMA_MAPPING_ERROR && s.dma.swiotlb!.isSwiotlbBuffer(straddle),
        "the start is below 4 GiB but the end is not: bounced",
      );
      s.dma.unmapPhys(s.dev, straddle, 4096, DMA_TO_DEVICE);
    },
  },
  {
    id: "C040",
    title: "D-F: an addressable buffer is still bounced",
    presets: ["D-F"],
    source: "direct.h force bounce",
    check(ctx) {
      const s = ctx.make();
      const { va } = lowPage(s);
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_TO_DEVICE);
      expect(s.dma.swiotlb!.isSwiotlbBuffer(d), "bounced");
      s.dma.unmapSingle(s.dev, d, 4096, DMA_TO_DEVICE);
    },
  },
  {
    id: "C041",
    title: "D-F: dma_map_resource and REQUIRE_COHERENT maps fail",
    presets: ["D-F"],
    source: "direct.h",
    since: "phys",
    check(ctx) {
      const s = ctx.make();
      eq(
        s.dma.mapResource(s.dev, 0xfea00000, 4096, DMA_BIDIRECTIONAL),
        DMA_MAPPING_ERROR,
        "resource",
      );
      eq(
        s.dma.mapPhys(s.dev, 0x10000000, 64, DMA_TO_DEVICE, DMA_ATTR_REQUIRE_COHERENT),
        DMA_MAPPING_ERROR,
        "require coherent",
      );
    },
  },
  {
    id: "C042",
    title:
      "D-C with a dma_range_map offset: map_resource returns phys unchanged; beyond the mask: error and overflow",
    presets: ["D-C"],
    source: "direct.h MMIO branch",
    check(ctx) {
      const s = ctx.make();
      const d = s.dma.addDevice({
        name: "offset",
        pci: true,
        dmaRangeMap: [{ cpuStart: 0, dmaStart: 0x80000000, size: 2 ** 36 }],
      });
      eq(s.dma.setMask(d, DMA_BIT_MASK(40)), 0, "setMask");
      const before = s.stats();
      const r = s.dma.mapResource(d, 0xfea00000, 4096, DMA_BIDIRECTIONAL);
      eq(r, 0xfea00000, "no offset applied to MMIO");
      eq(
        [s.stats().swiotlbBounces, s.stats().cacheMaintenanceOps],
        [before.swiotlbBounces, before.cacheMaintenanceOps],
        "no bounce, no cache operation",
      );
      s.dma.unmapResource(d, r, 4096, DMA_BIDIRECTIONAL);
      eq(s.dma.setMask(d, DMA_BIT_MASK(32)), 0, "setMask(32)");
      eq(
        s.dma.mapResource(d, 0xfffff000, 8192, DMA_BIDIRECTIONAL),
        DMA_MAPPING_ERROR,
        "phys + size beyond the mask",
      );
      expect(
        s.log.events.some((e) => /^DMA addr 0xfffff000\+8192 overflow/.test(e.message)),
        "overflow warning",
      );
    },
  },
  {
    id: "C043",
    title: "D-C: unmap_resource leaves memory and swiotlb untouched",
    presets: ["D-C"],
    source: "direct.h",
    check(ctx) {
      const s = ctx.make();
      const d = s.dma.mapResource(s.dev, 0xfea00000, 4096, DMA_BIDIRECTIONAL);
      eq(d, 0xfea00000, "resource address unchanged");
      const used = s.dma.swiotlb!.stats().used;
      s.dma.unmapResource(s.dev, d, 4096, DMA_BIDIRECTIONAL);
      eq(s.dma.swiotlb!.stats().used, used, "swiotlb untouched");
    },
  },
  {
    id: "C044",
    title: "D-N TO_DEVICE: dirty lines are written back at map",
    presets: ["D-N"],
    source: "arch dma.c table",
    check(ctx) {
      const s = ctx.make();
      const { va } = lowPage(s);
      s.dma.cpuFill(va, 4096, 0x77);
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_TO_DEVICE);
      eq(s.device.readBytes(d, 1)![0], 0x77, "device sees the CPU's data");
      s.dma.unmapSingle(s.dev, d, 4096, DMA_TO_DEVICE);
    },
  },
  {
    id: "C046",
    title:
      "D-N FROM_DEVICE: a CPU read after the device wrote, before unmap or sync, is flagged as device-owned",
    presets: ["D-N"],
    source: "dma-api.rst Part Id; howto",
    check(ctx) {
      const s = ctx.make();
      const checker = new OwnershipChecker(s);
      const { va } = lowPage(s);
      s.dma.cpuFill(va, 64, 0x11);
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_FROM_DEVICE);
      s.dma.cpuRead(va, 64); // a speculative fill: the line is cached again
      s.device.write(d, new Uint8Array(64).fill(0x99));
      eq(s.dma.cpuRead(va, 1)[0], 0x11, "the read before the unmap sees the stale cached line");
      const v = checker.withCode("cpu-access-device-owned");
      expect(v.length >= 2 && v.every((x) => x.harmful), "flagged, and harmful on D-N");
      const n = checker.violations.length;
      s.dma.unmapSingle(s.dev, d, 4096, DMA_FROM_DEVICE);
      eq(s.dma.cpuRead(va, 1)[0], 0x99, "after the unmap the CPU sees the device's data");
      eq(checker.violations.length, n, "no report once the CPU owns the buffer");
      checker.stop();
    },
  },
  {
    id: "C048",
    title: "D-N BIDIRECTIONAL: data flows both ways across map and unmap",
    presets: ["D-N", "I-N"],
    source: "arch dma.c table",
    check(ctx) {
      const s = ctx.make();
      const { va } = lowPage(s);
      s.dma.cpuFill(va, 4096, 0x21);
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_BIDIRECTIONAL);
      eq(s.device.readBytes(d, 1)![0], 0x21, "to the device");
      s.device.write(d, Uint8Array.of(0x42));
      s.dma.unmapSingle(s.dev, d, 4096, DMA_BIDIRECTIONAL);
      eq(s.dma.cpuRead(va, 1)[0], 0x42, "to the CPU");
    },
  },
  {
    id: "C049",
    title: "D-N with SKIP_CPU_SYNC on map and unmap: no maintenance, stale both ways",
    presets: ["D-N"],
    source: "direct.h",
    check(ctx) {
      const s = ctx.make();
      const { va } = lowPage(s);
      s.dma.cpuFill(va, 4096, 0x33);
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
      eq(s.device.readBytes(d, 1)![0], 0, "the device missed the dirty line");
      s.dma.unmapSingle(s.dev, d, 4096, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
      eq(s.stats().cacheMaintenanceOps, 0, "no maintenance");
    },
  },
  {
    id: "C050",
    title: "D-C: no arch cache operation, ever",
    presets: ["D-C"],
    source: "direct.h",
    check(ctx) {
      const s = ctx.make();
      const { va } = lowPage(s);
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_BIDIRECTIONAL);
      s.dma.syncSingleForCpu(s.dev, d, 4096, DMA_BIDIRECTIONAL);
      s.dma.unmapSingle(s.dev, d, 4096, DMA_BIDIRECTIONAL);
      eq(s.stats().cacheMaintenanceOps, 0, "maintenance");
    },
  },
  {
    id: "C052",
    title: "D-N kmalloc bounce: 40-byte FROM_DEVICE bounces; TO_DEVICE and 256 bytes do not",
    presets: ["D-N"],
    source: "dma-map-ops.h dma_kmalloc_needs_bounce",
    check(ctx) {
      const s = ctx.make();
      const a = s.kmalloc(40);
      const d = s.dma.mapSingle(s.dev, a, 40, DMA_FROM_DEVICE);
      expect(s.dma.swiotlb!.isSwiotlbBuffer(d), "40 bytes FROM_DEVICE bounced");
      s.dma.unmapSingle(s.dev, d, 40, DMA_FROM_DEVICE);
      const d2 = s.dma.mapSingle(s.dev, a, 40, DMA_TO_DEVICE);
      expect(!s.dma.swiotlb!.isSwiotlbBuffer(d2), "TO_DEVICE not bounced");
      s.dma.unmapSingle(s.dev, d2, 40, DMA_TO_DEVICE);
      const b = s.kmalloc(256);
      const d3 = s.dma.mapSingle(s.dev, b, 256, DMA_FROM_DEVICE);
      expect(!s.dma.swiotlb!.isSwiotlbBuffer(d3), "256 bytes not bounced");
      s.dma.unmapSingle(s.dev, d3, 256, DMA_FROM_DEVICE);
    },
  },
  {
    id: "C053",
    title: "D-N kmalloc bounce without a pool: the 40-byte map fails with the overflow warning",
    presets: ["D-N"],
    source: "direct.h",
    check(ctx) {
      const s = ctx.make({ cmdline: "swiotlb=noforce" });
      eq(s.dma.mapSingle(s.dev, s.kmalloc(40), 40, DMA_FROM_DEVICE), DMA_MAPPING_ERROR, "map");
      expect(
        s.log.events.some((e) => e.message.includes("overflow")),
        "overflow warning",
      );
    },
  },
  {
    id: "C054",
    title: "REQUIRE_COHERENT: error on a non-coherent device without a warning; no bounce on D-C",
    presets: ["D-N", "D-C"],
    source: "mapping.c; direct.h",
    check(ctx) {
      const s = ctx.make({ maskBits: 32 });
      const { pa } = ctx.preset === "D-N" ? lowPage(s) : highPage(s);
      const n = s.log.events.length;
      eq(
        s.dma.mapPhys(s.dev, pa, 4096, DMA_TO_DEVICE, DMA_ATTR_REQUIRE_COHERENT),
        DMA_MAPPING_ERROR,
        "map",
      );
      if (ctx.preset === "D-N") eq(s.log.events.length, n, "no warning");
      eq(s.stats().swiotlbBounces, 0, "no bounce");
    },
  },
  {
    id: "C056",
    title:
      "dma_need_unmap: false for coherent direct before a bounce, true after one, true behind an IOMMU",
    presets: ["D-C", "I-C"],
    source: "mapping.c",
    check(ctx) {
      const s = ctx.make({ maskBits: 32 });
      if (ctx.preset === "I-C") {
        eq(s.dma.needUnmap(s.dev), true, "IOMMU");
        return;
      }
      eq(s.dma.needUnmap(s.dev), false, "before");
      const { va } = highPage(s);
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_TO_DEVICE);
      eq(s.dma.needUnmap(s.dev), true, "after a bounce");
      s.dma.unmapSingle(s.dev, d, 4096, DMA_TO_DEVICE);
    },
  },
  // ---- 6.4 sync
  {
    id: "C057",
    title: "D-N: a partial sync_for_cpu invalidates only the lines it covers",
    presets: ["D-N"],
    source: "direct.h; dma-api.rst partial sync",
    check(ctx) {
      const s = ctx.make();
      const { va } = lowPage(s);
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_FROM_DEVICE);
      s.dma.cpuRead(va, 4096); // the CPU has every line of the buffer cached (clean, stale)
      s.device.write(d, new Uint8Array(4096).fill(0x5a));
      s.dma.syncSingleForCpu(s.dev, d + 1024, 512, DMA_FROM_DEVICE);
      const b = s.dma.cpuRead(va, 4096);
      eq([b[1024], b[1535]], [0x5a, 0x5a], "inside the synced range: the device's data");
      eq([b[0], b[1023], b[1536], b[4095]], [0, 0, 0, 0], "outside it: stale lines");
      s.dma.unmapSingle(s.dev, d, 4096, DMA_FROM_DEVICE);
      eq(s.dma.cpuRead(va, 1)[0], 0x5a, "after the unmap");
    },
  },
  {
    id: "C058",
    title: "sync_single_range_for_cpu(addr, off, len) = sync_single_for_cpu(addr + off, len)",
    presets: ["D-N"],
    source: "dma-mapping.h",
    check(ctx) {
      const s = ctx.make();
      const { va, pa } = lowPage(s);
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_FROM_DEVICE);
      s.dma.syncSingleRangeForCpu(s.dev, d, 1024, 512, DMA_FROM_DEVICE);
      const m = s.dma.maintenance.at(-1)!;
      eq([m.pa, m.size, m.edge], [pa + 1024, 512, "for-cpu"], "maintenance range");
      s.dma.unmapSingle(s.dev, d, 4096, DMA_FROM_DEVICE);
    },
  },
  {
    id: "C059",
    title: "bounced TO_DEVICE: the device sees CPU changes only after sync_for_device",
    presets: ["D-C", "D-F"],
    source: "swiotlb.c",
    check(ctx) {
      const s = ctx.make({ maskBits: 32 });
      const { va } = highPage(s);
      s.dma.cpuFill(va, 16, 1);
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_TO_DEVICE);
      s.dma.cpuFill(va, 16, 2);
      eq(s.device.readBytes(d, 1)![0], 1, "before the sync");
      s.dma.syncSingleForDevice(s.dev, d, 4096, DMA_TO_DEVICE);
      eq(s.device.readBytes(d, 1)![0], 2, "after");
      s.dma.unmapSingle(s.dev, d, 4096, DMA_TO_DEVICE);
    },
  },
  {
    id: "C061",
    title:
      "D-C bounced FROM_DEVICE: the original shows pre-map bytes until sync_for_cpu; the read is flagged",
    presets: ["D-C"],
    source: "swiotlb.c; dma-api.rst",
    check(ctx) {
      const s = ctx.make({ maskBits: 32 });
      const checker = new OwnershipChecker(s);
      const { va } = highPage(s);
      s.dma.cpuFill(va, 16, 0x11);
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_FROM_DEVICE);
      expect(s.dma.swiotlb!.isSwiotlbBuffer(d), "bounced");
      s.device.write(d, new Uint8Array(16).fill(0x99));
      eq(s.dma.cpuRead(va, 1)[0], 0x11, "the pre-map contents, never the device's data");
      const v = checker.withCode("cpu-access-device-owned");
      expect(v.length === 1 && v[0]!.harmful, "flagged as harmful (bounced)");
      s.dma.syncSingleForCpu(s.dev, d, 4096, DMA_FROM_DEVICE);
      eq(s.dma.cpuRead(va, 1)[0], 0x99, "after sync_for_cpu");
      eq(checker.violations.length, 1, "the read after the sync is not flagged");
      s.dma.unmapSingle(s.dev, d, 4096, DMA_FROM_DEVICE);
      checker.stop();
    },
  },
  {
    id: "C062",
    title: "coherent direct device: the sync wrappers make no backend call",
    presets: ["D-C"],
    source: "dma-mapping.h",
    check(ctx) {
      const s = ctx.make();
      const n = s.stats().directCalls;
      s.dma.syncSingleForCpu(s.dev, 0x10000000, 64, DMA_FROM_DEVICE);
      eq(s.stats().directCalls, n, "calls");
    },
  },
  {
    id: "C063",
    title: "with DMA_API_DEBUG the syncs are forwarded",
    presets: ["D-C"],
    source: "dma-mapping.h",
    check(ctx) {
      const s = ctx.make({ config: { DMA_API_DEBUG: true } });
      const n = s.stats().directCalls;
      s.dma.syncSingleForCpu(s.dev, 0x10000000, 64, DMA_FROM_DEVICE);
      eq(s.stats().directCalls, n + 1, "calls");
    },
  },
  {
    id: "C064",
    title: "OPS without sync callbacks: the syncs have no effect",
    presets: ["OPS"],
    source: "mapping.c",
    check(ctx) {
      const s = ctx.make();
      const d = s.dma.addDevice({ name: "nosync", pci: true });
      s.dma.setDmaOps(d, {
        name: "no_sync_ops",
        mapPhys: (_d, p) => p,
        unmapPhys: () => {},
        mapPage: (_d, p, o) => p + o,
        unmapPage: () => {},
      });
      eq(s.dma.setMask(d, DMA_BIT_MASK(64)), 0, "setMask");
      eq(d.dmaSkipSync, true, "skip_sync for a table without sync callbacks");
      const { va, pa } = lowPage(s);
      s.dma.cpuFill(va, 16, 0x3c);
      const a = s.dma.mapPhys(d, pa, 4096, DMA_BIDIRECTIONAL);
      const before = { ...s.stats(), events: s.log.events.length };
      s.dma.syncSingleForCpu(d, a, 4096, DMA_BIDIRECTIONAL);
      s.dma.syncSingleForDevice(d, a, 4096, DMA_BIDIRECTIONAL);
      const t = SgTable.fromPhys([{ phys: pa, length: 4096 }]);
      t.sgl[0]!.dmaAddress = a;
      t.sgl[0]!.dmaLength = 4096;
      s.dma.syncSgForCpu(d, t.sgl, 1, DMA_BIDIRECTIONAL);
      s.dma.syncSgForDevice(d, t.sgl, 1, DMA_BIDIRECTIONAL);
      const after = s.stats();
      eq(
        [after.indirectCalls, after.cacheMaintenanceOps, after.swiotlbBounces, s.log.events.length],
        [before.indirectCalls, before.cacheMaintenanceOps, before.swiotlbBounces, before.events],
        "no call, no maintenance, no bounce, no log",
      );
      eq(s.dma.cpuRead(va, 1)[0], 0x3c, "memory unchanged");
      s.dma.unmapPhys(d, a, 4096, DMA_BIDIRECTIONAL);
    },
  },
  {
    id: "C065",
    title: "syncs with a direction outside {0,1,2} are fatal, in the core and in swiotlb",
    presets: ["D-C", "D-F", "I-C", "OPS"],
    source: "mapping.c BUG_ON; swiotlb.c",
    check(ctx) {
      const s = ctx.make();
      const { va, pa } = lowPage(s);
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_BIDIRECTIONAL);
      const t = SgTable.fromPhys([{ phys: pa, length: 4096 }]);
      for (const bad of [DMA_NONE, 4, -1]) {
        expect(
          throwsBug(() => s.dma.syncSingleForDevice(s.dev, d, 4096, bad)),
          `sync_single_for_device(${bad})`,
        );
        expect(
          throwsBug(() => s.dma.syncSingleRangeForCpu(s.dev, d, 0, 64, bad)),
          `sync_single_range_for_cpu(${bad})`,
        );
        expect(
          throwsBug(() => s.dma.syncSgForCpu(s.dev, t.sgl, 1, bad)),
          `sync_sg_for_cpu(${bad})`,
        );
        expect(
          throwsBug(() => s.dma.syncSgtableForDevice(s.dev, t, bad)),
          `sync_sgtable_for_device(${bad})`,
        );
      }
      if (ctx.preset === "D-F") {
        // swiotlb's own sync accepts only the directions it copies for, and FROM_DEVICE (for device).
        expect(
          throwsBug(() => s.dma.swiotlbSyncSingleForDevice(s.dev, d, 4096, DMA_NONE)),
          "swiotlb_sync_single_for_device(DMA_NONE)",
        );
        expect(
          throwsBug(() => s.dma.swiotlbSyncSingleForCpu(s.dev, d, 4096, DMA_NONE)),
          "swiotlb_sync_single_for_cpu(DMA_NONE)",
        );
      }
      s.dma.unmapSingle(s.dev, d, 4096, DMA_BIDIRECTIONAL);
    },
  },
  // ---- 6.5 scatter-gather
  {
    id: "C066",
    title: "D-C: 32 contiguous pages map to 32 segments",
    presets: ["D-C"],
    source: "direct.c dma_direct_map_sg",
    check(ctx) {
      const s = ctx.make();
      const base = lowPage(s, 5).pa;
      const t = SgTable.fromPhys(
        Array.from({ length: 32 }, (_, i) => ({ phys: base + i * 4096, length: 4096 })),
      );
      eq(s.dma.mapSgtable(s.dev, t, DMA_TO_DEVICE), 0, "rc");
      eq([t.nents, t.origNents], [32, 32], "counts");
      s.dma.unmapSgtable(s.dev, t, DMA_TO_DEVICE);
    },
  },
  {
    id: "C068",
    title: "IOMMU: an entry at offset 0x100 starts a new segment ending in 0x100",
    presets: ["I-C"],
    source: "dma-iommu.c __finalise_sg",
    check(ctx) {
      const s = ctx.make();
      const base = lowPage(s, 2).pa;
      const t = SgTable.fromPhys([
        { phys: base, length: 4096 },
        { phys: base + 0x2000, length: 4096 },
        { phys: base + 0x3100, length: 1024 },
      ]);
      eq(s.dma.mapSgtable(s.dev, t, DMA_TO_DEVICE), 0, "rc");
      eq([t.nents, t.sgl[0]!.dmaLength, t.sgl[1]!.dmaAddress % 4096], [2, 8192, 0x100], "segments");
      s.dma.unmapSgtable(s.dev, t, DMA_TO_DEVICE);
    },
  },
  {
    id: "C070",
    title:
      "map_sgtable sets nents and keeps orig_nents; unmap_sgtable and the sgtable syncs cover orig_nents",
    presets: ["I-C", "I-N"],
    source: "mapping.c; dma-mapping.h",
    check(ctx) {
      const s = ctx.make();
      const base = lowPage(s, 2).pa;
      // Two granule-aligned entries that merge into one IOVA segment.
      const t = SgTable.fromPhys([
        { phys: base, length: 4096 },
        { phys: base + 0x2000, length: 4096 },
      ]);
      eq(s.dma.mapSgtable(s.dev, t, DMA_FROM_DEVICE), 0, "rc");
      eq([t.nents, t.origNents], [1, 2], "nents is the mapped count, orig_nents unchanged");
      const from = s.dma.maintenance.length;
      s.dma.syncSgtableForCpu(s.dev, t, DMA_FROM_DEVICE);
      if (ctx.preset === "I-N") {
        const synced = s.dma.maintenance.slice(from).map((m) => [m.pa, m.size, m.edge]);
        eq(
          synced,
          [
            [base, 4096, "for-cpu"],
            [base + 0x2000, 4096, "for-cpu"],
          ],
          "the sync walks both CPU entries",
        );
      }
      s.dma.unmapSgtable(s.dev, t, DMA_FROM_DEVICE);
      eq(s.dma.liveResources(), [], "the unmap released the whole list");
    },
  },
  {
    id: "C071",
    title:
      "map_sg never returns a negative value; map_sgtable returns 0 or one of the listed errnos",
    presets: ["D-C0", "D-N", "I-C", "OPS"],
    source: "mapping.c __dma_map_sg_attrs",
    check(ctx) {
      const s = ctx.make({ maskBits: 32 });
      const allowed = [0, -EINVAL, -ENOMEM, -EIO, -EREMOTEIO, -EOPNOTSUPP];
      const low = lowPage(s).pa;
      const hi = ctx.preset === "D-C0" ? highPage(s).pa : low;
      const cases: Array<{ what: string; attrs: number; entries: number; n: number }> = [];
      if (ctx.preset === "D-C0")
        cases.push({ what: "unreachable entry", attrs: 0, entries: hi, n: 4096 });
      if (ctx.preset === "D-N")
        cases.push({
          what: "REQUIRE_COHERENT on a non-coherent device",
          attrs: DMA_ATTR_REQUIRE_COHERENT,
          entries: hi,
          n: 4096,
        });
      if (ctx.preset === "OPS") {
        // A legacy table returning 0, and one returning an errno outside the list.
        for (const [name, r] of [
          ["legacy_zero", 0],
          ["odd_errno", -7],
        ] as const) {
          const d = s.dma.addDevice({ name, pci: true });
          s.dma.setDmaOps(d, { name, mapSg: () => r });
          s.dma.setMask(d, DMA_BIT_MASK(64));
          const t = SgTable.fromPhys([{ phys: hi, length: 64 }]);
          eq(s.dma.mapSg(d, t.sgl, 1, DMA_TO_DEVICE), 0, `${name}: map_sg`);
          eq(s.dma.mapSgtable(d, t, DMA_TO_DEVICE), -EIO, `${name}: sgtable`);
        }
      }
      if (ctx.preset === "I-C") {
        // More IOVA than a 20-bit mask holds: -ENOMEM.
        s.dma.setMask(s.dev, DMA_BIT_MASK(20));
        cases.push({ what: "IOVA space exhausted", attrs: 0, entries: hi, n: 2 ** 21 });
      }
      for (const c of cases) {
        const t = SgTable.fromPhys([{ phys: c.entries, length: c.n }]);
        const n = s.dma.mapSg(s.dev, t.sgl, 1, DMA_TO_DEVICE, c.attrs);
        expect(n >= 0, `${c.what}: map_sg returned ${n}`);
        eq(n, 0, `${c.what}: map_sg fails with 0`);
        const r = s.dma.mapSgtable(s.dev, t, DMA_TO_DEVICE, c.attrs);
        expect(r < 0 && allowed.includes(r), `${c.what}: sgtable returned ${r}`);
      }
      // And a successful map: a positive count, sgtable 0.
      if (ctx.preset !== "OPS") {
        s.dma.setMask(s.dev, DMA_BIT_MASK(32));
        const t = SgTable.fromPhys([{ phys: low, length: 4096 }]);
        eq(s.dma.mapSgtable(s.dev, t, DMA_TO_DEVICE), 0, "success");
        expect(t.nents >= 1, "at least one segment");
        s.dma.unmapSgtable(s.dev, t, DMA_TO_DEVICE);
      }
    },
  },
  {
    id: "C072",
    title: "D-C0: a failing entry unwinds the earlier ones; map_sg 0, sgtable -EIO",
    presets: ["D-C0"],
    source: "direct.c",
    check(ctx) {
      const s = ctx.make({ maskBits: 32 });
      const hi = highPage(s).pa;
      const t = SgTable.fromPhys([
        { phys: 0x10000000, length: 4096 },
        { phys: hi, length: 4096 },
      ]);
      eq(s.dma.mapSgtable(s.dev, t, DMA_TO_DEVICE), -EIO, "sgtable");
      eq(s.dma.liveResources(), [], "nothing left mapped");
    },
  },
  {
    id: "C073",
    title: "IOMMU with IOVA space exhausted: -ENOMEM and the list restored",
    presets: ["I-C"],
    source: "dma-iommu.c __invalidate_sg",
    check(ctx) {
      const s = ctx.make({ maskBits: 20 });
      const entries = Array.from({ length: 300 }, (_, i) => ({
        phys: 0x10000000 + i * 8192 + 0x80,
        length: 100,
      }));
      const t = SgTable.fromPhys(entries);
      eq(s.dma.mapSgtable(s.dev, t, DMA_TO_DEVICE), -ENOMEM, "rc");
      eq(
        t.sgl.every((x, i) => x.phys === entries[i]!.phys && x.length === 100),
        true,
        "restored",
      );
    },
  },
  {
    id: "C074",
    title: "I-U: each entry mapped alone, no merging",
    presets: ["I-U"],
    source: "dma-iommu.c iommu_dma_map_sg_swiotlb",
    check(ctx) {
      const s = ctx.make();
      const t = SgTable.fromPhys([
        { phys: 0x10000000, length: 4096 },
        { phys: 0x10001000, length: 512 },
      ]);
      eq(s.dma.mapSgtable(s.dev, t, DMA_TO_DEVICE), 0, "rc");
      eq(t.nents, 2, "no merging");
      s.dma.unmapSgtable(s.dev, t, DMA_TO_DEVICE);
    },
  },
  {
    id: "C076",
    title: "debug: sync_sg_for_cpu with another nents than the map's: 'different entry count'",
    presets: ["DBG"],
    source: "debug.c check_sync",
    check(ctx) {
      const s = ctx.make({ cmdline: "intel_iommu=off" });
      const d = s.dma.debug;
      expect(d !== null, "CONFIG_DMA_API_DEBUG is on");
      d.allErrors = 1;
      const base = lowPage(s, 1).pa;
      const t = SgTable.fromPhys([
        { phys: base, length: 4096 },
        { phys: base + 4096, length: 4096 },
      ]);
      eq(s.dma.mapSgtable(s.dev, t, DMA_FROM_DEVICE), 0, "map two entries");
      const report = "device driver syncs DMA sg list with different entry count";
      const said = () => s.log.events.filter((e) => e.message.includes(report));
      s.dma.syncSgForCpu(s.dev, t.sgl, 2, DMA_FROM_DEVICE);
      eq(said().length, 0, "the map's nents: no report");
      s.dma.syncSgForCpu(s.dev, t.sgl, 1, DMA_FROM_DEVICE);
      eq(said().length, 1, "one entry fewer: reported");
      expect(said()[0]!.message.includes("[map count=2] [sync count=1]"), "both counts named");
      s.dma.unmapSgtable(s.dev, t, DMA_FROM_DEVICE);
    },
  },
  {
    id: "C077",
    title: "for_each_sgtable_dma_sg visits nents, for_each_sgtable_sg orig_nents",
    presets: ["I-C"],
    source: "scatterlist.h",
    check(ctx) {
      const s = ctx.make();
      const t = SgTable.fromPhys([
        { phys: 0x10000000, length: 4096 },
        { phys: 0x10002000, length: 4096 },
      ]);
      s.dma.mapSgtable(s.dev, t, DMA_TO_DEVICE);
      eq([t.nents, t.origNents], [1, 2], "merged into one DMA segment");
      s.dma.unmapSgtable(s.dev, t, DMA_TO_DEVICE);
    },
  },
  {
    id: "C078",
    title: "an sg list mapped again before its unmap is flagged; after the unmap it is not",
    presets: ["D-C", "D-N", "I-C"],
    source: "dma-api.rst Part Id",
    check(ctx) {
      const s = ctx.make();
      const checker = new OwnershipChecker(s);
      const base = lowPage(s, 1).pa;
      const t = SgTable.fromPhys([
        { phys: base, length: 4096 },
        { phys: base + 4096, length: 4096 },
      ]);
      eq(s.dma.mapSgtable(s.dev, t, DMA_TO_DEVICE), 0, "first map");
      const first = t.sgl.map((x) => [x.dmaAddress, x.dmaLength, x.dmaFlags] as const);
      eq(checker.withCode("sg-list-mapped-again").length, 0, "one map is fine");
      eq(s.dma.mapSgtable(s.dev, t, DMA_TO_DEVICE), 0, "second map");
      eq(checker.withCode("sg-list-mapped-again").length, 1, "the second map is flagged");
      // Unwind both: the list holds the second mapping now, the first is restored by hand.
      s.dma.unmapSgtable(s.dev, t, DMA_TO_DEVICE);
      first.forEach(([a, l, f], i) => {
        t.sgl[i]!.dmaAddress = a;
        t.sgl[i]!.dmaLength = l;
        t.sgl[i]!.dmaFlags = f;
      });
      s.dma.unmapSgtable(s.dev, t, DMA_TO_DEVICE);
      eq(s.dma.mapSgtable(s.dev, t, DMA_TO_DEVICE), 0, "a map after the unmaps");
      eq(checker.withCode("sg-list-mapped-again").length, 1, "is not flagged");
      s.dma.unmapSgtable(s.dev, t, DMA_TO_DEVICE);
      checker.stop();
    },
  },
  // ---- 6.6 allocations
  {
    id: "C079",
    title: "alloc_coherent(10000): zeroed, below the coherent mask, order-2 aligned",
    presets: ["D-C"],
    source: "direct.c",
    check(ctx) {
      const s = ctx.make({ maskBits: 32 });
      const a = s.dma.allocCoherent(s.dev, 10000, GFP_KERNEL)!;
      expect(a.handle + 9999 <= 0xffffffff && a.handle % 16384 === 0, "placement");
      expect(
        s.dma.cpuRead(a.cpuAddr, 10000).every((b) => b === 0),
        "zeroed",
      );
      s.dma.freeCoherent(s.dev, 10000, a.cpuAddr, a.handle);
    },
  },
  {
    id: "C081",
    title: "D-C: ZONE_DMA exhausted with a 24-bit mask: NULL, no higher zone is tried",
    presets: ["D-C"],
    source: "direct.c __dma_direct_alloc_pages",
    check(ctx) {
      const s = ctx.make();
      eq(s.dma.setMaskAndCoherent(s.dev, DMA_BIT_MASK(24)), 0, "24-bit masks");
      const a = s.dma.allocCoherent(s.dev, 4096, GFP_KERNEL);
      expect(a !== null && a.handle + 4095 <= 0xffffff, "an allocation from ZONE_DMA");
      s.dma.freeCoherent(s.dev, 4096, a.cpuAddr, a.handle);
      const taken: number[] = [];
      for (;;) {
        const pa = s.machine.pages.allocPages(0, 0);
        if (pa === null) break;
        taken.push(pa);
      }
      expect(taken.length > 0, "ZONE_DMA had pages to take");
      eq(s.dma.allocCoherent(s.dev, 4096, GFP_KERNEL), null, "ZONE_DMA exhausted");
      for (const pa of taken) s.machine.pages.freePages(pa, 0);
      expect(s.machine.pages.allocPages(0, 2) !== null, "RAM in higher zones was free all along");
    },
  },
  {
    id: "C082",
    title: "a declared 64 KiB pool: 16 pages, then NULL with RAM free",
    presets: ["D-C"],
    source: "coherent.c",
    check(ctx) {
      const s = ctx.make();
      eq(s.dma.declareCoherentMemory(s.dev, 0x20000000, 0xd0000000, 65536), 0, "declare");
      for (let i = 0; i < 16; i++)
        expect(s.dma.allocCoherent(s.dev, 4096, GFP_KERNEL) !== null, `page ${i}`);
      eq(s.dma.allocCoherent(s.dev, 4096, GFP_KERNEL), null, "17th");
    },
  },
  {
    id: "C083",
    title: "D-N remap: the coherent buffer is uncached, visible both ways without syncs",
    presets: ["D-N"],
    source: "direct.c",
    check(ctx) {
      const s = ctx.make();
      const a = s.dma.allocCoherent(s.dev, 4096, GFP_KERNEL)!;
      s.dma.cpuWrite(a.cpuAddr, Uint8Array.of(1, 2));
      eq([...s.device.readBytes(a.handle, 2)!], [1, 2], "CPU → device");
      s.device.write(a.handle + 8, Uint8Array.of(9));
      eq(s.dma.cpuRead(a.cpuAddr + 8, 1)[0], 9, "device → CPU");
      s.dma.freeCoherent(s.dev, 4096, a.cpuAddr, a.handle);
    },
  },
  {
    id: "C084",
    title: "D-N GFP_ATOMIC: from the atomic pool; too large → NULL with the pool warning",
    presets: ["D-N"],
    source: "pool.c",
    check(ctx) {
      const s = ctx.make();
      const a = s.dma.allocCoherent(s.dev, 4096, GFP_ATOMIC);
      expect(a !== null, "small atomic allocation");
      eq(s.dma.allocCoherent(s.dev, 64 * 2 ** 20, GFP_ATOMIC), null, "large");
      expect(
        s.log.events.some((e) => e.message.startsWith("Failed to get suitable pool for")),
        "warning",
      );
      s.dma.freeCoherent(s.dev, 4096, a.cpuAddr, a.handle);
    },
  },
  {
    id: "C085",
    title: "D-N without an uncached mechanism: NULL and the one-time log line",
    presets: ["D-N"],
    source: "direct.c",
    check(ctx) {
      const s = ctx.make({ config: { DMA_DIRECT_REMAP: false } });
      eq(s.dma.allocCoherent(s.dev, 4096, GFP_KERNEL), null, "alloc");
      expect(
        s.log.events.some(
          (e) => e.message === "coherent DMA allocations not supported on this platform",
        ),
        "log",
      );
    },
  },
  {
    id: "C086",
    title: "NO_KERNEL_MAPPING returns a cookie; dereferencing it is a violation",
    presets: ["D-C"],
    source: "direct.c",
    check(ctx) {
      const s = ctx.make();
      const a = s.dma.allocAttrs(s.dev, 8192, GFP_KERNEL, DMA_ATTR_NO_KERNEL_MAPPING)!;
      expect(
        throwsBug(() => s.dma.cpuRead(a.cpuAddr, 4)),
        "dereference faults",
      );
      s.dma.freeAttrs(s.dev, 8192, a.cpuAddr, a.handle, DMA_ATTR_NO_KERNEL_MAPPING);
    },
  },
  {
    id: "C087",
    title: "alloc_coherent with __GFP_NOWARN behaves as NO_WARN",
    presets: ["D-C"],
    source: "dma-mapping.h",
    check(ctx) {
      const s = ctx.make();
      const a = s.dma.allocCoherent(s.dev, 4096, GFP_KERNEL | GFP_NOWARN);
      expect(a !== null, "allocated");
      s.dma.freeCoherent(s.dev, 4096, a.cpuAddr, a.handle);
      void DMA_ATTR_NO_WARN;
    },
  },
  {
    id: "C088",
    title: "I-C: 64 KiB coherent is one IOVA range over separate pages, vmalloc-style CPU address",
    presets: ["I-C"],
    source: "dma-iommu.c iommu_dma_alloc",
    check(ctx) {
      const s = ctx.make({ maskBits: 32 });
      const a = s.dma.allocCoherent(s.dev, 65536, GFP_KERNEL)!;
      eq(s.machine.kas.regionOf(a.cpuAddr), "vmalloc", "CPU address");
      expect(a.handle + 65535 < 2 ** 32, "below the coherent mask");
      s.dma.freeCoherent(s.dev, 65536, a.cpuAddr, a.handle);
    },
  },
  {
    id: "C090",
    title:
      "dma_alloc_pages on a non-coherent device: cacheable; each side sees the other only after the sync",
    presets: ["D-N", "I-N"],
    source: "dma-api.rst Part II; direct.c",
    since: "ops-map-page",
    check(ctx) {
      const s = ctx.make();
      const a = s.dma.allocNoncoherent(s.dev, 4096, DMA_BIDIRECTIONAL, GFP_KERNEL)!;
      expect(a !== null, "allocated");
      eq(s.machine.kas.regionOf(a.cpuAddr), "linear", "a cacheable linear-map address");
      s.dma.cpuFill(a.cpuAddr, 64, 0x11);
      eq(s.device.readBytes(a.handle, 1)![0], 0, "the CPU's bytes are still in its cache");
      s.dma.syncSingleForDevice(s.dev, a.handle, 4096, DMA_BIDIRECTIONAL);
      eq(s.device.readBytes(a.handle, 1)![0], 0x11, "after sync_for_device");
      s.device.write(a.handle, new Uint8Array(64).fill(0x22));
      eq(s.dma.cpuRead(a.cpuAddr, 1)[0], 0x11, "the CPU still reads its cached line");
      s.dma.syncSingleForCpu(s.dev, a.handle, 4096, DMA_BIDIRECTIONAL);
      eq(s.dma.cpuRead(a.cpuAddr, 1)[0], 0x22, "after sync_for_cpu");
      s.dma.freeNoncoherent(s.dev, 4096, a.cpuAddr, a.handle, DMA_BIDIRECTIONAL);
    },
  },
  {
    id: "C091",
    title: "mmap beyond the allocation is -ENXIO",
    presets: ["D-C", "I-C"],
    source: "mapping.c; direct.c",
    check(ctx) {
      const s = ctx.make();
      const a = s.dma.allocCoherent(s.dev, 8192, GFP_KERNEL)!;
      eq(
        s.dma.mmapCoherent(s.dev, { pgoff: 0, size: 12288 }, a.cpuAddr, a.handle, 8192),
        -ENXIO,
        "too long",
      );
      eq(s.dma.mmapCoherent(s.dev, { pgoff: 0, size: 8192 }, a.cpuAddr, a.handle, 8192), 0, "fits");
      s.dma.freeCoherent(s.dev, 8192, a.cpuAddr, a.handle);
    },
  },
  {
    id: "C092",
    title:
      "get_sgtable on D-C: one entry of the page-aligned size; OPS without get_sgtable: -ENXIO",
    presets: ["D-C", "OPS"],
    source: "direct.c; mapping.c",
    check(ctx) {
      const s = ctx.make();
      if (ctx.preset === "OPS") {
        const d = s.dma.addDevice({ name: "nosgt", pci: true });
        s.dma.setDmaOps(d, { name: "no_get_sgtable", alloc: () => null });
        s.dma.setMaskAndCoherent(d, DMA_BIT_MASK(64));
        eq(s.dma.getSgtableAttrs(d, new SgTable(1), 0, 0x1000, 4096), -ENXIO, "-ENXIO");
        return;
      }
      const a = s.dma.allocCoherent(s.dev, 10000, GFP_KERNEL)!;
      const t = new SgTable(1);
      eq(s.dma.getSgtableAttrs(s.dev, t, a.cpuAddr, a.handle, 10000), 0, "rc");
      eq([t.origNents, t.sgl[0]!.length], [1, 12288], "one page-aligned entry");
      eq(t.sgl[0]!.phys, s.machine.kas.virtToPhys(a.cpuAddr), "the allocation's pages");
      s.dma.freeCoherent(s.dev, 10000, a.cpuAddr, a.handle);
    },
  },
  {
    id: "C093",
    title:
      "dma_pgprot: coherent stays cacheable; non-coherent is uncached, write-combining only where the arch supports it",
    presets: ["D-C", "D-N", "I-N"],
    source: "mapping.c dma_pgprot",
    check(ctx) {
      const s = ctx.make();
      if (ctx.preset === "D-C") {
        eq(
          [s.dma.pgprot(s.dev, 0), s.dma.pgprot(s.dev, DMA_ATTR_WRITE_COMBINE)],
          ["cacheable", "cacheable"],
          "coherent",
        );
        const nc = s.dma.addDevice({ name: "noncoherent", pci: true, coherent: false });
        eq(s.dma.pgprot(nc, DMA_ATTR_WRITE_COMBINE), "uncached", "x86 has no write-combine DMA");
        return;
      }
      eq(s.dma.pgprot(s.dev, 0), "uncached", "non-coherent");
      eq(s.dma.pgprot(s.dev, DMA_ATTR_WRITE_COMBINE), "write-combine", "arm64 write-combines");
      const off = ctx.make({ config: { ARCH_HAS_DMA_WRITE_COMBINE: false } });
      eq(off.dma.pgprot(off.dev, DMA_ATTR_WRITE_COMBINE), "uncached", "without the arch support");
    },
  },
  {
    id: "C094",
    title: "dmam_ allocations are released at driver unbind",
    presets: ["D-C", "I-C"],
    source: "mapping.c",
    check(ctx) {
      const s = ctx.make();
      s.dma.bindDriver(s.dev, "drv");
      s.dma.dmamAllocCoherent(s.dev, 4096, GFP_KERNEL);
      s.dma.unbindDriver(s.dev);
      eq(s.dma.liveResources(), [], "released");
    },
  },
  // ---- 6.7 IOMMU path
  {
    id: "C097",
    title: "IOMMU permissions follow the direction",
    presets: ["I-C", "I-N"],
    source: "dma-iommu.c dma_info_to_prot",
    check(ctx) {
      const s = ctx.make();
      const to = s.dma.mapPhys(
        s.dev,
        s.machine.memory.ramRanges[0]!.start + 0x10000000,
        4096,
        DMA_TO_DEVICE,
      );
      eq(s.device.write(to, Uint8Array.of(1)), false, "write through TO_DEVICE faults");
      s.dma.unmapPhys(s.dev, to, 4096, DMA_TO_DEVICE);
    },
  },
  {
    id: "C098",
    title: "strict: after unmap the device access faults",
    presets: ["I-C"],
    source: "dma-iommu.c __iommu_dma_unmap",
    check(ctx) {
      const s = ctx.make();
      const d = s.dma.mapPhys(s.dev, 0x10000000, 4096, DMA_FROM_DEVICE);
      s.device.write(d, Uint8Array.of(1));
      s.dma.unmapPhys(s.dev, d, 4096, DMA_FROM_DEVICE);
      eq(s.device.write(d, Uint8Array.of(1)), false, "faults");
    },
  },
  {
    id: "C099",
    title:
      "I-N: the map does arch_sync_dma_for_device on the physical buffer, the unmap arch_sync_dma_for_cpu",
    presets: ["I-N"],
    source: "dma-iommu.c",
    check(ctx) {
      const s = ctx.make();
      const { va, pa } = lowPage(s);
      s.dma.cpuFill(va, 4096, 0x77);
      const from = s.dma.maintenance.length;
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_TO_DEVICE);
      eq(
        s.dma.maintenance.slice(from).map((m) => [m.edge, m.pa, m.size]),
        [["for-device", pa, 4096]],
        "map: for-device on the physical range",
      );
      eq(s.device.readBytes(d, 1)![0], 0x77, "the device reads the CPU's data (as C044)");
      s.dma.unmapSingle(s.dev, d, 4096, DMA_TO_DEVICE);
      const f = s.dma.mapSingle(s.dev, va, 4096, DMA_FROM_DEVICE);
      s.device.write(f, Uint8Array.of(0x42));
      const mid = s.dma.maintenance.length;
      s.dma.unmapSingle(s.dev, f, 4096, DMA_FROM_DEVICE);
      eq(
        s.dma.maintenance.slice(mid).map((m) => [m.edge, m.pa, m.size]),
        [["for-cpu", pa, 4096]],
        "unmap: for-cpu on the physical range",
      );
      eq(s.dma.cpuRead(va, 1)[0], 0x42, "the CPU reads the device's data (as C045)");
    },
  },
  {
    id: "C101",
    title: "I-U: a page-aligned page is not bounced",
    presets: ["I-U"],
    source: "dma-iommu.c",
    check(ctx) {
      const s = ctx.make();
      const d = s.dma.mapPhys(s.dev, 0x10000000, 4096, DMA_TO_DEVICE);
      eq(s.stats().swiotlbBounces, 0, "bounces");
      s.dma.unmapPhys(s.dev, d, 4096, DMA_TO_DEVICE);
    },
  },
  {
    id: "C102",
    title:
      "I-U with swiotlb inactive and an unaligned buffer: error and 'DMA bounce buffers are inactive'",
    presets: ["I-U"],
    source: "dma-iommu.c iommu_dma_map_swiotlb",
    check(ctx) {
      const s = ctx.make({ cmdline: "swiotlb=noforce" });
      eq(s.dma.swiotlb, null, "no pool");
      const { pa } = lowPage(s);
      for (let i = 0; i < 2; i++)
        eq(s.dma.mapPhys(s.dev, pa + 0x100, 512, DMA_TO_DEVICE), DMA_MAPPING_ERROR, `map ${i}`);
      eq(
        s.log.events.filter((e) => e.message.startsWith("DMA bounce buffers are inactive")).length,
        1,
        "warned once",
      );
      const d = s.dma.mapPhys(s.dev, pa, 4096, DMA_TO_DEVICE);
      expect(d !== DMA_MAPPING_ERROR, "an aligned page needs no bounce");
      s.dma.unmapPhys(s.dev, d, 4096, DMA_TO_DEVICE);
    },
  },
  {
    id: "C103",
    title: "min_align_mask above the granule mask: error and 'Unsupported alignment constraint'",
    presets: ["I-C"],
    source: "dma-iommu.c",
    check(ctx) {
      const s = ctx.make();
      s.dma.setMinAlignMask(s.dev, 0x1fff);
      eq(s.dma.mapPhys(s.dev, 0x10000000, 4096, DMA_TO_DEVICE), DMA_MAPPING_ERROR, "map");
      expect(
        s.log.events.some((e) => e.message === "Unsupported alignment constraint"),
        "warning",
      );
    },
  },
  {
    id: "C104",
    title:
      "IOMMU map_resource: IOMMU_MMIO, no cache operation; I-U with an unaligned resource fails",
    presets: ["I-C", "I-N", "I-U"],
    source: "dma-iommu.c",
    since: "phys",
    check(ctx) {
      const s = ctx.make();
      const unit = s.machine.iommuFor(s.dev.name)!;
      const mmio = 0xfea00000;
      if (ctx.preset === "I-U") {
        eq(
          s.dma.mapResource(s.dev, mmio + 0x100, 256, DMA_BIDIRECTIONAL),
          DMA_MAPPING_ERROR,
          "an unaligned resource would need a bounce",
        );
        eq(s.stats().swiotlbBounces, 0, "nothing bounced");
        return;
      }
      const ops = s.stats().cacheMaintenanceOps;
      const d = s.dma.mapResource(s.dev, mmio, 4096, DMA_BIDIRECTIONAL);
      expect(d !== DMA_MAPPING_ERROR && d !== mmio, "an IOVA");
      const pte = { pa: 0, prot: 0, pageSize: 0 };
      expect(unit.domainOf(s.dev.iommuId)!.pageTable!.lookup(d, pte), "mapped");
      eq(pte.pa, mmio, "to the resource");
      expect((pte.prot & IOMMU_MMIO) !== 0, "with IOMMU_MMIO");
      expect((pte.prot & IOMMU_CACHE) === 0, "and never IOMMU_CACHE");
      eq(s.stats().cacheMaintenanceOps, ops, "no cache operation");
      s.dma.unmapResource(s.dev, d, 4096, DMA_BIDIRECTIONAL);
    },
  },
  {
    id: "C106",
    title: "D-C: iova_try_alloc is false, the state zeroed",
    presets: ["D-C"],
    source: "dma-iommu.c",
    check(ctx) {
      const s = ctx.make();
      const st = { addr: 5, size: 7, useSwiotlb: true };
      eq(s.dma.iovaTryAlloc(s.dev, st, 0, 4096), false, "try_alloc");
      eq(st, { addr: 0, size: 0, useSwiotlb: false }, "state");
    },
  },
  {
    id: "C107",
    title: "iova_try_alloc with size 0: false and a warning",
    presets: ["I-C"],
    source: "dma-iommu.c",
    check(ctx) {
      const s = ctx.make();
      eq(s.dma.iovaTryAlloc(s.dev, { addr: 0, size: 0, useSwiotlb: false }, 0, 0), false, "size 0");
    },
  },
  {
    id: "C109",
    title: "iova_link: an unaligned phys at offset > 0 is -EIO",
    presets: ["I-C"],
    source: "dma-iommu.c dma_iova_link",
    since: "dma-iommu-flag",
    check(ctx) {
      const s = ctx.make();
      const st = { addr: 0, size: 0, useSwiotlb: false };
      eq(s.dma.iovaTryAlloc(s.dev, st, 0, 16384), true, "try_alloc");
      eq(s.dma.iovaLink(s.dev, st, 0x10000100, 4096, 4096, DMA_TO_DEVICE), -EIO, "link");
      s.dma.iovaFree(s.dev, st);
    },
  },
  {
    id: "C110",
    title: "I-N with REQUIRE_COHERENT: iova_link -EOPNOTSUPP",
    presets: ["I-N"],
    source: "dma-iommu.c",
    since: "dma-iommu-flag",
    check(ctx) {
      const s = ctx.make();
      const st = { addr: 0, size: 0, useSwiotlb: false };
      eq(s.dma.iovaTryAlloc(s.dev, st, 0, 4096), true, "try_alloc");
      eq(
        s.dma.iovaLink(s.dev, st, 0x50000000, 0, 4096, DMA_TO_DEVICE, DMA_ATTR_REQUIRE_COHERENT),
        -EOPNOTSUPP,
        "link",
      );
      s.dma.iovaFree(s.dev, st);
    },
  },
  {
    id: "C111",
    title:
      "I-C: a device access between iova_link and iova_sync is flagged; after the sync it is not",
    presets: ["I-C", "I-N"],
    source: "dma-api.rst Part Ie; dma-iommu.c iommu_map_nosync",
    since: "dma-iommu-flag",
    check(ctx) {
      const s = ctx.make();
      const unit = s.machine.iommuFor(s.dev.name)!;
      const unsynced = () => unit.hazards.filter((h) => h.kind === "unsynced-map").length;
      const { pa } = lowPage(s, 1);
      const st = { addr: 0, size: 0, useSwiotlb: false };
      eq(s.dma.iovaTryAlloc(s.dev, st, pa, 8192), true, "try_alloc");
      eq(s.dma.iovaLink(s.dev, st, pa, 0, 8192, DMA_BIDIRECTIONAL), 0, "link");
      s.device.write(st.addr, Uint8Array.of(1));
      eq(unsynced(), 1, "a device write in the not-yet-synced window is flagged");
      eq(s.dma.iovaSync(s.dev, st, 0, 4096), 0, "sync of the first page");
      s.device.write(st.addr + 4096, Uint8Array.of(2));
      eq(unsynced(), 2, "the second page is still unsynced");
      eq(s.dma.iovaSync(s.dev, st, 4096, 4096), 0, "sync of the second page");
      s.device.write(st.addr + 4096, Uint8Array.of(3));
      eq(s.device.readBytes(st.addr, 1)![0], 1, "after the sync the access works");
      eq(unsynced(), 2, "no new report after the sync");
      // Destroyed without a sync: the window ends with the unlink, and a new
      // map of the same IOVA through the one-step API is not flagged.
      const st2 = { addr: 0, size: 0, useSwiotlb: false };
      eq(s.dma.iovaTryAlloc(s.dev, st2, pa, 4096), true, "second try_alloc");
      eq(s.dma.iovaLink(s.dev, st2, pa, 0, 4096, DMA_TO_DEVICE), 0, "second link");
      s.dma.iovaDestroy(s.dev, st2, 4096, DMA_TO_DEVICE);
      const d = s.dma.mapPhys(s.dev, pa, 4096, DMA_TO_DEVICE);
      s.device.readBytes(d, 1);
      eq(unsynced(), 2, "a one-step map is synced at once");
      s.dma.unmapPhys(s.dev, d, 4096, DMA_TO_DEVICE);
      s.dma.iovaDestroy(s.dev, st, 8192, DMA_BIDIRECTIONAL);
    },
  },
  {
    id: "C113",
    title: "I-C: iova_destroy(N) unmaps [0, N) and frees the IOVA; with 0 it only frees",
    presets: ["I-C"],
    source: "dma-iommu.c dma_iova_destroy",
    since: "dma-iommu-flag",
    check(ctx) {
      const s = ctx.make();
      const { pa } = lowPage(s, 2);
      const st = { addr: 0, size: 0, useSwiotlb: false };
      eq(s.dma.iovaTryAlloc(s.dev, st, pa, 16384), true, "try_alloc");
      eq(s.dma.iovaLink(s.dev, st, pa, 0, 8192, DMA_FROM_DEVICE), 0, "link the first half");
      eq(s.dma.iovaSync(s.dev, st, 0, 8192), 0, "sync");
      const iova = st.addr;
      eq(s.device.write(iova + 4096, Uint8Array.of(1)), true, "linked: reachable");
      s.dma.iovaDestroy(s.dev, st, 8192, DMA_FROM_DEVICE);
      eq(s.device.write(iova, Uint8Array.of(1)), false, "unmapped after the destroy");
      eq(s.dma.liveResources(), [], "the IOVA is freed");
      const st0 = { addr: 0, size: 0, useSwiotlb: false };
      eq(s.dma.iovaTryAlloc(s.dev, st0, pa, 16384), true, "try_alloc again");
      eq(st0.addr, iova, "the freed range comes back");
      s.dma.iovaDestroy(s.dev, st0, 0, DMA_FROM_DEVICE);
      eq(s.dma.liveResources(), [], "mapped_len 0 frees only");
    },
  },
  {
    id: "C114",
    title:
      "I-U unaligned head: iova_link bounces only the partial head and tail granules; unlink copies back",
    presets: ["I-U"],
    source: "dma-iommu.c iommu_dma_iova_link_swiotlb; unlink slow path",
    since: "dma-iommu-flag",
    check(ctx) {
      const s = ctx.make();
      // The slot keeps the buffer's offset in its granule (as NVMe's min_align_mask does).
      s.dma.setMinAlignMask(s.dev, 0xfff);
      const base = lowPage(s, 2).pa;
      const phys = base + 0x100;
      const size = 3 * 4096; // head 0xf00 bytes, two whole granules, tail 0x100 bytes
      const va = s.machine.kas.physToVirt(base);
      s.dma.cpuFill(va, 16384, 0xaa);
      const st = { addr: 0, size: 0, useSwiotlb: false };
      eq(s.dma.iovaTryAlloc(s.dev, st, phys, size), true, "try_alloc");
      const used0 = s.dma.swiotlb!.stats().used;
      eq(s.dma.iovaLink(s.dev, st, phys, 0, size, DMA_FROM_DEVICE), 0, "link");
      eq(s.dma.iovaSync(s.dev, st, 0, size), 0, "sync");
      expect(st.useSwiotlb, "the state records the bounce");
      eq(
        s.dma.swiotlb!.stats().used - used0,
        4,
        "one granule (two 2 KiB slots) for the head, one for the tail; none for the middle",
      );
      const dom = s.machine.iommuFor(s.dev.name)!.domainOf(s.dev.iommuId)!;
      const granule = (i: number) => dom.iovaToPhys(st.addr - 0x100 + i * 4096);
      expect(s.dma.swiotlb!.isSwiotlbBuffer(granule(0)), "head granule: a slot");
      eq([granule(1), granule(2)], [base + 4096, base + 8192], "middle granules: the buffer");
      expect(s.dma.swiotlb!.isSwiotlbBuffer(granule(3)), "tail granule: a slot");
      s.device.write(st.addr, new Uint8Array(size).fill(0x5b));
      eq(s.dma.cpuRead(va + 0x100, 1)[0], 0xaa, "the head is in the slot until the unlink");
      s.dma.iovaUnlink(s.dev, st, 0, size, DMA_FROM_DEVICE);
      eq(s.dma.swiotlb!.stats().used, used0, "both slots released");
      const b = s.dma.cpuRead(va, 16384);
      eq(
        [b[0xff], b[0x100], b[0xfff], b[0x1000], b[0x30ff], b[0x3100]],
        [0xaa, 0x5b, 0x5b, 0x5b, 0x5b, 0xaa],
        "the device's bytes copied back, nothing outside the buffer touched",
      );
      s.dma.iovaFree(s.dev, st);
    },
  },
  {
    id: "C115",
    title: "without iommu-dma: iova_link and iova_sync are -EOPNOTSUPP",
    presets: ["D-C"],
    source: "dma-mapping.h",
    check(ctx) {
      const s = ctx.make({ config: { IOMMU_DMA: false } });
      const st = { addr: 0, size: 0, useSwiotlb: false };
      eq(
        [s.dma.iovaLink(s.dev, st, 0, 0, 4096, DMA_TO_DEVICE), s.dma.iovaSync(s.dev, st, 0, 4096)],
        [-EOPNOTSUPP, -EOPNOTSUPP],
        "results",
      );
    },
  },
  // ---- 6.9 swiotlb
  {
    id: "C116",
    title: "the default pool is 64 MiB = 32768 slots below 4 GiB",
    presets: ["D-C", "D-F"],
    source: "swiotlb.c",
    check(ctx) {
      const s = ctx.make();
      eq(s.dma.swiotlb!.stats().nslabs, 32768, "slots");
      expect(s.dma.swiotlb!.end <= 2 ** 32, "below 4 GiB");
    },
  },
  {
    id: "C117",
    title: "512 possible CPUs and no swiotlb= size: 65536 slots, 'roundup to 128MB'",
    presets: ["D-C"],
    source: "swiotlb.c round_up_default_nslabs",
    check(ctx) {
      const s = ctx.make({ cpus: 512 });
      eq(s.dma.swiotlb!.stats().nslabs, 65536, "slots");
      expect(
        s.log.events.some((e) => e.message === "SWIOTLB bounce buffer size roundup to 128MB"),
        "log line",
      );
      const t = ctx.make({ cpus: 256 });
      eq(t.dma.swiotlb!.stats().nslabs, 32768, "256 CPUs keep the default");
    },
  },
  {
    id: "C118",
    title: "swiotlb=1000 gives 1024 slots",
    presets: ["D-C"],
    source: "swiotlb.c setup_io_tlb_npages",
    check(ctx) {
      eq(ctx.make({ cmdline: "swiotlb=1000" }).dma.swiotlb!.stats().nslabs, 1024, "slots");
    },
  },
  {
    id: "C120",
    title: "NO_WARN: a bounce that does not fit fails without 'swiotlb buffer is full'",
    presets: ["D-F"],
    source: "swiotlb.c swiotlb_tbl_map_single",
    check(ctx) {
      const s = ctx.make({ cmdline: "swiotlb=512,1,force" });
      const bufs = [0, 1, 2, 3].map(() => {
        const va = s.kmalloc(262144);
        return [va, s.dma.mapSingle(s.dev, va, 262144, DMA_TO_DEVICE)] as const;
      });
      expect(
        bufs.every(([, d]) => d !== DMA_MAPPING_ERROR),
        "the pool is full",
      );
      const va = s.kmalloc(4096);
      const n = s.log.events.length;
      eq(
        s.dma.mapSingle(s.dev, va, 4096, DMA_TO_DEVICE, DMA_ATTR_NO_WARN),
        DMA_MAPPING_ERROR,
        "error",
      );
      eq(s.log.events.slice(n), [], "nothing logged");
      eq(s.dma.mapSingle(s.dev, va, 4096, DMA_TO_DEVICE), DMA_MAPPING_ERROR, "without NO_WARN");
      expect(
        s.log.events.slice(n).some((e) => e.message.startsWith("swiotlb buffer is full")),
        "the warning without NO_WARN",
      );
      for (const [, d] of bufs) s.dma.unmapSingle(s.dev, d, 262144, DMA_TO_DEVICE);
    },
  },
  {
    id: "C121",
    title: "map copies for every direction: unwritten bytes come back unchanged",
    presets: ["D-C", "D-F"],
    source: "swiotlb.c swiotlb_tbl_map_single",
    check(ctx) {
      const s = ctx.make({ maskBits: 32 });
      const { va } = highPage(s);
      s.dma.cpuFill(va, 4096, 0xaa);
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_FROM_DEVICE);
      s.device.write(d, new Uint8Array(16).fill(0x11));
      s.dma.unmapSingle(s.dev, d, 4096, DMA_FROM_DEVICE);
      const b = s.dma.cpuRead(va, 32);
      eq([b[0], b[15], b[16], b[31]], [0x11, 0x11, 0xaa, 0xaa], "bytes");
    },
  },
  {
    id: "C122",
    title: "the map copy happens with SKIP_CPU_SYNC; the unmap copy-back does not",
    presets: ["D-F"],
    source: "swiotlb.c",
    check(ctx) {
      const s = ctx.make();
      const { va } = lowPage(s);
      s.dma.cpuFill(va, 16, 0x44);
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
      eq(s.device.readBytes(d, 1)![0], 0x44, "seeded");
      s.device.write(d, Uint8Array.of(0x55));
      s.dma.unmapSingle(s.dev, d, 4096, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
      eq(s.dma.cpuRead(va, 1)[0], 0x44, "no copy-back");
    },
  },
  {
    id: "C124",
    title: "a bounce of 4096 bytes starts on a page-aligned slot",
    presets: ["D-F"],
    source: "swiotlb.c swiotlb_search_pool_area",
    check(ctx) {
      const s = ctx.make();
      const small = s.dma.mapSingle(s.dev, lowPage(s).va, 100, DMA_TO_DEVICE);
      const d = s.dma.mapSingle(s.dev, s.kmalloc(4096), 4096, DMA_TO_DEVICE);
      eq(d % 4096, 0, "page aligned");
      s.dma.unmapSingle(s.dev, small, 100, DMA_TO_DEVICE);
      s.dma.unmapSingle(s.dev, d, 4096, DMA_TO_DEVICE);
    },
  },
  {
    id: "C126",
    title:
      "no bounce spans two 128-slot segments; with seg_boundary 0xFFFF none crosses a 64 KiB boundary",
    presets: ["D-F"],
    source: "swiotlb.c swiotlb_search_pool_area",
    check(ctx) {
      const s = ctx.make();
      const start = s.dma.swiotlb!.start;
      const seg = 128 * 2048;
      const sizes = [100, 3000, 70000, 200000, 9000, 131072, 262144, 50000, 250000, 4096];
      const crossesSegment = (d: number, n: number) =>
        Math.floor((d - start) / seg) !== Math.floor((d + n - 1 - start) / seg);
      const live: Array<[number, number]> = [];
      for (const n of sizes) {
        const d = s.dma.mapSingle(s.dev, s.kmalloc(n), n, DMA_TO_DEVICE);
        expect(d !== DMA_MAPPING_ERROR, `bounce of ${n}`);
        expect(!crossesSegment(d, n), `${n} bytes at 0x${d.toString(16)} span two segments`);
        live.push([d, n]);
      }
      for (const [d, n] of live) s.dma.unmapSingle(s.dev, d, n, DMA_TO_DEVICE);
      s.dma.setSegBoundary(s.dev, 0xffffn);
      live.length = 0;
      for (const n of [40000, 30000, 50000, 2048, 65536, 20000, 60000]) {
        const d = s.dma.mapSingle(s.dev, s.kmalloc(n), n, DMA_TO_DEVICE);
        expect(d !== DMA_MAPPING_ERROR, `bounce of ${n} with the boundary`);
        eq(Math.floor(d / 65536), Math.floor((d + n - 1) / 65536), `${n} bytes within 64 KiB`);
        live.push([d, n]);
      }
      for (const [d, n] of live) s.dma.unmapSingle(s.dev, d, n, DMA_TO_DEVICE);
    },
  },
  {
    id: "C128",
    title:
      "a 1 MiB one-area pool holds four 256 KiB bounces; the fifth fails 'buffer is full'; after an unmap one fits",
    presets: ["D-F"],
    source: "swiotlb.c",
    check(ctx) {
      const s = ctx.make({ cmdline: "swiotlb=512,1,force" });
      eq(s.dma.swiotlb!.stats().nslabs, 512, "1 MiB");
      const map = () => s.dma.mapSingle(s.dev, s.kmalloc(262144), 262144, DMA_TO_DEVICE);
      const live = [map(), map(), map(), map()];
      expect(
        live.every((d) => d !== DMA_MAPPING_ERROR),
        "four bounces",
      );
      eq(map(), DMA_MAPPING_ERROR, "the fifth");
      expect(
        s.log.events.some((e) => e.message.startsWith("swiotlb buffer is full (sz: 262144 bytes)")),
        "swiotlb buffer is full",
      );
      s.dma.unmapSingle(s.dev, live.pop()!, 262144, DMA_TO_DEVICE);
      const again = map();
      expect(again !== DMA_MAPPING_ERROR, "fits after one unmap");
      live.push(again);
      for (const d of live) s.dma.unmapSingle(s.dev, d, 262144, DMA_TO_DEVICE);
    },
  },
  {
    id: "C129",
    title: "after every bounce is unmapped, io_tlb_used is 0",
    presets: ["D-F"],
    source: "swiotlb.c swiotlb_release_slots",
    check(ctx) {
      const s = ctx.make();
      const bufs = [100, 4096, 3000, 65536].map(
        (n) => [s.dma.mapSingle(s.dev, s.kmalloc(n), n, DMA_BIDIRECTIONAL), n] as const,
      );
      for (const [d, n] of bufs) s.dma.unmapSingle(s.dev, d, n, DMA_BIDIRECTIONAL);
      eq(s.dma.swiotlb!.stats().used, 0, "used");
    },
  },
  // ---- 6.10 DMA-API debug
  {
    id: "D007",
    title:
      "swiotlb areas: a bounce made on CPU n comes from area n; a full area hands over to the next",
    presets: ["D-F"],
    source: "swiotlb.c swiotlb_search_area (§4.2)",
    check(ctx) {
      const s = ctx.make({ cpus: 4, cmdline: "swiotlb=1024,4,force" });
      const mem = s.dma.swiotlb!;
      const areaBytes = (1024 / 4) * 2048;
      const areaOf = (d: number) => Math.floor((d - mem.start) / areaBytes);
      const live: number[] = [];
      for (const cpu of [0, 1, 2, 3]) {
        const d = s.dma.onCpu(cpu, () =>
          s.dma.mapSingle(s.dev, s.kmalloc(4096), 4096, DMA_TO_DEVICE),
        );
        eq(areaOf(d), cpu, `CPU ${cpu}`);
        live.push(d);
      }
      // Fill area 2 (256 slots = two 256 KiB bounces, less the page taken above).
      const big = [0, 1].map(() =>
        s.dma.onCpu(2, () => s.dma.mapSingle(s.dev, s.kmalloc(262144), 262144, DMA_TO_DEVICE)),
      );
      eq(areaOf(big[0]!), 2, "the first 256 KiB fits in area 2");
      eq(areaOf(big[1]!), 3, "the second no longer does: area 3 serves it");
      for (const d of live) s.dma.unmapSingle(s.dev, d, 4096, DMA_TO_DEVICE);
      for (const d of big) s.dma.unmapSingle(s.dev, d, 262144, DMA_TO_DEVICE);
    },
  },
  {
    id: "D008",
    title: "swiotlb with min_align_mask 0xFFF: the bounce address keeps the original's low 12 bits",
    presets: ["D-F"],
    source: "swiotlb.c swiotlb_tbl_map_single, swiotlb_search_pool_area (§4.3, §4.4)",
    check(ctx) {
      const s = ctx.make();
      s.dma.setMinAlignMask(s.dev, 0xfff);
      const base = lowPage(s, 1).pa;
      for (const off of [0x0, 0x100, 0x800, 0xa40, 0xff0]) {
        const d = s.dma.mapPhys(s.dev, base + off, 512, DMA_TO_DEVICE);
        expect(d !== DMA_MAPPING_ERROR && s.dma.swiotlb!.isSwiotlbBuffer(d), `bounce at +${off}`);
        eq(d & 0xfff, off, `offset 0x${off.toString(16)} preserved`);
        s.dma.unmapPhys(s.dev, d, 512, DMA_TO_DEVICE);
      }
      eq(s.dma.swiotlb!.stats().used, 0, "all released");
    },
  },
  {
    id: "D009",
    title:
      "dma-direct max mapping size: SIZE_MAX unless bouncing may happen; then 256 KiB, 252 KiB with NVMe's min_align_mask",
    presets: ["D-C", "D-F"],
    source: "direct.c dma_direct_max_mapping_size; swiotlb.c swiotlb_max_mapping_size (§3.8, §4.8)",
    check(ctx) {
      const s = ctx.make();
      if (ctx.preset === "D-C") {
        eq(s.dma.maxMappingSize(s.dev), SIZE_MAX, "64-bit mask: no bounce can happen");
        s.dma.setMask(s.dev, DMA_BIT_MASK(32));
      }
      eq(s.dma.maxMappingSize(s.dev), 262144n, "bouncing may happen: one slot set");
      s.dma.setMinAlignMask(s.dev, 0xfff);
      eq(s.dma.maxMappingSize(s.dev), 258048n, "less the min_align_mask rounded up to a slot");
    },
  },
  {
    id: "D010",
    title:
      "dma_range_map: a RAM map is translated (phys − cpu_start + dma_start); phys outside every region bounces",
    presets: ["D-C"],
    source: "dma-direct.h phys_to_dma, translate_phys_to_dma (§3.1)",
    check(ctx) {
      const s = ctx.make();
      const d = s.dma.addDevice({
        name: "ranged",
        pci: true,
        // The region covers RAM below 2 GiB, the swiotlb pool included, but not the RAM above 4 GiB.
        dmaRangeMap: [{ cpuStart: 0, dmaStart: 0x80000000, size: 0x80000000 }],
      });
      eq(s.dma.setMask(d, DMA_BIT_MASK(40)), 0, "setMask");
      const { va, pa } = lowPage(s);
      const a = s.dma.mapSingle(d, va, 4096, DMA_TO_DEVICE);
      eq(a, pa + 0x80000000, "translated through the region");
      s.dma.unmapSingle(d, a, 4096, DMA_TO_DEVICE);
      const hi = highPage(s);
      const b = s.dma.mapSingle(d, hi.va, 4096, DMA_TO_DEVICE);
      expect(b !== DMA_MAPPING_ERROR, "mapped");
      expect(s.dma.swiotlb!.isSwiotlbBuffer(b - 0x80000000), "no region covers it: bounced");
      s.dma.unmapSingle(d, b, 4096, DMA_TO_DEVICE);
    },
  },
  {
    id: "D011",
    title:
      "dma_get_required_mask: the all-ones mask covering the last RAM byte (direct), 32 bits (IOMMU); reading it changes nothing",
    presets: ["D-C", "D-N", "I-C"],
    source: "direct.c dma_direct_get_required_mask; mapping.c (§1.2)",
    check(ctx) {
      const s = ctx.make({ maskBits: 36 });
      const last = s.machine.memory.lastRamByte;
      // Both boards' RAM ends between 4 and 8 GiB (q35 at 8 GiB, arm64 virt at 5 GiB): 33 bits.
      const want = ctx.preset === "I-C" ? DMA_BIT_MASK(32) : DMA_BIT_MASK(33);
      eq(s.dma.getRequiredMask(s.dev), want, "required mask");
      if (ctx.preset !== "I-C")
        expect(BigInt(last) <= want && BigInt(last) > want >> 1n, "the smallest such mask");
      eq(s.dev.dmaMask, DMA_BIT_MASK(36), "the device's mask is untouched");
    },
  },
  {
    id: "D012",
    title:
      "dma_need_sync: false on a skip-sync device; direct: true for a non-coherent device or a swiotlb slot only",
    presets: ["D-C", "D-N", "I-C", "I-N"],
    source: "mapping.c dma_need_sync; direct.c dma_direct_need_sync (§1.2, §3.8)",
    check(ctx) {
      const s = ctx.make({ maskBits: 32 });
      const { pa } = lowPage(s);
      const coherent = ctx.preset === "D-C" || ctx.preset === "I-C";
      eq(s.dma.needSync(s.dev, pa), !coherent, "an ordinary address");
      if (ctx.preset !== "D-C") return;
      // A bounce clears skip-sync; then only swiotlb addresses need syncs.
      const hi = highPage(s);
      const d = s.dma.mapSingle(s.dev, hi.va, 4096, DMA_TO_DEVICE);
      eq([s.dma.needSync(s.dev, d), s.dma.needSync(s.dev, pa)], [true, false], "slot, not slot");
      s.dma.unmapSingle(s.dev, d, 4096, DMA_TO_DEVICE);
    },
  },
  {
    id: "D013",
    title:
      "swiotlb syncs copy by direction: for_device copies only TO_DEVICE/BIDIRECTIONAL, for_cpu only FROM_DEVICE/BIDIRECTIONAL",
    presets: ["D-F"],
    source: "swiotlb.c swiotlb_sync_single_for_device/_for_cpu (§4.6)",
    check(ctx) {
      const s = ctx.make();
      for (const dir of [DMA_TO_DEVICE, DMA_FROM_DEVICE, DMA_BIDIRECTIONAL]) {
        const { va } = lowPage(s);
        s.dma.cpuFill(va, 16, 0x10);
        const d = s.dma.mapSingle(s.dev, va, 4096, dir);
        s.dma.cpuFill(va, 16, 0x20);
        s.device.write(d + 8, new Uint8Array(8).fill(0x30));
        s.dma.syncSingleForDevice(s.dev, d, 4096, dir);
        const toDev = dir !== DMA_FROM_DEVICE;
        eq(s.device.readBytes(d, 1)![0], toDev ? 0x20 : 0x10, `for_device ${dir}: original → slot`);
        s.device.write(d + 8, new Uint8Array(8).fill(0x30));
        s.dma.syncSingleForCpu(s.dev, d, 4096, dir);
        const toCpu = dir !== DMA_TO_DEVICE;
        eq(s.dma.cpuRead(va + 8, 1)[0], toCpu ? 0x30 : 0x20, `for_cpu ${dir}: slot → original`);
        s.dma.unmapSingle(s.dev, d, 4096, dir);
        s.machine.pages.freePages(s.machine.kas.virtToPhys(va), 0);
      }
    },
  },
  {
    id: "D014",
    title: "D-N dma_map_resource: the physical address, no cache maintenance at map or unmap",
    presets: ["D-N"],
    source: "direct.h dma_direct_map_phys MMIO step, dma_direct_unmap_phys (§3.3, §3.4)",
    check(ctx) {
      const s = ctx.make();
      const mmio = 0x10000000; // below arm64 virt's RAM: a device window
      const ops = s.stats().cacheMaintenanceOps;
      const d = s.dma.mapResource(s.dev, mmio, 4096, DMA_BIDIRECTIONAL);
      eq(d, mmio, "DMA address = phys");
      s.dma.unmapResource(s.dev, d, 4096, DMA_BIDIRECTIONAL);
      eq(s.stats().cacheMaintenanceOps, ops, "no maintenance for MMIO");
      const { va } = lowPage(s);
      const r = s.dma.mapSingle(s.dev, va, 4096, DMA_BIDIRECTIONAL);
      expect(s.stats().cacheMaintenanceOps > ops, "while RAM on the same device is maintained");
      s.dma.unmapSingle(s.dev, r, 4096, DMA_BIDIRECTIONAL);
    },
  },
  {
    id: "D015",
    title: "dma-direct without a bounce: the same buffer mapped twice gives the same address twice",
    presets: ["D-C", "D-N"],
    source: "direct.h dma_direct_map_phys (§3.3)",
    check(ctx) {
      const s = ctx.make();
      const { va, pa } = lowPage(s);
      const a = s.dma.mapSingle(s.dev, va, 4096, DMA_TO_DEVICE);
      const b = s.dma.mapSingle(s.dev, va, 4096, DMA_TO_DEVICE);
      eq([a, b], [pa, pa], "both the physical address");
      eq([s.stats().swiotlbBounces, s.dma.swiotlb!.stats().used], [0, 0], "nothing allocated");
      s.dma.unmapSingle(s.dev, a, 4096, DMA_TO_DEVICE);
      s.dma.unmapSingle(s.dev, b, 4096, DMA_TO_DEVICE);
    },
  },
  {
    id: "D016",
    title:
      "iova_try_alloc: state.addr keeps phys's offset in the granule; dma_use_iova follows the state",
    presets: ["I-C", "I-N"],
    source: "dma-iommu.c dma_iova_try_alloc (§1.8)",
    since: "dma-iommu-flag",
    check(ctx) {
      const s = ctx.make();
      const st = { addr: 0, size: 0, useSwiotlb: false };
      eq(s.dma.useIova(st), false, "an empty state");
      eq(s.dma.iovaTryAlloc(s.dev, st, 0x12345678, 10000), true, "try_alloc");
      eq(st.addr % 4096, 0x678, "the in-granule offset of phys");
      eq([st.size, s.dma.useIova(st)], [10000, true], "size and dma_use_iova");
      s.dma.iovaFree(s.dev, st);
      eq(s.dma.useIova(st), false, "after the free");
    },
  },
  ...CATALOGUE_DEBUG,
  {
    id: "C130",
    title:
      "a pool above the device mask: the map fails with 'swiotlb addr ... overflow', slots released",
    presets: ["D-C"],
    source: "swiotlb.c swiotlb_map",
    check(ctx) {
      // The pool at 1.5 GiB, a 30-bit (1 GiB) device: every slot is out of its reach.
      const s = ctx.make({ maskBits: 30, swiotlbStart: 0x60000000 });
      const { va } = highPage(s);
      eq(s.dma.mapSingle(s.dev, va, 4096, DMA_TO_DEVICE), DMA_MAPPING_ERROR, "map");
      expect(
        s.log.events.some((e) => /^swiotlb addr 0x6[0-9a-f]+\+4096 overflow/.test(e.message)),
        "overflow warning naming the slot",
      );
      eq(s.dma.swiotlb!.stats().used, 0, "the slots were released");
    },
  },
  {
    id: "C131",
    title:
      "a sync beyond the bounce allocation: 'Buffer overflow detected', only the allocation copied",
    presets: ["D-F"],
    source: "swiotlb.c swiotlb_bounce",
    check(ctx) {
      const s = ctx.make();
      const { va } = lowPage(s);
      s.dma.cpuFill(va, 4096, 0x11);
      const d = s.dma.mapSingle(s.dev, va, 100, DMA_TO_DEVICE);
      const slotTail = s.device.readBytes(d + 100, 1)![0];
      s.dma.cpuFill(va, 4096, 0x22);
      s.dma.syncSingleForDevice(s.dev, d, 4096, DMA_TO_DEVICE);
      s.dma.syncSingleForDevice(s.dev, d, 4096, DMA_TO_DEVICE);
      eq(
        s.log.events.filter((e) => e.message.startsWith("Buffer overflow detected")).length,
        1,
        "warned once",
      );
      eq(
        s.device.readBytes(d, 100)!.every((b) => b === 0x22),
        true,
        "the allocation is copied",
      );
      eq(s.device.readBytes(d + 100, 1)![0], slotTail, "nothing past it");
      s.dma.unmapSingle(s.dev, d, 100, DMA_TO_DEVICE);
    },
  },
  {
    id: "C132",
    title:
      "swiotlb_tbl_map_single with no pool: fails with 'Can not allocate SWIOTLB buffer earlier'",
    presets: ["D-C0"],
    source: "swiotlb.c swiotlb_tbl_map_single",
    check(ctx) {
      const s = ctx.make();
      eq(s.dma.swiotlb, null, "no pool");
      const { pa } = lowPage(s);
      for (let i = 0; i < 12; i++)
        eq(s.dma.swiotlbTblMapSingle(s.dev, pa, 4096, 0, DMA_TO_DEVICE, 0), -1, "no slot");
      const lines = s.log.events.filter((e) =>
        e.message.startsWith("Can not allocate SWIOTLB buffer earlier"),
      );
      // dev_warn_ratelimited: a plain line, at most 10 in a burst.
      eq([lines.length, lines[0]?.backtrace], [10, false], "rate-limited lines");
    },
  },
  {
    id: "C133",
    title:
      "dynamic swiotlb: with the pools full a bounce still succeeds through a transient pool, gone at unmap",
    presets: ["D-C", "D-F"],
    source: "swiotlb.c swiotlb_find_slots; swiotlb.rst",
    check(ctx) {
      const force = ctx.preset === "D-F" ? ",force" : "";
      const s = ctx.make({
        maskBits: 32,
        cmdline: `swiotlb=512,1${force}`,
        config: { SWIOTLB_DYNAMIC: true },
      });
      const mem = s.dma.swiotlb!;
      const block = highPage(s, 9).va; // 2 MiB above 4 GiB: D-C must bounce it
      const full = [0, 1, 2, 3].map((i) => {
        const d = s.dma.mapSingle(s.dev, block + i * 262144, 262144, DMA_TO_DEVICE);
        expect(d !== DMA_MAPPING_ERROR && mem.isSwiotlbBuffer(d), "a bounce in the default pool");
        return d;
      });
      eq(mem.stats().transientNslabs, 0, "no transient pool yet");
      const va = block + 2 ** 20;
      s.dma.cpuFill(va, 4096, 0x3d);
      const n = s.log.events.length;
      const d = s.dma.mapSingle(s.dev, va, 4096, DMA_TO_DEVICE);
      expect(d !== DMA_MAPPING_ERROR, "the map succeeds with the pool full");
      expect(d < mem.start || d >= mem.end, "outside the default pool");
      expect(mem.isSwiotlbBuffer(d) && d + 4095 <= 0xffffffff, "a bounce slot below the mask");
      eq(mem.stats().transientNslabs, 2, "a transient pool of exactly two slots");
      eq(s.device.readBytes(d, 1)![0], 0x3d, "the device reads the bounced data");
      expect(
        !s.log.events.slice(n).some((e) => e.message.startsWith("swiotlb buffer is full")),
        "no 'buffer is full'",
      );
      s.dma.unmapSingle(s.dev, d, 4096, DMA_TO_DEVICE);
      eq(mem.stats().transientNslabs, 0, "the transient pool is gone after the unmap");
      expect(!mem.isSwiotlbBuffer(d), "and its memory is no longer swiotlb's");
      for (const f of full) s.dma.unmapSingle(s.dev, f, 262144, DMA_TO_DEVICE);
    },
  },
  {
    id: "C134",
    title:
      "D-N bounced FROM_DEVICE: cache maintenance targets the slot, not the original; the copy-back goes through the cache",
    presets: ["D-N"],
    source: "swiotlb.c swiotlb_map; direct.h",
    check(ctx) {
      const s = ctx.make();
      const va = s.kmalloc(40);
      const pa = s.machine.kas.virtToPhys(va);
      s.dma.cpuFill(va, 40, 0x11);
      const from = s.dma.maintenance.length;
      const d = s.dma.mapSingle(s.dev, va, 40, DMA_FROM_DEVICE);
      expect(s.dma.swiotlb!.isSwiotlbBuffer(d), "the kmalloc rule bounced it");
      s.device.write(d, new Uint8Array(40).fill(0x66));
      s.dma.unmapSingle(s.dev, d, 40, DMA_FROM_DEVICE);
      const events = s.dma.maintenance.slice(from);
      expect(events.length >= 2, "maintenance at map and unmap");
      expect(
        events.every((m) => s.dma.swiotlb!.isSwiotlbBuffer(m.pa)),
        "every event is on the slot",
      );
      expect(
        events.every((m) => m.pa + m.size <= pa || m.pa >= pa + 40),
        "none on the original",
      );
      eq(s.dma.cpuRead(va, 1)[0], 0x66, "the CPU sees the device's data without invalidating it");
      s.kfree(va);
    },
  },
  // ---- our own clauses for behaviour §1–§5 and iommu-dma.md §B describe
  {
    id: "D001",
    title: "PCI devices get 32-bit IOVAs first, top-down from 4 GiB",
    presets: ["I-C"],
    source: "dma-iommu.c iommu_dma_alloc_iova (iommu-dma.md §B.2)",
    check(ctx) {
      const s = ctx.make();
      const d = s.dma.mapPhys(s.dev, 0x10000000, 4096, DMA_TO_DEVICE);
      eq(d, 0xfffff000, "first IOVA");
      s.dma.unmapPhys(s.dev, d, 4096, DMA_TO_DEVICE);
    },
  },
  {
    id: "D002",
    title: "IOVAs skip the PCI host bridge windows: a 512 MiB map lands at 0x60000000 on q35",
    presets: ["I-C"],
    source: "dma-iommu.c iova_reserve_pci_windows (§B.1)",
    check(ctx) {
      const s = ctx.make();
      const d = s.dma.mapPhys(s.dev, 0x1000000, 512 * 2 ** 20, DMA_TO_DEVICE);
      eq(d, 0x60000000, "IOVA");
      s.dma.unmapPhys(s.dev, d, 512 * 2 ** 20, DMA_TO_DEVICE);
    },
  },
  {
    id: "D003",
    title: "freed IOVAs come back last-in first-out from the per-CPU magazine (strict)",
    presets: ["I-C"],
    source: "iova.c iova_magazine_pop (§B.3)",
    check(ctx) {
      const s = ctx.make();
      const a = [0, 1, 2].map((i) =>
        s.dma.mapPhys(s.dev, 0x10000000 + i * 4096, 4096, DMA_TO_DEVICE),
      );
      for (const d of a) s.dma.unmapPhys(s.dev, d, 4096, DMA_TO_DEVICE);
      const b = [0, 1, 2].map((i) =>
        s.dma.mapPhys(s.dev, 0x10000000 + i * 4096, 4096, DMA_TO_DEVICE),
      );
      eq(b, [a[2], a[1], a[0]], "reuse order");
      for (const d of b) s.dma.unmapPhys(s.dev, d, 4096, DMA_TO_DEVICE);
    },
  },
  {
    id: "D004",
    title:
      "lazy: the freed IOVA waits in the flush queue; the stale IOTLB window is observable until the 10 ms flush",
    presets: ["I-C"],
    source: "dma-iommu.c queue_iova (§B.4)",
    check(ctx) {
      const s = ctx.make({ cmdline: "iommu.strict=0" });
      const d = s.dma.mapPhys(s.dev, 0x10000000, 4096, DMA_FROM_DEVICE);
      s.device.write(d, Uint8Array.of(1));
      s.dma.unmapPhys(s.dev, d, 4096, DMA_FROM_DEVICE);
      eq(s.device.write(d, Uint8Array.of(2)), true, "stale hit before the flush");
      s.clock.advance(10_000_000);
      eq(s.device.write(d, Uint8Array.of(3)), false, "faults after the flush");
    },
  },
  {
    id: "D005",
    title: "map_sg splits merged segments at max_seg_size",
    presets: ["I-C"],
    source: "dma-iommu.c __finalise_sg (§B.5)",
    check(ctx) {
      const s = ctx.make();
      const base = lowPage(s, 7).pa;
      const t = SgTable.fromPhys(
        Array.from({ length: 32 }, (_, i) => ({ phys: base + i * 8192, length: 4096 })),
      );
      s.dma.mapSgtable(s.dev, t, DMA_TO_DEVICE);
      eq([t.nents, t.sgl[0]!.dmaLength], [2, 65536], "two 64 KiB segments");
      s.dma.unmapSgtable(s.dev, t, DMA_TO_DEVICE);
    },
  },
  {
    id: "D006",
    title: "the first swiotlb bounce clears dma_skip_sync for good",
    presets: ["D-C"],
    source: "swiotlb.c dma_reset_need_sync (§2.3)",
    check(ctx) {
      const s = ctx.make({ maskBits: 32 });
      eq(s.dma.devNeedSync(s.dev), false, "before");
      const { va } = highPage(s);
      s.dma.unmapSingle(
        s.dev,
        s.dma.mapSingle(s.dev, va, 4096, DMA_TO_DEVICE),
        4096,
        DMA_TO_DEVICE,
      );
      eq(s.dma.devNeedSync(s.dev), true, "after");
    },
  },
];

export function clauseById(id: string): Clause | undefined {
  return CATALOGUE.find((c) => c.id === id);
}
