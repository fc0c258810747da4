// DMA-API debug (spec §5 and clauses C135–C153): every check by its message
// fragment and error_count, the reporting policy, the debugfs view, and a
// property that correct drivers are never reported.
import {
  assert,
  assertEquals,
  assertExists,
  assertMatch,
  assertStringIncludes,
  assertThrows,
  test,
} from "@dmasim/testing";
import fc from "fast-check";
import { bufferAt, type Fixture, type FixtureOptions, fixture } from "./_fixture_test_helpers.ts";
import type { DmaCoreConfig } from "./config.ts";
import {
  DMA_ATTR_DEBUGGING_IGNORE_CACHELINES,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  GFP_KERNEL,
} from "./constants.ts";
import type { DmaDebug } from "./debug.ts";
import type { DmaMapOps } from "./dma_ops.ts";
import type { LogEvent } from "./log.ts";
import { SgTable } from "./scatterlist.ts";

const BUF = 0x2000_0000;

type Dbg = Fixture & { d: DmaDebug };

/** A D-C kernel with debug built and all_errors = 1 (the DBG preset). */
function dbg(
  config: Partial<DmaCoreConfig> = {},
  options: FixtureOptions = {},
  allErrors = 1,
): Dbg {
  const f = fixture("D-C", { maskBits: 64, ...options, config: { dmaApiDebug: true, ...config } });
  const d = f.kernel.debug;
  assertExists(d);
  d.allErrors = allErrors;
  return { ...f, d };
}

const reports = (f: Fixture): LogEvent[] =>
  f.kernel.log.events.filter((e) => e.level === "debug-report");
const codes = (f: Fixture): string[] => reports(f).map((e) => e.code);
const live = (d: DmaDebug) => d.nrTotalEntries - d.numFreeEntries;

/** A checked single map of `size` bytes at physical `pa`. */
function mapChecked(f: Dbg, pa: number, size: number, dir: number, attrs = 0): number {
  const a = f.kernel.mapPage(f.dev, pa - (pa % 4096), pa % 4096, size, dir, attrs);
  assertEquals(f.kernel.mappingError(f.dev, a), 0);
  return a;
}

test("C135: unmap of a never-mapped address reports 'not allocated', of DMA_MAPPING_ERROR 'invalid address'", () => {
  const f = dbg();
  f.kernel.unmapPage(f.dev, 0x12340000, 4096, DMA_TO_DEVICE);
  f.kernel.unmapPage(f.dev, DMA_MAPPING_ERROR, 4096, DMA_TO_DEVICE);
  assertEquals(codes(f), ["dma-debug-unmap-not-allocated", "dma-debug-unmap-invalid"]);
  assertStringIncludes(
    reports(f)[0]!.message,
    "device driver tries to free DMA memory it has not allocated [device address=0x0000000012340000] [size=4096 bytes]",
  );
  assertStringIncludes(
    reports(f)[1]!.message,
    "device driver tries to free an invalid DMA memory address",
  );
  // No entry was known, so no "Mapped at:" follows.
  assert(!reports(f)[0]!.message.includes("Mapped at:"));
  assertEquals(f.d.errorCount, 2);
});

test("C137: unmap with size 2048 of a 4096-byte mapping reports 'different size', with where it was mapped", () => {
  const f = dbg();
  const va = bufferAt(f, BUF, 4096);
  const a = f.kernel.mapSingle(f.dev, va, 4096, DMA_TO_DEVICE);
  assertEquals(f.kernel.mappingError(f.dev, a), 0);
  f.kernel.unmapSingle(f.dev, a, 2048, DMA_TO_DEVICE);
  assertEquals(codes(f), ["dma-debug-unmap-size"]);
  const m = reports(f)[0]!.message;
  assertStringIncludes(
    m,
    `device driver frees DMA memory with different size [device address=0x${a.toString(16).padStart(16, "0")}] [map size=4096 bytes] [unmap size=2048 bytes]`,
  );
  assertMatch(m, /^DMA-API: pci 0000:00:01\.0: /);
  assertStringIncludes(m, "\nMapped at:\n DmaKernel.#mapPhys\n DmaKernel.mapSingle\n");
  assertEquals(reports(f)[0]!.device, "0000:00:01.0");
  assertEquals(f.d.errorCount, 1);
  assertEquals(live(f.d), 0, "the entry is removed after the checks");
});

test("C138: map TO_DEVICE, unmap FROM_DEVICE reports 'different direction'", () => {
  const f = dbg();
  const a = mapChecked(f, BUF, 4096, DMA_TO_DEVICE);
  f.kernel.unmapPage(f.dev, a, 4096, DMA_FROM_DEVICE);
  assertEquals(codes(f), ["dma-debug-unmap-direction"]);
  assertStringIncludes(
    reports(f)[0]!.message,
    "device driver frees DMA memory with different direction [device address=0x0000000020000000] [size=4096 bytes] [mapped with DMA_TO_DEVICE] [unmapped with DMA_FROM_DEVICE]",
  );
  assertEquals(f.d.errorCount, 1);
});

