// The kernel configuration symbols and boot options the DMA core reads. The
// arch package builds these per profile; dma-core's defaults are an x86_64
// distribution kernel (Debian 6.12's choices where they matter).
import { DMA_BIT_MASK } from "./constants.ts";

export interface DmaCoreConfig {
  /** CONFIG_ARCH_HAS_DMA_OPS (CONFIG_DMA_OPS before 6.12): dev->dma_ops exists. */
  archHasDmaOps: boolean;
  /** CONFIG_IOMMU_API: some IOMMU driver is built. */
  iommuApi: boolean;
  /** CONFIG_IOMMU_DMA: drivers/iommu/dma-iommu.c is built. */
  iommuDma: boolean;
  /** CONFIG_SWIOTLB */
  swiotlb: boolean;
  /** CONFIG_SWIOTLB_DYNAMIC */
  swiotlbDynamic: boolean;
  /** CONFIG_DMA_API_DEBUG */
  dmaApiDebug: boolean;
  /** dma_debug=off: debug is built but switched off at boot. */
  dmaDebugOff: boolean;
  /** dma_debug_driver=<name>: the boot-time driver filter ("" = none). */
  dmaDebugDriver: string;
  /** dma_debug_entries=<n>: the preallocated debug entries. */
  dmaDebugEntries: number;
  /** CONFIG_DMA_OPS_BYPASS */
  dmaOpsBypass: boolean;
  /** CONFIG_ARCH_HAS_DMA_MAP_DIRECT (powerpc): per-buffer direct hooks. */
  archHasDmaMapDirect: boolean;
  /** CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC */
  dmaBounceUnalignedKmalloc: boolean;
  /** CONFIG_DMA_DIRECT_REMAP: non-coherent allocations get an uncached vmap alias. */
  dmaDirectRemap: boolean;
  /** CONFIG_ARCH_HAS_DMA_SET_UNCACHED */
  archHasDmaSetUncached: boolean;
  /** CONFIG_DMA_GLOBAL_POOL */
  dmaGlobalPool: boolean;
  /** CONFIG_ARCH_HAS_DMA_ALLOC */
  archHasDmaAlloc: boolean;
  /** CONFIG_DMA_NONCOHERENT_MMAP */
  dmaNoncoherentMmap: boolean;
  /** CONFIG_ARCH_HAS_DMA_WRITE_COMBINE: dma_pgprot honours DMA_ATTR_WRITE_COMBINE (arm64; not x86). */
  archHasDmaWriteCombine: boolean;
  /** CONFIG_ZONE_DMA */
  zoneDma: boolean;
  /** CONFIG_ZONE_DMA32 */
  zoneDma32: boolean;
  /** zone_dma_limit: DMA_BIT_MASK(24) by default. */
  zoneDmaLimit: bigint;
  /** dma_get_cache_alignment(): ARCH_DMA_MINALIGN when the arch defines it, else 1. */
  dmaCacheAlignment: number;
  /** L1_CACHE_BYTES */
  l1CacheBytes: number;
  /** force_dma_unencrypted(): a confidential guest. */
  forceDmaUnencrypted: boolean;
  /** CONFIG_ARCH_DMA_ADDR_T_64BIT is off: dma_addr_t is 32 bits. */
  dmaAddr32: boolean;
  /** Possible CPUs (sizes swiotlb areas). */
  possibleCpus: number;
}

/** An x86_64 distribution kernel: no arch ops, VT-d and iommu-dma built, swiotlb, no debug. */
export const DEFAULT_DMA_CORE_CONFIG: Readonly<DmaCoreConfig> = Object.freeze({
  archHasDmaOps: false,
  iommuApi: true,
  iommuDma: true,
  swiotlb: true,
  swiotlbDynamic: false,
  dmaApiDebug: false,
  dmaDebugOff: false,
  dmaDebugDriver: "",
  dmaDebugEntries: 65536,
  dmaOpsBypass: false,
  archHasDmaMapDirect: false,
  dmaBounceUnalignedKmalloc: false,
  dmaDirectRemap: false,
  archHasDmaSetUncached: false,
  dmaGlobalPool: false,
  archHasDmaAlloc: false,
  dmaNoncoherentMmap: false,
  archHasDmaWriteCombine: false,
  zoneDma: true,
  zoneDma32: true,
  zoneDmaLimit: DMA_BIT_MASK(24),
  dmaCacheAlignment: 1,
  l1CacheBytes: 64,
  forceDmaUnencrypted: false,
  dmaAddr32: false,
  possibleCpus: 1,
});
