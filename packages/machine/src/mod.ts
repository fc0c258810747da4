/**
 * @module
 * @dmasim/machine: boards for dmasim — RAM layout, PCI host bridge windows,
 * IOMMU units, CPUs with their cache, devices with DMA engines (QEMU's edu
 * among them) and a simulated clock; presets q35-vtd, q35, arm64-virt-smmuv3
 * and arm64-virt, or describe your own board as plain data.
 */
export type { CacheOptions, CpuCache } from "@dmasim/cache";
export type {
  FaultRecord,
  IommuUnit,
  IommuUnitOptions,
  PageTableConfig,
  ReservedRegion,
} from "@dmasim/iommu";
export type { KernelAddressSpace, PageAllocator, PhysicalMemory } from "@dmasim/memory";
export { Clock, type TimerClock, type TimerHandle } from "./clock.ts";
export {
  type DmaAccessListener,
  DmaEngine,
  type DmaEngineOptions,
  type DmaEngineStats,
} from "./dma_engine.ts";
export * from "./edu.ts";
export {
  type BarDescription,
  type DeviceDescription,
  type IommuDescription,
  Machine,
  type MachineDescription,
  type MachineDevice,
  type PciHostBridge,
  type PciWindow,
  validateMachineDescription,
} from "./machine.ts";
export {
  type Arm64VirtOptions,
  arm64VirtDescription,
  createMachine,
  EDU_NAME,
  MACHINE_PRESETS,
  type MachinePreset,
  type Q35Options,
  q35Description,
  q35LowMemSize,
} from "./presets.ts";
