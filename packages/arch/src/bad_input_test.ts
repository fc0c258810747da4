// Bad input everywhere: every driver-facing function of the DMA API, and the
// public entry points of the hardware packages, are called with one argument
// replaced by a wrong value (wrong type, NaN, negative, fractional, huge, an
// unknown device, an address outside memory, an unknown direction or
// attribute). Each call must end in a clear error (one that is not a
// JavaScript engine error from deep inside the model), in a documented kernel
// BUG, or in a return value; and afterwards the system must still map, unmap
// and leave nothing behind. The table is built from the functions'
// parameter names, so a new function is covered the day it is added.
import {
  Device,
  DMA_BIT_MASK,
  DMA_TO_DEVICE,
  GFP_KERNEL,
  KernelBug,
  SgTable,
} from "@dmasim/dma-core";
import {
  assert,
  assertEquals,
  BAD_VALUES,
  type BadInputCase,
  defaultedParams,
  fieldMutations,
  isEngineError,
  paramNames,
  runBadInput,
  test,
} from "@dmasim/testing";
import { parseCommandLine } from "./cmdline.ts";
import { resolveKernelConfig } from "./kconfig.ts";
import { OwnershipChecker } from "./ownership.ts";
import { PROFILE_NAMES, PROFILES, type ProfileName } from "./profiles.ts";
import { createSystem, type DmaSystem, SYSTEM_OPTIONS, type SystemOptions } from "./system.ts";

/** The DMA API a driver calls (the KernelContext services below cpuFill serve back ends, not drivers). */
const DMA_API = [
  "addDevice",
  "device",
  "bindDriver",
  "useDmaIommu",
  "mapDirect",
  "allocDirect",
  "setMask",
  "setCoherentMask",
  "setMaskAndCoherent",
  "coerceMaskAndCoherent",
  "getMask",
  "getRequiredMask",
  "addressingLimited",
  "maxMappingSize",
  "optMappingSize",
  "getMergeBoundary",
  "devNeedSync",
  "needSync",
  "needUnmap",
  "getMaxSegSize",
  "getSegBoundary",
  "getMinAlignMask",
  "setMaxSegSize",
  "setSegBoundary",
  "setMinAlignMask",
  "getCacheAlignment",
  "mappingError",
  "mapPhys",
  "unmapPhys",
  "mapPage",
  "unmapPage",
  "mapSingle",
  "unmapSingle",
  "mapResource",
  "unmapResource",
  "mapSg",
  "mapSgtable",
  "unmapSg",
  "unmapSgtable",
  "syncSingleForCpu",
  "syncSingleForDevice",
  "syncSingleRangeForCpu",
  "syncSingleRangeForDevice",
  "syncSgForCpu",
  "syncSgForDevice",
  "syncSgtableForCpu",
  "syncSgtableForDevice",
  "allocAttrs",
  "allocCoherent",
  "freeAttrs",
  "freeCoherent",
  "dmamAllocAttrs",
  "dmamAllocCoherent",
  "dmamFreeCoherent",
  "declareCoherentMemory",
  "allocPages",
  "freePages",
  "allocNoncoherent",
  "freeNoncoherent",
  "allocNoncontiguous",
  "freeNoncontiguous",
  "vmapNoncontiguous",
  "vunmapNoncontiguous",
  "canMmap",
  "pgprot",
  "iovaTryAlloc",
  "useIova",
  "iovaLink",
  "iovaSync",
  "iovaUnlink",
  "iovaDestroy",
  "iovaFree",
  "cpuRead",
  "cpuWrite",
  "cpuFill",
] as const;

/**
 * Undoes what a call that succeeded in spite of its argument made (the
 * kernel maps any physical address it is given, for example), so the
 * leftover check sees only what the model lost track of.
 */
