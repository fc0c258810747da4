// arm_dma_ops, the 32-bit Arm table of Linux before 5.19
// (arch/arm/mm/dma-mapping.c): the bus address is the physical one, with the
// CPU cache maintained around each hand-over (__dma_page_cpu_to_dev /
// __dma_page_dev_to_cpu); no bounce buffering, so a mask that cannot reach the
// buffer is not checked at map time.
import {
  ARM32_CACHE_HOOKS,
  applyCacheOp,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_MAPPING_ERROR,
  type DmaKernel,
  type DmaMapOps,
  PAGE_SIZE,
} from "@dmasim/dma-core";

export function armDmaOps(kernel: DmaKernel): DmaMapOps {
  const cache = kernel.platform.cache;
  const toDev = (pa: number, size: number, dir: number) => {
    const op = ARM32_CACHE_HOOKS.forDevice(dir);
    if (op !== null) {
      applyCacheOp(cache, op, pa, size);
      kernel.recordMaintenance("for-device", op, pa, size, dir);
    }
  };
  const toCpu = (pa: number, size: number, dir: number) => {
    const op = ARM32_CACHE_HOOKS.forCpu(dir);
    if (op !== null) {
      applyCacheOp(cache, op, pa, size);
      kernel.recordMaintenance("for-cpu", op, pa, size, dir);
    }
  };
  const map = (
    dev: { dmaCoherent: boolean },
    pa: number,
    size: number,
    dir: number,
    attrs: number,
  ) => {
    if (!dev.dmaCoherent && !(attrs & DMA_ATTR_SKIP_CPU_SYNC)) toDev(pa, size, dir);
    return pa;
  };
  const unmap = (
    dev: { dmaCoherent: boolean },
    addr: number,
    size: number,
    dir: number,
    attrs: number,
  ) => {
    if (!dev.dmaCoherent && !(attrs & DMA_ATTR_SKIP_CPU_SYNC)) toCpu(addr, size, dir);
  };
  const ops: DmaMapOps = {
    name: "arm_dma_ops",
    mapPage: (dev, page, off, size, dir, attrs) => map(dev, page + off, size, dir, attrs),
    mapPhys: (dev, pa, size, dir, attrs) => map(dev, pa, size, dir, attrs),
    unmapPage: (dev, addr, size, dir, attrs) => unmap(dev, addr, size, dir, attrs),
    unmapPhys: (dev, addr, size, dir, attrs) => unmap(dev, addr, size, dir, attrs),
    mapResource: (_dev, pa) => pa,
    unmapResource: () => {},
    mapSg: (dev, sgl, nents, dir, attrs) => {
      // arm_dma_map_sg(): each entry through map_page; a failure unmaps what was mapped and returns 0.
      for (let i = 0; i < nents; i++) {
        const s = sgl[i]!;
        s.dmaAddress = map(dev, s.phys, s.length, dir, attrs);
        if (s.dmaAddress === DMA_MAPPING_ERROR) {
          for (let j = 0; j < i; j++) unmap(dev, sgl[j]!.dmaAddress, sgl[j]!.length, dir, attrs);
          return 0;
        }
        s.dmaLength = s.length;
      }
      return nents;
    },
    unmapSg: (dev, sgl, nents, dir, attrs) => {
      for (let i = 0; i < nents; i++) unmap(dev, sgl[i]!.dmaAddress, sgl[i]!.length, dir, attrs);
    },
    syncSingleForCpu: (dev, addr, size, dir) => unmap(dev, addr, size, dir, 0),
    syncSingleForDevice: (dev, addr, size, dir) => map(dev, addr, size, dir, 0),
    syncSgForCpu: (dev, sgl, nents, dir) => {
      for (let i = 0; i < nents; i++) unmap(dev, sgl[i]!.dmaAddress, sgl[i]!.length, dir, 0);
    },
    syncSgForDevice: (dev, sgl, nents, dir) => {
      for (let i = 0; i < nents; i++) map(dev, sgl[i]!.dmaAddress, sgl[i]!.length, dir, 0);
    },
    alloc: (dev, size, _gfp, _attrs) => {
      // __dma_alloc(): pages below the coherent limit, the kernel alias flushed, an uncached remap for the CPU.
      const bytes = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
      const order = Math.ceil(Math.log2(bytes / PAGE_SIZE));
      const pa = kernel.platform.pages.allocPages(order, 0);
      if (pa === null || pa + bytes - 1 > (dev.coherentLimit || 2 ** 32 - 1)) {
        if (pa !== null) kernel.platform.pages.freePages(pa, order);
        return null;
      }
      kernel.archDmaPrepCoherent(pa, bytes);
      const cpuAddr = dev.dmaCoherent
        ? kernel.platform.kas.physToVirt(pa)
        : kernel.remapUncached(pa, bytes, false);
      kernel.zeroCpu(cpuAddr, bytes);
      return { cpuAddr, handle: pa };
    },
    free: (_dev, size, cpuAddr, handle) => {
      const bytes = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
      if (kernel.isRemapped(cpuAddr)) kernel.unmapUncached(cpuAddr);
      kernel.platform.pages.freePages(handle, Math.ceil(Math.log2(bytes / PAGE_SIZE)));
    },
    // arm_dma_supported(): the mask must reach the end of the DMA-able RAM (ZONE_DMA here).
    dmaSupported: (_dev, mask) =>
      mask >= BigInt(Math.min(kernel.platform.memory.lastRamByte, 2 ** 32 - 1)),
  };
  return ops;
}
