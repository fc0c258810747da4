import { DOMAIN_DMA, IOMMU_READ, IOMMU_WRITE } from "@dmasim/iommu";
import { assert, assertEquals, assertThrows, test } from "@dmasim/testing";
import {
  EDU_BUF_ADDR,
  EDU_DMA_IRQ_BIT,
  EDU_IDENT,
  EDU_REG_DMA_CMD,
  EDU_REG_DMA_SRC,
  EDU_REG_FACTORIAL,
  EDU_REG_IRQ_ACK,
  EDU_REG_IRQ_STATUS,
  EDU_REG_LIVENESS,
  EDU_REG_STATUS,
  EDU_STATUS_IRQFACT,
} from "./edu.ts";
import { createMachine, EDU_NAME } from "./presets.ts";

const MS = 1_000_000;

test("edu: RAM → device → RAM round trip of 1000 bytes, like the oracle's edu_roundtrip", () => {
  const m = createMachine("q35-vtd");
  const dev = m.device(EDU_NAME);
  const edu = dev.edu!;
  const unit = dev.iommu!;
  const d = unit.allocDomain(DOMAIN_DMA);
  unit.attachDevice(dev.iommuId, d);
  // The oracle's IOVAs: a at 0xffff5000 (TO_DEVICE: read-only), b at 0xffffe000 (FROM_DEVICE: write-only).
  const a = 0x102700000;
  const b = 0x102701000;
  d.iommuMap(0xffff5000, a, 4096, IOMMU_READ);
  d.iommuMap(0xffffe000, b, 4096, IOMMU_WRITE);
  const src = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7 + 1) & 0xff);
  m.memory.write(a, src);
  edu.startDma(0xffff5000 + 0x10, EDU_BUF_ADDR + 0x100, 1000, false);
  assert(edu.busy);
  m.clock.advance(99 * MS);
  assert(edu.busy, "QEMU's DMA timer has not fired yet at 99 ms");
  m.clock.advance(1 * MS);
  assert(!edu.busy, "the start bit clears when the 100 ms timer fires");
  assertEquals(edu.readReg(EDU_REG_DMA_CMD) & 1, 0);
  edu.startDma(EDU_BUF_ADDR + 0x100, 0xffffe000 + 0x20, 1000, true);
  m.clock.advance(100 * MS);
  assert(!edu.busy);
  const out = m.memory.read(b, 4096);
  assertEquals([...out.subarray(0x20, 0x20 + 1000)], [...src.subarray(0x10, 0x10 + 1000)]);
  assertEquals(
    out.subarray(0, 0x20).every((x) => x === 0),
    true,
  );
  assertEquals(
    out.subarray(0x20 + 1000).every((x) => x === 0),
    true,
  );
  assertEquals(unit.faults.length, 0);
  assertEquals(edu.lastTransfer, {
    toRam: true,
    bus: 0xffffe020,
    count: 1000,
    ok: true,
    at: 200 * MS,
  });
});

test("edu: a transfer through a never-mapped IOVA completes (start bit clears) but moves nothing", () => {
  // The oracle's edu_wild: rc 0 for both, DMAR faults 0x05 (write 0x10000) and 0x06 (read 0x20000).
  const m = createMachine("q35-vtd");
  const dev = m.device(EDU_NAME);
  const unit = dev.iommu!;
  unit.attachDevice(dev.iommuId, unit.allocDomain(DOMAIN_DMA));
  const edu = dev.edu!;
  edu.buffer.fill(0xcc);
  edu.startDma(EDU_BUF_ADDR, 0x10000, 64, true);
  m.clock.advance(100 * MS);
  assert(!edu.busy);
  assertEquals(
    m.memory.read(0x10000, 64).every((x) => x === 0),
    true,
  );
  edu.startDma(0x20000, EDU_BUF_ADDR, 64, false);
  m.clock.advance(100 * MS);
  assert(!edu.busy);
  assertEquals(
    edu.buffer.subarray(0, 64).every((x) => x === 0xcc),
    true,
    "buffer kept its bytes",
  );
  assertEquals(
    unit.faults.map((f) => [f.access, f.iova, f.code]),
    [
      ["write", 0x10000, 0x05],
      ["read", 0x20000, 0x06],
    ],
  );
  assertEquals(edu.lastTransfer!.ok, false);
});

