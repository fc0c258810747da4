// Bad input everywhere, for the IOMMU: every public function of IommuUnit,
// IommuDomain, IoPageTable, Iotlb and IotlbGather (and the page-size helpers)
// is called with one argument replaced by a wrong value (wrong type, NaN,
// negative, fractional, huge, an IOVA beyond the aperture, a physical address
// beyond 2^52, unknown protection bits or domain types, a domain of another
// unit). Each call must end in a clear error or the kernel's documented
// return (-EINVAL, 0 bytes unmapped, a fault), and afterwards the unit must
// still translate, map and unmap, with nothing left mapped that was not.
//
// The map, unmap, translate and IOTLB paths are hot: their checks are one
// inlinable test per function with an out-of-line thrower (src/args.ts), and
// they are held to the same standard as every other function here.
import {
  assert,
  assertEquals,
  type BadInputCase,
  fieldMutations,
  methodCase,
  runBadInput,
  test,
} from "@dmasim/testing";
import {
  DOMAIN_DMA,
  domainTypeName,
  type IommuDomain,
  iommuPgsize,
  modulo,
  sizesOf,
} from "./domain.ts";
import { IommuUnit, type IommuUnitOptions, newTranslateResult } from "./iommu_unit.ts";
import { Iotlb } from "./iotlb.ts";
import { IotlbGather } from "./iotlb_gather.ts";
import { IoPageTable, type PageTableConfig } from "./page_table.ts";
import { IOMMU_READ, IOMMU_WRITE } from "./prot.ts";

const DEV = "00:01.0";
const IOVA = 0x100000;
const PA = 0x200000;
const RW = IOMMU_READ | IOMMU_WRITE;

const VTD: IommuUnitOptions = {
  name: "dmar0",
  kind: "vtd",
  pageTable: { format: "vtd", addressWidth: 39, superpages: true },
  cachingMode: false,
  deferredFlush: true,
  iotlb: { capacity: 64, policy: "lru" },
  reservedRegions: [{ start: 0xfee00000, size: 2 ** 20, type: "msi" }],
};
const SMMU: IommuUnitOptions = {
  name: "smmuv3.0",
  kind: "smmuv3",
  pageTable: { format: "arm-lpae", granule: 4096, inputBits: 48 },
  aperture: { start: 0xc8000000, size: 2 ** 26 },
};

interface State {
  unit: IommuUnit;
  other: IommuUnit;
  domain: IommuDomain;
  table: IoPageTable;
  iotlb: Iotlb;
  gather: IotlbGather;
}

function setup(): State {
  const unit = new IommuUnit(VTD);
  const domain = unit.allocDomain(DOMAIN_DMA);
  unit.attachDevice(DEV, domain);
  assertEquals(domain.iommuMap(IOVA, PA, 4096, RW), 0);
  const table = new IoPageTable({ format: "arm-lpae", granule: 4096 });
  assertEquals(table.mapPages(IOVA, PA, 4096, 1, RW), 0);
  return {
    unit,
    other: new IommuUnit({ ...SMMU, name: "other" }),
    domain,
    table,
    iotlb: new Iotlb({ capacity: 16 }),
    gather: new IotlbGather(),
  };
}

function good(s: State, name: string): unknown {
  switch (name) {
    case "options":
      return VTD;
    case "config":
      return { format: "vtd", addressWidth: 48 };
    case "type":
      return DOMAIN_DMA;
    case "deviceId":
      return DEV;
    case "groupId":
      return "group0";
    case "domain":
      return s.domain;
    case "fn":
      return () => {};
    case "iova":
      return 0x300000;
    case "paddr":
    case "pa":
      return 0x400000;
    case "size":
      return 4096;
    case "maxSize":
      return 4096;
    case "prot":
      return RW;
    case "isWrite":
      return false;
    case "out":
      return name === "out" ? newTranslateResult() : null;
    case "gather":
      return new IotlbGather();
    case "pgsize":
      return 4096;
    case "count":
    case "pages":
      return 1;
    case "key":
      return Iotlb.key(s.domain.id, 0x300);
    case "domainId":
      return s.domain.id;
    case "pfn":
    case "firstPfn":
      return 0x300;
    case "pgsizeBitmap":
      return 0x1000 + 0x200000;
    case "x":
      return 0x3000;
    case "a":
      return 4096;
    case "inv":
      return 1 / 4096;
    default:
      throw new Error(`no good value for ${name}`);
  }
}

