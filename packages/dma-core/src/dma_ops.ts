// struct dma_map_ops: the table an architecture or platform installs for a
// device (include/linux/dma-map-ops.h). Every callback is optional, as in the
// kernel; the dispatch decides what a missing one means for each design.
import type { Device } from "./device.ts";
import type { Scatterlist, SgTable } from "./scatterlist.ts";

/** A coherent allocation: the CPU address and the DMA handle. */
export interface DmaAllocation {
  /** Kernel virtual address (or an opaque cookie with DMA_ATTR_NO_KERNEL_MAPPING). */
  cpuAddr: number;
  /** dma_addr_t the device uses. */
  handle: number;
}

/** A page allocation from dma_alloc_pages: the page's physical address and the DMA handle. */
export interface DmaPageAllocation {
  pagePhys: number;
  handle: number;
}

/** A user mapping request (the parts of struct vm_area_struct dma_mmap_* read). */
export interface VmArea {
  /** vma->vm_pgoff: offset into the buffer, in pages. */
  pgoff: number;
  /** vma_pages(vma) × PAGE_SIZE */
  size: number;
}

export interface DmaMapOps {
  /** A name for logs and tables (e.g. "dma_iommu_ops", "arm_dma_ops"). */
  readonly name: string;
  /** DMA_F_CAN_SKIP_SYNC (6.10/6.11): syncs may be skipped for coherent devices, as for dma-direct. */
  readonly canSkipSync?: boolean;
  alloc?(dev: Device, size: number, gfp: number, attrs: number): DmaAllocation | null;
  free?(dev: Device, size: number, cpuAddr: number, handle: number, attrs: number): void;
  allocPagesOp?(dev: Device, size: number, dir: number, gfp: number): DmaPageAllocation | null;
  freePages?(dev: Device, size: number, pagePhys: number, handle: number, dir: number): void;
  /** ≤ 6.11: an ops-provided noncontiguous allocator (iommu_dma_ops had one). */
  allocNoncontiguous?(
    dev: Device,
    size: number,
    dir: number,
    gfp: number,
    attrs: number,
  ): SgTable | null;
  freeNoncontiguous?(dev: Device, size: number, sgt: SgTable, dir: number): void;
  mmap?(
    dev: Device,
    vma: VmArea,
    cpuAddr: number,
    handle: number,
    size: number,
    attrs: number,
  ): number;
  getSgtable?(
    dev: Device,
    sgt: SgTable,
    cpuAddr: number,
    handle: number,
    size: number,
    attrs: number,
  ): number;
  /** 6.19+: the one streaming entry point (DMA_ATTR_MMIO marks resources). */
  mapPhys?(dev: Device, phys: number, size: number, dir: number, attrs: number): number;
  unmapPhys?(dev: Device, addr: number, size: number, dir: number, attrs: number): void;
  /** ≤ 6.18: page-based streaming entry points. */
  mapPage?(
    dev: Device,
    pagePhys: number,
    offset: number,
    size: number,
    dir: number,
    attrs: number,
  ): number;
  unmapPage?(dev: Device, addr: number, size: number, dir: number, attrs: number): void;
  mapResource?(dev: Device, phys: number, size: number, dir: number, attrs: number): number;
  unmapResource?(dev: Device, addr: number, size: number, dir: number, attrs: number): void;
  /** Returns the number of DMA segments (> 0) or a negative errno (0 in legacy tables). */
  mapSg?(dev: Device, sgl: Scatterlist[], nents: number, dir: number, attrs: number): number;
  unmapSg?(dev: Device, sgl: Scatterlist[], nents: number, dir: number, attrs: number): void;
  syncSingleForCpu?(dev: Device, addr: number, size: number, dir: number): void;
  syncSingleForDevice?(dev: Device, addr: number, size: number, dir: number): void;
  syncSgForCpu?(dev: Device, sgl: Scatterlist[], nents: number, dir: number): void;
  syncSgForDevice?(dev: Device, sgl: Scatterlist[], nents: number, dir: number): void;
  dmaSupported?(dev: Device, mask: bigint): boolean;
  getRequiredMask?(dev: Device): bigint;
  maxMappingSize?(dev: Device): bigint;
  optMappingSize?(): bigint;
  getMergeBoundary?(dev: Device): bigint;
}
