// I/O page tables as real multi-level radix tables: a VT-d-like second stage
// (4 KiB pages, 2 MiB and 1 GiB superpages, 3 to 5 levels of 9 bits) and an
// Arm LPAE-like stage 1 (4K, 16K or 64K granules with their block sizes,
// granuleShift - 3 bits per level). A partial unmap never splits a block or
// superpage: Arm's io-pgtable and VT-d both leave it mapped.
import {
  inconsistent,
  isInt,
  MAP_LEAVES,
  MAP_PAGES,
  needInteger,
  needObject,
  needProt,
  PROT_ALL,
  UNMAP_LEAF,
} from "./args.ts";
import { EEXIST, EINVAL } from "./prot.ts";

export type PageTableConfig =
  | { format: "vtd"; addressWidth: 39 | 48 | 57; superpages?: boolean }
  | { format: "arm-lpae"; granule: 4096 | 16384 | 65536; inputBits?: number };

/** What a lookup found: filled in place, so the hot path allocates nothing. */
export interface PteLookup {
  /** Physical address of the looked-up byte. */
  pa: number;
  prot: number;
  /** Size of the leaf (page, block or superpage). */
  pageSize: number;
}

/** Slot states of a table. */
const EMPTY = 0;
const LEAF = 1;
const TABLE = 2;

/**
 * One table: per slot a state, and for a leaf its physical address and
 * protection (the leaf's size is the level's entry size), or the next-level
 * table. Typed arrays: installing or clearing a PTE allocates nothing.
 */
class Table {
  readonly kind: Uint8Array;
  readonly pa: Float64Array;
  readonly prot: Int32Array;
  /** Next-level tables (empty at the last level, which holds leaves only). */
  readonly next: Array<Table | null>;
  used = 0;

  constructor(slots: number, last: boolean) {
    this.kind = new Uint8Array(slots);
    this.pa = new Float64Array(slots);
    this.prot = new Int32Array(slots);
    this.next = last ? [] : new Array<Table | null>(slots).fill(null);
  }
}

export interface PageTableStats {
  tablePages: number;
  pteWrites: number;
  pteClears: number;
}

export class IoPageTable {
  readonly format: "vtd" | "arm-lpae";
  readonly granule: number;
  readonly granuleShift: number;
  readonly bitsPerLevel: number;
  readonly levels: number;
  readonly inputBits: number;
  readonly pgsizeBitmap: number;
  readonly stats: PageTableStats = { tablePages: 1, pteWrites: 0, pteClears: 0 };
  /** Entry size covered at each depth (0 = the top). */
  readonly #levelSize: number[];
  /** 1 / the entry size at each depth (exact: powers of two), so an index is a multiply and a mask. */
  readonly #levelInv: number[];
  readonly #root: Table;
  #slots = 512;
  #mask = 511;
  /** 2^inputBits */
  #limit = 0;
  /** Depth of the last level (the tables of smallest leaves). */
  #last = 0;
  /** Bytes one last-level table covers, and its reciprocal. */
  #regionSize = 0;
  #regionInv = 0;
  /** Size of the smallest leaf (the last level's entries), and its reciprocal. */
  #leafSize = 0;
  #leafInv = 0;
  /**
   * The last-level table the latest walk went through and the first IOVA it
   * covers. Tables are never freed and a slot that holds a table never
   * becomes a leaf, so a cached table stays right for its region forever.
   */
  #lastTable: Table | null = null;
  #lastBase = Number.NEGATIVE_INFINITY;
  readonly #probe: PteLookup = { pa: 0, prot: 0, pageSize: 0 };

