// Dynamic swiotlb (CONFIG_SWIOTLB_DYNAMIC): transient pools (spec §4.9, C133); bounces copied
// inside the cache model.

import { CpuCache } from "@dmasim/cache";
import { PhysicalMemory } from "@dmasim/memory";
import { assert, assertEquals, assertNotEquals, test } from "@dmasim/testing";
import fc from "fast-check";
import { fixture } from "./_fixture_test_helpers.ts";
import { DMA_FROM_DEVICE, DMA_MAPPING_ERROR, DMA_TO_DEVICE } from "./constants.ts";
import { type CpuAccess, SwiotlbMem } from "./swiotlb.ts";

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

/** FNV-1a, to compare big byte ranges quickly. */
function hash(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

test("bounces copied inside the cache (cpuCopy) leave what the read-then-write copies leave: slots, bytes, lines, stats, logs", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          map: fc.boolean(),
          pick: fc.nat(),
          orig: fc.constantFrom(0x102400000, 0x20000000, 0x100000123, 0x40000fff),
          size: fc.constantFrom(1, 100, 2048, 2049, 4096, 8192, 4096 * 3 + 5, 200 * KiB),
          alignMask: fc.constantFrom(0, 0xfff, 0xffff),
          dir: fc.constantFrom(0, 1, 2, 3),
          what: fc.constantFrom("unmap", "forCpu", "forDevice"),
          off: fc.constantFrom(0, 1, 2048),
          devByte: fc.nat(255),
          coherent: fc.boolean(),
        }),
        { maxLength: 40 },
      ),
      fc.constantFrom(0, 0x7ff, 0xfff, 3),
      (ops, minAlignMask) => {
        const run = (direct: boolean) => {
          const mem = new PhysicalMemory({
            ram: [
              { start: 0, size: 0xc0000000 },
              { start: 0x100000000, size: 0x40000000 },
            ],
          });
          const cache = new CpuCache(mem);
          const seen: unknown[] = [];
          const cpu: CpuAccess = {
            cpuReadInto: (pa, d, o, l) => cache.cpuReadInto(pa, d, o, l),
            cpuWrite: (pa, s, o, l) => cache.cpuWrite(pa, s, o, l),
          };
          if (direct) cpu.cpuCopy = (d, s, l) => cache.cpuCopy(d, s, l);
          const sw = new SwiotlbMem({
            start: 0xb0000000,
            nslabs: 1024,
            nareas: 2,
            cpu,
            log: { warn: (c, m) => seen.push(c, m), info: (c, m) => seen.push(c, m) },
          });
          const dev = { name: "d", minAlignMask, segBoundaryMask: 2 ** 32 - 1 };
          const live: Array<[number, number, number]> = [];
          for (const o of ops) {
            try {
              if (o.map || live.length === 0) {
                cache.cpuWrite(o.orig, new Uint8Array(o.size).fill(o.devByte ^ 0x5a));
                const t = sw.tblMapSingle(dev, o.orig, o.size, o.alignMask, o.dir, 0);
                seen.push(t);
                if (t >= 0) live.push([t, o.size, o.dir]);
                continue;
              }
              const i = o.pick % live.length;
              const [t, size, dir] = live[i]!;
              cache.deviceWrite(t, new Uint8Array(size).fill(o.devByte), 0, size, o.coherent);
              if (o.what === "unmap") {
                live.splice(i, 1);
                sw.tblUnmapSingle(dev, t, size, dir, 0);
              } else if (o.what === "forCpu") sw.syncSingleForCpu(dev, t + o.off, size, dir);
              else sw.syncSingleForDevice(dev, t + o.off, size, dir);
              seen.push("ok");
            } catch (e) {
              seen.push((e as Error).message);
            }
          }
          seen.push(sw.stats(), sw.liveBounces(), { ...cache.stats }, cache.hazards.length);
          seen.push(hash(new TextEncoder().encode(JSON.stringify(cache.snapshot()))));
          cache.flushAll();
          seen.push(hash(mem.read(0xb0000000, 1024 * 2048)));
          return seen;
        };
        assertEquals(run(true), run(false));
      },
    ),
    { numRuns: 25 },
  );
});