test("C140: dma_free_coherent with another cpu_addr but the right handle reports 'different CPU address'", () => {
  const f = dbg();
  const a = f.kernel.allocCoherent(f.dev, 4096, GFP_KERNEL)!;
  const b = f.kernel.allocCoherent(f.dev, 4096, GFP_KERNEL)!;
  // Swapped twice, so both allocations are still released.
  f.kernel.freeCoherent(f.dev, 4096, b.cpuAddr, a.handle);
  f.kernel.freeCoherent(f.dev, 4096, a.cpuAddr, b.handle);
  assertEquals(codes(f), ["dma-debug-unmap-cpu-address", "dma-debug-unmap-cpu-address"]);
  const pa = (va: number) => `0x${f.machine.kas.virtToPhys(va).toString(16).padStart(16, "0")}`;
  assertStringIncludes(
    reports(f)[0]!.message,
    `device driver frees DMA memory with different CPU address [device address=0x${a.handle.toString(16).padStart(16, "0")}] [size=4096 bytes] [cpu alloc address=${pa(a.cpuAddr)}] [cpu free address=${pa(b.cpuAddr)}]`,
  );
  assertEquals(f.d.errorCount, 2);
  assertEquals(live(f.d), 0);
});

/** An arch ops table whose map_sg merges the whole list into one segment, as an IOMMU would. */
function mergingOps(): DmaMapOps {
  return {
    name: "merging_ops",
    mapPhys: (_d, phys) => phys,
    unmapPhys: () => {},
    mapSg: (_d, sgl, nents) => {
      let len = 0;
      for (let i = 0; i < nents; i++) len += sgl[i]!.length;
      sgl[0]!.dmaAddress = sgl[0]!.phys;
      sgl[0]!.dmaLength = len;
      for (let i = 1; i < nents; i++) sgl[i]!.dmaLength = 0;
      return 1;
    },
    unmapSg: () => {},
  };
}

test("C141: dma_unmap_sg with the returned count instead of nents reports 'different entry count'", () => {
  const f = fixture("OPS", { maskBits: 64, ops: mergingOps(), config: { dmaApiDebug: true } });
  const d = f.kernel.debug!;
  d.allErrors = 1;
  const t = SgTable.fromPhys([
    { phys: BUF, length: 4096 },
    { phys: BUF + 4096, length: 4096 },
  ]);
  const count = f.kernel.mapSg(f.dev, t.sgl, 2, DMA_TO_DEVICE);
  assertEquals(count, 1);
  f.kernel.unmapSg(f.dev, t.sgl, count, DMA_TO_DEVICE);
  assertEquals(codes(f), ["dma-debug-unmap-sg-count"]);
  assertStringIncludes(
    reports(f)[0]!.message,
    "device driver frees DMA sg list with different entry count [map count=2] [unmap count=1]",
  );
  assertEquals(d.errorCount, 1);
  // The right call (nents as passed to the map) is clean.
  f.kernel.mapSg(f.dev, t.sgl, 2, DMA_TO_DEVICE);
  f.kernel.unmapSg(f.dev, t.sgl, 2, DMA_TO_DEVICE);
  assertEquals(d.errorCount, 1);
  assertEquals(live(d), 0);
});

test("C142: an unmap without dma_mapping_error() reports 'failed to check map error'; checking, sg and coherent entries are exempt", () => {
  const f = dbg();
  const a = f.kernel.mapPage(f.dev, BUF, 0, 4096, DMA_TO_DEVICE);
  f.kernel.unmapPage(f.dev, a, 4096, DMA_TO_DEVICE);
  assertEquals(codes(f), ["dma-debug-unmap-map-error"]);
  assertStringIncludes(
    reports(f)[0]!.message,
    "device driver failed to check map error [device address=0x0000000020000000] [size=4096 bytes] [mapped as phy]",
  );
  const b = mapChecked(f, BUF, 4096, DMA_TO_DEVICE);
  f.kernel.unmapPage(f.dev, b, 4096, DMA_TO_DEVICE);
  const t = SgTable.fromPhys([{ phys: BUF, length: 4096 }]);
  f.kernel.mapSgtable(f.dev, t, DMA_TO_DEVICE);
  f.kernel.unmapSgtable(f.dev, t, DMA_TO_DEVICE);
  const c = f.kernel.allocCoherent(f.dev, 4096, GFP_KERNEL)!;
  f.kernel.freeCoherent(f.dev, 4096, c.cpuAddr, c.handle);
  assertEquals(f.d.errorCount, 1);
});

test("C143: a sync outside every mapping, or running past a mapping's end, reports 'not allocated'; 'outside allocated range' never fires", () => {
  const f = dbg();
  const a = mapChecked(f, BUF, 4096, DMA_FROM_DEVICE);
  f.kernel.syncSingleForCpu(f.dev, 0x3000_0000, 64, DMA_FROM_DEVICE);
  f.kernel.syncSingleForCpu(f.dev, a + 2048, 4096, DMA_FROM_DEVICE);
  f.kernel.syncSingleForCpu(f.dev, a, 8192, DMA_FROM_DEVICE);
  f.kernel.syncSingleForCpu(f.dev, a + 1024, 1024, DMA_FROM_DEVICE); // inside: fine
  assertEquals(codes(f), [
    "dma-debug-sync-not-allocated",
    "dma-debug-sync-not-allocated",
    "dma-debug-sync-not-allocated",
  ]);
  assertStringIncludes(
    reports(f)[2]!.message,
    "device driver tries to sync DMA memory it has not allocated [device address=0x0000000020000000] [size=8192 bytes]",
  );
  assert(!f.kernel.log.events.some((e) => e.message.includes("outside allocated range")));
  assertEquals(f.d.errorCount, 3);
  f.kernel.unmapPage(f.dev, a, 4096, DMA_FROM_DEVICE);
});

