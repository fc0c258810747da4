import { DOMAIN_DMA, DOMAIN_IDENTITY, IOMMU_READ, IOMMU_WRITE } from "@dmasim/iommu";
import { assert, assertEquals, assertThrows, test } from "@dmasim/testing";
import fc from "fast-check";
import { Machine } from "./machine.ts";
import { createMachine, EDU_NAME } from "./presets.ts";

function vtdWithDomain(options = {}) {
  const m = createMachine("q35-vtd", options);
  const dev = m.device(EDU_NAME);
  const unit = dev.iommu!;
  const d = unit.allocDomain(DOMAIN_DMA);
  unit.attachDevice(dev.iommuId, d);
  return { m, dev, unit, d };
}

test("DMA engine through a VT-d paging domain reaches the mapped RAM, page by page", () => {
  const { m, dev, d } = vtdWithDomain();
  // Two IOVA pages mapped to two physical pages that are NOT adjacent.
  assertEquals(d.iommuMap(0xffff0000, 0x102400000, 0x1000, IOMMU_READ | IOMMU_WRITE), 0);
  assertEquals(d.iommuMap(0xffff1000, 0x102800000, 0x1000, IOMMU_READ | IOMMU_WRITE), 0);
  const data = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  assert(dev.engine.write(0xffff0ff0, data));
  assertEquals([...m.memory.read(0x102400ff0, 16)], [...data.subarray(0, 16)]);
  assertEquals([...m.memory.read(0x102800000, 16)], [...data.subarray(16)]);
  assertEquals([...dev.engine.readBytes(0xffff0ff0, 32)!], [...data]);
  assertEquals(dev.engine.stats.bytesWritten, 32);
  assertEquals(dev.engine.stats.bytesRead, 32);
  assertEquals(dev.engine.stats.transactions, 2);
});

test("an unmapped IOVA faults like VT-d (write 0x05, read 0x06) and memory stays untouched", () => {
  const { m, dev, unit, d } = vtdWithDomain();
  d.iommuMap(0x100000, 0x102400000, 0x1000, IOMMU_READ | IOMMU_WRITE);
  m.memory.fill(0x102400000, 0x1000, 0x5a);
  // The first page is mapped, the second is not: the whole write is refused.
  assertEquals(dev.engine.write(0x100f00, new Uint8Array(0x200).fill(0xee)), false);
  assertEquals(
    m.memory.read(0x102400f00, 0x100).every((b) => b === 0x5a),
    true,
  );
  const w = dev.engine.lastFault!;
  assertEquals([w.code, w.access, w.iova, w.deviceId], [0x05, "write", 0x101000, "00:01.0"]);
  assertEquals(
    w.message,
    "DMAR: [DMA Write NO_PASID] Request device [00:01.0] fault addr 0x101000 [fault reason 0x05] PTE Write access is not set",
  );
  const buf = new Uint8Array(64).fill(7);
  assertEquals(dev.engine.read(0x20000, buf), false);
  assertEquals(
    buf.every((b) => b === 7),
    true,
    "a refused read leaves the destination alone",
  );
  assertEquals(dev.engine.lastFault!.code, 0x06);
  assertEquals(dev.engine.lastFault!.message.includes("PTE Read access is not set"), true);
  assertEquals(unit.faults.length, 2, "the unit's fault log has both records");
  assertEquals(dev.engine.stats.faults, 2);
});

test("a read-only mapping refuses a device write (DMA_TO_DEVICE maps IOMMU_READ only)", () => {
  const { dev, d } = vtdWithDomain();
  d.iommuMap(0x200000, 0x102400000, 0x1000, IOMMU_READ);
  assert(dev.engine.readBytes(0x200000, 16) !== null);
  assertEquals(dev.engine.write(0x200000, Uint8Array.of(1)), false);
  assertEquals(dev.engine.lastFault!.code, 0x05);
});

