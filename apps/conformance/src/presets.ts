// The configuration presets of ../shared/spec/dma-api.md §6, as profiles of
// @dmasim/arch with options. They are the columns of the conformance matrix.
import type { ProfileName, SystemOptions } from "@dmasim/arch";

export type PresetName = "D-C" | "D-C0" | "D-N" | "D-F" | "I-C" | "I-N" | "I-U" | "OPS" | "DBG";

export interface Preset {
  name: PresetName;
  description: string;
  profile: ProfileName;
  options: SystemOptions;
}

export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  "D-C": {
    name: "D-C",
    description: "dma-direct, coherent, swiotlb 64 MiB below 4 GiB",
    profile: "x86_64",
    options: {},
  },
  "D-C0": {
    name: "D-C0",
    description: "dma-direct, coherent, no swiotlb pool",
    profile: "x86_64",
    options: { cmdline: "swiotlb=noforce" },
  },
  "D-N": {
    name: "D-N",
    description: "dma-direct, non-coherent (arm64), DMA_DIRECT_REMAP",
    profile: "arm64",
    options: {},
  },
  "D-F": {
    name: "D-F",
    description: "dma-direct with swiotlb=force",
    profile: "x86_64",
    options: { cmdline: "swiotlb=force" },
  },
  "I-C": {
    name: "I-C",
    description: "IOMMU DMA domain (VT-d, strict), coherent",
    profile: "x86_64-vtd",
    options: { cmdline: "iommu.strict=1" },
  },
  "I-N": {
    name: "I-N",
    description: "IOMMU DMA domain (SMMUv3), non-coherent",
    profile: "arm64-smmuv3",
    options: {},
  },
  "I-U": {
    name: "I-U",
    description: "IOMMU DMA domain, untrusted device",
    profile: "x86_64-vtd",
    options: { cmdline: "iommu.strict=1", untrusted: true },
  },
  OPS: {
    name: "OPS",
    description: "dma_map_ops present (x86 GART platform), no IOMMU DMA domain",
    profile: "x86_64-gart",
    options: {},
  },
  DBG: {
    name: "DBG",
    description:
      "I-C with CONFIG_DMA_API_DEBUG (checks set all_errors = 1; intel_iommu=off gives the D-C path)",
    profile: "x86_64-vtd",
    options: { cmdline: "iommu.strict=1", config: { DMA_API_DEBUG: true } },
  },
};

export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];
