// The x86 GART's dma_map_ops (arch/x86/kernel/amd_gart_64.c): a buffer the
// device can reach is used as is; one it cannot reach is remapped through the
// GART aperture, allocated next-fit from a bitmap (a wrap forces a GART flush).
import {
  DMA_MAPPING_ERROR,
  type DmaKernel,
  type DmaMapOps,
  dmaCapable,
  PAGE_SIZE,
} from "@dmasim/dma-core";
import {
  DOMAIN_UNMANAGED,
  IOMMU_READ,
  IOMMU_WRITE,
  type IommuDomain,
  type IommuUnit,
} from "@dmasim/iommu";

export function gartOps(
  kernel: DmaKernel,
  unit: IommuUnit,
  options: { force?: boolean } = {},
): DmaMapOps & { flushes: () => number; domain: IommuDomain } {
  const ap = unit.aperture;
  if (ap === null) throw new RangeError("gartOps: the GART unit needs an aperture");
  const pages = ap.size / PAGE_SIZE;
  const used = new Uint8Array(pages);
  const domain = unit.allocDomain(DOMAIN_UNMANAGED);
  let nextBit = 0;
  let flushes = 0;
  const alloc = (n: number): number => {
    const search = (from: number): number => {
      for (let i = from; i + n <= pages; i++) {
        let ok = true;
        for (let j = i; j < i + n; j++) {
          if (used[j]) {
            ok = false;
            i = j;
            break;
          }
        }
        if (ok) return i;
      }
      return -1;
    };
    let off = search(nextBit);
    if (off < 0) {
      flushes++; // need_flush: start over from the bottom
      off = search(0);
    }
    if (off < 0) return -1;
    used.fill(1, off, off + n);
    nextBit = off + n;
    if (nextBit >= pages) {
      nextBit = 0;
      flushes++;
    }
    return off;
  };
  const map = (
    dev: Parameters<NonNullable<DmaMapOps["mapPhys"]>>[0],
    pa: number,
    size: number,
  ): number => {
    // need_iommu(): only buffers the device cannot reach (or everything with iommu=force).
    if (!options.force && dmaCapable(kernel, dev, pa, size, true)) return pa;
    const off = pa % PAGE_SIZE;
    const n = Math.ceil((off + size) / PAGE_SIZE);
    const page = alloc(n);
    if (page < 0) {
      kernel.log.noticeRatelimited(
        "gart-full",
        `PCI-DMA: Out of IOMMU space for ${size} bytes`,
        dev.name,
      );
      return DMA_MAPPING_ERROR;
    }
    domain.iommuMap(ap.start + page * PAGE_SIZE, pa - off, n * PAGE_SIZE, IOMMU_READ | IOMMU_WRITE);
    return ap.start + page * PAGE_SIZE + off;
  };
  const unmap = (addr: number, size: number): void => {
    if (addr < ap.start || addr >= ap.start + ap.size) return;
    const off = addr % PAGE_SIZE;
    const n = Math.ceil((off + size) / PAGE_SIZE);
    domain.iommuUnmap(addr - off, n * PAGE_SIZE);
    used.fill(0, (addr - off - ap.start) / PAGE_SIZE, (addr - off - ap.start) / PAGE_SIZE + n);
  };
  return {
    name: "gart_dma_ops",
    domain,
    flushes: () => flushes,
    mapPage: (dev, page, o, size) => map(dev, page + o, size),
    mapPhys: (dev, pa, size) => map(dev, pa, size),
    unmapPage: (_d, addr, size) => unmap(addr, size),
    unmapPhys: (_d, addr, size) => unmap(addr, size),
    mapSg: (dev, sgl, nents) => {
      for (let i = 0; i < nents; i++) {
        const s = sgl[i]!;
        s.dmaAddress = map(dev, s.phys, s.length);
        if (s.dmaAddress === DMA_MAPPING_ERROR) {
          for (let j = 0; j < i; j++) unmap(sgl[j]!.dmaAddress, sgl[j]!.dmaLength);
          return 0;
        }
        s.dmaLength = s.length;
      }
      return nents;
    },
    unmapSg: (_d, sgl, nents) => {
      for (let i = 0; i < nents; i++)
        if (sgl[i]!.dmaLength) unmap(sgl[i]!.dmaAddress, sgl[i]!.dmaLength);
    },
  };
}
