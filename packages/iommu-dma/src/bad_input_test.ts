// Bad input everywhere, for iommu-dma's stand-alone pieces: every public
// function of IovaDomain, IovaRcache, FlushQueue and ManualClock (and the
// size helpers) is called with one argument replaced by a wrong value (wrong
// type, NaN, negative, fractional, huge, a pfn above the anchor, a CPU that
// does not exist, a range that was never allocated). Each call must end in a
// clear error or the kernel's documented return (null or 0 when there is no
// room, false when a size is not cached), and afterwards the allocator must
// still allocate and free with exactly its own ranges live. (The iommu_dma_*
// operations are driven through the DMA API by arch's bad input test.)
//
// allocIovaFast/freeIovaFast, the rcache's insert/get and the flush queue's
// queue() are the map/unmap hot path: they are held to the same rule. (A
// well-typed pfn that was never allocated is the kernel's case:
// free_iova_fast caches it, and the flush that gives it back skips it.)
import {
  assert,
  assertEquals,
  type BadInputCase,
  methodCase,
  runBadInput,
  test,
} from "@dmasim/testing";
import { FlushQueue, ManualClock } from "./flush_queue.ts";
import { type Iova, IovaDomain, roundupPowOfTwo } from "./iova.ts";
import { IovaRcache, iovaSizeClass } from "./rcache.ts";

const GRANULE = 4096;
const LIMIT = 2 ** 32 / GRANULE - 1;

interface State {
  iovad: IovaDomain;
  clock: ManualClock;
  fq: FlushQueue;
  /** A range allocated in setup that stays, one the calls may free (made again when they do), and a reserved one. */
  held: Iova;
  victim: Iova;
  reserved: Iova;
  rcache: IovaRcache;
  freed: number[];
  flushes: number;
}

function setup(): State {
  const clock = new ManualClock();
  const iovad = new IovaDomain(GRANULE, 1, { cpus: 2, clock });
  const reserved = iovad.reserveIova(0xfee00, 0xfeeff);
  const held = iovad.allocIova(4, LIMIT, true)!;
  const s: State = {
    iovad,
    clock,
    fq: null as unknown as FlushQueue,
    held,
    victim: iovad.allocIova(1, LIMIT, true)!,
    reserved,
    rcache: null as unknown as IovaRcache,
    freed: [],
    flushes: 0,
  };
  s.fq = new FlushQueue(iovad, () => s.flushes++, clock, { cpus: 2 });
  s.rcache = new IovaRcache((pfn) => s.freed.push(pfn), 2, clock);
  return s;
}

function good(s: State, name: string): unknown {
  switch (name) {
    case "granule":
      return GRANULE;
    case "startPfn":
      return 1;
    case "options":
      return { cpus: 2 };
    case "size":
    case "pages":
      return 1;
    case "limitPfn":
      return LIMIT;
    case "limitPfnExclusive":
      return LIMIT + 1;
    case "sizeAligned":
    case "flushRcache":
      return true;
    case "cpu":
      return 1;
    case "cpus":
      return 2;
    case "pfn":
      return s.victim.pfnLo;
    case "iova":
      return s.victim;
    case "pfnLo":
      return 0x10;
    case "pfnHi":
      return 0x1f;
    case "n":
      return 5;
    case "freePfn":
      return (pfn: number) => s.freed.push(pfn);
    case "clock":
      return s.clock;
    case "iovad":
      return s.iovad;
    case "flushIotlbAll":
      return () => s.flushes++;
    case "freelistPages":
      return 0;
    case "sizeClass":
      return 0;
    case "atNs":
      return s.clock.now() + 10;
    case "fn":
      return () => {};
    case "handle":
      return s.clock.setTimer(s.clock.now() + 5, () => {});
    case "ns":
      return 10;
    default:
      throw new Error(`no good value for ${name}`);
  }
}

const PFN: ReadonlyArray<readonly [string, unknown]> = [
  ["a pfn above the anchor", 2 ** 52 + 2],
  ["a pfn never allocated", 0x7000],
];
const CPU: ReadonlyArray<readonly [string, unknown]> = [["a CPU that does not exist", 2]];

/** A method's case, with this suite's bad values by parameter name. */
function method<T extends object>(
  cls: string,
  obj: (s: State) => T,
  name: keyof T & string,
  more: Partial<BadInputCase<State>> = {},
): BadInputCase<State> {
  return methodCase(
    cls,
    obj,
    name,
    {
      pfn: PFN,
      limitPfn: PFN,
      cpu: CPU,
      size: [["more than the space", 2 ** 40]],
      sizeClass: [["class 6", 6]],
    },
    more,
  );
}

const iovad = (s: State) => s.iovad;
const rcache = (s: State) => s.rcache;
const fq = (s: State) => s.fq;
const clock = (s: State) => s.clock;

/** A range a call allocated in spite of its argument goes back, so the leftover check sees only what the model lost. */
const freeRange = (s: State, _a: unknown[], r: unknown) => {
  if (r && typeof r === "object") s.iovad.freeIovaNode(r as Iova);
};