test("C144: sync direction checks: different direction, device read-only for cpu, device write-only to device; BIDIRECTIONAL never", () => {
  const f = dbg();
  const from = mapChecked(f, BUF, 4096, DMA_FROM_DEVICE);
  const to = mapChecked(f, BUF + 0x10000, 4096, DMA_TO_DEVICE);
  const bidi = mapChecked(f, BUF + 0x20000, 4096, DMA_BIDIRECTIONAL);
  f.kernel.syncSingleForCpu(f.dev, from, 4096, DMA_TO_DEVICE);
  assertEquals(codes(f), ["dma-debug-sync-direction"]);
  f.kernel.syncSingleForCpu(f.dev, to, 4096, DMA_FROM_DEVICE);
  assertEquals(codes(f).slice(1), ["dma-debug-sync-direction", "dma-debug-sync-read-only"]);
  f.kernel.syncSingleForDevice(f.dev, from, 4096, DMA_TO_DEVICE);
  assertEquals(codes(f).slice(3), ["dma-debug-sync-direction", "dma-debug-sync-write-only"]);
  assertStringIncludes(
    reports(f)[2]!.message,
    "device driver syncs device read-only DMA memory for cpu [device address=0x0000000020010000] [size=4096 bytes] [mapped with DMA_TO_DEVICE] [synced with DMA_FROM_DEVICE]",
  );
  assertStringIncludes(
    reports(f)[4]!.message,
    "device driver syncs device write-only DMA memory to device [device address=0x0000000020000000] [size=4096 bytes] [mapped with DMA_FROM_DEVICE] [synced with DMA_TO_DEVICE]",
  );
  assertStringIncludes(
    reports(f)[0]!.message,
    "device driver syncs DMA memory with different direction",
  );
  for (const dir of [DMA_TO_DEVICE, DMA_FROM_DEVICE]) {
    f.kernel.syncSingleForCpu(f.dev, bidi, 4096, dir);
    f.kernel.syncSingleForDevice(f.dev, bidi, 4096, dir);
  }
  assertEquals(f.d.errorCount, 5);
  f.kernel.unmapPage(f.dev, from, 4096, DMA_FROM_DEVICE);
  f.kernel.unmapPage(f.dev, to, 4096, DMA_TO_DEVICE);
  f.kernel.unmapPage(f.dev, bidi, 4096, DMA_BIDIRECTIONAL);
});

test("C146: two FROM_DEVICE mappings sharing only the first's last line and the second's first line are not detected", () => {
  // Cache alignment 64 = L1: the overlap check is live, as on arm64 without kmalloc bouncing.
  const f = dbg({ dmaCacheAlignment: 64, l1CacheBytes: 64 });
  const first = mapChecked(f, BUF, 128, DMA_FROM_DEVICE);
  const second = mapChecked(f, BUF + 64, 128, DMA_FROM_DEVICE);
  assertEquals(f.d.errorCount, 0);
  // A third mapping starting on the first's first line is caught.
  const third = mapChecked(f, BUF + 32, 32, DMA_FROM_DEVICE);
  assertEquals(codes(f), ["dma-debug-cacheline-eexist"]);
  assertStringIncludes(
    reports(f)[0]!.message,
    "cacheline tracking EEXIST, overlapping mappings aren't supported",
  );
  f.kernel.unmapPage(f.dev, third, 32, DMA_FROM_DEVICE);
  f.kernel.unmapPage(f.dev, second, 128, DMA_FROM_DEVICE);
  f.kernel.unmapPage(f.dev, first, 128, DMA_FROM_DEVICE);
  assertEquals(f.d.errorCount, 1);
});

test("C146 (exceptions): SKIP_CPU_SYNC, cache-clean on both, TO_DEVICE, and an alignment below L1 are not reported", () => {
  const f = dbg({ dmaCacheAlignment: 64, l1CacheBytes: 64 });
  const ign = DMA_ATTR_DEBUGGING_IGNORE_CACHELINES;
  const m = [
    mapChecked(f, BUF, 64, DMA_FROM_DEVICE, ign),
    mapChecked(f, BUF, 64, DMA_FROM_DEVICE, ign),
    mapChecked(f, BUF, 64, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC),
    mapChecked(f, BUF, 64, DMA_TO_DEVICE),
  ];
  assertEquals(f.d.errorCount, 0);
  // Cache-clean on the new mapping only is not enough.
  const plain = mapChecked(f, BUF, 64, DMA_BIDIRECTIONAL);
  assertEquals(codes(f), ["dma-debug-cacheline-eexist"]);
  f.kernel.unmapPage(f.dev, plain, 64, DMA_BIDIRECTIONAL);
  f.kernel.unmapPage(f.dev, m[3]!, 64, DMA_TO_DEVICE);
  for (const [i, a] of m.slice(0, 3).entries())
    f.kernel.unmapPage(f.dev, a, 64, DMA_FROM_DEVICE, i < 2 ? ign : DMA_ATTR_SKIP_CPU_SYNC);
  const x86 = dbg({ dmaCacheAlignment: 1, l1CacheBytes: 64 });
  const p = mapChecked(x86, BUF, 64, DMA_FROM_DEVICE);
  const q = mapChecked(x86, BUF, 64, DMA_FROM_DEVICE);
  assertEquals(x86.d.errorCount, 0);
  x86.kernel.unmapPage(x86.dev, p, 64, DMA_FROM_DEVICE);
  x86.kernel.unmapPage(x86.dev, q, 64, DMA_FROM_DEVICE);
});