test("edu: the DMA timer has millisecond scale, registers freeze while busy, a second start is ignored", () => {
  const m = createMachine("q35");
  const edu = m.device(EDU_NAME).edu!;
  m.clock.advance(2.5 * MS);
  m.memory.fill(0x200000, 16, 0x42);
  edu.startDma(0x200000, EDU_BUF_ADDR, 16, false);
  edu.writeReg(EDU_REG_DMA_SRC, 0x300000); // ignored: busy
  edu.writeReg(EDU_REG_DMA_CMD, 1); // ignored: busy, the timer keeps its deadline
  assertEquals(edu.readReg(EDU_REG_DMA_SRC), 0x200000);
  // Deadline: whole ms now (2) + 100 = 102 ms, not 102.5 ms.
  m.clock.advanceTo(102 * MS - 1);
  assert(edu.busy);
  m.clock.advanceTo(102 * MS);
  assert(!edu.busy);
  assertEquals(edu.buffer[15], 0x42);
  edu.writeReg(EDU_REG_DMA_CMD, 2); // no start bit: nothing happens
  assert(!edu.busy);
  assertEquals(m.clock.pendingTimers(), 0);
});

test("edu: the device address is ANDed with dma_mask before it reaches RAM", () => {
  const m = createMachine("q35", { eduDmaBits: 32 });
  const edu = m.device(EDU_NAME).edu!;
  edu.buffer.fill(0x99, 0, 8);
  edu.startDma(EDU_BUF_ADDR, 0x1_0040_0000, 8, true);
  m.clock.advance(100 * MS);
  assertEquals(
    m.memory.read(0x400000, 8).every((x) => x === 0x99),
    true,
  );
  assertEquals(edu.lastTransfer!.bus, 0x400000);
});

test("edu: a range outside the 4 KiB buffer is refused and logged as a guest error", () => {
  const m = createMachine("q35");
  const edu = m.device(EDU_NAME).edu!;
  m.memory.fill(0x200000, 0x2000, 0x42);
  edu.startDma(0x200000, EDU_BUF_ADDR + 0xf00, 0x200, false);
  m.clock.advance(100 * MS);
  assert(!edu.busy);
  assertEquals(
    edu.buffer.every((x) => x === 0),
    true,
  );
  assertEquals(edu.guestErrors.length, 1);
});

test("edu registers: ident 0x010000ed, liveness inverts, factorial in 32 bits, interrupts", () => {
  const m = createMachine("q35");
  const edu = m.device(EDU_NAME).edu!;
  assertEquals(edu.readReg(0), EDU_IDENT);
  assertEquals(edu.readReg(0, 8), 2 ** 64 - 1, "registers below 0x80 answer 4-byte reads only");
  assertEquals(edu.readReg(0x10), 0xffffffff, "an unknown register reads all ones");
  edu.writeReg(EDU_REG_LIVENESS, 0x12345678);
  assertEquals(edu.readReg(EDU_REG_LIVENESS), 0xedcba987);
  edu.writeReg(EDU_REG_FACTORIAL, 5);
  assertEquals(edu.readReg(EDU_REG_FACTORIAL), 120);
  edu.writeReg(EDU_REG_FACTORIAL, 13);
  assertEquals(edu.readReg(EDU_REG_FACTORIAL), 1932053504, "13! mod 2^32");
  edu.writeReg(EDU_REG_FACTORIAL, 40);
  assertEquals(edu.readReg(EDU_REG_FACTORIAL), 0);
  const irqs: number[] = [];
  edu.onInterrupt((s) => irqs.push(s));
  edu.writeReg(EDU_REG_STATUS, EDU_STATUS_IRQFACT);
  edu.writeReg(EDU_REG_FACTORIAL, 3);
  assertEquals(irqs, [1]);
  edu.writeReg(EDU_REG_IRQ_ACK, 1);
  assertEquals(edu.irqAsserted, false);
  edu.startDma(EDU_BUF_ADDR, 0x200000, 4, true, true);
  m.clock.advance(100 * MS);
  assertEquals(edu.readReg(EDU_REG_IRQ_STATUS), EDU_DMA_IRQ_BIT);
  assertEquals(irqs, [1, EDU_DMA_IRQ_BIT]);
  assertEquals(edu.readReg(EDU_REG_DMA_CMD), 6, "start bit cleared, direction and irq bits kept");
  assertThrows(() => edu.writeReg(0x80, -1), RangeError, "value");
  assertThrows(() => edu.readReg(2 ** 20), RangeError, "offset");
});
