import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  GFP_KERNEL,
  SgTable,
} from "@dmasim/dma-core";
import { assert, assertEquals, assertMatch, test } from "@dmasim/testing";
import { OwnershipChecker } from "./ownership.ts";
import { createSystem } from "./system.ts";

const bytes = (n: number, v: number) => new Uint8Array(n).fill(v);

test("a driver that follows the rules makes no report (map, device access, sync, unmap, sg, coherent)", () => {
  for (const profile of ["x86_64", "x86_64-vtd", "arm64", "arm64-smmuv3", "x86_64-coco"] as const) {
    const sys = createSystem(profile);
    const chk = new OwnershipChecker(sys);
    const buf = sys.kmalloc(4096);
    sys.dma.cpuWrite(buf, bytes(64, 7));
    const a = sys.dma.mapSingle(sys.dev, buf, 4096, DMA_TO_DEVICE);
    assertEquals([...sys.device.readBytes(a, 2)!], [7, 7], profile);
    sys.dma.unmapSingle(sys.dev, a, 4096, DMA_TO_DEVICE);
    const b = sys.dma.mapSingle(sys.dev, buf, 4096, DMA_BIDIRECTIONAL);
    assert(sys.device.write(b, bytes(16, 9)));
    sys.dma.syncSingleForCpu(sys.dev, b, 4096, DMA_BIDIRECTIONAL);
    assertEquals(sys.dma.cpuRead(buf, 1)[0], 9, profile);
    sys.dma.cpuWrite(buf, bytes(16, 3));
    sys.dma.syncSingleForDevice(sys.dev, b, 4096, DMA_BIDIRECTIONAL);
    assertEquals(sys.device.readBytes(b, 1)![0], 3, profile);
    sys.dma.unmapSingle(sys.dev, b, 4096, DMA_BIDIRECTIONAL);
    const pa = sys.machine.pages.allocPages(1)!;
    const sgt = SgTable.fromPhys([
      { phys: pa, length: 4096 },
      { phys: pa + 4096, length: 4096 },
    ]);
    assertEquals(sys.dma.mapSgtable(sys.dev, sgt, DMA_FROM_DEVICE), 0);
    for (let i = 0; i < sgt.nents; i++)
      assert(sys.device.write(sgt.sgl[i]!.dmaAddress, bytes(sgt.sgl[i]!.dmaLength, 5)));
    sys.dma.unmapSgtable(sys.dev, sgt, DMA_FROM_DEVICE);
    assertEquals(sys.dma.cpuRead(sys.machine.kas.physToVirt(pa + 4096), 1)[0], 5, profile);
    sys.machine.pages.freePages(pa, 1);
    const c = sys.dma.allocCoherent(sys.dev, 4096, GFP_KERNEL)!;
    sys.dma.cpuWrite(c.cpuAddr, bytes(4, 1));
    assert(sys.device.write(c.handle, bytes(4, 2)));
    sys.dma.freeCoherent(sys.dev, 4096, c.cpuAddr, c.handle);
    sys.kfree(buf);
    assertEquals(chk.violations, [], profile);
    assertEquals(chk.liveMappings.length, 0, profile);
  }
});

test("C154: a CPU read of a device-owned buffer is reported, harmless on coherent x86, harmful on non-coherent arm64", () => {
  const verdict = (profile: "x86_64" | "arm64") => {
    const sys = createSystem(profile);
    const chk = new OwnershipChecker(sys);
    const buf = sys.kmalloc(4096);
    const a = sys.dma.mapSingle(sys.dev, buf, 4096, DMA_FROM_DEVICE);
    sys.dma.cpuRead(buf, 64); // the driver peeks before the device is done
    assert(sys.device.write(a, bytes(64, 0xaa)));
    const seen = sys.dma.cpuRead(buf, 1)[0]; // and reads again without sync_for_cpu
    sys.dma.unmapSingle(sys.dev, a, 4096, DMA_FROM_DEVICE);
    sys.kfree(buf);
    return { chk, seen };
  };
  const x86 = verdict("x86_64");
  const arm = verdict("arm64");
  const v86 = x86.chk.withCode("cpu-access-device-owned");
  assertEquals(v86.length, 2);
  assertEquals(v86[0]!.harmful, false);
  assertMatch(v86[0]!.message, /harmless on this coherent system/);
  assertEquals(x86.seen, 0xaa, "the snoop kept the CPU's view current");
  assertEquals(x86.chk.withCode("cpu-stale-read").length, 0);
  const varm = arm.chk.withCode("cpu-access-device-owned");
  assertEquals(varm.length, 2);
  assertEquals(varm[0]!.harmful, true);
  assertEquals(arm.seen, 0, "the line the first read pulled in is stale");
  const stale = arm.chk.withCode("cpu-stale-read");
  assertEquals(stale.length, 1);
  assertEquals(stale[0]!.mapping?.call, "dma_map_phys");
  assertEquals(stale[0]!.mapping?.dir, DMA_FROM_DEVICE);
});

