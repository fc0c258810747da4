// The Kconfig symbols that change what the DMA layer does, their per-profile
// defaults and their dependencies, checked the way Kconfig would refuse them.
import {
  DEFAULT_DMA_CORE_CONFIG,
  DMA_BIT_MASK,
  type DmaCoreConfig,
  KernelBuildError,
} from "@dmasim/dma-core";

export interface KernelConfig {
  /** CONFIG_ARCH_HAS_DMA_OPS (CONFIG_DMA_OPS before 6.12): dev->dma_ops exists. */
  ARCH_HAS_DMA_OPS: boolean;
  IOMMU_API: boolean;
  IOMMU_DMA: boolean;
  SWIOTLB: boolean;
  DMA_API_DEBUG: boolean;
  DMA_OPS_BYPASS: boolean;
  ARCH_HAS_SYNC_DMA_FOR_DEVICE: boolean;
  ARCH_HAS_SYNC_DMA_FOR_CPU: boolean;
  /** The IOMMU_DEFAULT_DMA_LAZY / _DMA_STRICT / _PASSTHROUGH choice. */
  IOMMU_DEFAULT: "DMA_LAZY" | "DMA_STRICT" | "PASSTHROUGH";
  DMA_BOUNCE_UNALIGNED_KMALLOC: boolean;
  ARCH_HAS_DMA_MAP_DIRECT: boolean;
  DMA_DIRECT_REMAP: boolean;
  ZONE_DMA: boolean;
  ZONE_DMA32: boolean;
  /** ARCH_DMA_ADDR_T_64BIT off: a 32-bit dma_addr_t. */
  DMA_ADDR_T_32BIT: boolean;
  /** CONFIG_SWIOTLB_DYNAMIC (default n): transient pools for requests the pools cannot hold. */
  SWIOTLB_DYNAMIC: boolean;
  /** dma_pgprot() can give write-combining (arm64 selects it; x86 does not; arm only without ARM_DMA_MEM_BUFFERABLE). */
  ARCH_HAS_DMA_WRITE_COMBINE: boolean;
}

export const KCONFIG_SYMBOLS: ReadonlyArray<keyof KernelConfig> = [
  "ARCH_HAS_DMA_OPS",
  "IOMMU_API",
  "IOMMU_DMA",
  "SWIOTLB",
  "DMA_API_DEBUG",
  "DMA_OPS_BYPASS",
  "ARCH_HAS_SYNC_DMA_FOR_DEVICE",
  "ARCH_HAS_SYNC_DMA_FOR_CPU",
  "IOMMU_DEFAULT",
  "DMA_BOUNCE_UNALIGNED_KMALLOC",
  "ARCH_HAS_DMA_MAP_DIRECT",
  "DMA_DIRECT_REMAP",
  "ZONE_DMA",
  "ZONE_DMA32",
  "DMA_ADDR_T_32BIT",
  "ARCH_HAS_DMA_WRITE_COMBINE",
  "SWIOTLB_DYNAMIC",
];

