// dma-direct: the bus address is the physical address (plus a bus offset),
// bouncing through swiotlb when the device cannot or must not reach the
// buffer, with cache maintenance for non-coherent devices
// (kernel/dma/direct.c, direct.h, include/linux/dma-direct.h).
import { applyCacheOp } from "./arch_hooks.ts";
import {
  DMA_ATTR_MMIO,
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_NO_WARN,
  DMA_ATTR_REQUIRE_COHERENT,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_ATTR_WRITE_COMBINE,
  DMA_BIT_MASK,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  EIO,
  ENXIO,
  GFP_DIRECT_RECLAIM,
  GFP_DMA,
  GFP_DMA32,
  GFP_NOWARN,
  hex,
  minNotZero,
  NO_LIMIT,
  PAGE_SIZE,
  U64_MAX,
  u64ToLimit,
} from "./constants.ts";
import type { Device, DmaRangeRegion } from "./device.ts";
import type { DmaAllocation, DmaPageAllocation, VmArea } from "./dma_ops.ts";
import type { KernelContext } from "./kernel_context.ts";
import { type Scatterlist, SG_DMA_BUS_ADDRESS, type SgTable } from "./scatterlist.ts";
import type { SwiotlbMem } from "./swiotlb.ts";

// ---- address translation (include/linux/dma-direct.h) ----

// The helpers on the streaming path keep their common case in a few lines
// and call out for the rest: the JIT inlines a small function whole, and
// every call it does not inline boxes each address above 2^31 it passes.

/** phys_to_dma_unencrypted(): through dev->dma_range_map; DMA_MAPPING_ERROR when no region covers pa. */
export function physToDmaUnencrypted(dev: Device, pa: number): number {
  return dev.dmaRangeMap === null ? pa : rangeToDma(dev.dmaRangeMap, pa);
}

function rangeToDma(map: DmaRangeRegion[], pa: number): number {
  for (let i = 0; i < map.length; i++) {
    const r = map[i]!;
    if (pa >= r.cpuStart && pa - r.cpuStart < r.size) return pa - r.cpuStart + r.dmaStart;
  }
  return DMA_MAPPING_ERROR;
}

/** phys_to_dma(): adds the memory-encryption bit for encrypted guests. */
export function physToDma(k: KernelContext, dev: Device, pa: number): number {
  const d = physToDmaUnencrypted(dev, pa);
  return d === DMA_MAPPING_ERROR || k.memEncryptBit === 0 ? d : d + k.memEncryptBit;
}

/** dma_to_phys(): the reverse lookup; -1 (all ones) when no region matches. */
export function dmaToPhys(k: KernelContext, dev: Device, addr: number): number {
  const bit = k.memEncryptBit;
  const a = bit !== 0 && addr >= bit ? addr - bit : addr;
  return dev.dmaRangeMap === null ? a : rangeToPhys(dev.dmaRangeMap, a);
}

function rangeToPhys(map: DmaRangeRegion[], a: number): number {
  for (let i = 0; i < map.length; i++) {
    const r = map[i]!;
    if (a >= r.dmaStart && a - r.dmaStart < r.size) return a - r.dmaStart + r.cpuStart;
  }
  return -1;
}

/** dma_capable(): the whole range must sit at or below min_not_zero(*dma_mask, bus_dma_limit). */
export function dmaCapable(
  k: KernelContext,
  dev: Device,
  addr: number,
  size: number,
  isRam: boolean,
): boolean {
  if (addr === DMA_MAPPING_ERROR) return false;
  const end = addr + size - 1;
  if (isRam && k.config.dmaAddr32 && belowLowRam(k, dev, addr, end)) return false;
  return end <= (dev.streamingLimit === 0 ? NO_LIMIT : dev.streamingLimit);
}

/** CONFIG_ARCH_DMA_ADDR_T_64BIT=n: a range that starts below the lowest RAM's bus address wrapped. */
function belowLowRam(k: KernelContext, dev: Device, addr: number, end: number): boolean {
  return Math.min(addr, end) < physToDma(k, dev, k.minLowPhys);
}

/** dma_coherent_ok(): the allocation-style check against the coherent mask. */
function coherentOk(k: KernelContext, dev: Device, pa: number, size: number): boolean {
  const dma = k.config.forceDmaUnencrypted ? physToDmaUnencrypted(dev, pa) : physToDma(k, dev, pa);
  if (dma === DMA_MAPPING_ERROR) return false;
  const limit = dev.coherentLimit === 0 ? NO_LIMIT : dev.coherentLimit;
  return dma + size - 1 <= limit;
}

