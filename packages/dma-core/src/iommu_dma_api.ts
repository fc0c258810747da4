// The shape of iommu-dma's entry points as dma-core calls them. The
// implementation lives in @dmasim/iommu-dma; it is handed to DmaKernel when a
// kernel is constructed (the "link"), so dma-core never imports it and the
// package graph stays acyclic while the calls stay direct.
import type { Device } from "./device.ts";
import type { DmaAllocation, VmArea } from "./dma_ops.ts";
import type { DmaKernel } from "./kernel.ts";
import type { Scatterlist, SgTable } from "./scatterlist.ts";

/** struct dma_iova_state */
export interface DmaIovaState {
  addr: number;
  /** __size; bit 63 (DMA_IOVA_USE_SWIOTLB) is modelled by `useSwiotlb`. */
  size: number;
  useSwiotlb: boolean;
}

export interface IommuDmaEntryPoints {
  /** iommu_setup_dma_ops(): set up the device's DMA domain; returns whether it is a DMA-API domain. */
  setupDevice(dev: Device): boolean;
  /** Tear-down when the device goes away (frees the per-device state). */
  releaseDevice(dev: Device): void;
  mapPhys(dev: Device, phys: number, size: number, dir: number, attrs: number): number;
  unmapPhys(dev: Device, addr: number, size: number, dir: number, attrs: number): void;
  /** 6.12's iommu_dma_map_resource (MMIO, no CACHE, no bounce). */
  mapResource(dev: Device, phys: number, size: number, dir: number, attrs: number): number;
  unmapResource(dev: Device, addr: number, size: number, dir: number, attrs: number): void;
  mapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: number, attrs: number): number;
  unmapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: number, attrs: number): void;
  syncSingleForCpu(dev: Device, addr: number, size: number, dir: number): void;
  syncSingleForDevice(dev: Device, addr: number, size: number, dir: number): void;
  syncSgForCpu(dev: Device, sgl: Scatterlist[], nents: number, dir: number): void;
  syncSgForDevice(dev: Device, sgl: Scatterlist[], nents: number, dir: number): void;
  alloc(dev: Device, size: number, gfp: number, attrs: number): DmaAllocation | null;
  free(dev: Device, size: number, cpuAddr: number, handle: number, attrs: number): void;
  allocNoncontiguous(
    dev: Device,
    size: number,
    dir: number,
    gfp: number,
    attrs: number,
  ): SgTable | null;
  freeNoncontiguous(dev: Device, size: number, sgt: SgTable, dir: number): void;
  vmapNoncontiguous(dev: Device, size: number, sgt: SgTable): number | null;
  vunmapNoncontiguous(dev: Device, vaddr: number): void;
  mmapNoncontiguous(dev: Device, vma: VmArea, size: number, sgt: SgTable): number;
  mmap(
    dev: Device,
    vma: VmArea,
    cpuAddr: number,
    handle: number,
    size: number,
    attrs: number,
  ): number;
  getSgtable(
    dev: Device,
    sgt: SgTable,
    cpuAddr: number,
    handle: number,
    size: number,
    attrs: number,
  ): number;
  getMergeBoundary(dev: Device): bigint;
  optMappingSize(): bigint;
  maxMappingSize(dev: Device): bigint;
  iovaTryAlloc(dev: Device, state: DmaIovaState, phys: number, size: number): boolean;
  iovaLink(
    dev: Device,
    state: DmaIovaState,
    phys: number,
    offset: number,
    size: number,
    dir: number,
    attrs: number,
  ): number;
  iovaSync(dev: Device, state: DmaIovaState, offset: number, size: number): number;
  iovaUnlink(
    dev: Device,
    state: DmaIovaState,
    offset: number,
    size: number,
    dir: number,
    attrs: number,
  ): void;
  iovaDestroy(
    dev: Device,
    state: DmaIovaState,
    mappedLen: number,
    dir: number,
    attrs: number,
  ): void;
  iovaFree(dev: Device, state: DmaIovaState): void;
  /** One line per live IOVA allocation, for leak reports. */
  liveResources(): string[];
}

/** Builds the entry points for one kernel (they close over its machine, log and clock). */
export type IommuDmaFactory = (kernel: DmaKernel) => IommuDmaEntryPoints;