test("C154: a device access while the CPU owns the buffer (after sync_for_cpu) names the mapping", () => {
  const sys = createSystem("x86_64-vtd");
  const chk = new OwnershipChecker(sys);
  const buf = sys.kmalloc(4096);
  const a = sys.dma.mapSingle(sys.dev, buf, 4096, DMA_BIDIRECTIONAL);
  sys.dma.syncSingleForCpu(sys.dev, a, 4096, DMA_BIDIRECTIONAL);
  assert(sys.device.write(a, bytes(8, 1)));
  const v = chk.withCode("device-access-cpu-owned");
  assertEquals(v.length, 1);
  assertEquals(v[0]!.access.bus, a);
  assertEquals(v[0]!.mapping?.owner, "cpu");
  assertMatch(
    v[0]!.message,
    /mapping #1 \(dma_map_phys DMA_BIDIRECTIONAL by 0000:00:01\.0, bus 0xfffff000\+4096, owned by the cpu\)/,
  );
  sys.dma.unmapSingle(sys.dev, a, 4096, DMA_BIDIRECTIONAL);
  sys.kfree(buf);
});

test("C155: a device write into a TO_DEVICE mapping is reported; with an IOMMU it also faults and never lands", () => {
  for (const [profile, faults] of [
    ["x86_64", false],
    ["x86_64-vtd", true],
  ] as const) {
    const sys = createSystem(profile, {
      cmdline: profile === "x86_64-vtd" ? "iommu.strict=1" : "",
    });
    const chk = new OwnershipChecker(sys);
    const buf = sys.kmalloc(4096);
    const a = sys.dma.mapSingle(sys.dev, buf, 4096, DMA_TO_DEVICE);
    assertEquals(sys.device.write(a, bytes(4, 1)), !faults, profile);
    const v = chk.withCode("device-access-against-direction");
    assertEquals(v.length, 1, profile);
    assertEquals(v[0]!.access.faulted, faults, profile);
    assertEquals(v[0]!.mapping?.dir, DMA_TO_DEVICE);
    sys.dma.unmapSingle(sys.dev, a, 4096, DMA_TO_DEVICE);
    sys.kfree(buf);
  }
});

test("C155: a CPU store into a FROM_DEVICE mapping is reported even after sync_for_cpu", () => {
  const sys = createSystem("arm64");
  const chk = new OwnershipChecker(sys);
  const buf = sys.kmalloc(256);
  const a = sys.dma.mapSingle(sys.dev, buf, 256, DMA_FROM_DEVICE);
  sys.dma.syncSingleForCpu(sys.dev, a, 256, DMA_FROM_DEVICE);
  sys.dma.cpuWrite(buf, bytes(4, 1));
  assertEquals(chk.withCode("cpu-write-from-device-mapping").length, 1);
  assertEquals(chk.withCode("cpu-access-device-owned").length, 0, "the CPU owned it");
  sys.dma.unmapSingle(sys.dev, a, 256, DMA_FROM_DEVICE);
  sys.kfree(buf);
});

test("C157: device accesses after unmap, after dma_free_coherent, and to never-returned addresses", () => {
  const sys = createSystem("x86_64");
  const chk = new OwnershipChecker(sys);
  const buf = sys.kmalloc(4096);
  const a = sys.dma.mapSingle(sys.dev, buf, 4096, DMA_TO_DEVICE);
  sys.dma.unmapSingle(sys.dev, a, 4096, DMA_TO_DEVICE);
  assert(sys.device.readBytes(a, 4) !== null, "without an IOMMU the read reaches memory");
  const c = sys.dma.allocCoherent(sys.dev, 4096, GFP_KERNEL)!;
  sys.dma.freeCoherent(sys.dev, 4096, c.cpuAddr, c.handle);
  sys.device.readBytes(c.handle, 4);
  sys.device.readBytes(0x1000, 4);
  const after = chk.withCode("device-access-after-unmap");
  assertEquals(
    after.map((v) => [v.mapping?.call, v.mapping?.endedBy]),
    [
      ["dma_map_phys", "dma_unmap_phys"],
      ["dma_alloc_attrs", "dma_free_attrs"],
    ],
  );
  const never = chk.withCode("device-access-unmapped");
  assertEquals(never.length, 1);
  assertEquals(never[0]!.access.bus, 0x1000);
  assertEquals(never[0]!.mapping, null);
  sys.kfree(buf);
});

