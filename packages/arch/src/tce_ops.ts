// PowerPC's dma_iommu_ops (arch/powerpc/kernel/dma-iommu.c, iommu.c): a TCE
// table translates a 32-bit DMA window; allocation is next-fit in two pools
// (small requests low, requests over 15 pages in the top quarter); a device
// whose mask reaches all of RAM gets dev->dma_ops_bypass and goes to
// dma-direct instead (the 64-bit direct window). Optionally a partial direct
// window (pseries DDW) serves buffers below a limit directly, per buffer.
import {
  type Device,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  type DmaKernel,
  type DmaMapOps,
  PAGE_SIZE,
} from "@dmasim/dma-core";
import {
  DOMAIN_IDENTITY,
  DOMAIN_UNMANAGED,
  IOMMU_READ,
  IOMMU_WRITE,
  type IommuDomain,
  type IommuUnit,
} from "@dmasim/iommu";

export interface TceOptions {
  /** The 32-bit DMA window's size (default 2 GiB: 524288 TCEs of 4 KiB). */
  windowBytes?: number;
  /** The PHB offers a 64-bit direct window (bypass) for masks that reach all RAM. */
  bypass?: boolean;
}

class TceTable {
  readonly entries: number;
  readonly #used: Uint8Array;
  readonly #largeStart: number;
  #smallHint = 0;
  #largeHint: number;

  constructor(windowBytes: number) {
    this.entries = windowBytes / PAGE_SIZE;
    this.#used = new Uint8Array(this.entries);
    // iommu_init_table(): the large pool is the top quarter of the table.
    this.#largeStart = Math.floor((this.entries * 3) / 4);
    this.#largeHint = this.#largeStart;
    // Entry 0 is never handed out, so a zero DMA address is never valid.
    this.#used[0] = 1;
  }

  /** iommu_range_alloc(): next fit in the request's pool, one wrap; -1 when full. */
  alloc(npages: number, limitEntries: number): number {
    const large = npages > 15;
    const lo = large ? this.#largeStart : 0;
    const hi = Math.min(large ? this.entries : this.#largeStart, limitEntries);
    let start = large ? this.#largeHint : this.#smallHint;
    for (let pass = 0; pass < 2; pass++) {
      for (let i = Math.max(start, lo); i + npages <= hi; i++) {
        let free = true;
        for (let j = i; j < i + npages; j++) {
          if (this.#used[j]) {
            free = false;
            i = j;
            break;
          }
        }
        if (free) {
          this.#used.fill(1, i, i + npages);
          if (large) this.#largeHint = i + npages;
          else this.#smallHint = i + npages;
          return i;
        }
      }
      start = lo;
    }
    return -1;
  }

  free(entry: number, npages: number): void {
    this.#used.fill(0, entry, entry + npages);
  }
}

/** Builds dma_iommu_ops over a TCE unit of the machine (an UNMANAGED domain holds the TCEs). */
export function tceOps(
  kernel: DmaKernel,
  unit: IommuUnit,
  options: TceOptions = {},
): DmaMapOps & { table: TceTable; domain: IommuDomain } {
  const windowBytes = options.windowBytes ?? 2 ** 31;
  const table = new TceTable(windowBytes);
  const domain = unit.allocDomain(DOMAIN_UNMANAGED);
  const perm = (dir: number) =>
    dir === DMA_TO_DEVICE
      ? IOMMU_READ
      : dir === DMA_FROM_DEVICE
        ? IOMMU_WRITE
        : dir === DMA_BIDIRECTIONAL
          ? IOMMU_READ | IOMMU_WRITE
          : 0;
  const map = (dev: Device, pa: number, size: number, dir: number): number => {
    const off = pa % PAGE_SIZE;
    const npages = Math.ceil((off + size) / PAGE_SIZE);
    const limit =
      Math.floor(Math.min(dev.streamingLimit || 2 ** 32 - 1, windowBytes - 1) / PAGE_SIZE) + 1;
    const entry = table.alloc(npages, limit);
    if (entry < 0) {
      kernel.log.noticeRatelimited(
        "tce-alloc-failed",
        `iommu_alloc failed, tbl window ${windowBytes} npages ${npages}`,
        dev.name,
      );
      return DMA_MAPPING_ERROR;
    }
    // tce_build: one TCE per page, with the direction's permission.
    domain.iommuMap(entry * PAGE_SIZE, pa - off, npages * PAGE_SIZE, perm(dir));
    return entry * PAGE_SIZE + off;
  };
  const unmap = (addr: number, size: number): void => {
    const off = addr % PAGE_SIZE;
    const npages = Math.ceil((off + size) / PAGE_SIZE);
    domain.iommuUnmap(addr - off, npages * PAGE_SIZE);
    table.free((addr - off) / PAGE_SIZE, npages);
  };
  const ops: DmaMapOps & { table: TceTable; domain: IommuDomain } = {
    name: "dma_iommu_ops",
    table,
    domain,
    mapPage: (dev, page, off, size, dir) => map(dev, page + off, size, dir),
    mapPhys: (dev, pa, size, dir) => map(dev, pa, size, dir),
    unmapPage: (_dev, addr, size) => unmap(addr, size),
    unmapPhys: (_dev, addr, size) => unmap(addr, size),
    mapSg: (dev, sgl, nents, dir) => {
      // ppc_iommu_map_sg(): each entry gets TCEs (no merging in this model).
      for (let i = 0; i < nents; i++) {
        const s = sgl[i]!;
        s.dmaAddress = map(dev, s.phys, s.length, dir);
        if (s.dmaAddress === DMA_MAPPING_ERROR) {
          for (let j = 0; j < i; j++) unmap(sgl[j]!.dmaAddress, sgl[j]!.dmaLength);
          return 0;
        }
        s.dmaLength = s.length;
      }
      return nents;
    },
    unmapSg: (_dev, sgl, nents) => {
      for (let i = 0; i < nents; i++)
        if (sgl[i]!.dmaLength) unmap(sgl[i]!.dmaAddress, sgl[i]!.dmaLength);
    },
    // dma_iommu_dma_supported(): bypass when the mask reaches all RAM, else the mask must cover the window.
    dmaSupported: (dev, mask) => {
      const required = BigInt(2 ** kernel.platform.memory.lastRamByte.toString(2).length - 1);
      if (options.bypass !== false && mask >= required) {
        dev.dmaOpsBypass = true;
        unit.attachDevice(dev.iommuId, unit.allocDomain(DOMAIN_IDENTITY));
        return true;
      }
      dev.dmaOpsBypass = false;
      unit.attachDevice(dev.iommuId, domain);
      return mask >= BigInt(Math.min(windowBytes, 2 ** 32) - 1) || mask >= 0xffffffffn;
    },
    getRequiredMask: () => 0xffffffffn,
  };
  return ops;
}
