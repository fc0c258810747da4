// I/O page tables as real multi-level radix tables: a VT-d-like second stage
// (4 KiB pages, 2 MiB and 1 GiB superpages, 3 to 5 levels of 9 bits) and an
// Arm LPAE-like stage 1 (4K, 16K or 64K granules with their block sizes,
// granuleShift - 3 bits per level). A partial unmap never splits a block or
// superpage: Arm's io-pgtable and VT-d both leave it mapped.
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

interface Table {
  entries: Array<Table | Leaf | undefined>;
  used: number;
}

interface Leaf {
  leaf: true;
  pa: number;
  prot: number;
  size: number;
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
  readonly #root: Table;
  readonly #spareLeaves: Leaf[] = [];
  #slots = 512;
  readonly #probe: PteLookup = { pa: 0, prot: 0, pageSize: 0 };

  constructor(config: PageTableConfig) {
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
    for (let d = 0; d < this.levels; d++) {
      this.#levelSize.push(this.granule * 2 ** (this.bitsPerLevel * (this.levels - 1 - d)));
    }
    this.#slots = 2 ** this.bitsPerLevel;
    this.#root = this.#newTable();
  }

  /** A table of 2^bitsPerLevel slots, allocated packed so lookups stay on V8's fast path. */
  #newTable(): Table {
    return { entries: new Array(2 ** this.bitsPerLevel).fill(undefined), used: 0 };
  }

  #depthForSize(size: number): number {
    const d = this.#levelSize.indexOf(size);
    return d;
  }

  #index(iova: number, depth: number): number {
    return Math.floor(iova / this.#levelSize[depth]!) % this.#slots;
  }

  /** Installs `count` leaves of `pgsize` from iova/pa. Returns 0 or a negative errno. */
  mapPages(iova: number, pa: number, pgsize: number, count: number, prot: number): number {
    const depth = this.#depthForSize(pgsize);
    if (depth < 0 || (this.pgsizeBitmap & pgsize) === 0) return -EINVAL;
    if (iova + pgsize * count > 2 ** this.inputBits) return -EINVAL;
    for (let i = 0; i < count; i++) {
      const va = iova + i * pgsize;
      let t = this.#root;
      for (let d = 0; d < depth; d++) {
        const idx = this.#index(va, d);
        let next = t.entries[idx];
        if (next === undefined) {
          next = this.#newTable();
          t.entries[idx] = next;
          t.used++;
          this.stats.tablePages++;
          this.stats.pteWrites++;
        } else if ((next as Leaf).leaf === true) return -EEXIST;
        t = next as Table;
      }
      const idx = this.#index(va, depth);
      if (t.entries[idx] !== undefined) return -EEXIST;
      const leaf = this.#spareLeaves.pop() ?? { leaf: true as const, pa: 0, prot: 0, size: 0 };
      leaf.pa = pa + i * pgsize;
      leaf.prot = prot;
      leaf.size = pgsize;
      t.entries[idx] = leaf;
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
    const depth = this.#depthForSize(pgsize);
    if (depth < 0) return 0;
    let unmapped = 0;
    for (let i = 0; i < count; i++) {
      const va = iova + i * pgsize;
      let t: Table = this.#root;
      let hit: Leaf | undefined;
      let d = 0;
      for (; d <= depth; d++) {
        const e = t.entries[this.#index(va, d)];
        if (e === undefined) return unmapped;
        if ((e as Leaf).leaf === true) {
          hit = e as Leaf;
          break;
        }
        t = e as Table;
      }
      if (hit === undefined || hit.size !== pgsize) return unmapped;
      t.entries[this.#index(va, d)] = undefined;
      this.#spareLeaves.push(hit);
      t.used--;
      this.stats.pteClears++;
      // Intermediate tables stay: io-pgtable frees them only when a whole table's range goes.
      unmapped += pgsize;
    }
    return unmapped;
  }

  /** Walks to the leaf covering `iova`; fills `out` and returns true, or false when not mapped. */
  lookup(iova: number, out: PteLookup): boolean {
    let t: Table = this.#root;
    for (let d = 0; d < this.levels; d++) {
      const e = t.entries[this.#index(iova, d)];
      if (e === undefined) return false;
      if ((e as Leaf).leaf === true) {
        const l = e as Leaf;
        out.pa = l.pa + (iova % l.size);
        out.prot = l.prot;
        out.pageSize = l.size;
        return true;
      }
      t = e as Table;
    }
    return false;
  }

  /** iommu_iova_to_phys(): 0 when not mapped. */
  iovaToPhys(iova: number): number {
    return this.lookup(iova, this.#probe) ? this.#probe.pa : 0;
  }
}