const CASES: BadInputCase<State>[] = [
  // The size helpers are the kernel's arithmetic (roundup_pow_of_two, order_base_2), called per map.
  { name: "roundupPowOfTwo", fn: () => roundupPowOfTwo, lenient: ["n"] },
  { name: "iovaSizeClass", fn: () => iovaSizeClass, lenient: ["size"] },
  {
    name: "new IovaDomain",
    fn: () => (granule: number, startPfn: number, options: object) => {
      const d = new IovaDomain(granule, startPfn, options);
      // The domain it made must allocate, or the constructor should have refused.
      const p = d.allocIovaFast(1, LIMIT, true, 1);
      if (p !== 0) d.freeIovaFast(p, 1, 1);
      return d;
    },
    extra: {
      granule: [["3", 3]],
      startPfn: [["a pfn above the anchor", 2 ** 52 + 2]],
      options: [
        ["cpus 0", { cpus: 0 }],
        ["cpus NaN", { cpus: Number.NaN }],
        ["clock 5", { clock: 5 }],
        ["a clock without timers", { clock: { now: () => 0 } }],
        ["an unknown option", { cpu: 2 }],
      ],
    },
    lenient: ["options:an object"],
  },
  method("IovaDomain", iovad, "allocIova", { undo: freeRange }),
  method("IovaDomain", iovad, "findIova", { lenient: ["pfn"] }),
  method("IovaDomain", iovad, "freeIovaNode", {
    extra: {
      iova: [
        ["an Iova-shaped object", { pfnLo: 0x10, pfnHi: 0x10, reserved: false }],
        ["the reserved range", "reserved"],
      ],
    },
  }),
  method("IovaDomain", iovad, "freeIova"),
  method("IovaDomain", iovad, "reserveIova", {
    extra: { pfnHi: [["below pfnLo", 5]], pfnLo: PFN },
  }),
  method("IovaDomain", iovad, "allocIovaFast", {
    undo: (s, a, r) => {
      if (typeof r === "number" && r > 0) s.iovad.freeIovaFast(r, a[0] as number, 1);
    },
  }),
  method("IovaDomain", iovad, "freeIovaFast"),
  {
    name: "new IovaRcache",
    fn: () => (freePfn: (pfn: number) => void, cpus: number, clock: unknown) => {
      const r = new IovaRcache(freePfn, cpus, clock as never);
      // The cache it made must take and give back a range, or the constructor should have refused.
      r.insert(0x100, 1, 0);
      r.get(1, LIMIT + 1, 0);
      return r;
    },
    extra: { clock: [["a clock without timers", { now: () => 0 }]] },
    lenient: ["clock:null"],
  },
  method("IovaRcache", rcache, "setClock", {
    lenient: ["clock:null"],
    undo: (s) => s.rcache.setClock(s.clock),
  }),
  method("IovaRcache", rcache, "insert", { undo: (s) => s.rcache.flushAll() }),
  method("IovaRcache", rcache, "get"),
  method("IovaRcache", rcache, "flushCpu"),
  method("IovaRcache", rcache, "depotSize"),
  method("IovaRcache", rcache, "trimPending"),
  method("IovaRcache", rcache, "magazineContents"),
  {
    name: "new FlushQueue",
    fn:
      () => (iovad: IovaDomain, flushIotlbAll: () => void, clock: ManualClock, options: object) => {
        const q = new FlushQueue(iovad, flushIotlbAll, clock, options);
        q.destroy();
        return q;
      },
    good: { iovad: () => new IovaDomain(GRANULE, 1, { cpus: 2 }), clock: () => new ManualClock() },
    extra: {
      iovad: [["an object", { rcache: { clock: null } }]],
      options: [
        ["cpus 0", { cpus: 0 }],
        ['shadowOnFlush "yes"', { shadowOnFlush: "yes" }],
        ["releasePages 5", { releasePages: 5 }],
        ["an unknown option", { size: 8 }],
      ],
    },
    lenient: ["options:an object"],
  },
  method("FlushQueue", fq, "queue", {
    undo: (s) => s.fq.destroy(),
  }),
  method("ManualClock", clock, "setTimer", {
    lenient: ["atNs:1.5", "atNs:-1"],
    undo: (s, _a, h) => s.clock.clearTimer(h),
  }),
  method("ManualClock", clock, "clearTimer", { lenient: ["handle"] }),
  method("ManualClock", clock, "advance", { lenient: ["ns:1.5"] }),
];

/** The allocator holds exactly setup's ranges, still allocates and frees, and the queue is empty. */
function check(s: State, what: string): void {
  const { iovad } = s;
  s.fq.destroy();
  iovad.rcache.flushAll();
  s.rcache.flushAll();
  s.clock.advance(10 ** 9);
  if (iovad.findIova(s.victim.pfnLo) === null) s.victim = iovad.allocIova(1, LIMIT, true)!;
  assertEquals(
    iovad.liveRanges().filter((r) => r.pfnLo !== s.held.pfnLo && r.pfnLo !== s.victim.pfnLo),
    [],
    `after ${what}: only setup's ranges are live`,
  );
  assertEquals(
    iovad.findIova(s.held.pfnLo)?.pfnHi,
    s.held.pfnHi,
    `after ${what}: setup's range stays`,
  );
  const p = iovad.allocIovaFast(8, LIMIT, true, 0);
  assert(p > 0, `after ${what}: alloc_iova_fast works`);
  iovad.freeIovaFast(p, 8, 0);
  iovad.rcache.flushAll();
  assertEquals(iovad.findIova(p), null, `after ${what}: and its range is freed`);
  assertEquals(s.clock.pending, 0, `after ${what}: no timer left`);
}

test("bad input: every IOVA allocator, rcache, flush queue and clock function, each argument in turn: a clear error or the kernel's return; the allocator stays usable", () => {
  const r = runBadInput({ setup, good, check, cases: CASES });
  console.log(r.summary);
  assertEquals(r.engine, []);
  assertEquals(r.corrupted, []);
  assertEquals(r.accepted, []);
  assert(r.tried > 300);
});
