// Bad input everywhere, for the CPU cache: every public method of CpuCache
// (and its constructor) is called with one argument replaced by a wrong value
// (wrong type, NaN, negative, fractional, huge, an address outside memory, an
// unknown option). Each call must end in a clear error or a return value, and
// afterwards the cache must still load, store, clean and flush, with its line
// bookkeeping intact. The table is built from the methods' parameter names.
import { assert, assertEquals, type BadInputCase, runBadInput, test } from "@dmasim/testing";
import { type BackingStore, CpuCache } from "./cpu_cache.ts";

/** Memory as strict as PhysicalMemory: an access outside it is a RangeError. */
class MemoryLike implements BackingStore {
  readonly bytes: Uint8Array;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }
  #check(pa: number, len: number): void {
    if (
      !Number.isInteger(pa) ||
      !Number.isInteger(len) ||
      pa < 0 ||
      len < 0 ||
      pa + len > this.bytes.length
    )
      throw new RangeError(`memory: access [${pa}, +${len}) is outside memory`);
  }
  isRam(pa: number, size = 1): boolean {
    return pa >= 0 && pa + size <= this.bytes.length;
  }
  readInto(pa: number, dst: Uint8Array, off = 0, len = dst.length - off): void {
    this.#check(pa, len);
    dst.set(this.bytes.subarray(pa, pa + len), off);
  }
  write(pa: number, src: Uint8Array, off = 0, len = src.length - off): void {
    this.#check(pa, len);
    this.bytes.set(src.subarray(off, off + len), pa);
  }
}

const MEM_SIZE = 1 << 20;

interface State {
  mem: MemoryLike;
  cache: CpuCache;
}

function setup(): State {
  const mem = new MemoryLike(MEM_SIZE);
  return { mem, cache: new CpuCache(mem, { capacityLines: 64, ways: 4, speculativeFill: true }) };
}

const ADDR: ReadonlyArray<readonly [string, unknown]> = [
  ["an address outside memory", 2 ** 40],
  ["2^52", 2 ** 52],
  ["Infinity", Number.POSITIVE_INFINITY],
];
const BUF: ReadonlyArray<readonly [string, unknown]> = [
  ["a plain array", [1, 2, 3]],
  ["an ArrayBuffer", new ArrayBuffer(8)],
];

function good(s: State, name: string): unknown {
  switch (name) {
    case "memory":
      return s.mem;
    case "options":
      return {};
    case "pa":
    case "srcPa":
      return 0x1000;
    case "dstPa":
      return 0x3000;
    case "len":
      return 64;
    case "dst":
    case "src":
      return new Uint8Array(64);
    case "dstOffset":
    case "srcOffset":
      return 0;
    case "coherent":
      return true;
    case "p":
      return 0.5;
    case "fn":
      return () => {};
    default:
      throw new Error(`no good value for ${name}`);
  }
}

/** A method of the cache under test. */
function m(name: keyof CpuCache, more: Partial<BadInputCase<State>> = {}): BadInputCase<State> {
  return {
    name: `CpuCache.${name}`,
    fn: (s) => s.cache[name] as never,
    target: (s) => s.cache,
    extra: {
      pa: ADDR,
      dstPa: ADDR,
      srcPa: ADDR,
      len: ADDR,
      dst: BUF,
      src: BUF,
      dstOffset: ADDR,
      srcOffset: ADDR,
    },
    ...more,
  };
}

const CASES: BadInputCase<State>[] = [
  {
    name: "new CpuCache",
    fn: () => (memory: BackingStore, options: unknown) => new CpuCache(memory, options as never),
    extra: {
      memory: [["an object without readInto", { write() {} }]],
      options: [
        ["lineSize NaN", { lineSize: Number.NaN }],
        ["lineSize 48", { lineSize: 48 }],
        ["capacityLines -1", { capacityLines: -1 }],
        ["capacityLines 1.5", { capacityLines: 1.5 }],
        ["ways 3 of 64", { capacityLines: 64, ways: 3 }],
        ["ways NaN", { capacityLines: 64, ways: Number.NaN }],
        ['replacement "random"', { replacement: "random" }],
        ['speculativeFill "yes"', { speculativeFill: "yes" }],
        ["random 5", { random: 5 }],
        ["an unknown option", { lineSizes: 32 }],
      ],
    },
    lenient: ["options:an object"],
    // The cache it made must work, or the constructor should have refused.
    undo: (s, _args, r) => {
      const c = r as CpuCache;
      c.cpuWrite(0x40, Uint8Array.of(1));
      c.maybeSpeculate(0x1000, 256);
      c.flushAll();
      void s;
    },
  },
  m("onHazard", { undo: (_s, _a, off) => (off as () => void)() }),
  m("onMaintenance", { undo: (_s, _a, off) => (off as () => void)() }),
  m("clearHazards"),
  m("cpuReadInto"),
  m("cpuRead"),
  m("cpuWrite"),
  m("cpuCopy"),
  m("cpuReadUncached"),
  m("cpuWriteUncached"),
  m("clean"),
  m("invalidate"),
  m("cleanInvalidate"),
  m("deviceRead"),
  m("deviceWrite"),
  m("speculate"),
  m("maybeSpeculate"),
  m("isCached"),
  m("isDirty"),
  m("flushAll"),
  m("snapshot"),
];

/** The cache still works and its bookkeeping is whole: lines counted once, at real addresses. */
function check(s: State, what: string): void {
  const { cache, mem } = s;
  const lines = cache.snapshot();
  assertEquals(cache.cachedLines, lines.length, `after ${what}: line count`);
  for (const l of lines)
    assert(
      Number.isInteger(l.address) && l.address >= 0 && l.address < MEM_SIZE,
      `after ${what}: line at ${l.address}`,
    );
  cache.flushAll();
  assertEquals(cache.cachedLines, 0, `after ${what}: flushAll empties the cache`);
  cache.cpuWrite(0x2000, Uint8Array.of(9, 8));
  assertEquals([...cache.cpuRead(0x2000, 2)], [9, 8], `after ${what}: a store reads back`);
  cache.clean(0x2000, 64);
  assertEquals(mem.bytes[0x2001], 8, `after ${what}: clean reaches memory`);
  cache.invalidate(0x2000, 64);
  cache.flushAll();
  cache.clearHazards();
  mem.bytes.fill(0);
}

test("bad input: every CpuCache method, each argument in turn: a clear error or a return; the cache stays usable", () => {
  const r = runBadInput({ setup, good, check, cases: CASES });
  console.log(r.summary);
  assertEquals(r.engine, []);
  assertEquals(r.corrupted, []);
  assertEquals(r.accepted, []);
  assert(r.tried > 400);
});