test("C147: the ninth mapping on one first line warns once 'exceeded 7 overlapping mappings'; never for cache-clean ones", () => {
  for (const attrs of [0, DMA_ATTR_DEBUGGING_IGNORE_CACHELINES]) {
    const f = dbg(); // x86: alignment 1, so no EEXIST reports at all
    const maps: number[] = [];
    for (let i = 0; i < 8; i++) maps.push(mapChecked(f, BUF, 64, DMA_FROM_DEVICE, attrs));
    assertEquals(f.kernel.log.withCode("dma-debug-cacheline-overlap-limit"), []);
    maps.push(mapChecked(f, BUF, 64, DMA_FROM_DEVICE, attrs));
    maps.push(mapChecked(f, BUF, 64, DMA_FROM_DEVICE, attrs));
    const w = f.kernel.log.withCode("dma-debug-cacheline-overlap-limit");
    if (attrs === 0) {
      assertEquals(w.length, 1, "once");
      assertEquals(w[0]!.level, "warn");
      assertStringIncludes(
        w[0]!.message,
        `exceeded 7 overlapping mappings of cacheline 0x${(BUF / 64).toString(16).padStart(16, "0")}`,
      );
    } else assertEquals(w, []);
    assertEquals(f.d.errorCount, 0);
    for (const a of maps) f.kernel.unmapPage(f.dev, a, 64, DMA_FROM_DEVICE, attrs);
  }
});

test("C148: maps of stack memory, of kernel rodata, and dma_map_resource of RAM are reported", () => {
  const f = dbg();
  const kas = f.machine.kas;
  const stack = kas.allocStack();
  const spa = kas.translate(stack + 0x1100);
  const s1 = mapChecked(f, spa, 64, DMA_TO_DEVICE);
  assertEquals(codes(f), ["dma-debug-map-stack"]);
  assertStringIncludes(
    reports(f)[0]!.message,
    `device driver maps memory from stack [probable addr=0x${(stack + 0x1100).toString(16)}]`,
  );
  // dma_map_single of the stack's own address: not a linear-map address either.
  const s2 = f.kernel.mapSingle(f.dev, stack + 0x1100, 64, DMA_TO_DEVICE);
  f.kernel.mappingError(f.dev, s2);
  assertEquals(codes(f).slice(1), ["dma-debug-map-invalid-area", "dma-debug-map-stack"]);
  assertStringIncludes(reports(f)[1]!.message, "device driver maps memory from invalid area");

  kas.placeKernelImage({ phys: 0x4000_0000, textSize: 0x10_0000, rodataSize: 0x8000 });
  const img = kas.kernelImage!;
  const ro = f.kernel.mapSingle(f.dev, img.textEnd + 0x40, 64, DMA_TO_DEVICE);
  f.kernel.mappingError(f.dev, ro);
  assertEquals(codes(f).slice(3), ["dma-debug-map-text"]);
  assertStringIncludes(
    reports(f)[3]!.message,
    `device driver maps memory from kernel text or rodata [addr=0x${kas.physToVirt(0x4010_0040).toString(16)}] [len=64]`,
  );

  const r = f.kernel.mapResource(f.dev, BUF, 4096, DMA_TO_DEVICE);
  f.kernel.mappingError(f.dev, r);
  assertEquals(codes(f).slice(4), ["dma-debug-map-resource-ram"]);
  assertStringIncludes(reports(f)[4]!.message, "dma_map_resource called for RAM address");
  // MMIO is what dma_map_resource is for: no report.
  const mmio = f.machine.devices.get("0000:00:01.0")!.bars[0]!.start;
  const ok = f.kernel.mapResource(f.dev, mmio, 4096, DMA_TO_DEVICE);
  f.kernel.mappingError(f.dev, ok);
  assertEquals(f.d.errorCount, 5);
  for (const a of [s1, s2, ro]) f.kernel.unmapPage(f.dev, a, 64, DMA_TO_DEVICE);
  f.kernel.unmapResource(f.dev, r, 4096, DMA_TO_DEVICE);
  f.kernel.unmapResource(f.dev, ok, 4096, DMA_TO_DEVICE);
  assertEquals(f.d.errorCount, 5);
  kas.freeStack(stack);
});

test("C148 (sg): stack and text checks run over every passed sg entry", () => {
  const f = dbg();
  const stack = f.machine.kas.allocStack();
  const t = SgTable.fromPhys([
    { phys: BUF, length: 512 },
    { phys: f.machine.kas.translate(stack), length: 512 },
  ]);
  assertEquals(f.kernel.mapSgtable(f.dev, t, DMA_TO_DEVICE), 0);
  assertEquals(codes(f), ["dma-debug-map-stack"]);
  f.kernel.unmapSgtable(f.dev, t, DMA_TO_DEVICE);
  f.machine.kas.freeStack(stack);
});

