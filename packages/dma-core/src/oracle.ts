// Oracle replay: the scenario of ../shared/oracle/dma_oracle.c, driven through
// the public DMA API against a simulated system, producing a record in the
// same shape as the kernel's; and the field-by-field comparison with a
// recorded one. The conformance suite reuses both.
import {
  DMA_BIDIRECTIONAL,
  DMA_BIT_MASK,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  GFP_KERNEL,
  hex,
  PAGE_SIZE,
} from "./constants.ts";
import type { Device } from "./device.ts";
import type { DmaKernel } from "./kernel.ts";
import { SgTable } from "./scatterlist.ts";

/** The edu device's register interface and the transfer it performs (QEMU hw/misc/edu.c). */
export interface OracleEdu {
  /** Physical address of BAR0. */
  readonly barPhys: number;
  readReg(offset: number): number;
  writeReg(offset: number, value: number): void;
}

/** What the replay needs besides the kernel and the device. */
export interface OracleTarget {
  kernel: DmaKernel;
  dev: Device;
  edu: OracleEdu;
  /** The DMA mask width the record was made with (the edu's dma_mask property must match). */
  maskBits: number;
  /** Physical address of the 4 MiB scratch pool (a recorded boot's value, or any free order-10 block). */
  poolPhys: number;
  /** iommu_get_domain_for_dev(): name, type bits and page-size bitmap; null without an IOMMU group. */
  domain: {
    name: string;
    type: number;
    pgsizeBitmap: number;
    iovaToPhys(iova: number): number;
  } | null;
  /** pci_name() */
  pciName: string;
}

/** One observation line: `DMAORACLE <case> key=value ...` as an object. */
export type OracleLine = Record<string, string | number>;

export interface OracleRecord {
  cases: Record<string, OracleLine[]>;
  sg: Record<
    string,
    { in: OracleLine[]; out: OracleLine[]; nents_in: number; nents_out: number; err: number }
  >;
}

const EDU_SRC = 0x80;
const EDU_DST = 0x88;
const EDU_CNT = 0x90;
const EDU_CMD = 0x98;
const EDU_RUN = 0x1;
const EDU_TO_RAM = 0x2;
const EDU_BUF = 0x40000;
const MS = 1_000_000;

const SZ_1M = 1 << 20;
const SZ_16M = 16 << 20;
const SZ_512M = 512 << 20;

/** The 13 sizes and pool offsets of case_single_seq. */
const SEQ: ReadonlyArray<[number, number]> = [
  [0x000000, 4096],
  [0x001000, 4096],
  [0x002000, 8192],
  [0x004000, 12288],
  [0x008000, 4097],
  [0x00a064, 100],
  [0x00bff0, 32],
  [0x010000, 65536],
  [0x020000, 131072],
  [0x040000, 262144],
  [0x080000, 1048576],
  [0x180000, 135168],
  [0x1c0000, 196608],
];

