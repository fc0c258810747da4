import { assertEquals, assertThrows, test } from "@dmasim/testing";
import { KernelAddressSpace, kmallocSizeClass, LINEAR_MAP_BASE } from "./kernel_address_space.ts";
import { PageAllocator } from "./page_allocator.ts";
import { MemoryAccessError, PhysicalMemory } from "./physical_memory.ts";

const GiB = 2 ** 30;

test("PhysicalMemory: untouched RAM reads as zeros and a 64 GiB machine materialises no page until written", () => {
  const mem = new PhysicalMemory({ ram: [{ start: 0, size: 64 * GiB }] });
  assertEquals([...mem.read(40 * GiB, 4)], [0, 0, 0, 0]);
  assertEquals(mem.stats().pagesMaterialised, 0);
  mem.write(40 * GiB + 4094, Uint8Array.of(1, 2, 3, 4));
  assertEquals([...mem.read(40 * GiB + 4094, 4)], [1, 2, 3, 4]);
  assertEquals(
    mem.stats().pagesMaterialised,
    2,
    "a write across a page boundary creates both pages",
  );
});

test("PhysicalMemory: q35's hole between 2 and 4 GiB is not RAM; MMIO windows are named in the error", () => {
  const mem = new PhysicalMemory({
    ram: [
      { start: 0, size: 2 * GiB },
      { start: 4 * GiB, size: 4 * GiB },
    ],
    mmio: [{ start: 0xfea00000, size: 2 ** 20, name: "edu BAR0" }],
  });
  assertEquals(mem.isRam(0x7ffff000, 4096), true);
  assertEquals(mem.isRam(0x7ffff000, 8192), false);
  assertEquals(mem.lastRamByte, 8 * GiB - 1);
  assertThrows(() => mem.read(0xfea00000, 4), MemoryAccessError, "mmio window edu BAR0");
  assertThrows(
    () => new PhysicalMemory({ ram: [{ start: 0, size: 100 }] }),
    RangeError,
    "positive multiple of 4096",
  );
});

test("KernelAddressSpace: linear map, kmalloc size classes and minimum alignment, vmalloc is non-linear", () => {
  const mem = new PhysicalMemory({ ram: [{ start: 0, size: GiB }] });
  const kas = new KernelAddressSpace(mem, new PageAllocator(mem), { kmallocMinAlign: 128 });
  assertEquals(kas.virtToPhys(kas.physToVirt(0x1234)), 0x1234);
  assertEquals(kmallocSizeClass(40, 8), 64);
  assertEquals(kmallocSizeClass(90, 8), 96);
  assertEquals(kmallocSizeClass(90, 128), 128, "no kmalloc-96 with a 128-byte minimum alignment");
  const a = kas.kmalloc(40)!;
  assertEquals((a - LINEAR_MAP_BASE) % 128, 0);
  assertEquals(kas.regionOf(a), "linear");
  const v = kas.vmalloc(3 * 4096)!;
  assertEquals(kas.regionOf(v), "vmalloc");
  assertEquals(kas.isLinear(v), false);
  const s = kas.allocStack();
  assertEquals(kas.regionOf(s + 100), "stack");
  assertThrows(() => kas.virtToPhys(v), RangeError, "not a linear-map address");
  kas.kfree(a);
  kas.vfree(v);
  kas.freeStack(s);
  assertEquals(kas.liveAllocations(), []);
});

test("KernelAddressSpace: stackAddressOf finds a stack page by physical address; placeKernelImage places text and rodata once", () => {
  const mem = new PhysicalMemory({ ram: [{ start: 0, size: GiB }] });
  const pages = new PageAllocator(mem);
  const kas = new KernelAddressSpace(mem, pages);
  const s = kas.allocStack();
  const pa = kas.translate(s + 0x1234);
  assertEquals(kas.stackAddressOf(pa), s + 0x1234);
  assertEquals(kas.stackAddressOf(pa + 0x10000000), -1);
  assertEquals(kas.kernelImage, null);
  kas.placeKernelImage({ phys: 0x20000000, textSize: 0x2000, rodataSize: 0x1000 });
  const img = kas.kernelImage!;
  assertEquals(kas.regionOf(img.textStart), "text");
  assertEquals(kas.regionOf(img.textEnd), "rodata");
  assertEquals(kas.regionOf(kas.physToVirt(0x20002000)), "rodata", "the linear alias too");
  assertThrows(
    () => kas.placeKernelImage({ phys: 0x30000000, textSize: 4096, rodataSize: 0 }),
    RangeError,
    "placed already",
  );
  kas.freeStack(s);
});