// ---- capability queries (§1.2, §3.8) ----

/** dma_direct_get_required_mask(): one less than twice the highest power of two not above the last RAM byte's DMA address. */
export function directGetRequiredMask(k: KernelContext, dev: Device): bigint {
  const last = physToDmaUnencrypted(dev, k.platform.memory.lastRamByte);
  if (last === DMA_MAPPING_ERROR || last <= 0) return DMA_BIT_MASK(32);
  const bits = last.toString(2).length; // fls64
  // (1 << fls64(max_dma)) * 2 - 1 with the highest set bit of the address
  return bits >= 64 ? U64_MAX : (1n << BigInt(bits)) - 1n;
}

/** dma_direct_supported(): 32-bit masks and wider always; narrower ones if they reach ZONE_DMA (or all RAM). */
export function directSupported(k: KernelContext, dev: Device, mask: bigint): boolean {
  if (mask >= DMA_BIT_MASK(32)) return true;
  let minMask = BigInt(k.platform.memory.lastRamByte);
  if (k.config.zoneDma && k.config.zoneDmaLimit < minMask) minMask = k.config.zoneDmaLimit;
  const dma = physToDmaUnencrypted(dev, Number(minMask));
  return dma !== DMA_MAPPING_ERROR && mask >= BigInt(dma);
}

/** dma_direct_all_ram_mapped(): every RAM range is covered by dev->dma_range_map. */
export function directAllRamMapped(k: KernelContext, dev: Device): boolean {
  const map = dev.dmaRangeMap;
  if (map === null) return true;
  for (const r of k.platform.memory.ramRanges) {
    let pa = r.start;
    const end = r.start + r.size;
    while (pa < end) {
      const reg = map.find((m) => pa >= m.cpuStart && pa < m.cpuStart + m.size);
      if (!reg) return false;
      pa = reg.cpuStart + reg.size;
    }
  }
  return true;
}

/** dma_direct_max_mapping_size(): swiotlb's maximum when it is active and the device is limited or forced. */
export function directMaxMappingSize(k: KernelContext, dev: Device): bigint {
  const mem = k.swiotlbFor(dev);
  if (mem !== null && (k.addressingLimited(dev) || mem.force)) {
    return BigInt(mem.maxMappingSize(dev.dmaParms?.minAlignMask ?? 0));
  }
  return U64_MAX;
}

/** dma_direct_need_sync(): non-coherent, or the address is a swiotlb slot. */
export function directNeedSync(k: KernelContext, dev: Device, addr: number): boolean {
  if (!dev.dmaCoherent) return true;
  const pa = dmaToPhys(k, dev, addr);
  return pa >= 0 && k.isSwiotlbBuffer(dev, pa);
}

// ---- streaming maps (§3.3–§3.5) ----

/** dma_kmalloc_needs_bounce(): small kmalloc-sized buffers that share cache lines on a non-coherent device. */
export function kmallocNeedsBounce(
  k: KernelContext,
  dev: Device,
  size: number,
  dir: number,
): boolean {
  return (
    k.config.dmaBounceUnalignedKmalloc &&
    !dev.dmaCoherent &&
    dir !== DMA_TO_DEVICE &&
    kmallocSizeUnaligned(k, size)
  );
}

/** Is a kmalloc buffer of `size` smaller than two cache lines and of a size class that is not a multiple of one? */
function kmallocSizeUnaligned(k: KernelContext, size: number): boolean {
  const align = k.config.dmaCacheAlignment;
  if (size >= 2 * align) return false;
  return k.kmallocSizeClass(size) % align !== 0;
}

/** The non-coherent device's arch_sync_dma_for_device on a physical range. */
export function archSyncForDevice(k: KernelContext, pa: number, size: number, dir: number): void {
  const op = k.arch.forDevice(dir);
  if (op === null) return;
  applyCacheOp(k.platform.cache, op, pa, size);
  k.recordMaintenance("for-device", op, pa, size, dir);
}

/** arch_sync_dma_for_cpu */
export function archSyncForCpu(k: KernelContext, pa: number, size: number, dir: number): void {
  const op = k.arch.forCpu(dir);
  if (op === null) return;
  applyCacheOp(k.platform.cache, op, pa, size);
  k.recordMaintenance("for-cpu", op, pa, size, dir);
}