/** Replays dma_oracle.c's probe on `t` and returns the observations. */
export function replayOracleScenario(t: OracleTarget): OracleRecord {
  const { kernel: k, dev } = t;
  const clock = k.platform.clock;
  const cases: Record<string, OracleLine[]> = {};
  const sg: OracleRecord["sg"] = {};
  const out = (c: string, line: OracleLine) => (cases[c] ??= []).push(line);
  const paging = t.domain !== null && (t.domain.type & 1) !== 0;
  const busToPhys = (dma: number) => (paging ? t.domain!.iovaToPhys(dma) : dma);
  const inSwiotlb = (pa: number) => (k.swiotlb?.isSwiotlbBuffer(pa) ? 1 : 0);
  const settle = () => clock.advance(100 * MS);
  const msleep = (ms: number) => clock.advance(ms * MS);
  const kas = k.platform.kas;

  const reportMap = (c: string, idx: number, cpu: number, size: number, dma: number) => {
    const phys = kas.virtToPhys(cpu);
    if (k.mappingError(dev, dma)) {
      out(c, { idx, phys: hex(phys), size, err: 1 });
      return;
    }
    const lands = busToPhys(dma);
    out(c, {
      idx,
      phys: hex(phys),
      size,
      err: 0,
      dma: hex(dma),
      lands: hex(lands),
      bounced: lands !== phys ? 1 : 0,
      swiotlb: inSwiotlb(lands),
      need_sync: k.needSync(dev, dma) ? 1 : 0,
    });
    if (paging) {
      const line = cases[c]![cases[c]!.length - 1]!;
      line.last_lands = hex(t.domain!.iovaToPhys(dma + size - 1));
      line.next_page_lands = hex(
        t.domain!.iovaToPhys(Math.ceil((dma + size) / PAGE_SIZE) * PAGE_SIZE),
      );
    }
  };

  const eduDma = (src: number, dst: number, cnt: number, toRam: boolean): number => {
    t.edu.writeReg(EDU_SRC, src);
    t.edu.writeReg(EDU_DST, dst);
    t.edu.writeReg(EDU_CNT, cnt);
    t.edu.writeReg(EDU_CMD, EDU_RUN | (toRam ? EDU_TO_RAM : 0));
    for (let i = 0; i < 400; i++) {
      if (!(t.edu.readReg(EDU_CMD) & EDU_RUN)) return 0;
      msleep(5);
    }
    return -110; // -ETIMEDOUT
  };

  // probe: mask, domain, pool
  const rc = k.setMaskAndCoherent(dev, DMA_BIT_MASK(t.maskBits));
  out("set_mask", { bits: t.maskBits, ret: rc });
  if (!k.platform.pages.allocPagesAt(t.poolPhys, 10)) {
    throw new RangeError(
      `replayOracleScenario: poolPhys ${hex(t.poolPhys)} is not a free order-10 block`,
    );
  }
  // __get_free_pages(__GFP_ZERO): a fresh boot's pages read as zeros already.
  const pool = kas.physToVirt(t.poolPhys);

  // case_info
  const mem = k.swiotlb;
  out("info", {
    dev: t.pciName,
    mask_bits: t.maskBits,
    mask: hex(k.getMask(dev)),
    coherent_mask: hex(dev.coherentDmaMask),
    bus_limit: hex(dev.busDmaLimit),
  });
  const maxMap = k.maxMappingSize(dev);
  const optMap = k.optMappingSize(dev);
  out("info", {
    required_mask: hex(k.getRequiredMask(dev)),
    max_mapping_size: sizeField(maxMap),
    opt_mapping_size: sizeField(optMap),
    merge_boundary: hex(k.getMergeBoundary(dev)),
  });
  out("info", {
    max_seg_size: k.getMaxSegSize(dev),
    seg_boundary: hex(k.getSegBoundary(dev)),
    addressing_limited: k.addressingLimited(dev) ? 1 : 0,
    dma_iommu: k.config.iommuDma ? (dev.dmaIommu ? 1 : 0) : -1,
    dma_ops: k.getDmaOps(dev) !== null ? 1 : 0,
    skip_sync: dev.dmaSkipSync ? 1 : 0,
    dev_need_sync: k.devNeedSync(dev) ? 1 : 0,
  });
  out("info", {
    domain: t.domain ? t.domain.name : "none",
    domain_type: hex(t.domain ? t.domain.type : 0),
    pgsize_bitmap: hex(t.domain ? t.domain.pgsizeBitmap : 0),
  });
  if (mem) {
    const st = mem.stats();
    out("info", {
      swiotlb_start: hex(mem.start),
      swiotlb_end: hex(mem.start + st.nslabs * 2048),
      swiotlb_nslabs: st.nslabs,
      swiotlb_force: mem.force ? 1 : 0,
    });
  }
  out("info", { pool_phys: hex(t.poolPhys) });

  // case_single_seq
  const dmas = SEQ.map(([off, size], i) => {
    const d = k.mapSingle(dev, pool + off, size, DMA_BIDIRECTIONAL);
    reportMap("single_seq", i, pool + off, size, d);
    return d;
  });
  SEQ.forEach(([, size], i) => {
    if (!k.mappingError(dev, dmas[i]!)) k.unmapSingle(dev, dmas[i]!, size, DMA_BIDIRECTIONAL);
  });
  settle();

  // case_reuse
  for (const [round, name] of ["reuse_first", "reuse_immediate", "reuse_settled"].entries()) {
    const d = [0, 1, 2].map((i) => {
      const a = k.mapSingle(dev, pool + i * PAGE_SIZE, PAGE_SIZE, DMA_TO_DEVICE);
      reportMap(name, i, pool + i * PAGE_SIZE, PAGE_SIZE, a);
      return a;
    });
    for (let i = 2; i >= 0; i--)
      if (!k.mappingError(dev, d[i]!)) k.unmapSingle(dev, d[i]!, PAGE_SIZE, DMA_TO_DEVICE);
    if (round === 1) settle();
  }
  settle();

  // case_map_page
  {
    const page = t.poolPhys + 0x5000;
    const d = k.mapPage(dev, page, 0x123, 0x800, DMA_FROM_DEVICE);
    reportMap("map_page", 0, pool + 0x5123, 0x800, d);
    if (!k.mappingError(dev, d)) k.unmapPage(dev, d, 0x800, DMA_FROM_DEVICE);
    settle();
  }

  // case_sg
  const runSg = (name: string, ents: ReadonlyArray<[number, number]>) => {
    const table = new SgTable(ents.length);
    const ins: OracleLine[] = [];
    ents.forEach(([off, len], i) => {
      const s = table.sgl[i]!.setPhys(t.poolPhys + off, len);
      const line = { name, i, phys: hex(s.phys), off: s.offset, len: s.length };
      ins.push(line);
      out("sg_in", line);
    });
    const mapped = k.mapSg(dev, table.sgl, ents.length, DMA_TO_DEVICE);
    const head = { name, nents_in: ents.length, nents_out: mapped, err: mapped === 0 ? 1 : 0 };
    out("sg", head);
    const outs: OracleLine[] = [];
    for (let i = 0; i < mapped; i++) {
      const s = table.sgl[i]!;
      const lands = busToPhys(s.dmaAddress);
      const line = {
        name,
        i,
        dma: hex(s.dmaAddress),
        len: s.dmaLength,
        lands: hex(lands),
        swiotlb: inSwiotlb(lands),
      };
      outs.push(line);
      out("sg_out", line);
    }
    if (mapped) k.unmapSg(dev, table.sgl, ents.length, DMA_TO_DEVICE);
    sg[name] = {
      in: ins,
      out: outs,
      nents_in: ents.length,
      nents_out: mapped,
      err: mapped === 0 ? 1 : 0,
    };
    settle();
  };
  runSg("gapped4", [
    [0x100000, 4096],
    [0x102000, 4096],
    [0x104000, 4096],
    [0x106000, 4096],
  ]);
  runSg("contig4", [
    [0x200000, 4096],
    [0x201000, 4096],
    [0x202000, 4096],
    [0x203000, 4096],
  ]);
  runSg("mixed6", [
    [0x100000, 4096],
    [0x102000, 4096],
    [0x104000, 2048],
    [0x106200, 1024],
    [0x108000, 4096],
    [0x10a064, 200],
  ]);
  runSg("short_first", [
    [0x100000, 3000],
    [0x102000, 4096],
  ]);
  const many: Array<[number, number]> = Array.from({ length: 32 }, (_, i) => [
    0x100000 + i * 0x2000,
    4096,
  ]);
  runSg("gapped32", many);
  k.setMaxSegSize(dev, SZ_1M);
  runSg("gapped32_seg1m", many);
  k.setMaxSegSize(dev, 65536);

  // case_coherent
  {
    const sizes = [4096, 8192, 65536];
    const allocs = sizes.map((size, i) => {
      const a = k.allocCoherent(dev, size, GFP_KERNEL);
      if (a === null) {
        out("coherent", { idx: i, size, err: 1 });
        return null;
      }
      const lands = busToPhys(a.handle);
      out("coherent", {
        idx: i,
        size,
        err: 0,
        dma: hex(a.handle),
        lands: hex(lands),
        swiotlb: inSwiotlb(lands),
      });
      return a;
    });
    allocs.forEach((a, i) => {
      if (a) k.freeCoherent(dev, sizes[i]!, a.cpuAddr, a.handle);
    });
    settle();
  }

  // case_resource
  {
    const bar = t.edu.barPhys;
    const d = k.mapResource(dev, bar, 4096, DMA_BIDIRECTIONAL, 0);
    if (k.mappingError(dev, d)) out("resource", { phys: hex(bar), size: 4096, err: 1 });
    else {
      out("resource", {
        phys: hex(bar),
        size: 4096,
        err: 0,
        dma: hex(d),
        lands: hex(busToPhys(d)),
      });
      k.unmapResource(dev, d, 4096, DMA_BIDIRECTIONAL, 0);
    }
    settle();
  }

  // case_errors
  {
    const va = kas.physToVirt(SZ_16M);
    const d = k.mapSingle(dev, va, SZ_512M, DMA_TO_DEVICE);
    reportMap("big512m", 0, va, SZ_512M, d);
    if (!k.mappingError(dev, d)) k.unmapSingle(dev, d, SZ_512M, DMA_TO_DEVICE);
    out("mapping_error", {
      of_DMA_MAPPING_ERROR: k.mappingError(dev, DMA_MAPPING_ERROR),
      of_zero: k.mappingError(dev, 0),
    });
    settle();
  }

  // case_edu
  {
    const a = pool + 0x300000;
    const b = pool + 0x301000;
    const c = pool + 0x302000;
    out("edu", { ident: hex(t.edu.readReg(0)) });
    const pattern = new Uint8Array(4096);
    for (let i = 0; i < 4096; i++) pattern[i] = (i * 7 + 1) & 0xff;
    k.cpuWrite(a, pattern);
    k.cpuFill(b, 4096, 0);
    const da = k.mapSingle(dev, a, 4096, DMA_TO_DEVICE);
    const db = k.mapSingle(dev, b, 4096, DMA_FROM_DEVICE);
    reportMap("edu_map", 0, a, 4096, da);
    reportMap("edu_map", 1, b, 4096, db);
    let rc1 = 0;
    let rc2 = 0;
    const failed = k.mappingError(dev, da) || k.mappingError(dev, db);
    if (failed) out("edu_roundtrip", { skipped: "map_failed" });
    else {
      rc1 = eduDma(da + 0x10, EDU_BUF + 0x100, 1000, false);
      rc2 = eduDma(EDU_BUF + 0x100, db + 0x20, 1000, true);
    }
    if (!k.mappingError(dev, da)) k.unmapSingle(dev, da, 4096, DMA_TO_DEVICE);
    if (!k.mappingError(dev, db)) k.unmapSingle(dev, db, 4096, DMA_FROM_DEVICE);
    if (!failed) {
      const A = k.cpuRead(a, 4096);
      const B = k.cpuRead(b, 4096);
      let ok = 1;
      for (let i = 0; i < 1000; i++) if (A[0x10 + i] !== B[0x20 + i]) ok = 0;
      let untouched = 1;
      for (let i = 0; i < 0x20; i++) if (B[i] !== 0) untouched = 0;
      for (let i = 0x20 + 1000; i < 4096; i++) if (B[i] !== 0) untouched = 0;
      out("edu_roundtrip", {
        rc_to_dev: rc1,
        rc_to_ram: rc2,
        data_ok: ok,
        rest_untouched: untouched,
      });
    }
    settle();

    k.cpuFill(c, 4096, 0);
    const dc = k.mapSingle(dev, c, 4096, DMA_FROM_DEVICE);
    reportMap("edu_stale_map", 0, c, 4096, dc);
    if (k.mappingError(dev, dc)) out("edu_stale", { skipped: "map_failed" });
    else {
      rc1 = eduDma(EDU_BUF + 0x100, dc, 256, true);
      k.unmapSingle(dev, dc, 4096, DMA_FROM_DEVICE);
      const C = k.cpuRead(c, 256);
      const A = k.cpuRead(a + 0x10, 256);
      let ok = 1;
      for (let i = 0; i < 256; i++) if (C[i] !== A[i]) ok = 0;
      k.cpuFill(c, 4096, 0);
      rc2 = eduDma(EDU_BUF + 0x100, dc, 256, true);
      msleep(200);
      const after = k.cpuRead(c, 256);
      const landed = after.some((x) => x !== 0) ? 1 : 0;
      out("edu_stale", {
        dma: hex(dc),
        rc_mapped: rc1,
        mapped_ok: ok,
        rc_stale: rc2,
        stale_landed: landed,
      });
    }
    settle();

    if (paging) {
      rc1 = eduDma(EDU_BUF, 0x10000, 64, true);
      msleep(200);
      rc2 = eduDma(0x20000, EDU_BUF, 64, false);
      msleep(200);
      out("edu_wild", { write_iova: "0x10000", rc_write: rc1, read_iova: "0x20000", rc_read: rc2 });
    }
  }

  k.platform.pages.freePages(t.poolPhys, 10);
  out("done", { ok: 1, dev_need_sync_end: k.devNeedSync(dev) ? 1 : 0 });
  return { cases, sg };
}

