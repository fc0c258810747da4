import { DOMAIN_DMA, IOMMU_READ, IOMMU_WRITE } from "@dmasim/iommu";
import { assert, assertEquals, test } from "@dmasim/testing";
import fc from "fast-check";
import { Clock } from "./clock.ts";
import { createMachine, EDU_NAME } from "./presets.ts";

test("q35-vtd matches the oracle's board: RAM 0-2 GiB and 4-8 GiB, VT-d 39-bit with bitmap 0x40201000, edu at 0xfea00000", () => {
  const m = createMachine("q35-vtd");
  assertEquals(
    m.memory.ramRanges.map((r) => [r.start, r.size]),
    [
      [0, 2 ** 31],
      [2 ** 32, 2 ** 32],
    ],
  );
  const unit = m.iommus.get("dmar0")!;
  assertEquals(unit.allocDomain(DOMAIN_DMA).pgsizeBitmap, 0x40201000);
  assertEquals(unit.allocDomain(DOMAIN_DMA).geometry.apertureEnd, 2 ** 39 - 1);
  const edu = m.devices.get(EDU_NAME)!.edu!;
  assertEquals(edu.barPhys, 0xfea00000);
  assertEquals(edu.readReg(0), 0x10000ed);
  assertEquals(
    m.pciHostBridge.windows.map((w) => w.start),
    [0xa0000, 0x80000000, 0xc0000000, 0x200000000],
  );
});

test("Clock fires timers in order at their deadlines, including one set by a callback", () => {
  const c = new Clock();
  const seen: Array<[string, number]> = [];
  c.setTimer(20, () => seen.push(["b", c.now()]));
  c.setTimer(10, () => {
    seen.push(["a", c.now()]);
    c.setTimer(15, () => seen.push(["c", c.now()]));
  });
  c.advance(25);
  assertEquals(seen, [
    ["a", 10],
    ["c", 15],
    ["b", 20],
  ]);
  assertEquals(c.now(), 25);
});

test("DMA engine through VT-d: mapped IOVAs reach RAM, an unmapped one faults with reason 0x05 and writes nothing", () => {
  const m = createMachine("q35-vtd");
  const dev = m.devices.get(EDU_NAME)!;
  const unit = dev.iommu!;
  const d = unit.allocDomain(DOMAIN_DMA);
  unit.attachDevice(dev.iommuId, d);
  d.iommuMap(0xffff0000, 0x102400000, 0x2000, IOMMU_READ | IOMMU_WRITE);
  assert(
    dev.engine.write(
      0xffff0ff0,
      Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20),
    ),
  );
  assertEquals(
    [...m.memory.read(0x102401000, 4)],
    [17, 18, 19, 20],
    "the write crossed into the second page",
  );
  assertEquals(dev.engine.write(0x10000, Uint8Array.of(1)), false);
  assertEquals(dev.engine.lastFault?.code, 0x05);
});

test("the device's address width truncates what it emits (edu's dma_mask property)", () => {
  const m = createMachine("q35", { eduDmaBits: 32 });
  const dev = m.devices.get(EDU_NAME)!;
  assert(dev.engine.write(0x1_0000_1000, Uint8Array.of(0xab)));
  assertEquals(m.memory.read(0x1000, 1)[0], 0xab);
});

test("edu: a RAM → device → RAM round trip of 1000 bytes completes after 100 ms of simulated time", () => {
  const m = createMachine("q35");
  const edu = m.devices.get(EDU_NAME)!.edu!;
  const src = new Uint8Array(4096).map((_, i) => (i * 7 + 1) & 0xff);
  m.memory.write(0x10000000, src);
  edu.startDma(0x10000010, 0x40100, 1000, false);
  assert(edu.busy);
  m.clock.advance(99_000_000);
  assert(edu.busy);
  m.clock.advance(1_000_000);
  assert(!edu.busy);
  edu.startDma(0x40100, 0x10002020, 1000, true);
  m.clock.advance(100_000_000);
  const out = m.memory.read(0x10002000, 4096);
  assertEquals([...out.subarray(0x20, 0x20 + 1000)], [...src.subarray(0x10, 0x10 + 1000)]);
  assertEquals(
    out.subarray(0, 0x20).every((b) => b === 0) && out.subarray(0x20 + 1000).every((b) => b === 0),
    true,
  );
});

test("property: device writes without an IOMMU equal a reference byte model", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 60000 }),
          fc.uint8Array({ minLength: 1, maxLength: 300 }),
        ),
        { maxLength: 30 },
      ),
      (ops) => {
        const m = createMachine("q35", { ramGiB: 1 });
        const e = m.devices.get(EDU_NAME)!.engine;
        const ref = new Uint8Array(65536);
        for (const [pa, data] of ops) {
          assert(e.write(0x100000 + pa, data));
          ref.set(data, pa);
        }
        assertEquals([...m.memory.read(0x100000, 65536)], [...ref]);
      },
    ),
    { numRuns: 30 },
  );
});