test("without an IOMMU an access outside RAM is an unassigned access: false, lastError, no throw", () => {
  const m = createMachine("q35");
  const e = m.device(EDU_NAME).engine;
  assertEquals(e.write(0x90000000, Uint8Array.of(1)), false, "PCI hole");
  assertEquals(e.lastError!.includes("0x90000000"), true);
  assertEquals(e.write(0x7ffff000, new Uint8Array(0x2000)), false, "crosses the end of low RAM");
  assertEquals(e.stats.errors, 2);
  assertEquals(e.lastFault, null);
});

test("the device's address width truncates what it emits (QEMU edu ANDs with dma_mask)", async (t) => {
  await t.step("no IOMMU: a 32-bit device aimed at 4 GiB + 0x1000 writes 0x1000", () => {
    const m = createMachine("q35", { eduDmaBits: 32 });
    const e = m.device(EDU_NAME).engine;
    assert(e.write(0x1_0010_0000, Uint8Array.of(0xab)));
    assertEquals(m.memory.read(0x100000, 1)[0], 0xab);
    assertEquals(m.memory.read(0x1_0010_0000, 1)[0], 0, "the address it was told stays untouched");
  });
  await t.step("VT-d: the IOVA the IOMMU sees is the truncated one", () => {
    const { m, dev, unit, d } = vtdWithDomain({ eduDmaBits: 36 });
    d.iommuMap(0x0_2000_0000, 0x102400000, 0x1000, IOMMU_READ | IOMMU_WRITE);
    assert(dev.engine.write(0x10_2000_0010, Uint8Array.of(9)));
    assertEquals(m.memory.read(0x102400010, 1)[0], 9);
    assertEquals(unit.faults.length, 0);
  });
  await t.step("a 48-bit device wraps an address above 2^48 exactly (no 32-bit arithmetic)", () => {
    const m = createMachine("q35", { eduDmaBits: 48 });
    const e = m.device(EDU_NAME).engine;
    assert(e.write(2 ** 48 + 0x1_0000_0040, Uint8Array.of(3)));
    assertEquals(m.memory.read(0x1_0000_0040, 1)[0], 3);
  });
});

test("a coherent device reads a dirty CPU line; a non-coherent one reads stale memory", () => {
  for (const coherent of [true, false]) {
    const m = createMachine("q35", { eduCoherent: coherent });
    const e = m.device(EDU_NAME).engine;
    m.memory.fill(0x200000, 64, 0x11);
    m.cache.cpuWrite(0x200000, new Uint8Array(64).fill(0x22)); // dirty, not written back
    const got = e.readBytes(0x200000, 64)!;
    assertEquals(got[0], coherent ? 0x22 : 0x11, `coherent=${coherent}`);
  }
});

test("a non-coherent device write leaves a cached CPU copy stale until invalidated", () => {
  const m = createMachine("arm64-virt");
  const e = m.device(EDU_NAME).engine;
  assertEquals(e.coherent, false);
  const pa = 0x4100_0000;
  assertEquals(m.cache.cpuRead(pa, 1)[0], 0); // the line is now cached
  assert(e.write(pa, Uint8Array.of(0x77)));
  assertEquals(m.memory.read(pa, 1)[0], 0x77);
  assertEquals(m.cache.cpuRead(pa, 1)[0], 0, "the CPU still sees its cached line");
  m.cache.invalidate(pa, 64);
  assertEquals(m.cache.cpuRead(pa, 1)[0], 0x77);
});

