// The cache maintenance an architecture performs for non-coherent devices
// (arch_sync_dma_for_device / arch_sync_dma_for_cpu / arch_dma_prep_coherent).
// Reference semantics: the table in ../shared/spec/dma-api.md §3.9.
import { DMA_FROM_DEVICE, DMA_TO_DEVICE } from "./constants.ts";
import type { PlatformCache } from "./platform.ts";

export type CacheOp = "clean" | "invalidate" | "clean+invalidate";

export interface ArchDmaHooks {
  readonly name: string;
  /** Cache operations for the hand-over to the device (map, sync_for_device). */
  forDevice(dir: number): CacheOp | null;
  /** Cache operations for the hand-back to the CPU (unmap, sync_for_cpu). */
  forCpu(dir: number): CacheOp | null;
}

/**
 * arm64 (and riscv): clean to the point of coherency for every direction at
 * map time, invalidate at unmap unless TO_DEVICE. The second invalidate
 * discards lines the core fetched speculatively while the device owned them.
 */
export const ARM64_CACHE_HOOKS: ArchDmaHooks = {
  name: "arm64",
  forDevice: () => "clean",
  forCpu: (dir) => (dir === DMA_TO_DEVICE ? null : "invalidate"),
};

/**
 * The ARC reference table: TO_DEVICE cleans, FROM_DEVICE invalidates,
 * BIDIRECTIONAL writes back and invalidates at map time; the CPU side
 * invalidates unless TO_DEVICE.
 */
export const ARC_CACHE_HOOKS: ArchDmaHooks = {
  name: "arc",
  forDevice: (dir) =>
    dir === DMA_TO_DEVICE ? "clean" : dir === DMA_FROM_DEVICE ? "invalidate" : "clean+invalidate",
  forCpu: (dir) => (dir === DMA_TO_DEVICE ? null : "invalidate"),
};

/** Legacy 32-bit Arm (arm_dma_ops before 5.19, __dma_page_cpu_to_dev/dev_to_cpu). */
export const ARM32_CACHE_HOOKS: ArchDmaHooks = {
  name: "arm32",
  forDevice: (dir) => (dir === DMA_FROM_DEVICE ? "invalidate" : "clean"),
  forCpu: (dir) => (dir === DMA_TO_DEVICE ? null : "invalidate"),
};

/** Applies one cache operation to a physical range. */
export function applyCacheOp(cache: PlatformCache, op: CacheOp, pa: number, size: number): void {
  if (op === "clean") cache.clean(pa, size);
  else if (op === "invalidate") cache.invalidate(pa, size);
  else cache.cleanInvalidate(pa, size);
}
