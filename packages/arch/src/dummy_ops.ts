// dma_dummy_ops (kernel/dma/dummy.c): installed for devices that must not do
// DMA ("DMA not supported" in ACPI): every map fails, every mask is refused,
// and an unmap (unreachable) warns once.
import { DMA_MAPPING_ERROR, type DmaKernel, type DmaMapOps, EINVAL, ENXIO } from "@dmasim/dma-core";

export function dummyOps(kernel: DmaKernel): DmaMapOps {
  const warn = (what: string, dev: string) =>
    kernel.log.warnOnce(`dma-dummy-${what}`, `WARN_ON_ONCE: ${what} called on dma_dummy_ops`, dev);
  return {
    name: "dma_dummy_ops",
    mmap: () => -ENXIO,
    mapPhys: () => DMA_MAPPING_ERROR,
    mapPage: () => DMA_MAPPING_ERROR,
    unmapPhys: (dev) => void warn("unmap_phys", dev.name),
    unmapPage: (dev) => void warn("unmap_page", dev.name),
    mapSg: () => -EINVAL,
    unmapSg: (dev) => void warn("unmap_sg", dev.name),
    dmaSupported: () => false,
  };
}

/**
 * A synthetic table without map_page/map_phys (the seed thread's "case 2"):
 * no in-tree table ever lacked it, which is what makes it the interesting
 * probe of each dispatch design. Its scatter-gather callbacks return bus
 * addresses equal to physical ones.
 */
export function opsWithoutMapPage(): DmaMapOps {
  return {
    name: "ops_without_map_page",
    mapSg: (_dev, sgl, nents) => {
      for (let i = 0; i < nents; i++) {
        const s = sgl[i]!;
        s.dmaAddress = s.phys;
        s.dmaLength = s.length;
      }
      return nents;
    },
    unmapSg: () => {},
  };
}
