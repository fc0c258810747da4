// The DMA-API debug clauses of ../shared/spec/dma-api.md §6.10 (C135–C153),
// all under the DBG preset. Each check switches all_errors on, as the preset
// says, and reads the reports back from the system log by their codes.
import type { DmaSystem, SystemOptions } from "@dmasim/arch";
import {
  DMA_ATTR_DEBUGGING_IGNORE_CACHELINES,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  type DmaDebug,
  GFP_KERNEL,
  type LogEvent,
  SgTable,
} from "@dmasim/dma-core";
import type { Clause } from "./catalogue.ts";
import { type CheckContext, eq, expect, highPage, lowPage } from "./check.ts";

/** A DBG system with all_errors = 1; dma-direct (the IOMMU switched off) unless asked otherwise. */
function dbg(ctx: CheckContext, options: SystemOptions = {}, iommu = false): [DmaSystem, DmaDebug] {
  const s = ctx.make({
    ...options,
    cmdline: [iommu ? "" : "intel_iommu=off", options.cmdline].join(" ").trim(),
  });
  const d = s.dma.debug;
  expect(d !== null, "CONFIG_DMA_API_DEBUG is on");
  d.allErrors = 1;
  return [s, d];
}

const reports = (s: DmaSystem): LogEvent[] =>
  s.log.events.filter((e) => e.level === "debug-report");

/** The codes of the printed reports, in order. */
const codes = (s: DmaSystem): string[] => reports(s).map((e) => e.code);

/** The report with this code says `fragment`. */
function says(s: DmaSystem, code: string, fragment: string): void {
  const r = reports(s).filter((e) => e.code === code);
  expect(r.length > 0, `no ${code} report`);
  expect(
    r.some((e) => e.message.includes(fragment)),
    `${code}: expected "${fragment}" in "${r[0]!.message}"`,
  );
}

/** A checked single map of a page's start. */
function mapChecked(s: DmaSystem, pa: number, size: number, dir: number, attrs = 0): number {
  const a = s.dma.mapPage(s.dev, pa - (pa % 4096), pa % 4096, size, dir, attrs);
  eq(s.dma.mappingError(s.dev, a), 0, "map");
  return a;
}

