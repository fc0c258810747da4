// Board presets: QEMU's q35 PC (the oracle's machine) with and without VT-d,
// and QEMU's arm64 virt board with and without an SMMUv3. Each preset is a
// MachineDescription built by a function, so it can be edited before use.
import type { CacheOptions } from "@dmasim/cache";
import type { PageTableConfig } from "@dmasim/iommu";
import { Machine, type MachineDescription } from "./machine.ts";

const GiB = 2 ** 30;
const MiB = 2 ** 20;
/** dev_name() of the edu device on every preset (slot 1 of bus 0). */
export const EDU_NAME = "0000:00:01.0";

export interface Q35Options {
  /** -m, in GiB (default 6, the oracle's); page-granular fractions allowed. */
  ramGiB?: number;
  /** -smp (default 1). */
  cpus?: number;
  /** -device intel-iommu (createMachine's preset name decides it). */
  iommu?: boolean;
  /** intel-iommu,caching-mode=on: the unit reports Caching Mode (a hypervisor shadows its tables). */
  cachingMode?: boolean;
  /** edu,dma_mask=: the device's address width in bits (default 64). */
  eduDmaBits?: number;
  /** Make the edu device non-coherent (not a real PC; for experiments). Default true. */
  eduCoherent?: boolean;
  /** IOTLB entries of the VT-d unit (default 4096). */
  iotlbEntries?: number;
  /** CPU cache options (default 64-byte lines, unbounded, no speculation). */
  cache?: CacheOptions;
}

/** QEMU's q35 rule for the RAM below 4 GiB: 2 GiB once RAM reaches 0xb0000000, else all of it. */
export function q35LowMemSize(ramBytes: number): number {
  if (!Number.isInteger(ramBytes) || ramBytes <= 0 || ramBytes > 2 ** 52)
    throw new RangeError(
      `q35LowMemSize: ramBytes must be a positive integer up to 2^52, got ${String(ramBytes)}`,
    );
  return ramBytes >= 0xb0000000 ? 0x80000000 : ramBytes;
}

function ramBytesOf(ramGiB: number | undefined, dflt: number): number {
  const g = ramGiB ?? dflt;
  if (typeof g !== "number" || !Number.isFinite(g) || g <= 0 || g > 4096)
    throw new RangeError(`ramGiB must be a number in (0, 4096], got ${String(ramGiB)}`);
  const bytes = Math.round((g * GiB) / 4096) * 4096;
  if (bytes < 64 * MiB) throw new RangeError(`ramGiB must give at least 64 MiB, got ${g}`);
  return bytes;
}

/**
 * QEMU q35 (hw/i386/pc_q35.c, hw/pci-host/q35.c): RAM below 4 GiB ends at
 * 2 GiB once -m reaches 2.75 GiB (else all of it is low); the rest starts at
 * 4 GiB. The PCI hole runs from the end of low RAM to the IOAPIC, minus
 * MMCONFIG at 0xb0000000 (256 MiB), so Linux reports the root bus windows
 * [0xa0000-0xbffff], [lowmem-0xafffffff], [0xc0000000-0xfebfffff] and a
 * 64-bit window of 32 GiB starting at the end of RAM rounded up to 1 GiB.
 * Fixed MMIO: IOAPIC 0xfec00000, HPET 0xfed00000, the VT-d unit 0xfed90000,
 * LAPIC/MSI 0xfee00000, BIOS ROM below 4 GiB; the edu BAR is at 0xfea00000.
 * x86 Linux keeps the first 1 MiB of RAM out of the page allocator.
 */