test("C149: an sg entry over max_seg_size, and a DMA segment across the seg boundary, are reported", () => {
  const f = dbg();
  bufferAt(f, BUF, 131072);
  const t = SgTable.fromPhys([{ phys: BUF, length: 131072 }]);
  assertEquals(f.kernel.mapSgtable(f.dev, t, DMA_TO_DEVICE), 0);
  assertEquals(codes(f), ["dma-debug-sg-max-seg"]);
  assertStringIncludes(
    reports(f)[0]!.message,
    "mapping sg segment longer than device claims to support [len=131072] [max=65536]",
  );
  f.kernel.unmapSgtable(f.dev, t, DMA_TO_DEVICE);
  f.kernel.setSegBoundary(f.dev, 0xffffn);
  const u = SgTable.fromPhys([{ phys: BUF + 0xf000, length: 0x2000 }]);
  assertEquals(f.kernel.mapSgtable(f.dev, u, DMA_TO_DEVICE), 0);
  assertEquals(codes(f).slice(1), ["dma-debug-sg-boundary"]);
  assertStringIncludes(
    reports(f)[1]!.message,
    "mapping sg segment across boundary [start=0x000000002000f000] [end=0x0000000020010fff] [boundary=0x000000000000ffff]",
  );
  f.kernel.unmapSgtable(f.dev, u, DMA_TO_DEVICE);
  assertEquals(f.d.errorCount, 2);
});

test("C151: num_errors = 1 prints one of two errors; a driver filter prints nothing, still counts and still spends the budget", () => {
  const f = dbg({}, {}, 0);
  assertEquals([f.d.numErrors, f.d.allErrors], [1, 0]);
  f.kernel.unmapPage(f.dev, 0x1000_0000, 64, DMA_TO_DEVICE);
  f.kernel.unmapPage(f.dev, 0x1001_0000, 64, DMA_TO_DEVICE);
  assertEquals(reports(f).length, 1);
  assertEquals([f.d.errorCount, f.d.numErrors], [2, 0]);
  f.kernel.bindDriver(f.dev, "edu");
  f.d.numErrors = 1;
  f.d.driverFilter = "e1000e";
  f.kernel.unmapPage(f.dev, 0x1002_0000, 64, DMA_TO_DEVICE);
  assertEquals(reports(f).length, 1, "filtered out");
  assertEquals([f.d.errorCount, f.d.numErrors], [3, 0], "counted, and the budget is spent");
  f.d.driverFilter = "edu";
  f.kernel.unmapPage(f.dev, 0x1003_0000, 64, DMA_TO_DEVICE);
  assertEquals(reports(f).length, 1, "no budget left");
  f.d.numErrors = 1;
  f.kernel.unmapPage(f.dev, 0x1004_0000, 64, DMA_TO_DEVICE);
  assertEquals(reports(f).length, 2);
  assertMatch(reports(f)[1]!.message, /^DMA-API: edu 0000:00:01\.0: /);
  f.d.allErrors = 1;
  f.kernel.unmapPage(f.dev, 0x1005_0000, 64, DMA_TO_DEVICE);
  f.kernel.unmapPage(f.dev, 0x1006_0000, 64, DMA_TO_DEVICE);
  assertEquals([reports(f).length, f.d.errorCount], [4, 7]);
  f.kernel.unbindDriver(f.dev);
});

test("C152: a failed map creates no entry; unmapping the error value reports 'invalid DMA memory address'", () => {
  const f = fixture("D-C0", { maskBits: 32, config: { dmaApiDebug: true } });
  const d = f.kernel.debug!;
  d.allErrors = 1;
  const high = 5 * 2 ** 30;
  bufferAt(f, high, 4096);
  const a = f.kernel.mapPage(f.dev, high, 0, 4096, DMA_TO_DEVICE);
  assertEquals(a, DMA_MAPPING_ERROR);
  assertEquals(live(d), 0);
  assertEquals(d.dump(), []);
  f.kernel.unmapPage(f.dev, a, 4096, DMA_TO_DEVICE);
  assertEquals(codes(f), ["dma-debug-unmap-invalid"]);
  assertEquals(d.errorCount, 1);
});

test("C153: with dma_debug=off nothing is checked and debugfs 'disabled' reads Y", () => {
  const f = fixture("D-C", { maskBits: 64, config: { dmaApiDebug: true, dmaDebugOff: true } });
  assertEquals(f.kernel.debug, null);
  const fs = f.kernel.debugfs!;
  assertEquals([fs.disabled, fs.read("disabled"), fs.read("error_count")], [true, "Y\n", "0\n"]);
  f.kernel.unmapPage(f.dev, 0x1234_0000, 4096, DMA_TO_DEVICE);
  f.kernel.unmapPage(f.dev, DMA_MAPPING_ERROR, 4096, DMA_TO_DEVICE);
  f.kernel.syncSingleForCpu(f.dev, 0x1234_0000, 64, DMA_TO_DEVICE);
  assertEquals(reports(f), []);
  assertEquals([fs.errorCount, fs.nrTotalEntries, fs.dump()], [0, 0, []]);
  assertStringIncludes(
    f.kernel.log.events.map((e) => e.message).join("\n"),
    "debugging disabled on kernel command line",
  );
  // Debug stays built: the sync wrappers still call into the core, and dma_need_unmap is true.
  assertEquals([f.kernel.devNeedSync(f.dev), f.kernel.needUnmap(f.dev)], [true, true]);
  assertEquals(fixture("D-C", { maskBits: 64 }).kernel.debugfs, null, "not built: no debugfs");
  assertEquals(dbg().d.read("disabled"), "N\n");
});

