// Test fixtures for the IOVA machinery: a q35 + VT-d IOVA domain and a
// minimal stand-in for iommu_dma_alloc_iova()/iommu_dma_free_iova() that
// drives it the way dma-iommu.c does for a 64-bit PCI device.
import type { FlushQueue } from "./flush_queue.ts";
import { IovaDomain, type IovaDomainOptions } from "./iova.ts";

export const GRANULE = 4096;
/** Last pfn below 4 GiB: the 32-bit attempt's limit. */
export const LIMIT32_PFN = 2 ** 20 - 1;
/** VT-d with a 39-bit address width: the aperture caps a 64-bit mask. */
export const LIMIT39_PFN = 2 ** 27 - 1;

/** Inclusive byte ranges iommu-dma reserves on the oracle's q35 VT-d machine. */
export const Q35_RESERVED: ReadonlyArray<readonly [number, number]> = [
  [0xa0000, 0xbffff], // legacy VGA window
  [0x80000000, 0xafffffff], // PCI 32-bit windows
  [0xc0000000, 0xfebfffff],
  [0x280000000, 0xa7fffffff], // PCI 64-bit window
  [0xfee00000, 0xfeefffff], // VT-d interrupt (MSI) range
];

/** iommu_dma_init_domain() on q35: granule 4 KiB, start pfn 1, windows and regions reserved. */
export function q35Domain(options: IovaDomainOptions = {}): IovaDomain {
  const d = new IovaDomain(GRANULE, 1, options);
  for (const [lo, hi] of Q35_RESERVED)
    d.reserveIova(Math.floor(lo / GRANULE), Math.floor(hi / GRANULE));
  return d;
}

/** iova_align(size + in-granule offset) / granule */
export function pagesFor(bytes: number, offset: number): number {
  return Math.ceil(((offset % GRANULE) + bytes) / GRANULE);
}

/**
 * The IOVA part of a PCI device's map/unmap with a 64-bit mask: 32-bit
 * first without flushing; after one failure the device uses its full limit
 * for good (pci_32bit_workaround cleared), flushing the caches on failure.
 */
export class PciIovaUser {
  pci32bitWorkaround = true;
  readonly #d: IovaDomain;
  readonly #fq: FlushQueue | null;
  readonly #cpu: number;

  constructor(d: IovaDomain, fq: FlushQueue | null = null, cpu = 0) {
    this.#d = d;
    this.#fq = fq;
    this.#cpu = cpu;
  }

  /** Returns the IOVA (bytes) of `pages` granules, 0 on failure. */
  map(pages: number): number {
    if (this.pci32bitWorkaround) {
      const pfn = this.#d.allocIovaFast(pages, LIMIT32_PFN, false, this.#cpu);
      if (pfn !== 0) return pfn * GRANULE;
      this.pci32bitWorkaround = false;
    }
    return this.#d.allocIovaFast(pages, LIMIT39_PFN, true, this.#cpu) * GRANULE;
  }

  /** Strict: straight back to the allocator; lazy: into the flush queue. */
  unmap(iova: number, pages: number): void {
    const pfn = iova / GRANULE;
    if (this.#fq !== null) this.#fq.queue(pfn, pages, 0, this.#cpu);
    else this.#d.freeIovaFast(pfn, pages, this.#cpu);
  }
}