const ADDR: ReadonlyArray<readonly [string, unknown]> = [
  ["an IOVA beyond the aperture", 2 ** 48],
  ["2^52", 2 ** 52],
  ["Infinity", Number.POSITIVE_INFINITY],
];

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
      iova: ADDR,
      paddr: [["a physical address beyond 2^52", 2 ** 53]],
      pa: [["a physical address beyond 2^52", 2 ** 53]],
      size: ADDR,
      prot: [["an unknown protection bit", 1 << 12]],
      domain: [["an object", { id: 1 }]],
      type: [["an unknown domain type", 1 << 6]],
    },
    more,
  );
}

const unit = (s: State) => s.unit;
const domain = (s: State) => s.domain;
const table = (s: State) => s.table;
const iotlb = (s: State) => s.iotlb;
const gather = (s: State) => s.gather;

/** A map that succeeded in spite of its argument is undone, so the leftover check sees only what the model lost. */
const unmapDomain = (s: State, a: unknown[], r: unknown) => {
  if (r === 0) s.domain.iommuUnmap(a[0] as number, a[2] as number);
};

const CASES: BadInputCase<State>[] = [
  { name: "modulo", fn: () => modulo, lenient: ["x", "a"] },
  { name: "domainTypeName", fn: () => domainTypeName, lenient: ["type"] },
  { name: "sizesOf", fn: () => sizesOf },
  {
    name: "iommuPgsize",
    fn: () => iommuPgsize,
    good: { out: () => ({ pgsize: 0, count: 0 }) },
  },
  {
    name: "new IommuUnit",
    fn: () => (options: IommuUnitOptions) => new IommuUnit(options),
    extra: {
      options: [...fieldMutations(VTD), ...fieldMutations(SMMU)]
        .filter(([path]) => path !== ".name")
        .map(([path, label, bad]) => [`${path} = ${label}`, bad]),
    },
    // null, like undefined, leaves an option at its default.
    lenient: [
      ...[...fieldMutations(VTD), ...fieldMutations(SMMU)]
        .filter(([, label]) => label === "null")
        .map(([path]) => `options:${path} = null`),
      "options:.iotlb.policy = null",
    ],
  },
  method("IommuUnit", unit, "allocDomain"),
  method("IommuUnit", unit, "attachDevice", {
    extra: { domain: [["a domain of another unit", new IommuUnit(SMMU).allocDomain(DOMAIN_DMA)]] },
    // Any string is an id ("4096" included).
    lenient: ["deviceId:a string"],
    undo: (s) => s.unit.attachDevice(DEV, s.domain),
  }),
  method("IommuUnit", unit, "detachDevice", {
    lenient: ["deviceId"],
    undo: (s) => s.unit.attachDevice(DEV, s.domain),
  }),
  method("IommuUnit", unit, "domainOf", { lenient: ["deviceId"] }),
  method("IommuUnit", unit, "group", { lenient: ["deviceId"] }),
  method("IommuUnit", unit, "addToGroup", {
    lenient: ["deviceId:a string", "groupId:a string"],
    undo: (s) => s.unit.addToGroup(DEV, DEV),
  }),
  method("IommuUnit", unit, "onFault", { undo: (_s, _a, off) => (off as () => void)() }),
  method("IommuUnit", unit, "clearFaults"),
  method("IommuUnit", unit, "translate", { lenient: ["deviceId"] }),
  method("IommuUnit", unit, "invalidateRange"),
  method("IommuUnit", unit, "invalidateDomain"),
  method("IommuUnit", unit, "markStale"),
  method("IommuDomain", domain, "iommuMapNosync", {
    undo: (s, a, r) => {
      if (r === 0) s.domain.iommuSyncMap(a[0] as number, a[2] as number);
      unmapDomain(s, a, r);
    },
  }),
  method("IommuDomain", domain, "iommuSyncMap"),
  method("IommuDomain", domain, "iommuMap", { undo: unmapDomain }),
  method("IommuDomain", domain, "iommuMapFrames", {
    good: { iovaPfn: () => 0x300, paPfn: () => 0x400, count: () => 1 },
    extra: {
      iovaPfn: [["a frame beyond the aperture", 2 ** 40]],
      paPfn: [["a frame beyond 2^52", 2 ** 41]],
      count: [["more frames than the aperture", 2 ** 40]],
    },
    undo: (s, a, r) => {
      if (r === 0) s.domain.iommuUnmap((a[0] as number) * 4096, (a[2] as number) * 4096);
    },
  }),
  method("IommuDomain", domain, "iommuUnmapFast", {
    good: { iova: () => 0x300000 },
    undo: (s) => s.domain.flushIotlbAll(),
  }),
  method("IommuDomain", domain, "iommuUnmap", { good: { iova: () => 0x300000 } }),
  method("IommuDomain", domain, "iotlbSync", {
    extra: { gather: [["an object", { start: 0, end: 4095 }]] },
  }),
  method("IommuDomain", domain, "flushIotlbAll"),
  method("IommuDomain", domain, "iovaToPhys", { lenient: ["iova"] }),
  {
    name: "new IoPageTable",
    fn: () => (config: PageTableConfig) => new IoPageTable(config),
    extra: {
      config: [
        ...fieldMutations({ format: "vtd", addressWidth: 48, superpages: true }),
        ...fieldMutations({ format: "arm-lpae", granule: 16384, inputBits: 48 }),
      ].map(([path, label, bad]) => [`${path} = ${label}`, bad]),
    },
    lenient: ["config:.superpages = null", "config:.inputBits = null"],
  },
  method("IoPageTable", table, "mapPages", {
    undo: (s, a, r) => {
      if (r === 0) s.table.unmapPages(a[0] as number, a[2] as number, a[3] as number);
    },
  }),
  method("IoPageTable", table, "unmapPages", {
    good: { iova: () => 0x300000 },
  }),
  method("IoPageTable", table, "unmapLeaf", { good: { iova: () => 0x300000 } }),
  method("IoPageTable", table, "lookup", { lenient: ["iova"] }),
  method("IoPageTable", table, "iovaToPhys", { lenient: ["iova"] }),
  {
    name: "new Iotlb",
    fn: () => (options: object) => new Iotlb(options),
    extra: {
      options: fieldMutations({ capacity: 16, policy: "fifo" }).map(([path, label, bad]) => [
        `${path} = ${label}`,
        bad,
      ]),
    },
    lenient: ["options:an object", "options:.capacity = null", "options:.policy = null"],
  },
  { name: "Iotlb.key", fn: () => Iotlb.key },
  method("Iotlb", iotlb, "lookup", { lenient: ["key"] }),
  method("Iotlb", iotlb, "insert", { undo: (s) => s.iotlb.invalidateAll() }),
  method("Iotlb", iotlb, "markStale"),
  method("Iotlb", iotlb, "invalidateRange"),
  method("Iotlb", iotlb, "invalidateDomain"),
  method("Iotlb", iotlb, "invalidateAll"),
  method("IotlbGather", gather, "reset"),
  method("IotlbGather", gather, "addRange", { undo: (s) => s.gather.reset() }),
  method("IotlbGather", gather, "addPage", { undo: (s) => s.gather.reset() }),
];