test("§5.2: several checks fire for one unmap, and the wrong function is named by type", () => {
  const f = dbg();
  const a = f.kernel.mapPage(f.dev, BUF, 0, 4096, DMA_TO_DEVICE);
  f.kernel.unmapPage(f.dev, a, 1024, DMA_FROM_DEVICE);
  assertEquals(codes(f), [
    "dma-debug-unmap-size",
    "dma-debug-unmap-direction",
    "dma-debug-unmap-map-error",
  ]);
  const c = f.kernel.allocCoherent(f.dev, 4096, GFP_KERNEL)!;
  f.kernel.unmapPage(f.dev, c.handle, 4096, DMA_BIDIRECTIONAL);
  assertStringIncludes(
    reports(f)[3]!.message,
    "device driver frees DMA memory with wrong function [device address=",
  );
  assertStringIncludes(reports(f)[3]!.message, "[mapped as coherent] [unmapped as phy]");
  assertEquals(f.d.errorCount, 4);
  // The coherent entry is gone, so the real free is "not allocated".
  f.kernel.freeCoherent(f.dev, 4096, c.cpuAddr, c.handle);
  assertEquals(codes(f)[4], "dma-debug-unmap-not-allocated");
});

test("§5.1: the same address mapped twice is unmapped by best fit; two imperfect fits find nothing", () => {
  const f = dbg();
  const a = mapChecked(f, BUF, 4096, DMA_TO_DEVICE);
  const b = mapChecked(f, BUF, 2048, DMA_FROM_DEVICE);
  assertEquals(a, b, "dma-direct gives the same bus address");
  f.kernel.unmapPage(f.dev, b, 2048, DMA_FROM_DEVICE);
  f.kernel.unmapPage(f.dev, a, 4096, DMA_TO_DEVICE);
  assertEquals(f.d.errorCount, 0);
  const c = mapChecked(f, BUF, 4096, DMA_TO_DEVICE);
  mapChecked(f, BUF, 2048, DMA_FROM_DEVICE);
  // Size fits one, direction the other: no perfect fit among two.
  f.kernel.unmapPage(f.dev, c, 4096, DMA_FROM_DEVICE);
  assertEquals(codes(f), ["dma-debug-unmap-not-allocated"]);
  f.kernel.unmapPage(f.dev, c, 4096, DMA_TO_DEVICE);
  f.kernel.unmapPage(f.dev, c, 2048, DMA_FROM_DEVICE);
  assertEquals([f.d.errorCount, live(f.d)], [1, 0]);
});

test("§5.3: an sg sync with another entry count is reported; only the mapped entries are checked", () => {
  const f = fixture("OPS", { maskBits: 64, ops: mergingOps(), config: { dmaApiDebug: true } });
  const d = f.kernel.debug!;
  d.allErrors = 1;
  const t = SgTable.fromPhys([
    { phys: BUF, length: 4096 },
    { phys: BUF + 4096, length: 4096 },
  ]);
  f.kernel.mapSg(f.dev, t.sgl, 2, DMA_FROM_DEVICE);
  f.kernel.syncSgForCpu(f.dev, t.sgl, 2, DMA_FROM_DEVICE);
  assertEquals(d.errorCount, 0, "the second (unmapped) entry is not looked at");
  f.kernel.syncSgForCpu(f.dev, t.sgl, 1, DMA_FROM_DEVICE);
  assertEquals(
    f.kernel.log.events.filter((e) => e.level === "debug-report").map((e) => e.code),
    ["dma-debug-sync-sg-count"],
  );
  assertStringIncludes(
    f.kernel.log.withCode("dma-debug-sync-sg-count")[0]!.message,
    "device driver syncs DMA sg list with different entry count [map count=2] [sync count=1]",
  );
  f.kernel.unmapSg(f.dev, t.sgl, 2, DMA_FROM_DEVICE);
});

test("§5.3: unbind with a live mapping reports pending allocations and one leaked entry", () => {
  const f = dbg();
  f.kernel.bindDriver(f.dev, "edu");
  const a = mapChecked(f, BUF, 4096, DMA_FROM_DEVICE);
  const b = mapChecked(f, BUF + 0x10000, 4096, DMA_FROM_DEVICE);
  // devres-managed memory is released before the notifier runs, so it does not count.
  f.kernel.dmamAllocCoherent(f.dev, 4096, GFP_KERNEL);
  f.kernel.unbindDriver(f.dev);
  assertEquals(codes(f), ["dma-debug-unbind-pending"]);
  const m = reports(f)[0]!.message;
  assertStringIncludes(
    m,
    "device driver has pending DMA allocations while released from device [count=2]",
  );
  assertStringIncludes(
    m,
    "One of leaked entries details: [device address=0x0000000020010000] [size=4096 bytes] [mapped with DMA_FROM_DEVICE] [mapped as phy]",
  );
  assertStringIncludes(m, "Mapped at:");
  f.kernel.unmapPage(f.dev, a, 4096, DMA_FROM_DEVICE);
  f.kernel.unmapPage(f.dev, b, 4096, DMA_FROM_DEVICE);
  assertEquals(f.d.errorCount, 1);
});

