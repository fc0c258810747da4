// cpuCopy against its definition: a cpuReadInto into a buffer, then a cpuWrite of it.
import { assertEquals, test } from "@dmasim/testing";
import fc from "fast-check";
import { type BackingStore, type CacheOptions, CpuCache } from "./cpu_cache.ts";

const SIZE = 6 * 4096;

/** Memory of SIZE bytes plus an address range past it that is not RAM. */
function ram(): BackingStore & { bytes: Uint8Array } {
  const bytes = new Uint8Array(SIZE);
  const check = (pa: number, len: number) => {
    if (pa < 0 || pa + len > SIZE) throw new RangeError(`memory: [${pa}, +${len}) is not RAM`);
  };
  return {
    bytes,
    isRam: (pa, size = 1) => pa >= 0 && pa + size <= SIZE,
    readInto: (pa, dst, off = 0, len = dst.length - off) => {
      check(pa, len);
      dst.set(bytes.subarray(pa, pa + len), off);
    },
    write: (pa, src, off = 0, len = src.length - off) => {
      check(pa, len);
      bytes.set(src.subarray(off, off + len), pa);
    },
  };
}

type Op =
  | { k: "write"; pa: number; len: number; v: number }
  | { k: "devWrite"; pa: number; len: number; v: number; coherent: boolean }
  | { k: "invalidate" | "clean" | "speculate"; pa: number; len: number }
  | { k: "copy"; dst: number; src: number; len: number };

const addr = fc.integer({ min: 0, max: SIZE + 64 });
const len = fc.oneof(fc.integer({ min: 0, max: 200 }), fc.constantFrom(4096, 8192, 4096 + 64));
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant("write" as const), pa: addr, len, v: fc.nat(255) }),
  fc.record({
    k: fc.constant("devWrite" as const),
    pa: addr,
    len,
    v: fc.nat(255),
    coherent: fc.boolean(),
  }),
  fc.record({ k: fc.constantFrom("invalidate", "clean", "speculate"), pa: addr, len }),
  fc.record({
    k: fc.constant("copy" as const),
    dst: fc.oneof(addr, fc.constantFrom(0, 4096, 8192)),
    src: fc.oneof(addr, fc.constantFrom(0, 4096, 12288)),
    len,
  }),
);

/** Runs the ops on a fresh cache; copies by cpuCopy or by read + write. Returns what can be observed. */
function run(ops: Op[], options: CacheOptions, listener: boolean, direct: boolean): unknown[] {
  const m = ram();
  const c = new CpuCache(m, options);
  // A listener that changes the cache: the copy must behave as if its read had finished first. (Not
  // with a bounded cache: a read whose listener drops lines there can meet an evicted page.)
  if (listener && !options.capacityLines) c.onHazard((e) => c.invalidate(e.lineAddress, 1));
  const seen: unknown[] = [];
  for (const o of ops) {
    try {
      if (o.k === "write") c.cpuWrite(o.pa, new Uint8Array(o.len).fill(o.v));
      else if (o.k === "devWrite")
        c.deviceWrite(o.pa, new Uint8Array(o.len).fill(o.v), 0, o.len, o.coherent);
      else if (o.k === "copy") {
        if (direct) c.cpuCopy(o.dst, o.src, o.len);
        else {
          const buf = new Uint8Array(o.len);
          c.cpuReadInto(o.src, buf, 0, o.len);
          c.cpuWrite(o.dst, buf, 0, o.len);
        }
      } else c[o.k](o.pa, o.len);
      seen.push("ok");
    } catch (e) {
      // The messages name the method that failed; the error's class and what it says of memory must agree.
      seen.push((e as Error).constructor.name);
    }
  }
  seen.push(c.snapshot(), { ...c.stats }, c.hazards, c.cachedLines);
  const out = new Uint8Array(SIZE);
  c.cpuReadInto(0, out);
  seen.push([...out]);
  c.flushAll();
  seen.push([...m.bytes]);
  return seen;
}

test("cpuCopy does what a read into a buffer and a write of it do: bytes, lines, fill order, stats, hazards, errors", () => {
  fc.assert(
    fc.property(
      fc.array(op, { maxLength: 30 }),
      fc.constantFrom<CacheOptions>({}, { capacityLines: 96, ways: 4 }, { lineSize: 32 }),
      fc.boolean(),
      (ops, options, listener) => {
        assertEquals(run(ops, options, listener, true), run(ops, options, listener, false));
      },
    ),
    { numRuns: 300 },
  );
});

test("cpuCopy of a cached page to a cold one: one fill-free write-allocate, the destination dirty, the source untouched", () => {
  const m = ram();
  const c = new CpuCache(m);
  c.cpuWrite(0x1000, new Uint8Array(4096).fill(7));
  c.cpuCopy(0x3000, 0x1000, 4096);
  assertEquals([c.stats.hits, c.stats.misses, c.stats.fills], [64, 128, 128]);
  assertEquals([c.isDirty(0x3000), c.isDirty(0x3fff), m.bytes[0x3000]], [true, true, 0]);
  assertEquals(c.cpuRead(0x3ffe, 2), Uint8Array.of(7, 7));
});