  constructor(config: PageTableConfig) {
    if (config === null || typeof config !== "object")
      throw new TypeError(
        `IoPageTable: config must be { format: "vtd", addressWidth } or { format: "arm-lpae", granule }, got ${String(config)}`,
      );
    if (
      config.format === "vtd" &&
      config.superpages != null &&
      typeof config.superpages !== "boolean"
    )
      throw new TypeError(
        `IoPageTable: superpages must be true or false, got ${String(config.superpages)}`,
      );
    if (config.format === "vtd") {
      if (![39, 48, 57].includes(config.addressWidth))
        throw new RangeError(`vtd addressWidth must be 39, 48 or 57, got ${config.addressWidth}`);
      this.format = "vtd";
      this.granule = 4096;
      this.granuleShift = 12;
      this.bitsPerLevel = 9;
      this.inputBits = config.addressWidth;
      this.levels = (config.addressWidth - 12) / 9;
      this.pgsizeBitmap = config.superpages === false ? 0x1000 : 0x1000 + 0x200000 + 0x40000000;
    } else if (config.format === "arm-lpae") {
      if (![4096, 16384, 65536].includes(config.granule))
        throw new RangeError(
          `arm-lpae granule must be 4096, 16384 or 65536, got ${config.granule}`,
        );
      this.format = "arm-lpae";
      this.granule = config.granule;
      this.granuleShift = Math.log2(config.granule);
      this.bitsPerLevel = this.granuleShift - 3;
      this.inputBits = config.inputBits ?? 48;
      if (!Number.isInteger(this.inputBits) || this.inputBits < 32 || this.inputBits > 52) {
        throw new RangeError(
          `arm-lpae inputBits must be an integer from 32 to 52, got ${config.inputBits}`,
        );
      }
      this.levels = Math.min(
        4,
        Math.ceil((this.inputBits - this.granuleShift) / this.bitsPerLevel),
      );
      // arm_lpae_restrict_pgsizes(): 4K → 4K|2M|1G, 16K → 16K|32M, 64K → 64K|512M.
      this.pgsizeBitmap =
        config.granule === 4096
          ? 0x1000 + 0x200000 + 0x40000000
          : config.granule === 16384
            ? 0x4000 + 0x2000000
            : 0x10000 + 0x20000000;
    } else {
      throw new RangeError(
        `page table format must be "vtd" or "arm-lpae", got ${String((config as { format: unknown }).format)}`,
      );
    }
    this.#levelSize = [];
    this.#levelInv = [];
    for (let d = 0; d < this.levels; d++) {
      const size = this.granule * 2 ** (this.bitsPerLevel * (this.levels - 1 - d));
      this.#levelSize.push(size);
      this.#levelInv.push(1 / size);
    }
    this.#slots = 2 ** this.bitsPerLevel;
    this.#mask = this.#slots - 1;
    this.#limit = 2 ** this.inputBits;
    this.#last = this.levels - 1;
    this.#regionSize = this.granule * this.#slots;
    this.#regionInv = 1 / this.#regionSize;
    this.#leafSize = this.granule;
    this.#leafInv = 1 / this.granule;
    this.#root = new Table(this.#slots, this.levels === 1);
  }

