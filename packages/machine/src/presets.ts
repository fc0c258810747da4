// Board presets: QEMU's q35 (the oracle's PC) with and without VT-d, and
// QEMU's arm64 virt board with an SMMUv3.
import type { PageTableConfig } from "@dmasim/iommu";
import { Machine, type MachineDescription } from "./machine.ts";

const GiB = 2 ** 30;
const MiB = 2 ** 20;
export const EDU_NAME = "0000:00:01.0";

export interface Q35Options {
  /** -m, in GiB (default 6, the oracle's). */
  ramGiB?: number;
  cpus?: number;
  /** -device intel-iommu */
  iommu?: boolean;
  /** intel-iommu,caching-mode=on */
  cachingMode?: boolean;
  /** edu,dma_mask=: the device's address width (default 64). */
  eduDmaBits?: number;
  /** Make the edu device non-coherent (not a real PC; for experiments). */
  eduCoherent?: boolean;
  /** The IOTLB size of the VT-d unit. */
  iotlbEntries?: number;
}

/**
 * QEMU q35: RAM below 4 GiB ends at 2 GiB once RAM reaches 2.75 GiB (else all
 * of it is low); the rest starts at 4 GiB. Linux reports the root bus windows
 * [0xa0000-0xbffff], [lowmem-0xafffffff], [0xc0000000-0xfebfffff] and a 64-bit
 * window above RAM; MMCONFIG sits at 0xb0000000, the IOAPIC at 0xfec00000, the
 * MSI window at 0xfee00000; the edu BAR is at 0xfea00000.
 */
export function q35Description(options: Q35Options = {}): MachineDescription {
  const ramGiB = options.ramGiB ?? 6;
  if (!Number.isFinite(ramGiB) || ramGiB <= 0 || ramGiB > 1024)
    throw new RangeError(`ramGiB must be in (0, 1024], got ${options.ramGiB}`);
  const ram = Math.round(ramGiB * GiB);
  const low = ram >= 0xb0000000 ? 0x80000000 : ram;
  const ranges = [{ start: 0, size: low }];
  if (ram > low) ranges.push({ start: 4 * GiB, size: ram - low });
  const ramEnd = ram > low ? 4 * GiB + (ram - low) : low;
  const hole64 = Math.ceil(ramEnd / GiB) * GiB;
  const iommu = options.iommu ?? false;
  return {
    name: iommu ? "q35-vtd" : "q35",
    ram: ranges,
    cpus: options.cpus ?? 1,
    cache: { lineSize: 64 },
    zones: { dmaLimit: 16 * MiB, dma32Limit: 4 * GiB },
    kmallocMinAlign: 8,
    pciWindows: [
      { start: 0x000a0000, end: 0x000bffff, name: "VGA" },
      { start: Math.max(low, 0x80000000), end: 0xafffffff, name: "PCI 32-bit low" },
      { start: 0xc0000000, end: 0xfebfffff, name: "PCI 32-bit" },
      { start: hole64, end: hole64 + 32 * GiB - 1, name: "PCI 64-bit" },
    ],
    mmio: [
      { start: 0xb0000000, size: 256 * MiB, name: "PCIe MMCONFIG" },
      { start: 0xfec00000, size: 4096, name: "IOAPIC" },
      { start: 0xfed90000, size: 4096, name: "DMAR" },
      { start: 0xfee00000, size: MiB, name: "LAPIC/MSI" },
    ],
    iommus: iommu
      ? [
          {
            name: "dmar0",
            kind: "vtd",
            pageTable: { format: "vtd", addressWidth: 39, superpages: true },
            cachingMode: options.cachingMode ?? false,
            iotlb: { capacity: options.iotlbEntries ?? 4096 },
            reservedRegions: [{ start: 0xfee00000, size: MiB, type: "msi" }],
            covers: [EDU_NAME],
          },
        ]
      : [],
    devices: [
      {
        name: EDU_NAME,
        kind: "edu",
        iommuId: "00:01.0",
        coherent: options.eduCoherent ?? true,
        dmaAddressBits: options.eduDmaBits ?? 64,
        pci: true,
        bars: [{ size: MiB, at: 0xfea00000 }],
      },
    ],
  };
}

export interface Arm64VirtOptions {
  ramGiB?: number;
  cpus?: number;
  /** The SMMUv3 (default true). */
  smmu?: boolean;
  /** SMMU page-table granule (default 4 KiB). */
  granule?: 4096 | 16384 | 65536;
  /** The device snoops the caches (default false: a non-coherent device). */
  coherent?: boolean;
  eduDmaBits?: number;
}

/**
 * QEMU virt (arm64): RAM from 1 GiB, PCIe MMIO windows at 0x10000000 and
 * 0x8000000000, a GICv3 and an SMMUv3 with the Arm LPAE format. arm64 puts
 * all RAM below 4 GiB in ZONE_DMA when the platform's DMA ranges say so;
 * this board has no narrower constraint, so ZONE_DMA ends at 4 GiB and there
 * is no separate DMA32 zone.
 */
export function arm64VirtDescription(options: Arm64VirtOptions = {}): MachineDescription {
  const ramGiB = options.ramGiB ?? 4;
  const smmu = options.smmu ?? true;
  const table: PageTableConfig = {
    format: "arm-lpae",
    granule: options.granule ?? 4096,
    inputBits: 48,
  };
  return {
    name: smmu ? "arm64-virt-smmuv3" : "arm64-virt",
    ram: [{ start: GiB, size: Math.round(ramGiB * GiB) }],
    cpus: options.cpus ?? 1,
    cache: { lineSize: 64, speculativeFill: true },
    zones: { dmaLimit: 4 * GiB, dma32Limit: 0 },
    kmallocMinAlign: 128,
    pciWindows: [
      { start: 0x10000000, end: 0x3efeffff, name: "PCIe 32-bit" },
      { start: 0x8000000000, end: 0xffffffffff, name: "PCIe 64-bit" },
    ],
    mmio: [
      { start: 0x08000000, size: 0x20000, name: "GICD" },
      { start: 0x09050000, size: 0x20000, name: "SMMUv3" },
    ],
    iommus: smmu
      ? [
          {
            name: "smmuv3.0",
            kind: "smmuv3",
            pageTable: table,
            reservedRegions: [{ start: 0x8000000, size: MiB, type: "sw-msi" }],
            covers: [EDU_NAME],
          },
        ]
      : [],
    devices: [
      {
        name: EDU_NAME,
        kind: "edu",
        iommuId: "0x8",
        coherent: options.coherent ?? false,
        dmaAddressBits: options.eduDmaBits ?? 64,
        pci: true,
        bars: [{ size: MiB, at: 0x10000000 }],
      },
    ],
  };
}

export type MachinePreset = "q35-vtd" | "q35" | "arm64-virt-smmuv3" | "arm64-virt";

/** Builds a preset board. */
export function createMachine(
  preset: MachinePreset,
  options: Q35Options & Arm64VirtOptions = {},
): Machine {
  switch (preset) {
    case "q35-vtd":
      return new Machine(q35Description({ ...options, iommu: true }));
    case "q35":
      return new Machine(q35Description({ ...options, iommu: false }));
    case "arm64-virt-smmuv3":
      return new Machine(arm64VirtDescription({ ...options, smmu: true }));
    case "arm64-virt":
      return new Machine(arm64VirtDescription({ ...options, smmu: false }));
    default:
      throw new RangeError(
        `preset must be one of q35-vtd, q35, arm64-virt-smmuv3, arm64-virt; got ${String(preset)}`,
      );
  }
}