function undo(sys: DmaSystem, fn: string, args: unknown[], r: unknown): void {
  const k = sys.dma;
  const dev = sys.dev;
  const size = args[fn === "mapPage" ? 3 : 2] as number;
  const ok = typeof r === "number" && r !== 0 && k.mappingError(dev, r) === 0;
  switch (fn) {
    case "mapPhys":
    case "mapSingle":
    case "mapResource":
      if (ok)
        k.unmapPhys(dev, r as number, size, args[3] as number, fn === "mapResource" ? 1 << 13 : 0);
      return;
    case "mapPage":
      if (ok) k.unmapPhys(dev, r as number, size, args[4] as number);
      return;
    case "mapSg":
      if (typeof r === "number" && r > 0)
        k.unmapSg(dev, args[1] as never, args[2] as number, args[3] as number);
      return;
    case "mapSgtable":
      if (r === 0) k.unmapSgtable(dev, args[1] as never, args[2] as number);
      return;
    case "allocAttrs":
    case "allocCoherent":
    case "dmamAllocAttrs":
    case "dmamAllocCoherent": {
      const a = r as { cpuAddr: number; handle: number } | null;
      if (a) k.freeAttrs(dev, args[1] as number, a.cpuAddr, a.handle);
      if (fn.startsWith("dmam") && a) k.unbindDriver(dev);
      return;
    }
    case "allocPages": {
      const a = r as { pagePhys: number; handle: number } | null;
      if (a) k.freePages(dev, args[1] as number, a.pagePhys, a.handle, args[2] as number);
      return;
    }
    case "iovaTryAlloc":
      if (r === true) k.iovaFree(dev, args[1] as never);
      return;
    case "allocNoncoherent": {
      const a = r as { cpuAddr: number; handle: number } | null;
      if (a) k.freeNoncoherent(dev, args[1] as number, a.cpuAddr, a.handle, args[2] as number);
      return;
    }
  }
}

/** A plausible value for a parameter, by its name: the one argument under test is replaced by a bad one. */
function goodArg(
  sys: DmaSystem,
  name: string,
  buf: { va: number; pa: number; dma: number },
): unknown {
  switch (name) {
    case "dev":
    case "_dev":
      return sys.dev;
    case "options":
      return { name: `dev-${Math.random()}` };
    case "name":
      return sys.dev.name;
    case "driverName":
      return "bad-input";
    case "mask":
      return DMA_BIT_MASK(64);
    case "size":
    case "len":
    case "mappedLen":
      return 64;
    case "dir":
      return DMA_TO_DEVICE;
    case "attrs":
    case "offset":
      return 0;
    case "gfp":
      return GFP_KERNEL;
    case "phys":
    case "pagePhys":
    case "page":
      return buf.pa;
    case "addr":
    case "handle":
    case "deviceAddr":
      return buf.dma;
    case "cpuAddr":
    case "va":
    case "vaddr":
      return buf.va;
    case "sgl":
      return SgTable.fromPhys([{ phys: buf.pa, length: 64 }]).sgl;
    case "sgt":
      return SgTable.fromPhys([{ phys: buf.pa, length: 64 }]);
    case "nents":
      return 1;
    case "state":
      return { addr: 0, size: 0, useSwiotlb: false };
    case "data":
      return new Uint8Array(8);
    case "byte":
      return 0;
    default:
      return 0;
  }
}

/** Can this profile map at all? (dummy ops and the synthetic table without map_page cannot.) */
function canMap(sys: DmaSystem): boolean {
  const va = sys.kmalloc(64);
  try {
    const a = sys.dma.mapSingle(sys.dev, va, 64, DMA_TO_DEVICE);
    if (sys.dma.mappingError(sys.dev, a) !== 0) return false;
    sys.dma.unmapSingle(sys.dev, a, 64, DMA_TO_DEVICE);
    return true;
  } catch (e) {
    if (e instanceof KernelBug) return false;
    throw e;
  } finally {
    sys.kfree(va);
  }
}

function stillUsable(sys: DmaSystem, what: string, maps: boolean): void {
  const live = sys.dma.liveResources();
  assertEquals(live, [], `after ${what}: nothing left live`);
  if (!maps) return;
  const va = sys.kmalloc(4096);
  sys.dma.cpuWrite(va, Uint8Array.of(7));
  const a = sys.dma.mapSingle(sys.dev, va, 4096, DMA_TO_DEVICE);
  assert(sys.dma.mappingError(sys.dev, a) === 0, `after ${what}: map works`);
  assertEquals(sys.device.readBytes(a, 1)?.[0], 7, `after ${what}: the device reads the buffer`);
  sys.dma.unmapSingle(sys.dev, a, 4096, DMA_TO_DEVICE);
  sys.kfree(va);
}