test("§5.1: the entry pool grows a page at a time and says so at each multiple of the preallocation", () => {
  const f = dbg({ dmaDebugEntries: 64 });
  assertEquals([f.d.nrTotalEntries, f.d.numFreeEntries, f.d.minFreeEntries], [64, 64, 64]);
  const maps: number[] = [];
  for (let i = 0; i < 97; i++) maps.push(mapChecked(f, BUF + i * 4096, 64, DMA_TO_DEVICE));
  // 64 + 32 + 32 = 128 = 200 %; the intermediate 96 is not a multiple.
  assertEquals(f.d.nrTotalEntries, 128);
  const grown = f.kernel.log.withCode("dma-debug-pool-grown");
  assertEquals(grown.length, 1);
  assertStringIncludes(grown[0]!.message, "dma_debug_entry pool grown to 128 (200%)");
  // The pool ran dry twice before growing, so the low-water mark is 0.
  assertEquals([f.d.numFreeEntries, f.d.minFreeEntries], [31, 0]);
  for (const a of maps) f.kernel.unmapPage(f.dev, a, 64, DMA_TO_DEVICE);
  assertEquals([f.d.numFreeEntries, f.d.minFreeEntries, f.d.errorCount], [128, 0, 0]);
});

test("§5.4: the debugfs files and the dump line format", () => {
  const f = dbg({ dmaDebugDriver: "edu" });
  f.kernel.bindDriver(f.dev, "edu");
  const a = f.kernel.mapPage(f.dev, BUF, 0x40, 512, DMA_FROM_DEVICE);
  const c = f.kernel.allocCoherent(f.dev, 8192, GFP_KERNEL)!;
  const pa = f.machine.kas.virtToPhys(c.cpuAddr);
  const h = (v: number) => `0x${v.toString(16).padStart(16, "0")}`;
  const dump = f.d.dump();
  assertEquals(dump.length, 2);
  assertArrayHas(dump, [
    `0000:00:01.0 edu phy idx ${Math.floor(BUF / 8192) % 16384} P=${h(BUF + 0x40)} D=${(a).toString(16)} L=200 cln=${h((BUF + 0x40) / 64)} DMA_FROM_DEVICE dma map error not checked`,
    `0000:00:01.0 edu coherent idx ${Math.floor(c.handle / 8192) % 16384} P=${h(pa)} D=${c.handle.toString(16)} L=2000 cln=${h(pa / 64)} DMA_BIDIRECTIONAL dma map error check not applicable`,
  ]);
  f.kernel.mappingError(f.dev, a);
  assertStringIncludes(f.d.read("dump"), "dma map error checked\n");
  assertEquals(
    ["all_errors", "num_errors", "driver_filter", "nr_total_entries", "num_free_entries"].map((x) =>
      f.d.read(x as "all_errors"),
    ),
    ["1\n", "1\n", "edu\n", "65536\n", "65534\n"],
  );
  f.d.write("num_errors", "5\n");
  f.d.write("driver_filter", "  ");
  assertEquals([f.d.numErrors, f.d.driverFilter], [5, ""]);
  f.d.write("driver_filter", "nvme extra");
  assertEquals(f.d.driverFilter, "nvme");
  assertThrows(() => f.d.write("error_count", "0"), RangeError, "error_count is read-only");
  f.kernel.unmapPage(f.dev, a, 512, DMA_FROM_DEVICE);
  f.kernel.freeCoherent(f.dev, 8192, c.cpuAddr, c.handle);
  f.kernel.unbindDriver(f.dev);
});

function assertArrayHas(actual: string[], expected: string[]): void {
  assertEquals([...actual].sort(), [...expected].sort());
}

test("bad input to the debug knobs throws a RangeError naming the argument", () => {
  const f = dbg();
  assertThrows(() => (f.d.numErrors = -1), RangeError, "numErrors must be an integer");
  assertThrows(() => (f.d.allErrors = 1.5), RangeError, "allErrors must be an integer");
  assertThrows(() => (f.d.driverFilter = "a b"), RangeError, "driverFilter must be");
  assertThrows(() => (f.d.driverFilter = "x".repeat(64)), RangeError, "driverFilter must be");
  assertThrows(() => f.d.write("num_errors", "-1"), RangeError, "num_errors must be an integer");
  assertThrows(() => f.d.read("nope" as "dump"), RangeError, 'unknown file "nope"');
  assertThrows(
    () => fixture("D-C", { config: { dmaApiDebug: true, dmaDebugEntries: 0 } }),
    RangeError,
    "dmaDebugEntries must be",
  );
});

