// Dynamic swiotlb (CONFIG_SWIOTLB_DYNAMIC): transient pools (spec §4.9, C133).
import { assert, assertEquals, assertNotEquals, test } from "@dmasim/testing";
import { fixture } from "./_fixture_test_helpers.ts";
import { DMA_FROM_DEVICE, DMA_MAPPING_ERROR, DMA_TO_DEVICE } from "./constants.ts";

const KiB = 1024;

function fullPool(dynamic: boolean) {
  const f = fixture("D-F", {
    config: { swiotlbDynamic: dynamic },
    swiotlb: { enable: true, force: true, param: "512,1" },
  });
  const mem = f.kernel.swiotlb!;
  const live = [0, 1, 2, 3].map((i) => {
    const va = f.machine.kas.physToVirt(0x20000000 + i * 256 * KiB);
    const d = f.kernel.mapSingle(f.dev, va, 256 * KiB, DMA_TO_DEVICE);
    assertNotEquals(d, DMA_MAPPING_ERROR);
    return d;
  });
  assertEquals(mem.stats().used, 512, "every slot taken");
  return { f, mem, live };
}

test("C133 dynamic swiotlb: a request no pool can hold gets a transient pool sized for it, deleted at unmap", () => {
  const { f, mem, live } = fullPool(true);
  const va = f.machine.kas.physToVirt(0x30000000);
  f.kernel.cpuFill(va, 3000, 0x21);
  const d = f.kernel.mapSingle(f.dev, va, 3000, DMA_FROM_DEVICE);
  assertNotEquals(d, DMA_MAPPING_ERROR);
  assert(
    mem.isSwiotlbBuffer(d) && (d < mem.start || d >= mem.end),
    "a slot outside the default pool",
  );
  assertEquals(mem.stats().transientNslabs, 2);
  assertEquals(f.engine.readBytes(d, 1)![0], 0x21, "seeded from the original");
  f.engine.write(d, Uint8Array.of(0x42));
  assertEquals(f.kernel.liveResources().filter((l) => l.includes("transient pool")).length, 1);
  f.kernel.unmapSingle(f.dev, d, 3000, DMA_FROM_DEVICE);
  assertEquals(f.kernel.cpuRead(va, 1)[0], 0x42, "copied back before the pool goes");
  assertEquals(mem.stats().transientNslabs, 0);
  assertEquals(mem.isSwiotlbBuffer(d), false);
  for (const a of live) f.kernel.unmapSingle(f.dev, a, 256 * KiB, DMA_TO_DEVICE);
  assert(mem.isPristine());
});

test("C133 without SWIOTLB_DYNAMIC the same request fails with 'swiotlb buffer is full'", () => {
  const { f, mem, live } = fullPool(false);
  const va = f.machine.kas.physToVirt(0x30000000);
  assertEquals(f.kernel.mapSingle(f.dev, va, 3000, DMA_TO_DEVICE), DMA_MAPPING_ERROR);
  assert(f.kernel.log.events.some((e) => e.message.startsWith("swiotlb buffer is full")));
  assertEquals(mem.stats().transientNslabs, 0);
  for (const a of live) f.kernel.unmapSingle(f.dev, a, 256 * KiB, DMA_TO_DEVICE);
});

test("C133 a transient pool lies below the device's mask", () => {
  const f = fixture("D-C", {
    maskBits: 32,
    config: { swiotlbDynamic: true },
    swiotlb: { enable: true, param: "512,1" },
  });
  const mem = f.kernel.swiotlb!;
  const hi = (i: number) => f.machine.kas.physToVirt(5 * 2 ** 30 + i * 256 * KiB);
  const live = [0, 1, 2, 3].map((i) => f.kernel.mapSingle(f.dev, hi(i), 256 * KiB, DMA_TO_DEVICE));
  const d = f.kernel.mapSingle(f.dev, hi(4), 4096, DMA_TO_DEVICE);
  assertNotEquals(d, DMA_MAPPING_ERROR);
  assert(d + 4095 <= 0xffffffff && mem.stats().transientNslabs === 2);
  f.kernel.unmapSingle(f.dev, d, 4096, DMA_TO_DEVICE);
  for (const a of live) f.kernel.unmapSingle(f.dev, a, 256 * KiB, DMA_TO_DEVICE);
  assertEquals(f.kernel.liveResources(), []);
});
