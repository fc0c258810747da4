// struct scatterlist and struct sg_table (include/linux/scatterlist.h).
import { PAGE_SIZE } from "./constants.ts";

/** sg_dma_mark_bus_address(): the entry is a P2P bus address, nothing was mapped. */
export const SG_DMA_BUS_ADDRESS = 1 << 0;
/** sg_dma_mark_swiotlb(): an IOMMU bounced this list entry by entry. */
export const SG_DMA_SWIOTLB = 1 << 1;

/** One scatterlist entry: the CPU view (page, offset, length) and the DMA view. */
export class Scatterlist {
  /** Physical address of the page (page_to_phys(sg_page(sg))). */
  pagePhys = 0;
  /** Offset of the data in the page (may exceed a page for compound pages). */
  offset = 0;
  /** Length of the data. */
  length = 0;
  /** sg_dma_address() */
  dmaAddress = 0;
  /** sg_dma_len() */
  dmaLength = 0;
  /** SG_DMA_* flags */
  dmaFlags = 0;

  /** sg_phys(): physical address of the data. */
  get phys(): number {
    return this.pagePhys + this.offset;
  }

  /** sg_set_page() */
  setPage(pagePhys: number, length: number, offset: number): this {
    if (!Number.isInteger(pagePhys) || pagePhys < 0 || pagePhys % PAGE_SIZE !== 0) {
      throw new RangeError(
        `sg.setPage: pagePhys must be a page-aligned physical address, got ${pagePhys}`,
      );
    }
    checkLen("sg.setPage: length", length);
    checkLen("sg.setPage: offset", offset);
    this.pagePhys = pagePhys;
    this.length = length;
    this.offset = offset;
    return this;
  }

  /** Sets the entry from a physical address (sg_set_buf on the linear-map address of `phys`). */
  setPhys(phys: number, length: number): this {
    if (!Number.isInteger(phys) || phys < 0)
      throw new RangeError(`sg.setPhys: phys must be a physical address, got ${phys}`);
    const off = phys % PAGE_SIZE;
    return this.setPage(phys - off, length, off);
  }
}

function checkLen(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 2 ** 32 - 1)
    throw new RangeError(`${what} must be an integer from 0 to 2^32-1, got ${v}`);
}

/** struct sg_table: the list, the CPU entry count and the mapped DMA segment count. */
export class SgTable {
  readonly sgl: Scatterlist[];
  /** Number of CPU-side entries. */
  origNents: number;
  /** Number of DMA segments after dma_map_sgtable (0 before). */
  nents = 0;

  constructor(nents: number) {
    if (!Number.isInteger(nents) || nents < 1 || nents > 1 << 20) {
      throw new RangeError(`SgTable: nents must be an integer from 1 to 2^20, got ${nents}`);
    }
    this.sgl = Array.from({ length: nents }, () => new Scatterlist());
    this.origNents = nents;
  }

  /** Builds a table from (phys, length) pairs. */
  static fromPhys(entries: ReadonlyArray<{ phys: number; length: number }>): SgTable {
    const t = new SgTable(entries.length);
    entries.forEach((e, i) => {
      t.sgl[i]!.setPhys(e.phys, e.length);
    });
    return t;
  }
}

/** sg_init_table(): a fresh list of `nents` entries. */
export function sgInitTable(nents: number): Scatterlist[] {
  return new SgTable(nents).sgl;
}

/** for_each_sg(sgl, sg, nents, i) */
export function* forEachSg(
  sgl: readonly Scatterlist[],
  nents: number,
): Generator<[Scatterlist, number]> {
  for (let i = 0; i < nents && i < sgl.length; i++) yield [sgl[i]!, i];
}

/** for_each_sgtable_sg: walks orig_nents CPU entries. */
export function forEachSgtableSg(sgt: SgTable): Generator<[Scatterlist, number]> {
  return forEachSg(sgt.sgl, sgt.origNents);
}

/** for_each_sgtable_dma_sg: walks nents DMA segments. */
export function forEachSgtableDmaSg(sgt: SgTable): Generator<[Scatterlist, number]> {
  return forEachSg(sgt.sgl, sgt.nents);
}