/** swiotlb_map(): bounce, check that the slot is reachable, then maintain the slot's cache lines. */
export function swiotlbMap(
  k: KernelContext,
  dev: Device,
  pa: number,
  size: number,
  dir: number,
  attrs: number,
): number {
  const tlb = k.swiotlbTblMapSingle(dev, pa, size, 0, dir, attrs);
  if (tlb < 0) return DMA_MAPPING_ERROR;
  const dma = physToDmaUnencrypted(dev, tlb);
  if (!dmaCapable(k, dev, dma, size, true)) {
    k.swiotlbTblUnmapSingle(dev, tlb, size, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
    k.log.warnOnce(
      `swiotlb-overflow:${dev.name}`,
      `swiotlb addr ${dma === DMA_MAPPING_ERROR ? "0xffffffffffffffff" : hex(dma)}+${size} overflow (mask ${dev.dmaMask.toString(16)}, bus limit ${dev.busDmaLimit.toString(16)}).`,
      dev.name,
    );
    return DMA_MAPPING_ERROR;
  }
  if (!dev.dmaCoherent && !(attrs & DMA_ATTR_SKIP_CPU_SYNC)) archSyncForDevice(k, tlb, size, dir);
  return dma;
}

function overflowWarning(k: KernelContext, dev: Device, dma: number, size: number): void {
  k.log.warnOnce(
    `dma-direct-overflow:${dev.name}`,
    `DMA addr ${dma === DMA_MAPPING_ERROR ? "0xffffffffffffffff" : hex(dma)}+${size} overflow (mask ${dev.dmaMask.toString(16)}, bus limit ${dev.busDmaLimit.toString(16)}).`,
    dev.name,
  );
}

/**
 * dma_direct_map_phys() (6.18+) / dma_direct_map_page() (6.12): force-bounce,
 * MMIO, reachability and the kmalloc rule decide whether to bounce.
 * `mmioAsResource` selects 6.12's dma_direct_map_resource for MMIO, which
 * never bounced, even under swiotlb=force.
 */
export function directMapPhys(
  k: KernelContext,
  dev: Device,
  pa: number,
  size: number,
  dir: number,
  attrs: number,
): number {
  const mem = k.swiotlbFor(dev);
  if ((attrs & DMA_ATTR_MMIO) !== 0 || mem?.force === true)
    return directMapForcedOrMmio(k, dev, mem, pa, size, dir, attrs);
  const dma = physToDma(k, dev, pa);
  if (!dmaCapable(k, dev, dma, size, true) || kmallocNeedsBounce(k, dev, size, dir))
    return directMapBounce(k, dev, mem, pa, dma, size, dir, attrs);
  if (!dev.dmaCoherent && !(attrs & DMA_ATTR_SKIP_CPU_SYNC)) archSyncForDevice(k, pa, size, dir);
  return dma;
}

/** MMIO (never bounced; 6.12 took dma_direct_map_resource) and swiotlb=force (always bounced). */
function directMapForcedOrMmio(
  k: KernelContext,
  dev: Device,
  mem: SwiotlbMem | null,
  pa: number,
  size: number,
  dir: number,
  attrs: number,
): number {
  const mmio = (attrs & DMA_ATTR_MMIO) !== 0;
  if (mmio && k.design.mmioViaMapResource) return directMapResource(k, dev, pa, size);
  if (mem?.force === true) {
    if (mmio || attrs & DMA_ATTR_REQUIRE_COHERENT) return DMA_MAPPING_ERROR;
    return swiotlbMap(k, dev, pa, size, dir, attrs);
  }
  if (!dmaCapable(k, dev, pa, size, false)) {
    overflowWarning(k, dev, pa, size);
    return DMA_MAPPING_ERROR;
  }
  return pa;
}

/** The device cannot reach the buffer, or must not share its cache lines: bounce, or fail. */
function directMapBounce(
  k: KernelContext,
  dev: Device,
  mem: SwiotlbMem | null,
  pa: number,
  dma: number,
  size: number,
  dir: number,
  attrs: number,
): number {
  if (mem !== null && !(attrs & DMA_ATTR_REQUIRE_COHERENT))
    return swiotlbMap(k, dev, pa, size, dir, attrs);
  overflowWarning(k, dev, dma, size);
  return DMA_MAPPING_ERROR;
}

/** 6.12's dma_direct_map_resource(): the physical address unchanged, checked with dma_capable. */
export function directMapResource(k: KernelContext, dev: Device, pa: number, size: number): number {
  if (!dmaCapable(k, dev, pa, size, false)) {
    overflowWarning(k, dev, pa, size);
    return DMA_MAPPING_ERROR;
  }
  return pa;
}

/** dma_direct_unmap_phys(): for-CPU sync on the DMA-visible range, then release any bounce slot. */
export function directUnmapPhys(
  k: KernelContext,
  dev: Device,
  addr: number,
  size: number,
  dir: number,
  attrs: number,
): void {
  if (attrs & (DMA_ATTR_MMIO | DMA_ATTR_REQUIRE_COHERENT)) return;
  const pa = dmaToPhys(k, dev, addr);
  // dma_direct_sync_single_for_cpu() inlined, so the address is translated and looked up once.
  if (!dev.dmaCoherent && !(attrs & DMA_ATTR_SKIP_CPU_SYNC)) archSyncForCpu(k, pa, size, dir);
  if (pa >= 0 && k.isSwiotlbBuffer(dev, pa)) directUnmapBounce(k, dev, pa, size, dir, attrs);
}

function directUnmapBounce(
  k: KernelContext,
  dev: Device,
  pa: number,
  size: number,
  dir: number,
  attrs: number,
): void {
  if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC)) k.swiotlbSyncSingleForCpu(dev, pa, size, dir);
  k.swiotlbTblUnmapSingle(dev, pa, size, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
}