test("bad input: every DMA API function, each argument in turn, on every profile: a clear error, a BUG or a return; the system stays usable", {
  sanitizeResources: false,
  timeout: 300_000,
}, () => {
  let tried = 0;
  const engine: string[] = [];
  const profiles: ProfileName[] = [...PROFILE_NAMES];
  const corrupted: string[] = [];
  for (const profile of profiles) {
    let sys = createSystem(profile);
    const maps = canMap(sys);
    const k = sys.dma as unknown as Record<string, (...a: unknown[]) => unknown>;
    for (const fn of DMA_API) {
      const f = k[fn];
      assert(typeof f === "function", `${fn} is a DmaKernel method`);
      const names = paramNames(f as never);
      const optional = defaultedParams(f as never);
      for (let pos = 0; pos < names.length; pos++) {
        const bads: Array<readonly [string, unknown]> = [...BAD_VALUES];
        if (names[pos] === "dev" || names[pos] === "_dev")
          bads.push(["an unknown device", new Device({ name: "never-added" })]);
        if (names[pos] === "dir") bads.push(["direction 7", 7]);
        if (names[pos] === "attrs") bads.push(["an unknown attribute bit", 1 << 30]);
        if (names[pos] === "phys" || names[pos] === "addr")
          bads.push(["an address outside memory", 2 ** 51]);
        for (const [label, bad] of bads) {
          if (bad === undefined && optional.has(names[pos]!)) continue;
          // A fresh buffer each time: a call that succeeds with a bad argument may consume it.
          const va = sys.kmalloc(64);
          const pa = sys.machine.kas.virtToPhys(va);
          const dma = maps ? sys.dma.mapSingle(sys.dev, va, 64, DMA_TO_DEVICE) : 0x1000;
          const args = names.map((n, i) => (i === pos ? bad : goodArg(sys, n, { va, pa, dma })));
          tried++;
          const call = `${profile} ${fn}(${names.join(", ")}) with ${names[pos]} = ${label}`;
          try {
            undo(sys, fn, args, f.apply(sys.dma, args));
          } catch (e) {
            if (!(e instanceof KernelBug) && isEngineError(e))
              engine.push(`${call}: ${(e as Error).message}`);
          }
          // Put the buffer back as the API allows, and check the model still works.
          try {
            if (maps) sys.dma.unmapSingle(sys.dev, dma, 64, DMA_TO_DEVICE);
            sys.kfree(va);
            stillUsable(sys, call, maps);
          } catch (e) {
            corrupted.push(`${call} left the system unusable: ${(e as Error).message}`);
            sys = createSystem(profile);
          }
        }
      }
      if (sys.dev.driverName !== null) sys.dma.unbindDriver(sys.dev);
    }
  }
  console.log(
    `bad input: ${tried} calls with one bad argument, ${engine.length} engine errors, ${corrupted.length} left the system unusable`,
  );
  assertEquals(engine, []);
  assertEquals(corrupted, []);
  assert(tried > 5000);
});

// ---- arch's own entry points: createSystem's options and profiles, the
// command line, the Kconfig resolver and the ownership checker.

interface ArchState {
  sys: DmaSystem;
  checker: OwnershipChecker;
}

/** One bad value in each option of createSystem, alone (other options keep their defaults). */
const BAD_SYSTEM_OPTIONS: Array<readonly [string, unknown]> = [
  ...SYSTEM_OPTIONS.flatMap((k) =>
    BAD_VALUES.filter(([label]) => label !== "undefined").map(
      ([label, v]) => [`${k} = ${label}`, { [k]: v }] as const,
    ),
  ),
  ["an unknown option", { ramGb: 2 }],
  ['design "v0"', { design: "v0" }],
  ["cmdline with an unknown option", { cmdline: "iommu.lazy=1" }],
  ["cmdline iommu.strict=2", { cmdline: "iommu.strict=2" }],
  ["config with an unknown symbol", { config: { IOMMU_LAZY: true } }],
  ['config IOMMU_DEFAULT "LAZY"', { config: { IOMMU_DEFAULT: "LAZY" } }],
  ["config SWIOTLB 1", { config: { SWIOTLB: 1 } }],
  ["granule 8192", { granule: 8192 }],
  ["maskBits 65", { maskBits: 65 }],
  ["swiotlbStart outside memory", { swiotlbStart: 2 ** 40 }],
];

function archGood(s: ArchState, name: string): unknown {
  switch (name) {
    case "profileName":
      return "x86_64-vtd";
    case "options":
      return {};
    case "text":
      return "iommu.strict=1 swiotlb=1024";
    case "defaults":
      return PROFILES["x86_64-vtd"].kconfig;
    case "overrides":
      return { SWIOTLB: true };
    case "sys":
      return s.sys;
    case "code":
      return "device-access-after-unmap";
    default:
      throw new Error(`no good value for ${name}`);
  }
}