test("onAccess reports every physically contiguous piece with its bus and physical address", () => {
  const { dev, d } = vtdWithDomain();
  d.iommuMap(0xffff0000, 0x102400000, 0x1000, IOMMU_READ | IOMMU_WRITE);
  d.iommuMap(0xffff1000, 0x102800000, 0x1000, IOMMU_READ | IOMMU_WRITE);
  const seen: unknown[] = [];
  const off = dev.engine.onAccess((...a) => seen.push(a));
  assert(dev.engine.write(0xffff0f00, new Uint8Array(0x200)));
  assertEquals(dev.engine.write(0x1000, Uint8Array.of(1)), false);
  off();
  assert(dev.engine.write(0xffff0f00, Uint8Array.of(1)));
  assertEquals(seen, [
    [EDU_NAME, "write", 0xffff0f00, 0x102400f00, 0x100],
    [EDU_NAME, "write", 0xffff1000, 0x102800000, 0x100],
  ]);
});

test("a transaction over many discontiguous IOMMU pages completes (segment list grows)", () => {
  const { m, dev, d } = vtdWithDomain();
  const pages = 100;
  for (let i = 0; i < pages; i++)
    d.iommuMap(0x1000000 + i * 0x1000, 0x140000000 + i * 0x2000, 0x1000, IOMMU_WRITE | IOMMU_READ);
  const src = Uint8Array.from({ length: pages * 0x1000 }, (_, i) => (i * 13) & 0xff);
  assert(dev.engine.write(0x1000000, src));
  for (const i of [0, 57, 99])
    assertEquals(
      [...m.memory.read(0x140000000 + i * 0x2000, 8)],
      [...src.subarray(i * 0x1000, i * 0x1000 + 8)],
    );
  assertEquals([...dev.engine.readBytes(0x1000000, src.length)!], [...src]);
});

test("DMA engine arguments from a user are checked", () => {
  const e = createMachine("q35").device(EDU_NAME).engine;
  assertThrows(() => e.write(-1, Uint8Array.of(1)), RangeError, "bus");
  assertThrows(() => e.write(Number.NaN, Uint8Array.of(1)), RangeError, "bus");
  assertThrows(() => e.read(0x1000, new Uint8Array(4), 2, 4), RangeError, "exceeds");
  assertThrows(() => e.readBytes(0x1000, -1), RangeError, "len");
});

test("property: device writes through an identity domain (and with no IOMMU) equal a byte model", () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 3 * 4096 - 1 }),
          fc.uint8Array({ minLength: 1, maxLength: 3000 }),
        ),
        { maxLength: 25 },
      ),
      (identity, ops) => {
        const m = identity
          ? createMachine("q35-vtd", { ramGiB: 1 })
          : createMachine("q35", { ramGiB: 1 });
        const dev = m.device(EDU_NAME);
        if (identity) dev.iommu!.attachDevice(dev.iommuId, dev.iommu!.allocDomain(DOMAIN_IDENTITY));
        const base = 0x300000;
        const size = 4 * 4096;
        const ref = new Uint8Array(size);
        for (const [off, data] of ops) {
          const len = Math.min(data.length, size - off);
          assert(dev.engine.write(base + off, data, 0, len));
          ref.set(data.subarray(0, len), off);
        }
        assertEquals([...m.memory.read(base, size)], [...ref]);
        assertEquals([...dev.engine.readBytes(base, size)!], [...ref]);
        assertEquals(dev.engine.stats.faults + dev.engine.stats.errors, 0);
      },
    ),
    { numRuns: 40 },
  );
});

test("a DmaEngine can be built on a board of one's own with a device behind an SMMUv3", () => {
  const board = new Machine({
    name: "soc",
    ram: [{ start: 0x80000000, size: 2 ** 28 }],
    iommus: [
      {
        name: "smmu",
        kind: "smmuv3",
        pageTable: { format: "arm-lpae", granule: 4096 },
        covers: ["dma0"],
      },
    ],
    devices: [{ name: "dma0", iommuId: "0x10", coherent: false }],
  });
  const e = board.device("dma0").engine;
  assertEquals(e.write(0x1000, Uint8Array.of(1)), false);
  // Nothing attached yet: the SMMU aborts the stream and records event 0x10.
  assertEquals([e.lastFault!.code, e.lastFault!.reason], [0x10, "blocked"]);
});
