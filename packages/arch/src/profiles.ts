// The system profiles: for each architecture or platform, its board, its
// kernel configuration defaults, its cache maintenance, and the DMA ops it
// installs. createSystem() (system.ts) is the one place that wires them.
import {
  ARC_CACHE_HOOKS,
  ARM32_CACHE_HOOKS,
  ARM64_CACHE_HOOKS,
  type ArchDmaHooks,
} from "@dmasim/dma-core";
import type { KernelConfig } from "./kconfig.ts";

export type ProfileName =
  | "x86_64-vtd"
  | "x86_64"
  | "x86_64-coco"
  | "x86_64-gart"
  | "arm64-smmuv3"
  | "arm64"
  | "arm32-legacy"
  | "arm32"
  | "powerpc64-tce"
  | "dummy"
  | "arm64-dummy"
  | "ops-without-map-page";

export type ArchOpsKind =
  | "none"
  | "arm_dma_ops"
  | "dma_iommu_ops"
  | "gart"
  | "dummy"
  | "without-map-page";

export interface Profile {
  readonly name: ProfileName;
  readonly description: string;
  /** The board it runs on. */
  readonly board:
    | "q35-vtd"
    | "q35"
    | "q35-gart"
    | "arm64-virt-smmuv3"
    | "arm64-virt"
    | "arm32-board"
    | "powerpc-tce";
  readonly kconfig: KernelConfig;
  /** Are its devices coherent by default? */
  readonly coherent: boolean;
  readonly cacheHooks: ArchDmaHooks;
  /** dma_get_cache_alignment(): ARCH_DMA_MINALIGN, or 1 when the arch defines none. */
  readonly dmaCacheAlignment: number;
  /** zone_dma_limit as a number of address bits. */
  readonly zoneDmaBits: number;
  /** The dma_map_ops the platform gives the device. */
  readonly ops: ArchOpsKind;
  /** A confidential guest: force_dma_unencrypted, every streaming map bounced. */
  readonly coco: boolean;
  /** The kernel releases the profile stands for. */
  readonly kernel: string;
}

const X86: KernelConfig = {
  ARCH_HAS_DMA_OPS: false,
  IOMMU_API: true,
  IOMMU_DMA: true,
  SWIOTLB: true,
  DMA_API_DEBUG: false,
  DMA_OPS_BYPASS: false,
  ARCH_HAS_SYNC_DMA_FOR_DEVICE: false,
  ARCH_HAS_SYNC_DMA_FOR_CPU: false,
  IOMMU_DEFAULT: "DMA_LAZY",
  DMA_BOUNCE_UNALIGNED_KMALLOC: false,
  ARCH_HAS_DMA_MAP_DIRECT: false,
  DMA_DIRECT_REMAP: false,
  ZONE_DMA: true,
  ZONE_DMA32: true,
  DMA_ADDR_T_32BIT: false,
  ARCH_HAS_DMA_WRITE_COMBINE: false,
  SWIOTLB_DYNAMIC: false,
};

const ARM64: KernelConfig = {
  ...X86,
  ARCH_HAS_DMA_WRITE_COMBINE: true,
  ARCH_HAS_SYNC_DMA_FOR_DEVICE: true,
  ARCH_HAS_SYNC_DMA_FOR_CPU: true,
  IOMMU_DEFAULT: "DMA_STRICT",
  DMA_BOUNCE_UNALIGNED_KMALLOC: true,
  DMA_DIRECT_REMAP: true,
  ZONE_DMA32: false,
};

const ARM32: KernelConfig = {
  ...ARM64,
  ARCH_HAS_DMA_OPS: true,
  IOMMU_API: false,
  IOMMU_DMA: false,
  SWIOTLB: false,
  DMA_BOUNCE_UNALIGNED_KMALLOC: false,
  ZONE_DMA: false,
  DMA_ADDR_T_32BIT: true,
  // ARMv6+ kernels default ARM_DMA_MEM_BUFFERABLE=y, which keeps the symbol off.
  ARCH_HAS_DMA_WRITE_COMBINE: false,
};

