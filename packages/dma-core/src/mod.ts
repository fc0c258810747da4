/**
 * @module
 * @dmasim/dma-core: the Linux DMA API model — struct device, the dispatch of
 * kernel/dma/mapping.c in each of the five designs, dma-direct, swiotlb,
 * scatterlists and allocations. iommu-dma is linked in at kernel
 * construction (see @dmasim/iommu-dma); arch ops come from @dmasim/arch.
 */
export * from "./arch_hooks.ts";
export * from "./config.ts";
export * from "./constants.ts";
export * from "./debug.ts";
export * from "./device.ts";
export {
  archSyncForCpu,
  archSyncForDevice,
  dmaCapable,
  dmaToPhys,
  kmallocNeedsBounce,
  physToDma,
  physToDmaUnencrypted,
} from "./direct.ts";
export * from "./dispatch.ts";
export type * from "./dma_ops.ts";
export * from "./errors.ts";
export type * from "./iommu_dma_api.ts";
export * from "./kernel.ts";
export type * from "./kernel_context.ts";
export * from "./log.ts";
export * from "./oracle.ts";
export type * from "./platform.ts";
export * from "./scatterlist.ts";
export * from "./swiotlb.ts";