test("C157 with an IOMMU: the access after unmap faults, and the checker still names the mapping", () => {
  const sys = createSystem("x86_64-vtd", { cmdline: "iommu.strict=1" });
  const chk = new OwnershipChecker(sys);
  const buf = sys.kmalloc(4096);
  const a = sys.dma.mapSingle(sys.dev, buf, 4096, DMA_FROM_DEVICE);
  sys.dma.unmapSingle(sys.dev, a, 4096, DMA_FROM_DEVICE);
  assertEquals(sys.device.write(a, bytes(4, 1)), false);
  const v = chk.withCode("device-access-after-unmap");
  assertEquals(v.length, 1);
  assertEquals(v[0]!.access.faulted, true);
  assertEquals(v[0]!.mapping?.endedBy, "dma_unmap_phys");
  assertEquals(sys.log.withCode("ownership-device-access-after-unmap").length, 1);
  sys.kfree(buf);
});

test("C061: reading the original of a bounced FROM_DEVICE buffer before sync is harmful even on a coherent device", () => {
  const sys = createSystem("x86_64-coco");
  const chk = new OwnershipChecker(sys);
  const buf = sys.kmalloc(512);
  const a = sys.dma.mapSingle(sys.dev, buf, 512, DMA_FROM_DEVICE);
  assert(sys.device.write(a, bytes(8, 0x5a)));
  assertEquals(sys.dma.cpuRead(buf, 1)[0], 0, "the device wrote the bounce slot, not the original");
  const v = chk.withCode("cpu-access-device-owned");
  assertEquals(v.length, 1);
  assertEquals(v[0]!.harmful, true);
  assertEquals(v[0]!.mapping?.bounced, true);
  sys.dma.unmapSingle(sys.dev, a, 512, DMA_FROM_DEVICE);
  assertEquals(sys.dma.cpuRead(buf, 1)[0], 0x5a);
  sys.kfree(buf);
});

test("OwnershipChecker: stop() mutes it; bad options name the argument", () => {
  const sys = createSystem("x86_64");
  const chk = new OwnershipChecker(sys, { log: false });
  chk.stop();
  sys.device.readBytes(0x1000, 4);
  assertEquals(chk.violations.length, 0);
  let msg = "";
  try {
    new OwnershipChecker(sys, { remember: -1 });
  } catch (e) {
    msg = (e as Error).message;
  }
  assertMatch(msg, /remember must be a non-negative integer, got -1/);
});

test("C078 an sg list mapped again before its unmap is reported; after the unmap a new map is not", () => {
  for (const profile of ["x86_64", "x86_64-vtd"] as const) {
    const sys = createSystem(profile);
    const chk = new OwnershipChecker(sys, { log: false });
    const pa = sys.machine.kas.virtToPhys(sys.kmalloc(8192));
    const t = SgTable.fromPhys([{ phys: pa, length: 8192 }]);
    assertEquals(sys.dma.mapSgtable(sys.dev, t, DMA_TO_DEVICE), 0);
    const first = t.sgl.map((s) => [s.dmaAddress, s.dmaLength, s.dmaFlags] as const);
    assertEquals(chk.withCode("sg-list-mapped-again").length, 0, profile);
    assertEquals(sys.dma.mapSgtable(sys.dev, t, DMA_TO_DEVICE), 0);
    const again = chk.withCode("sg-list-mapped-again");
    assertEquals(again.length, 1, profile);
    assertEquals(again[0]!.mapping!.live, true);
    // Unwind both: the list now holds the second mapping's addresses.
    sys.dma.unmapSgtable(sys.dev, t, DMA_TO_DEVICE);
    first.forEach(([a, l, f], i) => {
      t.sgl[i]!.dmaAddress = a;
      t.sgl[i]!.dmaLength = l;
      t.sgl[i]!.dmaFlags = f;
    });
    sys.dma.unmapSgtable(sys.dev, t, DMA_TO_DEVICE);
    assertEquals(sys.dma.mapSgtable(sys.dev, t, DMA_TO_DEVICE), 0);
    assertEquals(
      chk.withCode("sg-list-mapped-again").length,
      1,
      `${profile}: mapped after its unmap`,
    );
    sys.dma.unmapSgtable(sys.dev, t, DMA_TO_DEVICE);
    assertEquals(sys.dma.liveResources(), [], profile);
    chk.stop();
  }
});
