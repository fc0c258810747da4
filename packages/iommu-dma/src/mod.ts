/**
 * @module
 * @dmasim/iommu-dma: the default IOMMU-backed DMA operations of Linux
 * (drivers/iommu/dma-iommu.c): the IOVA allocator with its per-CPU caches,
 * the flush queue, and the iommu_dma_* operations a DmaKernel calls directly.
 */
export * from "./dma_iommu.ts";
export * from "./flush_queue.ts";
export * from "./iova.ts";
export * from "./rcache.ts";