/** dma_direct_sync_single_for_device(): bounce original → slot, then clean for the device. */
export function directSyncSingleForDevice(
  k: KernelContext,
  dev: Device,
  addr: number,
  size: number,
  dir: number,
): void {
  const pa = dmaToPhys(k, dev, addr);
  if (pa >= 0 && k.isSwiotlbBuffer(dev, pa)) k.swiotlbSyncSingleForDevice(dev, pa, size, dir);
  if (!dev.dmaCoherent) archSyncForDevice(k, pa, size, dir);
}

/** dma_direct_sync_single_for_cpu(): invalidate for the CPU, then bounce slot → original. */
export function directSyncSingleForCpu(
  k: KernelContext,
  dev: Device,
  addr: number,
  size: number,
  dir: number,
): void {
  const pa = dmaToPhys(k, dev, addr);
  if (!dev.dmaCoherent) archSyncForCpu(k, pa, size, dir);
  if (pa >= 0 && k.isSwiotlbBuffer(dev, pa)) k.swiotlbSyncSingleForCpu(dev, pa, size, dir);
}

/** dma_direct_map_sg(): every entry mapped on its own, no merging; unwinds on failure. */
export function directMapSg(
  k: KernelContext,
  dev: Device,
  sgl: Scatterlist[],
  nents: number,
  dir: number,
  attrs: number,
): number {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i]!;
    sg.dmaFlags &= ~SG_DMA_BUS_ADDRESS;
    const dma = directMapPhys(k, dev, sg.phys, sg.length, dir, attrs);
    if (dma === DMA_MAPPING_ERROR) {
      directUnmapSg(k, dev, sgl, i, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
      return -EIO;
    }
    sg.dmaAddress = dma;
    sg.dmaLength = sg.length;
  }
  return nents;
}

/** dma_direct_unmap_sg() */
export function directUnmapSg(
  k: KernelContext,
  dev: Device,
  sgl: Scatterlist[],
  nents: number,
  dir: number,
  attrs: number,
): void {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i]!;
    if (sg.dmaFlags & SG_DMA_BUS_ADDRESS) sg.dmaFlags &= ~SG_DMA_BUS_ADDRESS;
    else directUnmapPhys(k, dev, sg.dmaAddress, sg.dmaLength, dir, attrs);
  }
}

/** dma_direct_sync_sg_for_device(): per entry, CPU-side length. */
export function directSyncSgForDevice(
  k: KernelContext,
  dev: Device,
  sgl: Scatterlist[],
  nents: number,
  dir: number,
): void {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i]!;
    directSyncSingleForDevice(k, dev, sg.dmaAddress, sg.length, dir);
  }
}