test("PhysicalMemory: isRam agrees with a scan of every range, at range edges, in holes, for odd sizes", () => {
  const mem = new PhysicalMemory({
    ram: [
      { start: 0, size: 2 * GiB },
      { start: 4 * GiB, size: 4 * GiB },
      { start: 8 * GiB, size: 4096 },
      { start: 16 * GiB, size: GiB },
    ],
    mmio: [{ start: 0xfea00000, size: 2 ** 20, name: "edu BAR0" }],
  });
  const scan = (pa: number, size: number) =>
    mem.ranges.some((r) => r.kind === "ram" && pa >= r.start && pa + size <= r.end);
  const points = [0, 4096, 2 * GiB - 4096, 2 * GiB, 0xfea00000, 4 * GiB - 1, 4 * GiB, 8 * GiB];
  points.push(8 * GiB + 4096, 16 * GiB - 1, 16 * GiB, 17 * GiB, 17 * GiB - 1, 2 ** 52, -1);
  for (const p of points)
    for (const d of [-4096, -1, 0, 1])
      for (const size of [1, 0, -1, 4096, 8192, 0.5, Number.NaN, 2 * GiB, 4 * GiB])
        assertEquals(mem.isRam(p + d, size), scan(p + d, size), `isRam(${p + d}, ${size})`);
  assertEquals(mem.isRam(2 * GiB, 0), true, "an empty span at the end of a range");
  assertEquals(mem.isRam(Number.NaN), false);
});

test("PhysicalMemory: readInto/write refuse a buffer that is not a Uint8Array and offsets or lengths outside it, before touching memory", () => {
  const mem = new PhysicalMemory({ ram: [{ start: 0, size: 2 ** 20 }] });
  const buf = Uint8Array.of(1, 2, 3, 4);
  mem.write(0x1000, buf, 1, 2);
  const out = new Uint8Array(4);
  mem.readInto(0x1000, out, 2);
  assertEquals([...out], [0, 0, 2, 3]);
  assertThrows(
    () => mem.readInto(0x1000, [0, 0] as never),
    TypeError,
    "readInto: dst must be a Uint8Array, got an array",
  );
  assertThrows(
    () => mem.write(0x1000, null as never),
    TypeError,
    "write: src must be a Uint8Array, got null",
  );
  assertThrows(() => mem.readInto(0x1000, out, -1, 1), RangeError, "readInto: dstOffset");
  assertThrows(() => mem.write(0x1000, buf, Number.NaN, 1), RangeError, "write: srcOffset");
  assertThrows(() => mem.write(0x1000, buf, null as never, 1), RangeError, "got null");
  assertThrows(
    () => mem.write(0x1000, buf, 2, 3),
    RangeError,
    "write: len must be an integer from 0 to src.length - srcOffset (2), got 3",
  );
  assertThrows(() => mem.readInto(0x1000, out, 0, 1.5), RangeError, "readInto: len");
  assertThrows(() => mem.write(2 ** 21, buf), MemoryAccessError, "outside RAM");
  assertEquals([...mem.read(0x1000, 4)], [2, 3, 0, 0], "nothing written by the refused calls");
});

test("KernelAddressSpace: linearToPhys answers for linear-map RAM only, as translate does there", () => {
  const mem = new PhysicalMemory({
    ram: [
      { start: 0, size: 2 * GiB },
      { start: 4 * GiB, size: 2 * GiB },
    ],
  });
  const kas = new KernelAddressSpace(mem, new PageAllocator(mem));
  const v = kas.vmalloc(8192)!;
  const s = kas.allocStack();
  for (const pa of [0, 0x1234, 2 * GiB - 1, 4 * GiB, 5 * GiB + 0x80])
    assertEquals(kas.linearToPhys(LINEAR_MAP_BASE + pa), pa, `linear ${pa}`);
  // The hole between the RAM ranges, vmalloc and stack memory, and nonsense: -1.
  for (const va of [LINEAR_MAP_BASE + 3 * GiB, LINEAR_MAP_BASE + 6 * GiB, v, s, 0, -1, Number.NaN])
    assertEquals(kas.linearToPhys(va), -1, `not linear ${va}`);
  assertEquals(kas.translate(v) >= 0, true, "translate still answers for vmalloc");
});