/** A system a call returned must work, or the call should have refused. */
function exercise(sys: DmaSystem): void {
  if (!canMap(sys)) return;
  stillUsable(sys, "a system built with this argument", true);
}

const ARCH_CASES: BadInputCase<ArchState>[] = [
  {
    name: "createSystem",
    fn: () => createSystem,
    extra: {
      profileName: [
        ["an unknown profile", "x86_64-amd-vi"],
        ["a profile in capitals", "DUMMY"],
        ["a prototype key", "toString"],
      ],
      options: BAD_SYSTEM_OPTIONS,
    },
    // null, like undefined, leaves an option at its default; RAM may be given in fractions of a GiB.
    lenient: [
      "options:an object",
      "options:config = an object",
      "options:ramGiB = 1.5",
      ...SYSTEM_OPTIONS.map((k) => `options:${k} = null`),
    ],
    undo: (_s, _a, r) => exercise(r as DmaSystem),
  },
  {
    name: "parseCommandLine",
    fn: () => parseCommandLine,
    extra: {
      text: [
        ["an unknown option", "iommu.lazy=1"],
        ["iommu.strict=2", "iommu.strict=2"],
        ["iommu=soft", "iommu=soft"],
        ["swiotlb= empty", "swiotlb="],
        ["intel_iommu=on,sm_on", "intel_iommu=on,sm_on"],
        ["dma_debug=on", "dma_debug=on"],
      ],
      options: [
        ['ignoreUnknown "yes"', { ignoreUnknown: "yes" }],
        ["an unknown option", { strict: true }],
      ],
    },
    lenient: ["options:an object"],
  },
  {
    name: "resolveKernelConfig",
    fn: () => resolveKernelConfig,
    extra: {
      defaults: [["a config missing symbols", { SWIOTLB: true }]],
      overrides: [
        ["an unknown symbol", { IOMMU_LAZY: true }],
        ['IOMMU_DEFAULT "LAZY"', { IOMMU_DEFAULT: "LAZY" }],
        ["SWIOTLB 1", { SWIOTLB: 1 }],
        ["a prototype key", JSON.parse('{"__proto__": {"SWIOTLB": 1}}')],
      ],
    },
    lenient: ["overrides:an object"],
  },
  {
    name: "new OwnershipChecker",
    fn: () => (sys: DmaSystem, options: object) => {
      const c = new OwnershipChecker(sys, options);
      c.stop();
      return c;
    },
    extra: {
      sys: [["a system-like object", { dma: {}, machine: {} }]],
      options: [
        ["remember NaN", { remember: Number.NaN }],
        ["remember -1", { remember: -1 }],
        ['log "yes"', { log: "yes" }],
        ["an unknown option", { rememberd: 4 }],
      ],
    },
    lenient: ["options:an object"],
  },
  {
    name: "OwnershipChecker.withCode",
    fn: (s) => s.checker.withCode as never,
    target: (s) => s.checker,
    extra: { code: [["an unknown code", "use-after-free"]] },
  },
];

function archSetup(): ArchState {
  const sys = createSystem("x86_64-vtd");
  return { sys, checker: new OwnershipChecker(sys) };
}

function archCheck(s: ArchState, what: string): void {
  stillUsable(s.sys, what, true);
  assertEquals(s.checker.violations, [], `after ${what}: no ownership violation`);
}

test("bad input: createSystem (options and profiles), parseCommandLine, resolveKernelConfig and OwnershipChecker, each argument in turn: a clear error or a return", {
  sanitizeResources: false,
}, () => {
  const r = runBadInput({ setup: archSetup, good: archGood, check: archCheck, cases: ARCH_CASES });
  // Every profile, with each of its board options broken in turn.
  let more = 0;
  const engine: string[] = [];
  for (const profile of PROFILE_NAMES) {
    for (const [path, label, bad] of fieldMutations({ ramGiB: 2, cpus: 2, maskBits: 40 })) {
      more++;
      const call = `createSystem(${profile}, options${path} = ${label})`;
      try {
        exercise(createSystem(profile, bad as SystemOptions));
      } catch (e) {
        if (isEngineError(e)) engine.push(`${call}: ${(e as Error).message}`);
      }
    }
  }
  console.log(
    `${r.summary}; and ${more} profile builds with one bad board option, ${engine.length} engine errors`,
  );
  assertEquals([...r.engine, ...engine], []);
  assertEquals(r.corrupted, []);
  assertEquals(r.accepted, []);
  assert(r.tried + more > 300);
});