export const CATALOGUE_DEBUG: Clause[] = [
  {
    id: "C135",
    title:
      "unmap of a never-mapped address: 'not allocated'; of DMA_MAPPING_ERROR: 'invalid address'",
    presets: ["DBG"],
    source: "debug.c check_unmap",
    check(ctx) {
      const [s, d] = dbg(ctx);
      s.dma.unmapPage(s.dev, 0x12340000, 4096, DMA_TO_DEVICE);
      s.dma.unmapPage(s.dev, DMA_MAPPING_ERROR, 4096, DMA_TO_DEVICE);
      eq(codes(s), ["dma-debug-unmap-not-allocated", "dma-debug-unmap-invalid"], "reports");
      says(
        s,
        "dma-debug-unmap-not-allocated",
        "device driver tries to free DMA memory it has not allocated",
      );
      says(
        s,
        "dma-debug-unmap-invalid",
        "device driver tries to free an invalid DMA memory address",
      );
      eq(d.errorCount, 2, "error_count");
    },
  },
  {
    id: "C137",
    title: "unmap with size 2048 of a 4096-byte mapping: 'frees DMA memory with different size'",
    presets: ["DBG"],
    source: "debug.c check_unmap",
    check(ctx) {
      const [s, d] = dbg(ctx);
      const { va } = lowPage(s);
      const a = s.dma.mapSingle(s.dev, va, 4096, DMA_TO_DEVICE);
      eq(s.dma.mappingError(s.dev, a), 0, "map");
      s.dma.unmapSingle(s.dev, a, 2048, DMA_TO_DEVICE);
      eq(codes(s), ["dma-debug-unmap-size"], "reports");
      says(s, "dma-debug-unmap-size", "[map size=4096 bytes] [unmap size=2048 bytes]");
      says(s, "dma-debug-unmap-size", "\nMapped at:\n");
      eq([d.errorCount, d.nrTotalEntries - d.numFreeEntries], [1, 0], "error_count, entries");
    },
  },
  {
    id: "C138",
    title: "map TO_DEVICE, unmap FROM_DEVICE: 'frees DMA memory with different direction'",
    presets: ["DBG"],
    source: "debug.c check_unmap",
    check(ctx) {
      const [s, d] = dbg(ctx);
      const a = mapChecked(s, lowPage(s).pa, 4096, DMA_TO_DEVICE);
      s.dma.unmapPage(s.dev, a, 4096, DMA_FROM_DEVICE);
      eq(codes(s), ["dma-debug-unmap-direction"], "reports");
      says(
        s,
        "dma-debug-unmap-direction",
        "[mapped with DMA_TO_DEVICE] [unmapped with DMA_FROM_DEVICE]",
      );
      eq(d.errorCount, 1, "error_count");
    },
  },
  {
    id: "C140",
    title: "dma_free_coherent with another cpu_addr and the right handle: 'different CPU address'",
    presets: ["DBG"],
    source: "debug.c check_unmap",
    check(ctx) {
      const [s, d] = dbg(ctx);
      const a = s.dma.allocCoherent(s.dev, 4096, GFP_KERNEL);
      const b = s.dma.allocCoherent(s.dev, 4096, GFP_KERNEL);
      expect(a !== null && b !== null, "allocations");
      // Swapped both ways, so both allocations are still released.
      s.dma.freeCoherent(s.dev, 4096, b.cpuAddr, a.handle);
      s.dma.freeCoherent(s.dev, 4096, a.cpuAddr, b.handle);
      eq(codes(s), ["dma-debug-unmap-cpu-address", "dma-debug-unmap-cpu-address"], "reports");
      says(
        s,
        "dma-debug-unmap-cpu-address",
        "device driver frees DMA memory with different CPU address",
      );
      eq(d.errorCount, 2, "error_count");
    },
  },
  {
    id: "C141",
    title:
      "dma_unmap_sg with the returned count (≠ nents): 'different entry count [map count=nents] [unmap count=count]'",
    presets: ["DBG"],
    source: "debug.c debug_dma_unmap_sg, check_unmap",
    check(ctx) {
      // The IOMMU merges the two contiguous pages into one segment.
      const [s, d] = dbg(ctx, {}, true);
      const base = lowPage(s, 1).pa;
      const t = SgTable.fromPhys([
        { phys: base, length: 4096 },
        { phys: base + 4096, length: 4096 },
      ]);
      const count = s.dma.mapSg(s.dev, t.sgl, 2, DMA_TO_DEVICE);
      eq(count, 1, "merged segments");
      s.dma.unmapSg(s.dev, t.sgl, count, DMA_TO_DEVICE);
      eq(codes(s), ["dma-debug-unmap-sg-count"], "reports");
      says(
        s,
        "dma-debug-unmap-sg-count",
        "device driver frees DMA sg list with different entry count [map count=2] [unmap count=1]",
      );
      eq(d.errorCount, 1, "error_count");
    },
  },
  {
    id: "C142",
    title:
      "unmap without dma_mapping_error: 'failed to check map error'; checked, sg and coherent entries are exempt",
    presets: ["DBG"],
    source: "debug.c check_unmap, debug_dma_mapping_error",
    check(ctx) {
      const [s, d] = dbg(ctx);
      const { pa } = lowPage(s);
      const a = s.dma.mapPage(s.dev, pa, 0, 4096, DMA_TO_DEVICE);
      s.dma.unmapPage(s.dev, a, 4096, DMA_TO_DEVICE);
      eq(codes(s), ["dma-debug-unmap-map-error"], "unchecked");
      says(s, "dma-debug-unmap-map-error", "device driver failed to check map error");
      s.dma.unmapPage(s.dev, mapChecked(s, pa, 4096, DMA_TO_DEVICE), 4096, DMA_TO_DEVICE);
      const t = SgTable.fromPhys([{ phys: pa, length: 4096 }]);
      eq(s.dma.mapSgtable(s.dev, t, DMA_TO_DEVICE), 0, "sg map");
      s.dma.unmapSgtable(s.dev, t, DMA_TO_DEVICE);
      const c = s.dma.allocCoherent(s.dev, 4096, GFP_KERNEL);
      expect(c !== null, "coherent allocation");
      s.dma.freeCoherent(s.dev, 4096, c.cpuAddr, c.handle);
      eq(d.errorCount, 1, "error_count");
    },
  },
  {
    id: "C143",
    title:
      "syncs outside every mapping or past its end: 'tries to sync DMA memory it has not allocated'",
    presets: ["DBG"],
    source: "debug.c check_sync, bucket_find_contain",
    check(ctx) {
      const [s, d] = dbg(ctx);
      const a = mapChecked(s, lowPage(s).pa, 4096, DMA_FROM_DEVICE);
      s.dma.syncSingleForCpu(s.dev, a + 0x100000, 64, DMA_FROM_DEVICE);
      s.dma.syncSingleForCpu(s.dev, a + 2048, 4096, DMA_FROM_DEVICE);
      s.dma.syncSingleForCpu(s.dev, a, 8192, DMA_FROM_DEVICE);
      s.dma.syncSingleForCpu(s.dev, a + 1024, 1024, DMA_FROM_DEVICE);
      eq(codes(s), Array(3).fill("dma-debug-sync-not-allocated"), "reports");
      says(s, "dma-debug-sync-not-allocated", "[size=8192 bytes]");
      expect(
        !s.log.events.some((e) => e.message.includes("outside allocated range")),
        "unreachable check fired",
      );
      eq(d.errorCount, 3, "error_count");
      s.dma.unmapPage(s.dev, a, 4096, DMA_FROM_DEVICE);
    },
  },
  {
    id: "C144",
    title:
      "sync direction: 'different direction', plus 'read-only for cpu' / 'write-only to device'; BIDIRECTIONAL never",
    presets: ["DBG"],
    source: "debug.c check_sync",
    check(ctx) {
      const [s, d] = dbg(ctx);
      const base = lowPage(s, 2).pa;
      const from = mapChecked(s, base, 4096, DMA_FROM_DEVICE);
      const to = mapChecked(s, base + 4096, 4096, DMA_TO_DEVICE);
      const bidi = mapChecked(s, base + 8192, 4096, DMA_BIDIRECTIONAL);
      s.dma.syncSingleForCpu(s.dev, from, 4096, DMA_TO_DEVICE);
      s.dma.syncSingleForCpu(s.dev, to, 4096, DMA_FROM_DEVICE);
      s.dma.syncSingleForDevice(s.dev, from, 4096, DMA_TO_DEVICE);
      for (const dir of [DMA_TO_DEVICE, DMA_FROM_DEVICE]) {
        s.dma.syncSingleForCpu(s.dev, bidi, 4096, dir);
        s.dma.syncSingleForDevice(s.dev, bidi, 4096, dir);
      }
      eq(
        codes(s),
        [
          "dma-debug-sync-direction",
          "dma-debug-sync-direction",
          "dma-debug-sync-read-only",
          "dma-debug-sync-direction",
          "dma-debug-sync-write-only",
        ],
        "reports",
      );
      says(
        s,
        "dma-debug-sync-direction",
        "device driver syncs DMA memory with different direction",
      );
      says(
        s,
        "dma-debug-sync-read-only",
        "device driver syncs device read-only DMA memory for cpu",
      );
      says(
        s,
        "dma-debug-sync-write-only",
        "device driver syncs device write-only DMA memory to device",
      );
      eq(d.errorCount, 5, "error_count");
      s.dma.unmapPage(s.dev, from, 4096, DMA_FROM_DEVICE);
      s.dma.unmapPage(s.dev, to, 4096, DMA_TO_DEVICE);
      s.dma.unmapPage(s.dev, bidi, 4096, DMA_BIDIRECTIONAL);
    },
  },
  {
    id: "C146",
    title:
      "FROM_DEVICE mappings sharing only the first's last line and the second's first line are not detected",
    presets: ["DBG"],
    source: "debug.c dma_active_cacheline",
    check(ctx) {
      const [s, d] = dbg(ctx);
      const { pa } = lowPage(s);
      const first = mapChecked(s, pa, 128, DMA_FROM_DEVICE);
      const second = mapChecked(s, pa + 64, 128, DMA_FROM_DEVICE);
      eq([codes(s), d.errorCount], [[], 0], "no report");
      s.dma.unmapPage(s.dev, second, 128, DMA_FROM_DEVICE);
      s.dma.unmapPage(s.dev, first, 128, DMA_FROM_DEVICE);
    },
  },
  {
    id: "C147",
    title:
      "nine FROM_DEVICE mappings on one first line: a one-time 'exceeded 7 overlapping mappings'; none when cache-clean",
    presets: ["DBG"],
    source: "debug.c active_cacheline_inc_overlap",
    check(ctx) {
      for (const attrs of [0, DMA_ATTR_DEBUGGING_IGNORE_CACHELINES]) {
        const [s, d] = dbg(ctx);
        const { pa } = lowPage(s);
        const maps: number[] = [];
        for (let i = 0; i < 8; i++) maps.push(mapChecked(s, pa, 64, DMA_FROM_DEVICE, attrs));
        eq(s.log.withCode("dma-debug-cacheline-overlap-limit").length, 0, "eight mappings");
        maps.push(mapChecked(s, pa, 64, DMA_FROM_DEVICE, attrs));
        maps.push(mapChecked(s, pa, 64, DMA_FROM_DEVICE, attrs));
        const w = s.log.withCode("dma-debug-cacheline-overlap-limit");
        eq(w.length, attrs === 0 ? 1 : 0, attrs === 0 ? "one warning" : "cache-clean: none");
        if (attrs === 0)
          expect(
            w[0]!.message.includes("exceeded 7 overlapping mappings of cacheline"),
            w[0]!.message,
          );
        eq(d.errorCount, 0, "not an err_printk");
        for (const a of maps) s.dma.unmapPage(s.dev, a, 64, DMA_FROM_DEVICE, attrs);
      }
    },
  },
  {
    id: "C148",
    title: "maps of stack memory and of kernel rodata, and dma_map_resource of RAM, are reported",
    presets: ["DBG"],
    source: "debug.c check_for_stack, check_for_illegal_area, debug_dma_map_phys",
    check(ctx) {
      const [s, d] = dbg(ctx);
      const kas = s.machine.kas;
      const stack = kas.allocStack();
      const st = mapChecked(s, kas.translate(stack + 0x100), 64, DMA_TO_DEVICE);
      says(s, "dma-debug-map-stack", "device driver maps memory from stack [probable addr=");
      kas.placeKernelImage({
        phys: s.machine.memory.ramRanges[0]!.start + 0x20000000,
        textSize: 0x100000,
        rodataSize: 0x8000,
      });
      const ro = s.dma.mapSingle(s.dev, kas.kernelImage!.textEnd + 0x40, 64, DMA_TO_DEVICE);
      eq(s.dma.mappingError(s.dev, ro), 0, "rodata map");
      says(s, "dma-debug-map-text", "device driver maps memory from kernel text or rodata");
      const { pa } = lowPage(s);
      const r = s.dma.mapResource(s.dev, pa, 4096, DMA_TO_DEVICE);
      eq(s.dma.mappingError(s.dev, r), 0, "resource map");
      says(s, "dma-debug-map-resource-ram", "dma_map_resource called for RAM address");
      eq(
        codes(s),
        ["dma-debug-map-stack", "dma-debug-map-text", "dma-debug-map-resource-ram"],
        "reports",
      );
      s.dma.unmapPage(s.dev, st, 64, DMA_TO_DEVICE);
      s.dma.unmapSingle(s.dev, ro, 64, DMA_TO_DEVICE);
      s.dma.unmapResource(s.dev, r, 4096, DMA_TO_DEVICE);
      eq(d.errorCount, 3, "error_count");
      kas.freeStack(stack);
    },
  },
  {
    id: "C149",
    title:
      "a 128 KiB sg entry over the 64 KiB max_seg_size, and a segment across seg_boundary, are reported",
    presets: ["DBG"],
    source: "debug.c check_sg_segment",
    check(ctx) {
      const [s, d] = dbg(ctx);
      const base = lowPage(s, 5).pa;
      const t = SgTable.fromPhys([{ phys: base, length: 131072 }]);
      eq(s.dma.mapSgtable(s.dev, t, DMA_TO_DEVICE), 0, "map");
      s.dma.unmapSgtable(s.dev, t, DMA_TO_DEVICE);
      says(
        s,
        "dma-debug-sg-max-seg",
        "mapping sg segment longer than device claims to support [len=131072] [max=65536]",
      );
      s.dma.setSegBoundary(s.dev, 0xffffn);
      const u = SgTable.fromPhys([{ phys: base + 0xf000, length: 0x2000 }]);
      eq(s.dma.mapSgtable(s.dev, u, DMA_TO_DEVICE), 0, "map");
      s.dma.unmapSgtable(s.dev, u, DMA_TO_DEVICE);
      says(s, "dma-debug-sg-boundary", "mapping sg segment across boundary");
      eq(
        [codes(s), d.errorCount],
        [["dma-debug-sg-max-seg", "dma-debug-sg-boundary"], 2],
        "reports",
      );
    },
  },
  {
    id: "C151",
    title:
      "num_errors = 1: two errors, one printed, error_count 2; a filter on another driver prints nothing but counts and spends the budget",
    presets: ["DBG"],
    source: "debug.c err_printk, driver_filter",
    check(ctx) {
      const [s, d] = dbg(ctx);
      d.allErrors = 0;
      eq(d.numErrors, 1, "initial budget");
      s.dma.unmapPage(s.dev, 0x10000000, 64, DMA_TO_DEVICE);
      s.dma.unmapPage(s.dev, 0x10010000, 64, DMA_TO_DEVICE);
      eq([reports(s).length, d.errorCount], [1, 2], "printed, counted");
      s.dma.bindDriver(s.dev, "edu");
      d.numErrors = 1;
      d.driverFilter = "e1000e";
      s.dma.unmapPage(s.dev, 0x10020000, 64, DMA_TO_DEVICE);
      eq(
        [reports(s).length, d.errorCount, d.numErrors],
        [1, 3, 0],
        "filtered: counted, budget spent",
      );
      d.driverFilter = "edu";
      s.dma.unmapPage(s.dev, 0x10030000, 64, DMA_TO_DEVICE);
      eq([reports(s).length, d.errorCount], [1, 4], "no budget left");
      s.dma.unbindDriver(s.dev);
    },
  },
  {
    id: "C152",
    title:
      "a failed map creates no entry; unmapping the error value reports 'invalid DMA memory address'",
    presets: ["DBG"],
    source: "debug.c debug_dma_map_phys",
    check(ctx) {
      const [s, d] = dbg(ctx, { cmdline: "swiotlb=noforce", maskBits: 32 });
      const a = s.dma.mapPage(s.dev, highPage(s).pa, 0, 4096, DMA_TO_DEVICE);
      eq(a, DMA_MAPPING_ERROR, "map fails");
      eq([d.nrTotalEntries - d.numFreeEntries, d.dump()], [0, []], "no entry");
      s.dma.unmapPage(s.dev, a, 4096, DMA_TO_DEVICE);
      eq(codes(s), ["dma-debug-unmap-invalid"], "reports");
      says(s, "dma-debug-unmap-invalid", "invalid DMA memory address");
    },
  },
  {
    id: "C153",
    title: "dma_debug=off: no checks run, and debugfs 'disabled' reads Y",
    presets: ["DBG"],
    source: "debug.c global_disable, dma_debug_fs_init",
    check(ctx) {
      const s = ctx.make({ cmdline: "intel_iommu=off dma_debug=off" });
      eq(s.dma.debug, null, "no checker");
      const fs = s.dma.debugfs;
      expect(fs !== null, "debugfs dma-api/ exists");
      eq([fs.disabled, fs.read("disabled")], [true, "Y\n"], "disabled");
      s.dma.unmapPage(s.dev, 0x12340000, 4096, DMA_TO_DEVICE);
      s.dma.unmapPage(s.dev, DMA_MAPPING_ERROR, 4096, DMA_TO_DEVICE);
      s.dma.syncSingleForCpu(s.dev, 0x12340000, 64, DMA_TO_DEVICE);
      eq([reports(s).length, fs.errorCount], [0, 0], "nothing reported or counted");
    },
  },
];