/** dma_direct_sync_sg_for_cpu() */
export function directSyncSgForCpu(
  k: KernelContext,
  dev: Device,
  sgl: Scatterlist[],
  nents: number,
  dir: number,
): void {
  for (let i = 0; i < nents; i++) {
    const sg = sgl[i]!;
    directSyncSingleForCpu(k, dev, sg.dmaAddress, sg.length, dir);
  }
}

// ---- allocations (§3.7) ----

/** The zones to start from for a coherent limit (§3.7.2); 0 = DMA, 1 = DMA32, 2 = NORMAL. */
function zoneForLimit(k: KernelContext, dev: Device): { zone: number; gfp: number } {
  const limit = minNotZero(dev.coherentDmaMask, dev.busDmaLimit);
  const physLimit = BigInt(Math.max(0, dmaToPhys(k, dev, u64ToLimit(limit))));
  if (k.config.zoneDma && physLimit <= k.config.zoneDmaLimit) return { zone: 0, gfp: GFP_DMA };
  if (k.config.zoneDma32 && physLimit <= DMA_BIT_MASK(32)) return { zone: 1, gfp: GFP_DMA32 };
  return { zone: 2, gfp: 0 };
}

/** __dma_direct_alloc_pages(): page allocator at get_order(size), retrying lower zones while the pages are out of reach. */
export function directAllocPagesRaw(k: KernelContext, dev: Device, size: number): number | null {
  const order = getOrder(size);
  let { zone, gfp } = zoneForLimit(k, dev);
  for (;;) {
    const pa = k.platform.pages.allocPages(order, zone);
    // No memory at all ends the search; only memory out of reach retries lower zones.
    if (pa === null) return null;
    if (coherentOk(k, dev, pa, size)) return pa;
    k.platform.pages.freePages(pa, order);
    const limit = minNotZero(dev.coherentDmaMask, dev.busDmaLimit);
    if (k.config.zoneDma32 && limit < U64_MAX && !(gfp & (GFP_DMA | GFP_DMA32))) {
      gfp |= GFP_DMA32;
      zone = 1;
      continue;
    }
    if (k.config.zoneDma && !(gfp & GFP_DMA)) {
      gfp = (gfp & ~GFP_DMA32) | GFP_DMA;
      zone = 0;
      continue;
    }
    return null;
  }
}

/** get_order(): the smallest order whose block holds `size` bytes. */
export function getOrder(size: number): number {
  let order = 0;
  while (PAGE_SIZE * 2 ** order < size) order++;
  return order;
}

/** dma_direct_alloc() */
export function directAlloc(
  k: KernelContext,
  dev: Device,
  size: number,
  gfp: number,
  attrs: number,
): DmaAllocation | null {
  size = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  if (attrs & DMA_ATTR_NO_WARN) gfp |= GFP_NOWARN;
  const remapNeeded = !dev.dmaCoherent;
  if (attrs & DMA_ATTR_NO_KERNEL_MAPPING && !k.config.forceDmaUnencrypted) {
    const pa = directAllocPagesRaw(k, dev, size);
    if (pa === null) return null;
    if (!dev.dmaCoherent) k.archDmaPrepCoherent(pa, size);
    // The cookie is the page descriptor: modelled as a value in no mapped region.
    return { cpuAddr: k.pageCookie(pa), handle: physToDma(k, dev, pa) };
  }
  if (remapNeeded) {
    if (k.config.archHasDmaAlloc) return k.archDmaAlloc(dev, size, gfp, attrs);
    if (k.config.dmaGlobalPool) return k.globalPoolAlloc(dev, size);
    if (!k.config.archHasDmaSetUncached && !k.config.dmaDirectRemap) {
      k.log.noticeOnce(
        "coherent-unsupported",
        "coherent DMA allocations not supported on this platform",
        dev.name,
      );
      return null;
    }
  }
  const decrypt = k.config.forceDmaUnencrypted;
  if ((remapNeeded && k.config.dmaDirectRemap) || decrypt) {
    if (!(gfp & GFP_DIRECT_RECLAIM)) return k.atomicPoolAlloc(dev, size, remapNeeded);
  }
  const pa = directAllocPagesRaw(k, dev, size);
  if (pa === null) return null;
  let cpuAddr: number;
  if (remapNeeded && k.config.dmaDirectRemap) {
    k.archDmaPrepCoherent(pa, size);
    // The remap's protection is dma_pgprot(): write-combining only where the arch supports it.
    const wc = k.config.archHasDmaWriteCombine && (attrs & DMA_ATTR_WRITE_COMBINE) !== 0;
    cpuAddr = k.remapUncached(pa, size, wc);
  } else {
    cpuAddr = k.platform.kas.physToVirt(pa);
    if (remapNeeded) {
      // set_uncached path: clean the kernel alias, then mark the linear range uncached
      k.archDmaPrepCoherent(pa, size);
      k.markUncached(cpuAddr, size);
    }
  }
  k.zeroCpu(cpuAddr, size);
  return { cpuAddr, handle: decrypt ? physToDmaUnencrypted(dev, pa) : physToDma(k, dev, pa) };
}