test("property: correct map/unmap/sync sequences never produce a report and leave no entries", () => {
  type Op =
    | { kind: "single"; page: number; off: number; size: number; dir: number }
    | { kind: "sg"; page: number; n: number; dir: number }
    | { kind: "coherent"; size: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      kind: fc.constant("single" as const),
      page: fc.integer({ min: 0, max: 15 }),
      off: fc.integer({ min: 0, max: 4095 }),
      size: fc.integer({ min: 1, max: 4096 }),
      dir: fc.integer({ min: 0, max: 2 }),
    }),
    fc.record({
      kind: fc.constant("sg" as const),
      page: fc.integer({ min: 0, max: 15 }),
      n: fc.integer({ min: 1, max: 4 }),
      dir: fc.integer({ min: 0, max: 2 }),
    }),
    fc.record({ kind: fc.constant("coherent" as const), size: fc.integer({ min: 1, max: 16384 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 24 }), fc.boolean(), (ops, lifo) => {
      const f = dbg();
      const undo: Array<() => void> = [];
      for (const o of ops) {
        if (o.kind === "single") {
          const pa = BUF + o.page * 4096 + o.off;
          const a = f.kernel.mapPage(f.dev, pa - (pa % 4096), pa % 4096, o.size, o.dir);
          if (f.kernel.mappingError(f.dev, a) !== 0) continue;
          f.kernel.syncSingleForCpu(f.dev, a, o.size, o.dir);
          f.kernel.syncSingleForDevice(f.dev, a, o.size, o.dir);
          undo.push(() => f.kernel.unmapPage(f.dev, a, o.size, o.dir));
        } else if (o.kind === "sg") {
          const t = SgTable.fromPhys(
            Array.from({ length: o.n }, (_, i) => ({
              phys: BUF + ((o.page + i * 3) % 16) * 4096,
              length: 2048,
            })),
          );
          if (f.kernel.mapSgtable(f.dev, t, o.dir) !== 0) continue;
          f.kernel.syncSgtableForCpu(f.dev, t, o.dir);
          f.kernel.syncSgtableForDevice(f.dev, t, o.dir);
          undo.push(() => f.kernel.unmapSgtable(f.dev, t, o.dir));
        } else {
          const c = f.kernel.allocCoherent(f.dev, o.size, GFP_KERNEL);
          if (c === null) continue;
          undo.push(() => f.kernel.freeCoherent(f.dev, o.size, c.cpuAddr, c.handle));
        }
      }
      if (lifo) undo.reverse();
      for (const u of undo) u();
      assertEquals(reports(f), []);
      assertEquals([f.d.errorCount, live(f.d), f.d.dump()], [0, 0, []]);
      assertEquals(f.kernel.liveResources(), []);
    }),
    { numRuns: 60 },
  );
});

test("§5.3: dma_map_single of vmalloc memory is refused before debug looks, so the vmalloc-area report cannot fire", () => {
  const f = dbg();
  const v = f.machine.kas.vmalloc(4096)!;
  assertEquals(f.kernel.mapSingle(f.dev, v, 64, DMA_TO_DEVICE), DMA_MAPPING_ERROR);
  assertEquals(reports(f), []);
  assertEquals(f.kernel.log.events.filter((e) => e.level === "warn").length, 1);
  f.machine.kas.vfree(v);
});

test("§5.1: entries() shows each live entry's fields and the simulator calls that made it", () => {
  const f = dbg();
  const t = SgTable.fromPhys([
    { phys: BUF, length: 1024 },
    { phys: BUF + 8192, length: 1024 },
  ]);
  f.kernel.mapSgtable(f.dev, t, DMA_BIDIRECTIONAL);
  const [e0, e1] = f.d.entries();
  assertEquals(
    { ...e0!, stack: [] },
    {
      device: "0000:00:01.0",
      devAddr: BUF,
      size: 1024,
      type: "scatter-gather",
      direction: DMA_BIDIRECTIONAL,
      sgCallEnts: 2,
      sgMappedEnts: 2,
      paddr: BUF,
      mapErr: "not-applicable",
      cacheClean: false,
      stack: [],
    },
  );
  assertEquals(e1!.paddr, BUF + 8192);
  assertEquals(e0!.stack.slice(0, 2), ["DmaKernel.#mapSg", "DmaKernel.mapSgtable"]);
  f.kernel.unmapSgtable(f.dev, t, DMA_BIDIRECTIONAL);
  assertEquals(f.d.entries(), []);
});

test("§5.1: dma_alloc_noncontiguous is one scatter-gather entry of the page-aligned length; its free is checked as an sg unmap", () => {
  const f = dbg();
  const sgt = f.kernel.allocNoncontiguous(f.dev, 5000, DMA_BIDIRECTIONAL, GFP_KERNEL)!;
  assertEquals(sgt.nents, 1);
  assertEquals(
    sgt.sgl[0]!.dmaLength,
    8192,
    "alloc_single_sgt: sg_dma_len is the page-aligned length",
  );
  const [e] = f.d.entries();
  assertExists(e);
  assertEquals([e.type, e.size, e.sgCallEnts, e.sgMappedEnts], ["scatter-gather", 8192, 1, 1]);
  assertEquals(f.d.entries().length, 1, "recorded once, not also as dma_alloc_pages' entry");
  f.kernel.freeNoncontiguous(f.dev, 5000, sgt, DMA_FROM_DEVICE);
  assertEquals(codes(f), ["dma-debug-unmap-direction"]);
  assertEquals(live(f.d), 0);
  const again = f.kernel.allocNoncontiguous(f.dev, 4096, DMA_TO_DEVICE, GFP_KERNEL)!;
  f.kernel.freeNoncontiguous(f.dev, 4096, again, DMA_TO_DEVICE);
  assertEquals(codes(f), ["dma-debug-unmap-direction"], "a matching free reports nothing");
  assertEquals(live(f.d), 0);
});