/** The unit still translates its mapping, maps and unmaps a page, and holds nothing it should not. */
function check(s: State, what: string): void {
  const { unit, domain, table } = s;
  domain.flushIotlbAll();
  unit.clearFaults();
  unit.hazards.length = 0;
  assertEquals(unit.domainOf(DEV), domain, `after ${what}: the device stays attached`);
  const out = newTranslateResult();
  assert(unit.translate(DEV, IOVA + 8, false, out), `after ${what}: the mapping translates`);
  assertEquals(out.pa, PA + 8, `after ${what}: to its page`);
  assertEquals(domain.iommuMap(0x500000, 0x600000, 4096, RW), 0, `after ${what}: a map works`);
  assertEquals(domain.iommuUnmap(0x500000, 4096), 4096, `after ${what}: an unmap works`);
  assertEquals(domain.iovaToPhys(0x300000), 0, `after ${what}: nothing left at the test IOVA`);
  assertEquals(domain.unsynced.size, 0, `after ${what}: nothing waits for a sync`);
  assertEquals(table.iovaToPhys(IOVA), PA, `after ${what}: the bare table keeps its page`);
  assertEquals(table.iovaToPhys(0x300000), 0, `after ${what}: and nothing else`);
  assertEquals(unit.faults, [], `after ${what}: no fault`);
}

test("bad input: every IOMMU function, each argument in turn: a clear error or the kernel's return; the unit stays usable", () => {
  const r = runBadInput({ setup, good, check, cases: CASES });
  console.log(r.summary);
  assertEquals(r.engine, []);
  assertEquals(r.corrupted, []);
  assertEquals(r.accepted, []);
  assert(r.tried > 500);
});