export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  "x86_64-vtd": {
    name: "x86_64-vtd",
    description:
      "x86-64 PC (QEMU q35) with Intel VT-d: iommu-dma, lazy by default, 32-bit IOVAs first",
    board: "q35-vtd",
    kconfig: X86,
    coherent: true,
    cacheHooks: ARC_CACHE_HOOKS,
    dmaCacheAlignment: 1,
    zoneDmaBits: 24,
    ops: "none",
    coco: false,
    kernel: "6.12+",
  },
  x86_64: {
    name: "x86_64",
    description:
      "x86-64 PC without an IOMMU: dma-direct with swiotlb for devices that cannot reach high RAM",
    board: "q35",
    kconfig: X86,
    coherent: true,
    cacheHooks: ARC_CACHE_HOOKS,
    dmaCacheAlignment: 1,
    zoneDmaBits: 24,
    ops: "none",
    coco: false,
    kernel: "any",
  },
  "x86_64-coco": {
    name: "x86_64-coco",
    description:
      "a confidential x86-64 guest (SEV/TDX): memory is encrypted, every streaming map bounces through decrypted swiotlb",
    board: "q35",
    kconfig: X86,
    coherent: true,
    cacheHooks: ARC_CACHE_HOOKS,
    dmaCacheAlignment: 1,
    zoneDmaBits: 24,
    ops: "none",
    coco: true,
    kernel: "any",
  },
  "x86_64-gart": {
    name: "x86_64-gart",
    description:
      "x86-64 with the AMD GART: legacy dma_map_ops that remap only what a device cannot reach",
    board: "q35-gart",
    kconfig: { ...X86, ARCH_HAS_DMA_OPS: true },
    coherent: true,
    cacheHooks: ARC_CACHE_HOOKS,
    dmaCacheAlignment: 1,
    zoneDmaBits: 24,
    ops: "gart",
    coco: false,
    kernel: "any",
  },
  "arm64-smmuv3": {
    name: "arm64-smmuv3",
    description:
      "arm64 (QEMU virt) with an SMMUv3: iommu-dma, strict by default, non-coherent devices unless told otherwise",
    board: "arm64-virt-smmuv3",
    kconfig: ARM64,
    coherent: false,
    cacheHooks: ARM64_CACHE_HOOKS,
    dmaCacheAlignment: 128,
    zoneDmaBits: 32,
    ops: "none",
    coco: false,
    kernel: "6.12+",
  },
  arm64: {
    name: "arm64",
    description:
      "arm64 without an IOMMU: dma-direct with cache maintenance for non-coherent devices",
    board: "arm64-virt",
    kconfig: ARM64,
    coherent: false,
    cacheHooks: ARM64_CACHE_HOOKS,
    dmaCacheAlignment: 128,
    zoneDmaBits: 32,
    ops: "none",
    coco: false,
    kernel: "any",
  },
  "arm32-legacy": {
    name: "arm32-legacy",
    description: "32-bit Arm before Linux 5.19: arm_dma_ops with map_page and cache maintenance",
    board: "arm32-board",
    kconfig: ARM32,
    coherent: false,
    cacheHooks: ARM32_CACHE_HOOKS,
    dmaCacheAlignment: 64,
    zoneDmaBits: 32,
    ops: "arm_dma_ops",
    coco: false,
    kernel: "≤ 5.18",
  },
  arm32: {
    name: "arm32",
    description:
      "32-bit Arm from Linux 5.19: dma-direct (only ARM_DMA_USE_IOMMU devices keep their own ops)",
    board: "arm32-board",
    kconfig: ARM32,
    coherent: false,
    cacheHooks: ARM32_CACHE_HOOKS,
    dmaCacheAlignment: 64,
    zoneDmaBits: 32,
    ops: "none",
    coco: false,
    kernel: "5.19+",
  },
  "powerpc64-tce": {
    name: "powerpc64-tce",
    description:
      "PowerPC 64 with a TCE table: dma_iommu_ops, bypassed to dma-direct when the mask reaches all RAM",
    board: "powerpc-tce",
    kconfig: {
      ...X86,
      ARCH_HAS_DMA_OPS: true,
      IOMMU_DMA: false,
      SWIOTLB: false,
      DMA_OPS_BYPASS: true,
      ARCH_HAS_DMA_MAP_DIRECT: true,
      ZONE_DMA: false,
    },
    coherent: true,
    cacheHooks: ARC_CACHE_HOOKS,
    dmaCacheAlignment: 128,
    zoneDmaBits: 31,
    ops: "dma_iommu_ops",
    coco: false,
    kernel: "any",
  },
  dummy: {
    name: "dummy",
    description:
      "a device ACPI says cannot do DMA, on a platform with dma_map_ops: dma_dummy_ops refuse everything",
    board: "q35",
    kconfig: { ...X86, ARCH_HAS_DMA_OPS: true },
    coherent: true,
    cacheHooks: ARC_CACHE_HOOKS,
    dmaCacheAlignment: 1,
    zoneDmaBits: 24,
    ops: "dummy",
    coco: false,
    kernel: "any",
  },
  "arm64-dummy": {
    name: "arm64-dummy",
    description:
      "the same device on arm64 without Xen: set_dma_ops() is a no-op, so it silently uses dma-direct",
    board: "arm64-virt",
    kconfig: ARM64,
    coherent: true,
    cacheHooks: ARM64_CACHE_HOOKS,
    dmaCacheAlignment: 128,
    zoneDmaBits: 32,
    ops: "dummy",
    coco: false,
    kernel: "6.12+",
  },
  "ops-without-map-page": {
    name: "ops-without-map-page",
    description:
      "a synthetic platform whose dma_map_ops lack map_page/map_phys (the seed thread's case 2)",
    board: "q35",
    kconfig: { ...X86, ARCH_HAS_DMA_OPS: true, IOMMU_API: false, IOMMU_DMA: false },
    coherent: true,
    cacheHooks: ARC_CACHE_HOOKS,
    dmaCacheAlignment: 1,
    zoneDmaBits: 24,
    ops: "without-map-page",
    coco: false,
    kernel: "synthetic",
  },
};

export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];