export function q35Description(options: Q35Options = {}): MachineDescription {
  checkOptions("q35Description", options);
  const ram = ramBytesOf(options.ramGiB, 6);
  const low = q35LowMemSize(ram);
  const ranges = [{ start: 0, size: low }];
  if (ram > low) ranges.push({ start: 4 * GiB, size: ram - low });
  const ramEnd = ram > low ? 4 * GiB + (ram - low) : low;
  // QEMU: pci-hole64 starts at the end of RAM above 4 GiB rounded up to 1 GiB (32 GiB by default).
  const hole64 = Math.ceil(Math.max(ramEnd, 4 * GiB) / GiB) * GiB;
  const iommu = options.iommu ?? false;
  return {
    name: iommu ? "q35-vtd" : "q35",
    ram: ranges,
    cpus: options.cpus ?? 1,
    cache: options.cache ?? { lineSize: 64 },
    zones: { dmaLimit: 16 * MiB, dma32Limit: 4 * GiB },
    kmallocMinAlign: 8,
    pciWindows: [
      { start: 0x000a0000, end: 0x000bffff, name: "VGA" },
      { start: low, end: 0xafffffff, name: "PCI hole below MMCONFIG" },
      { start: 0xc0000000, end: 0xfebfffff, name: "PCI hole above MMCONFIG" },
      { start: hole64, end: hole64 + 32 * GiB - 1, name: "PCI hole64" },
    ],
    pciEcam: { start: 0xb0000000, size: 256 * MiB },
    mmio: [
      { start: 0xfec00000, size: 4096, name: "IOAPIC" },
      { start: 0xfed00000, size: 4096, name: "HPET" },
      ...(iommu ? [{ start: 0xfed90000, size: 4096, name: "DMAR (VT-d registers)" }] : []),
      { start: 0xfee00000, size: MiB, name: "LAPIC / MSI" },
      { start: 0xfffc0000, size: 256 * 1024, name: "BIOS ROM" },
    ],
    iommus: iommu
      ? [
          {
            name: "dmar0",
            kind: "vtd",
            // QEMU's intel-iommu: aw-bits 39, 2 MiB and 1 GiB superpages (pgsize bitmap 0x40201000).
            pageTable: { format: "vtd", addressWidth: 39, superpages: true },
            cachingMode: options.cachingMode ?? false,
            iotlb: { capacity: options.iotlbEntries ?? 4096 },
            // Interrupt remapping window every VT-d unit reserves for MSIs.
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
    reserved: [{ start: 0, size: MiB, name: "x86 low 1 MiB (BIOS, real-mode trampoline)" }],
  };
}

export interface Arm64VirtOptions {
  /** -m in GiB (default 4). */
  ramGiB?: number;
  cpus?: number;
  /** iommu=smmuv3 (createMachine's preset name decides it). */
  smmu?: boolean;
  /** SMMU page-table granule (default 4 KiB). */
  granule?: 4096 | 16384 | 65536;
  /** The device snoops the caches (default false: a non-coherent device). */
  coherent?: boolean;
  /** The edu device's address width in bits (default 64). */
  eduDmaBits?: number;
  /** ARCH_DMA_MINALIGN-driven kmalloc alignment (default 128). */
  kmallocMinAlign?: number;
  /** CPU cache options (default 64-byte lines with speculative fills). */
  cache?: CacheOptions;
}

/**
 * QEMU virt (hw/arm/virt.c) for arm64: RAM from 1 GiB; the PCIe MMIO
 * windows [0x10000000-0x3efeffff] and [0x8000000000-0xffffffffff]; high ECAM
 * at 0x4010000000; GICv3 at 0x08000000; an SMMUv3 at 0x09050000 using the Arm
 * LPAE format with 48-bit input, whose driver reserves the software MSI
 * window [0x8000000, +1 MiB) in every domain. PCI stream ids are the
 * requester ids, so 00:01.0 is stream 0x8.
 *
 * Zones: arm64 puts ZONE_DMA's end at the lowest DMA limit the firmware
 * describes, clamped to 4 GiB when RAM starts below 4 GiB (and to the end
 * of RAM); virt describes no narrower limit, so ZONE_DMA ends at
 * min(4 GiB, end of RAM) and ZONE_DMA32, which would end at the same
 * address, is empty: the description has no DMA32 zone.
 */
export function arm64VirtDescription(options: Arm64VirtOptions = {}): MachineDescription {
  checkOptions("arm64VirtDescription", options);
  const ram = ramBytesOf(options.ramGiB, 4);
  const smmu = options.smmu ?? true;
  const granule = options.granule ?? 4096;
  if (granule !== 4096 && granule !== 16384 && granule !== 65536)
    throw new RangeError(`granule must be 4096, 16384 or 65536, got ${String(granule)}`);
  const table: PageTableConfig = { format: "arm-lpae", granule, inputBits: 48 };
  const ramEnd = GiB + ram;
  return {
    name: smmu ? "arm64-virt-smmuv3" : "arm64-virt",
    ram: [{ start: GiB, size: ram }],
    cpus: options.cpus ?? 1,
    cache: options.cache ?? { lineSize: 64, speculativeFill: true },
    zones: { dmaLimit: Math.min(4 * GiB, ramEnd), dma32Limit: 0 },
    kmallocMinAlign: options.kmallocMinAlign ?? 128,
    pciWindows: [
      { start: 0x10000000, end: 0x3efeffff, name: "PCIe MMIO" },
      { start: 0x8000000000, end: 0xffffffffff, name: "PCIe high MMIO" },
    ],
    pciEcam: { start: 0x4010000000, size: 256 * MiB },
    mmio: [
      { start: 0x08000000, size: 0x10000, name: "GICv3 distributor" },
      { start: 0x08080000, size: 0x20000, name: "GICv3 ITS" },
      { start: 0x080a0000, size: 0xf60000, name: "GICv3 redistributors" },
      { start: 0x09000000, size: 0x1000, name: "PL011 UART" },
      ...(smmu ? [{ start: 0x09050000, size: 0x20000, name: "SMMUv3" }] : []),
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
export const MACHINE_PRESETS: readonly MachinePreset[] = [
  "q35-vtd",
  "q35",
  "arm64-virt-smmuv3",
  "arm64-virt",
];

/** Builds a preset board; options are those of q35Description / arm64VirtDescription. */
export function createMachine(
  preset: MachinePreset,
  options: Q35Options & Arm64VirtOptions = {},
): Machine {
  checkOptions("createMachine", options);
  for (const k of Object.keys(options))
    if (!OPTION_NAMES.includes(k))
      throw new RangeError(
        `createMachine: unknown option ${JSON.stringify(k)}; the options are ${OPTION_NAMES.join(", ")}`,
      );
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
        `preset must be one of ${MACHINE_PRESETS.join(", ")}; got ${String(preset)}`,
      );
  }
}

/** The options of q35Description and arm64VirtDescription (createMachine takes either set). */
const OPTION_NAMES: readonly string[] = [
  "ramGiB",
  "cpus",
  "iommu",
  "cachingMode",
  "eduDmaBits",
  "eduCoherent",
  "iotlbEntries",
  "cache",
  "smmu",
  "granule",
  "coherent",
  "kmallocMinAlign",
];

function checkOptions(what: string, options: unknown): void {
  if (options === null || typeof options !== "object" || Array.isArray(options))
    throw new TypeError(`${what}: options must be an object, got ${String(options)}`);
  const o = options as Record<string, unknown>;
  for (const k of ["iommu", "cachingMode", "eduCoherent", "smmu", "coherent"])
    if (o[k] !== undefined && typeof o[k] !== "boolean")
      throw new TypeError(`${what}: options.${k} must be true or false, got ${String(o[k])}`);
}