/** dma_direct_free() */
export function directFree(
  k: KernelContext,
  dev: Device,
  size: number,
  cpuAddr: number,
  handle: number,
  attrs: number,
): void {
  size = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  const order = getOrder(size);
  if (attrs & DMA_ATTR_NO_KERNEL_MAPPING && !k.config.forceDmaUnencrypted) {
    k.platform.pages.freePages(k.cookiePage(cpuAddr), order);
    return;
  }
  if (!dev.dmaCoherent && k.config.archHasDmaAlloc) {
    k.archDmaFree(dev, size, cpuAddr, handle);
    return;
  }
  if (!dev.dmaCoherent && k.config.dmaGlobalPool) {
    k.globalPoolFree(dev, cpuAddr, size);
    return;
  }
  if (k.atomicPoolFree(cpuAddr, size)) return;
  const pa = dmaToPhys(k, dev, handle);
  if (k.isRemapped(cpuAddr)) k.unmapUncached(cpuAddr);
  else k.unmarkUncached(cpuAddr, size);
  k.platform.pages.freePages(pa, order);
}

/** dma_direct_alloc_pages(): cacheable pages; the caller syncs. */
export function directAllocPages(
  k: KernelContext,
  dev: Device,
  size: number,
  gfp: number,
): DmaPageAllocation | null {
  size = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  if (k.config.forceDmaUnencrypted && !(gfp & GFP_DIRECT_RECLAIM)) {
    const a = k.atomicPoolAlloc(dev, size, false);
    return a === null ? null : { pagePhys: k.platform.kas.translate(a.cpuAddr), handle: a.handle };
  }
  const pa = directAllocPagesRaw(k, dev, size);
  if (pa === null) return null;
  k.zeroCpu(k.platform.kas.physToVirt(pa), size);
  // In a confidential guest the pages are shared with the host (decrypted),
  // so the handle carries no encryption bit, as for dma_alloc_coherent.
  const handle = k.config.forceDmaUnencrypted
    ? physToDmaUnencrypted(dev, pa)
    : physToDma(k, dev, pa);
  return { pagePhys: pa, handle };
}

/** dma_direct_free_pages() */
export function directFreePages(
  k: KernelContext,
  _dev: Device,
  size: number,
  pagePhys: number,
): void {
  size = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  if (k.atomicPoolFree(k.platform.kas.physToVirt(pagePhys), size)) return;
  k.platform.pages.freePages(pagePhys, getOrder(size));
}

/** dma_direct_get_sgtable(): one entry of page-aligned size. */
export function directGetSgtable(
  k: KernelContext,
  dev: Device,
  sgt: SgTable,
  _cpuAddr: number,
  handle: number,
  size: number,
): number {
  const pa = dmaToPhys(k, dev, handle);
  if (pa < 0) return -ENXIO;
  sgt.sgl[0]!.setPage(pa - (pa % PAGE_SIZE), Math.ceil(size / PAGE_SIZE) * PAGE_SIZE, 0);
  sgt.origNents = 1;
  return 0;
}

/** dma_direct_can_mmap() */
export function directCanMmap(k: KernelContext, dev: Device): boolean {
  return dev.dmaCoherent || k.config.dmaNoncoherentMmap;
}

/** dma_direct_mmap(): the range check; the remap itself has no observable effect in the model. */
export function directMmap(
  k: KernelContext,
  dev: Device,
  vma: VmArea,
  _cpuAddr: number,
  _handle: number,
  size: number,
): number {
  if (!directCanMmap(k, dev)) return -ENXIO;
  const count = Math.ceil(size / PAGE_SIZE);
  const userCount = Math.ceil(vma.size / PAGE_SIZE);
  if (vma.pgoff >= count || userCount > count - vma.pgoff) return -ENXIO;
  return 0;
}
