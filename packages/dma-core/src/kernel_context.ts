// The services the back ends (dma-direct here, iommu-dma and arch ops in their
// packages) use from the kernel they run in. DmaKernel implements it.
import type { ArchDmaHooks, CacheOp } from "./arch_hooks.ts";
import type { DmaCoreConfig } from "./config.ts";
import type { Device } from "./device.ts";
import type { DesignTraits } from "./dispatch.ts";
import type { DmaAllocation } from "./dma_ops.ts";
import type { SystemLog } from "./log.ts";
import type { DmaPlatform } from "./platform.ts";
import type { SwiotlbMem } from "./swiotlb.ts";

export interface KernelContext {
  readonly platform: DmaPlatform;
  readonly config: Readonly<DmaCoreConfig>;
  readonly log: SystemLog;
  readonly design: DesignTraits;
  readonly arch: ArchDmaHooks;
  /** The memory-encryption bit added by phys_to_dma in an encrypted guest (0 = none). */
  readonly memEncryptBit: number;
  /** PFN_PHYS(min_low_pfn): the lowest RAM address. */
  readonly minLowPhys: number;
  /** The CPU the current call runs on. */
  readonly cpu: number;

  /** dev->dma_io_tlb_mem when swiotlb is active for the device (a pool exists), else null. */
  swiotlbFor(dev: Device): SwiotlbMem | null;
  isSwiotlbBuffer(dev: Device, pa: number): boolean;
  /** swiotlb_tbl_map_single(); resets dma_skip_sync on success; -1 on failure. */
  swiotlbTblMapSingle(
    dev: Device,
    pa: number,
    size: number,
    allocAlignMask: number,
    dir: number,
    attrs: number,
  ): number;
  swiotlbTblUnmapSingle(
    dev: Device,
    tlbAddr: number,
    size: number,
    dir: number,
    attrs: number,
  ): void;
  swiotlbSyncSingleForDevice(dev: Device, tlbAddr: number, size: number, dir: number): void;
  swiotlbSyncSingleForCpu(dev: Device, tlbAddr: number, size: number, dir: number): void;

  addressingLimited(dev: Device): boolean;
  kmallocSizeClass(size: number): number;
  recordMaintenance(
    edge: "for-device" | "for-cpu" | "prep-coherent",
    op: CacheOp,
    pa: number,
    size: number,
    dir: number,
  ): void;
  archDmaPrepCoherent(pa: number, size: number): void;

  /** The opaque cookie returned for DMA_ATTR_NO_KERNEL_MAPPING, and back. */
  pageCookie(pa: number): number;
  cookiePage(cookie: number): number;

  /** Non-coherent allocation mechanisms. */
  archDmaAlloc(dev: Device, size: number, gfp: number, attrs: number): DmaAllocation | null;
  archDmaFree(dev: Device, size: number, cpuAddr: number, handle: number): void;
  globalPoolAlloc(dev: Device, size: number): DmaAllocation | null;
  globalPoolFree(dev: Device, cpuAddr: number, size: number): void;
  atomicPoolAlloc(dev: Device, size: number, uncached: boolean): DmaAllocation | null;
  /** True when `cpuAddr` came from an atomic pool (and is now released). */
  atomicPoolFree(cpuAddr: number, size: number): boolean;
  remapUncached(pa: number, size: number, writeCombine: boolean): number;
  unmapUncached(cpuAddr: number): void;
  isRemapped(cpuAddr: number): boolean;
  markUncached(cpuAddr: number, size: number): void;
  unmarkUncached(cpuAddr: number, size: number): void;
  /** Zeroes memory through the CPU view of a kernel address. */
  zeroCpu(cpuAddr: number, size: number): void;
}
