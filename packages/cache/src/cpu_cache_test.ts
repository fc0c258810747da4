import { assert, assertEquals, assertThrows, test } from "@dmasim/testing";
import fc from "fast-check";
import { type BackingStore, CpuCache } from "./cpu_cache.ts";

/** A plain byte array as the memory under the cache. */
function ram(size = 1 << 16): BackingStore & { bytes: Uint8Array } {
  const bytes = new Uint8Array(size);
  return {
    bytes,
    readInto: (pa, dst, off = 0, len = dst.length - off) =>
      dst.set(bytes.subarray(pa, pa + len), off),
    write: (pa, src, off = 0, len = src.length - off) =>
      bytes.set(src.subarray(off, off + len), pa),
  };
}

test("write-back: a CPU store reaches memory only at clean; a coherent device sees it anyway, a non-coherent one does not", () => {
  const m = ram();
  const c = new CpuCache(m);
  c.cpuWrite(0x100, Uint8Array.of(7));
  assertEquals(m.bytes[0x100], 0);
  const d = new Uint8Array(1);
  c.deviceRead(0x100, d, 0, 1, true);
  assertEquals(d[0], 7, "coherent: snooped");
  c.deviceRead(0x100, d, 0, 1, false);
  assertEquals(d[0], 0, "non-coherent: stale memory");
  c.clean(0x100, 1);
  assertEquals(m.bytes[0x100], 7);
  assert(c.isCached(0x100) && !c.isDirty(0x100), "clean keeps the line valid");
});

test("invalidate drops dirty data (the hazard of invalidate-only FROM_DEVICE maps)", () => {
  const m = ram();
  const c = new CpuCache(m);
  c.cpuWrite(0x200, Uint8Array.of(9));
  c.invalidate(0x200, 64);
  assertEquals(c.cpuRead(0x200, 1)[0], 0);
});

test("a non-coherent device write under a cached line: the CPU reads stale data and a stale-read hazard is recorded", () => {
  const m = ram();
  const c = new CpuCache(m);
  c.cpuRead(0x400, 64);
  c.deviceWrite(0x400, Uint8Array.of(5), 0, 1, false);
  assertEquals(c.cpuRead(0x400, 1)[0], 0);
  assertEquals(c.hazards[0]?.kind, "stale-read");
  c.invalidate(0x400, 64);
  assertEquals(c.cpuRead(0x400, 1)[0], 5);
});

test("a dirty line written back over a device's write is a lost-device-write hazard", () => {
  const m = ram();
  const c = new CpuCache(m);
  c.cpuWrite(0x800, Uint8Array.of(1));
  c.deviceWrite(0x801, Uint8Array.of(2), 0, 1, false);
  c.clean(0x800, 64);
  assertEquals(m.bytes[0x801], 0, "the write-back destroyed the device's byte");
  assertEquals(c.hazards.at(-1)?.kind, "lost-device-write");
});

test("bounded capacity evicts the LRU line and writes it back when dirty", () => {
  const m = ram();
  const c = new CpuCache(m, { capacityLines: 2 });
  c.cpuWrite(0, Uint8Array.of(1));
  c.cpuWrite(64, Uint8Array.of(2));
  c.cpuWrite(128, Uint8Array.of(3));
  assertEquals(m.bytes[0], 1);
  assertEquals(c.stats.evictions, 1);
  assertThrows(() => new CpuCache(m, { lineSize: 48 }), RangeError, "power of two");
});

test("property: following the DMA ownership rules never loses a byte on a non-coherent device", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.constantFrom("cpu-to-dev", "dev-to-cpu"),
          fc.integer({ min: 0, max: 4000 }),
          fc.integer({ min: 1, max: 96 }),
          fc.integer({ min: 0, max: 255 }),
        ),
        { maxLength: 40 },
      ),
      (ops) => {
        const m = ram(8192);
        const c = new CpuCache(m, { capacityLines: 16 });
        const ref = new Uint8Array(8192);
        for (const [kind, pa, len, v] of ops) {
          const data = new Uint8Array(len).fill(v);
          if (kind === "cpu-to-dev") {
            c.cpuWrite(pa, data);
            c.clean(pa, len); // map TO_DEVICE
            const seen = new Uint8Array(len);
            c.deviceRead(pa, seen, 0, len, false);
            assertEquals([...seen], [...data]);
          } else {
            c.cleanInvalidate(pa, len); // map FROM_DEVICE after the CPU is done
            c.deviceWrite(pa, data, 0, len, false);
            c.invalidate(pa, len); // unmap
          }
          ref.set(data, pa);
          assertEquals([...c.cpuRead(pa, len)], [...data]);
        }
        assertEquals(c.hazards, []);
        c.flushAll();
        assertEquals([...m.bytes], [...ref]);
      },
    ),
    { numRuns: 80 },
  );
});

test("a hazard listener that invalidates lines, even the line being read or evicted, leaves a bounded cache consistent", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(2, 4, 8, 16),
      fc.array(
        fc.tuple(
          fc.constantFrom("read", "write", "dev-write", "clean", "invalidate"),
          fc.integer({ min: 0, max: 12000 }),
          fc.integer({ min: 1, max: 600 }),
        ),
        { maxLength: 60 },
      ),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 12000 }), fc.integer({ min: 1, max: 8192 })), {
        minLength: 1,
        maxLength: 8,
      }),
      (capacityLines, ops, drops) => {
        const m = ram(1 << 15);
        const c = new CpuCache(m, { capacityLines });
        let n = 0;
        // The listener drops a range of lines (dirty data lost, as invalidate loses it).
        c.onHazard(() => {
          const [pa, len] = drops[n++ % drops.length]!;
          c.invalidate(pa, len);
        });
        for (const [kind, pa, len] of ops) {
          const data = new Uint8Array(len).fill(len & 0xff);
          if (kind === "read") c.cpuRead(pa, len);
          else if (kind === "write") c.cpuWrite(pa, data);
          else if (kind === "dev-write") c.deviceWrite(pa, data, 0, len, false);
          else if (kind === "clean") c.clean(pa, len);
          else c.invalidate(pa, len);
        }
        let cached = 0;
        for (let pa = 0; pa < 1 << 15; pa += c.lineSize) if (c.isCached(pa)) cached++;
        assertEquals(c.cachedLines, cached, "the line count is the lines cached");
        assert(cached <= capacityLines, `at most ${capacityLines} lines cached, got ${cached}`);
        // Nothing dirty is left behind a flush, and the cache still works.
        c.flushAll();
        c.cpuWrite(0x40, Uint8Array.of(5));
        assertEquals(c.cpuRead(0x40, 1)[0], 5);
      },
    ),
    { numRuns: 300 },
  );
});