  #depthForSize(size: number): number {
    return size === this.#leafSize ? this.#last : this.#levelSize.indexOf(size);
  }

  /**
   * The table at `depth` on the way to `va`: made on the way with `create`;
   * null when a leaf (a block) sits above it, or, without `create`, when a
   * table is missing.
   */
  #tableAt(va: number, depth: number, create: boolean): Table | null {
    if (depth === this.#last) {
      const off = va - this.#lastBase;
      if (off >= 0 && off < this.#regionSize) return this.#lastTable;
    }
    return this.#tableWalk(va, depth, create);
  }

  #tableWalk(va: number, depth: number, create: boolean): Table | null {
    const last = this.#last;
    const mask = this.#mask;
    const inv = this.#levelInv;
    let t = this.#root;
    for (let d = 0; d < depth; d++) {
      const idx = (va * inv[d]!) & mask;
      const k = t.kind[idx]!;
      if (k === TABLE) {
        t = t.next[idx]!;
      } else if (k === EMPTY && create) {
        const next = new Table(this.#slots, d + 1 === last);
        t.kind[idx] = TABLE;
        t.next[idx] = next;
        t.used++;
        this.stats.tablePages++;
        this.stats.pteWrites++;
        t = next;
      } else return null;
    }
    if (depth === last) {
      this.#lastTable = t;
      this.#lastBase = Math.floor(va * this.#regionInv) * this.#regionSize;
    }
    return t;
  }

  /** Installs `count` leaves of `pgsize` from iova/pa. Returns 0 or a negative errno. */
  mapPages(iova: number, pa: number, pgsize: number, count: number, prot: number): number {
    if (!(isInt(iova) && isInt(pa) && isInt(pgsize) && isInt(count) && (prot & PROT_ALL) === prot))
      badMapPages(iova, pa, pgsize, count, prot);
    return this[MAP_PAGES](iova, pa, pgsize, count, prot);
  }

  /**
   * MAP_PAGES of `count` smallest pages at frame numbers `iovaPfn` and
   * `paPfn`: frame numbers stay small integers across the call, where the
   * addresses, above 2^30, would each be boxed into a new heap number.
   */
  [MAP_LEAVES](iovaPfn: number, paPfn: number, count: number, prot: number): number {
    const size = this.#leafSize;
    const iova = iovaPfn * size;
    // One leaf in the last leaf table walked (a streaming map's usual case):
    // what MAP_PAGES does for it, without the walk.
    const off = iova - this.#lastBase;
    if (count === 1 && off >= 0 && off < this.#regionSize && (this.pgsizeBitmap & size) !== 0) {
      const t = this.#lastTable!;
      const idx = (iova * this.#leafInv) & this.#mask;
      if (t.kind[idx] !== EMPTY) return -EEXIST;
      t.kind[idx] = LEAF;
      t.pa[idx] = paPfn * size;
      t.prot[idx] = prot;
      t.used++;
      this.stats.pteWrites++;
      return 0;
    }
    return this[MAP_PAGES](iova, paPfn * size, size, count, prot);
  }

  [MAP_PAGES](iova: number, pa: number, pgsize: number, count: number, prot: number): number {
    const depth = this.#depthForSize(pgsize);
    if (depth < 0 || (this.pgsizeBitmap & pgsize) === 0) return -EINVAL;
    if (!(iova >= 0) || iova + pgsize * count > this.#limit) return -EINVAL;
    const inv = this.#levelInv[depth]!;
    const mask = this.#mask;
    for (let i = 0; i < count; i++) {
      const va = iova + i * pgsize;
      const t = this.#tableAt(va, depth, true);
      if (t === null) return -EEXIST;
      const idx = (va * inv) & mask;
      if (t.kind[idx] !== EMPTY) return -EEXIST;
      t.kind[idx] = LEAF;
      t.pa[idx] = pa + i * pgsize;
      t.prot[idx] = prot;
      t.used++;
      this.stats.pteWrites++;
    }
    return 0;
  }

  /**
   * Clears `count` leaves of `pgsize`. Returns the bytes unmapped: it stops at
   * the first hole, and at a leaf larger than pgsize (no block splitting).
   */
  unmapPages(iova: number, pgsize: number, count: number): number {
    if (!(isInt(iova) && isInt(pgsize) && isInt(count))) badUnmapPages(iova, pgsize, count);
    const depth = this.#depthForSize(pgsize);
    if (depth < 0 || !(iova >= 0)) return 0;
    const inv = this.#levelInv[depth]!;
    const mask = this.#mask;
    let unmapped = 0;
    for (let i = 0; i < count; i++) {
      const va = iova + i * pgsize;
      // A block above `depth` makes #tableAt return null: it is not split.
      const t = this.#tableAt(va, depth, false);
      if (t === null) return unmapped;
      const idx = (va * inv) & mask;
      if (t.kind[idx] !== LEAF) return unmapped;
      t.kind[idx] = EMPTY;
      t.used--;
      this.stats.pteClears++;
      // Intermediate tables stay: io-pgtable frees them only when a whole table's range goes.
      unmapped += pgsize;
    }
    return unmapped;
  }

  /**
   * Clears the leaf that maps `iova` if it starts there and is at most
   * `maxSize` bytes (what lookup then unmapPages of the leaf's size does).
   * Returns the leaf's size, or 0 when nothing was unmapped.
   */
  unmapLeaf(iova: number, maxSize: number): number {
    if (!(isInt(iova) && isInt(maxSize))) badUnmapLeaf(iova, maxSize);
    return this[UNMAP_LEAF](iova, maxSize);
  }

  [UNMAP_LEAF](iova: number, maxSize: number): number {
    const off = iova - this.#lastBase;
    if (off >= 0 && off < this.#regionSize) {
      // The cached last-level table (iova ≥ 0 here): its leaves are the smallest pages.
      const t = this.#lastTable!;
      const idx = (iova * this.#leafInv) & this.#mask;
      const size = this.#leafSize;
      if (t.kind[idx] !== LEAF) return 0;
      if (iova - Math.floor(iova * this.#leafInv) * size !== 0 || size > maxSize) return 0;
      t.kind[idx] = EMPTY;
      t.used--;
      this.stats.pteClears++;
      return size;
    }
    return this.#unmapLeafWalk(iova, maxSize);
  }

  #unmapLeafWalk(iova: number, maxSize: number): number {
    if (!(iova >= 0)) return 0;
    const mask = this.#mask;
    const last = this.#last;
    let t: Table = this.#root;
    let d = 0;
    let idx = 0;
    for (; ; d++) {
      if (d > last) return 0;
      idx = (iova * this.#levelInv[d]!) & mask;
      const k = t.kind[idx]!;
      if (k === LEAF) break;
      if (k === EMPTY) return 0;
      t = t.next[idx]!;
      if (d + 1 === last) {
        this.#lastTable = t;
        this.#lastBase = Math.floor(iova * this.#regionInv) * this.#regionSize;
      }
    }
    const size = this.#levelSize[d]!;
    if (iova - Math.floor(iova * this.#levelInv[d]!) * size !== 0 || size > maxSize) return 0;
    t.kind[idx] = EMPTY;
    t.used--;
    this.stats.pteClears++;
    return size;
  }

  /** Walks to the leaf covering `iova`; fills `out` and returns true, or false when not mapped. */
  lookup(iova: number, out: PteLookup): boolean {
    if (typeof out?.pa !== "number") needLookupOut(out);
    const off = iova - this.#lastBase;
    if (off >= 0 && off < this.#regionSize) {
      const t = this.#lastTable!;
      const inv = this.#leafInv;
      const idx = (iova * inv) & this.#mask;
      if (t.kind[idx] !== LEAF) return false;
      const size = this.#leafSize;
      out.pa = t.pa[idx]! + (iova - Math.floor(iova * inv) * size);
      out.prot = t.prot[idx]!;
      out.pageSize = size;
      return true;
    }
    return this.#lookupWalk(iova, out);
  }

  #lookupWalk(iova: number, out: PteLookup): boolean {
    if (!(iova >= 0)) return false;
    const mask = this.#mask;
    const last = this.#last;
    let t: Table = this.#root;
    for (let d = 0; d <= last; d++) {
      const inv = this.#levelInv[d]!;
      const idx = (iova * inv) & mask;
      const k = t.kind[idx]!;
      if (k === LEAF) {
        const size = this.#levelSize[d]!;
        out.pa = t.pa[idx]! + (iova - Math.floor(iova * inv) * size);
        out.prot = t.prot[idx]!;
        out.pageSize = size;
        return true;
      }
      if (k === EMPTY) return false;
      t = t.next[idx]!;
      if (d + 1 === last) {
        this.#lastTable = t;
        this.#lastBase = Math.floor(iova * this.#regionInv) * this.#regionSize;
      }
    }
    return false;
  }

  /** iommu_iova_to_phys(): 0 when not mapped. */
  iovaToPhys(iova: number): number {
    const off = iova - this.#lastBase;
    if (off >= 0 && off < this.#regionSize) {
      const t = this.#lastTable!;
      const inv = this.#leafInv;
      const idx = (iova * inv) & this.#mask;
      if (t.kind[idx] !== LEAF) return 0;
      return t.pa[idx]! + (iova - Math.floor(iova * inv) * this.#leafSize);
    }
    return this.#lookupWalk(iova, this.#probe) ? this.#probe.pa : 0;
  }
}

function badMapPages(
  iova: unknown,
  pa: unknown,
  pgsize: unknown,
  count: unknown,
  prot: unknown,
): never {
  const fn = "IoPageTable.mapPages";
  needInteger(fn, "iova", iova, "an IOVA");
  needInteger(fn, "pa", pa, "a physical address");
  needInteger(fn, "pgsize", pgsize, "a page size");
  needInteger(fn, "count", count, "a page count");
  needProt(fn, "prot", prot);
  inconsistent(fn);
}

function badUnmapPages(iova: unknown, pgsize: unknown, count: unknown): never {
  const fn = "IoPageTable.unmapPages";
  needInteger(fn, "iova", iova, "an IOVA");
  needInteger(fn, "pgsize", pgsize, "a page size");
  needInteger(fn, "count", count, "a page count");
  inconsistent(fn);
}

function badUnmapLeaf(iova: unknown, maxSize: unknown): never {
  const fn = "IoPageTable.unmapLeaf";
  needInteger(fn, "iova", iova, "an IOVA");
  needInteger(fn, "maxSize", maxSize, "a size in bytes");
  inconsistent(fn);
}

function needLookupOut(out: unknown): never {
  needObject(
    "IoPageTable.lookup",
    "out",
    out,
    false,
    "an object { pa, prot, pageSize } to fill in",
  );
  inconsistent("IoPageTable.lookup");
}
