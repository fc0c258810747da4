// The five dispatch designs of the seed thread, as data. Each row says how a
// kernel of that design routes a DMA API call: to dma-direct, to iommu-dma by
// a direct call, or through dev->dma_ops; and what a missing callback means.
// The routing itself is in DmaKernel (kernel.ts), one decision per entry point.
import type { DmaCoreConfig } from "./config.ts";

export type DispatchDesign =
  | "ops-indirect"
  | "static-call-v0"
  | "static-call-v0-misread"
  | "direct-calls"
  | "phys";

export const DISPATCH_DESIGNS: readonly DispatchDesign[] = [
  "ops-indirect",
  "static-call-v0",
  "static-call-v0-misread",
  "direct-calls",
  "phys",
];

export interface DesignTraits {
  readonly id: DispatchDesign;
  /** The kernel release the design stands for. */
  readonly kernel: string;
  /** iommu-dma devices carry dev->dma_iommu and are reached by direct call (6.12+). */
  readonly iommuDirectCall: boolean;
  /** iommu-dma is installed as an ops table on the device (≤ 6.11 and the v0 patch). */
  readonly iommuOpsTable: boolean;
  /** The v0 wrapper: ops without map_page/map_sg fall through to iommu_dma_* directly. */
  readonly wrapperFallsBackToIommu: boolean;
  /** The wrapper layer itself is stubbed out when iommu-dma is not built (Robin's misreading). */
  readonly wrapperStubbedWithoutIommuDma: boolean;
  /** Ops callbacks are map_phys/unmap_phys (6.19) rather than map_page/map_resource. */
  readonly physOps: boolean;
  /** DMA_ATTR_MMIO / dma_map_resource takes 6.12's dma_direct_map_resource (never bounced). */
  readonly mmioViaMapResource: boolean;
  /** unmap_page/unmap_sg are called without checking they exist (6.12: missing one oopses). */
  readonly unmapCalledUnconditionally: boolean;
  /** The stubs of the v0 patch are keyed on CONFIG_IOMMU_API (the latent link failure). */
  readonly stubsKeyedOnIommuApi: boolean;
}

export const DESIGNS: Readonly<Record<DispatchDesign, DesignTraits>> = {
  "ops-indirect": {
    id: "ops-indirect",
    kernel: "≤ 6.11",
    iommuDirectCall: false,
    iommuOpsTable: true,
    wrapperFallsBackToIommu: false,
    wrapperStubbedWithoutIommuDma: false,
    physOps: false,
    mmioViaMapResource: true,
    unmapCalledUnconditionally: false,
    stubsKeyedOnIommuApi: false,
  },
  "static-call-v0": {
    id: "static-call-v0",
    kernel: "v0 patch (July 2024)",
    iommuDirectCall: false,
    iommuOpsTable: true,
    wrapperFallsBackToIommu: true,
    wrapperStubbedWithoutIommuDma: false,
    physOps: false,
    mmioViaMapResource: true,
    unmapCalledUnconditionally: true,
    stubsKeyedOnIommuApi: true,
  },
  "static-call-v0-misread": {
    id: "static-call-v0-misread",
    kernel: "v0 patch as first read",
    iommuDirectCall: false,
    iommuOpsTable: true,
    wrapperFallsBackToIommu: true,
    wrapperStubbedWithoutIommuDma: true,
    physOps: false,
    mmioViaMapResource: true,
    unmapCalledUnconditionally: true,
    stubsKeyedOnIommuApi: false,
  },
  "direct-calls": {
    id: "direct-calls",
    kernel: "6.12",
    iommuDirectCall: true,
    iommuOpsTable: false,
    wrapperFallsBackToIommu: false,
    wrapperStubbedWithoutIommuDma: false,
    physOps: false,
    mmioViaMapResource: true,
    unmapCalledUnconditionally: true,
    stubsKeyedOnIommuApi: false,
  },
  phys: {
    id: "phys",
    kernel: "6.18/6.19",
    iommuDirectCall: true,
    iommuOpsTable: false,
    wrapperFallsBackToIommu: false,
    wrapperStubbedWithoutIommuDma: false,
    physOps: true,
    mmioViaMapResource: false,
    unmapCalledUnconditionally: true,
    stubsKeyedOnIommuApi: false,
  },
};

/** A configuration the modelled kernel could not link or configure. */
export class KernelBuildError extends Error {
  override name = "KernelBuildError";
}

/**
 * Checks that a kernel of `design` with `config` builds, as the linker and
 * Kconfig would; throws KernelBuildError with their message otherwise.
 */
export function checkKernelBuild(design: DispatchDesign, config: Readonly<DmaCoreConfig>): void {
  const t = DESIGNS[design];
  if (t === undefined) {
    throw new RangeError(
      `design must be one of ${DISPATCH_DESIGNS.join(", ")}; got ${String(design)}`,
    );
  }
  if (config.iommuDma && !config.iommuApi) {
    throw new KernelBuildError("Kconfig: IOMMU_DMA depends on IOMMU_API (unmet direct dependency)");
  }
  if (t.stubsKeyedOnIommuApi && config.iommuApi && !config.iommuDma) {
    // The v0 header declared iommu_dma_map_page() whenever IOMMU_API was set,
    // but dma-iommu.o (which defines it) is built only with IOMMU_DMA.
    throw new KernelBuildError(
      "ld: kernel/dma/mapping.o: in function `dma_map_page_attrs': undefined reference to `iommu_dma_map_page'",
    );
  }
  if (t.iommuOpsTable && config.iommuDma && !config.archHasDmaOps) {
    // Before 6.12, IOMMU_DMA selected DMA_OPS: iommu-dma was itself an ops table.
    throw new KernelBuildError(
      `Kconfig: IOMMU_DMA selects DMA_OPS in the ${design} design, but the architecture has no dma_map_ops (ARCH_HAS_DMA_OPS=n)`,
    );
  }
}