/** Applies overrides to a profile's defaults; unknown symbols and bad values are refused by name. */
export function resolveKernelConfig(
  defaults: KernelConfig,
  overrides: Partial<KernelConfig> = {},
): KernelConfig {
  if (defaults === null || typeof defaults !== "object")
    throw new TypeError(`config: defaults must be a KernelConfig object, got ${String(defaults)}`);
  for (const k of KCONFIG_SYMBOLS)
    if (defaults[k] === undefined)
      throw new RangeError(`config: defaults must give every symbol; ${k} is missing`);
  if (overrides === null || typeof overrides !== "object" || Array.isArray(overrides))
    throw new TypeError(
      `config: overrides must be an object of Kconfig symbols, got ${String(overrides)}`,
    );
  for (const [k, v] of Object.entries(overrides)) {
    if (!(KCONFIG_SYMBOLS as readonly string[]).includes(k)) {
      throw new RangeError(`config: unknown symbol ${k}; allowed: ${KCONFIG_SYMBOLS.join(", ")}`);
    }
    if (k === "IOMMU_DEFAULT") {
      if (v !== "DMA_LAZY" && v !== "DMA_STRICT" && v !== "PASSTHROUGH") {
        throw new RangeError(
          `config: IOMMU_DEFAULT must be DMA_LAZY, DMA_STRICT or PASSTHROUGH, got ${String(v)}`,
        );
      }
    } else if (typeof v !== "boolean") {
      throw new RangeError(`config: ${k} must be true or false, got ${String(v)}`);
    }
  }
  const c = { ...defaults, ...overrides };
  // Kconfig's dependencies, with its wording.
  if (c.IOMMU_DMA && !c.IOMMU_API)
    throw new KernelBuildError("Kconfig: IOMMU_DMA depends on IOMMU_API (unmet direct dependency)");
  if (c.DMA_OPS_BYPASS && !c.ARCH_HAS_DMA_OPS)
    throw new KernelBuildError(
      "Kconfig: DMA_OPS_BYPASS depends on ARCH_HAS_DMA_OPS (unmet direct dependency)",
    );
  if (c.SWIOTLB_DYNAMIC && !c.SWIOTLB)
    throw new KernelBuildError(
      "Kconfig: SWIOTLB_DYNAMIC depends on SWIOTLB (unmet direct dependency)",
    );
  if (c.DMA_BOUNCE_UNALIGNED_KMALLOC && !c.SWIOTLB) {
    throw new KernelBuildError(
      "Kconfig: DMA_BOUNCE_UNALIGNED_KMALLOC depends on SWIOTLB (unmet direct dependency)",
    );
  }
  if (c.ARCH_HAS_DMA_MAP_DIRECT && !c.DMA_OPS_BYPASS) {
    throw new KernelBuildError(
      "Kconfig: ARCH_HAS_DMA_MAP_DIRECT is selected only with DMA_OPS_BYPASS (powerpc)",
    );
  }
  return c;
}

/** What dma-core reads of a configuration. */
export function toDmaCoreConfig(
  c: KernelConfig,
  extra: {
    dmaCacheAlignment: number;
    l1CacheBytes: number;
    forceDmaUnencrypted: boolean;
    possibleCpus: number;
    zoneDmaLimit: bigint;
    dmaDebugOff: boolean;
    dmaDebugDriver?: string;
  },
): DmaCoreConfig {
  return {
    ...DEFAULT_DMA_CORE_CONFIG,
    archHasDmaOps: c.ARCH_HAS_DMA_OPS,
    iommuApi: c.IOMMU_API,
    iommuDma: c.IOMMU_DMA,
    swiotlb: c.SWIOTLB,
    dmaApiDebug: c.DMA_API_DEBUG,
    // dma_debug=off leaves debug built (the syncs still reach the core) but switched off.
    dmaDebugOff: c.DMA_API_DEBUG && extra.dmaDebugOff,
    dmaDebugDriver: extra.dmaDebugDriver ?? "",
    dmaOpsBypass: c.DMA_OPS_BYPASS,
    archHasDmaMapDirect: c.ARCH_HAS_DMA_MAP_DIRECT,
    dmaBounceUnalignedKmalloc: c.DMA_BOUNCE_UNALIGNED_KMALLOC,
    dmaDirectRemap: c.DMA_DIRECT_REMAP,
    zoneDma: c.ZONE_DMA,
    zoneDma32: c.ZONE_DMA32,
    zoneDmaLimit: extra.zoneDmaLimit ?? DMA_BIT_MASK(24),
    dmaCacheAlignment: extra.dmaCacheAlignment,
    l1CacheBytes: extra.l1CacheBytes,
    forceDmaUnencrypted: extra.forceDmaUnencrypted,
    dmaAddr32: c.DMA_ADDR_T_32BIT,
    archHasDmaWriteCombine: c.ARCH_HAS_DMA_WRITE_COMBINE,
    swiotlbDynamic: c.SWIOTLB_DYNAMIC,
    possibleCpus: extra.possibleCpus,
  };
}