function sizeField(v: bigint): string | number {
  // The kernel printed %zu; the record keeps numbers that fit a double as numbers.
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? v.toString() : Number(v);
}

/** One compared field. */
export interface OracleFieldResult {
  path: string;
  expected: unknown;
  actual: unknown;
  match: boolean;
}

export interface OracleComparison {
  matched: number;
  total: number;
  mismatches: OracleFieldResult[];
}

/** The fields of a map line that depend on where a kernel allocation happened to land (not deterministic). */
function skipField(
  caseName: string,
  key: string,
  line: OracleLine,
  swiotlbStart: number,
  swiotlbEnd: number,
): boolean {
  if (key === "t" || key === "case") return true;
  if (caseName === "coherent") {
    // A coherent buffer's physical pages vary from boot to boot; its IOVA does not.
    if (key === "lands") return true;
    if (key === "dma") {
      const v = Number(line.dma);
      const isSlot = v >= swiotlbStart && v < swiotlbEnd;
      return !isSlot && line.dma === line.lands;
    }
  }
  return false;
}

/**
 * Compares a replayed record with a kernel record, field by field, over the
 * deterministic fields (README of shared/oracle): every case line, every sg
 * list, and the IOMMU fault records.
 */
export function compareOracleRecord(
  expected: {
    cases: Record<string, OracleLine[]>;
    sg: OracleRecord["sg"];
    kernel?: { faults?: Array<{ line: string }> };
    info?: OracleLine;
  },
  actual: OracleRecord,
  actualFaults: ReadonlyArray<{ address: number; access: "read" | "write"; reason: number }> = [],
): OracleComparison {
  const results: OracleFieldResult[] = [];
  const info = expected.info ?? {};
  const swStart = info.swiotlb_start !== undefined ? Number(info.swiotlb_start) : -1;
  const swEnd = info.swiotlb_end !== undefined ? Number(info.swiotlb_end) : -1;
  const push = (path: string, e: unknown, a: unknown) =>
    results.push({ path, expected: e, actual: a, match: e === a });
  for (const [caseName, lines] of Object.entries(expected.cases)) {
    if (caseName === "sg_in" || caseName === "sg_out" || caseName === "sg") continue;
    const got = actual.cases[caseName] ?? [];
    lines.forEach((line, i) => {
      for (const [key, value] of Object.entries(line)) {
        if (skipField(caseName, key, line, swStart, swEnd)) continue;
        push(`${caseName}[${i}].${key}`, value, got[i]?.[key]);
      }
    });
  }
  for (const [name, list] of Object.entries(expected.sg)) {
    const got = actual.sg[name];
    push(`sg.${name}.nents_in`, list.nents_in, got?.nents_in);
    push(`sg.${name}.nents_out`, list.nents_out, got?.nents_out);
    push(`sg.${name}.err`, list.err, got?.err);
    list.in.forEach((line, i) => {
      for (const key of ["phys", "off", "len"])
        push(`sg.${name}.in[${i}].${key}`, line[key], got?.in[i]?.[key]);
    });
    list.out.forEach((line, i) => {
      for (const key of ["dma", "len", "lands", "swiotlb"])
        push(`sg.${name}.out[${i}].${key}`, line[key], got?.out[i]?.[key]);
    });
  }
  const faultRe =
    /\[DMA (Read|Write)[^\]]*\] Request device \[[^\]]+\] fault addr (0x[0-9a-f]+) \[fault reason (0x[0-9a-f]+)\]/;
  const expFaults = (expected.kernel?.faults ?? [])
    .map((f) => f.line.match(faultRe))
    .filter((m): m is RegExpMatchArray => m !== null);
  push("kernel.faults.count", expFaults.length, actualFaults.length);
  expFaults.forEach((m, i) => {
    const a = actualFaults[i];
    push(`kernel.faults[${i}].access`, m[1]!.toLowerCase(), a?.access);
    push(`kernel.faults[${i}].addr`, m[2], a ? hex(a.address) : undefined);
    push(
      `kernel.faults[${i}].reason`,
      m[3],
      a ? `0x${a.reason.toString(16).padStart(2, "0")}` : undefined,
    );
  });
  const mismatches = results.filter((r) => !r.match);
  return { matched: results.length - mismatches.length, total: results.length, mismatches };
}
