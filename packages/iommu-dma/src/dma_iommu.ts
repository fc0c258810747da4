// iommu-dma: the default IOMMU-backed DMA operations
// (drivers/iommu/dma-iommu.c, v6.12 semantics, with the 6.16 IOVA two-step API).
// A device in a DMA or DMA-FQ domain gets IOVAs from the domain's IOVA
// allocator; its mappings are written into the IOMMU page tables; unmaps
// invalidate the IOTLB at once (strict) or through the flush queue (lazy).
import {
  archSyncForCpu,
  archSyncForDevice,
  type Device,
  DMA_ATTR_MMIO,
  DMA_ATTR_PRIVILEGED,
  DMA_ATTR_REQUIRE_COHERENT,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  type DmaAllocation,
  type DmaIovaState,
  type DmaKernel,
  EINVAL,
  EIO,
  ENOMEM,
  ENXIO,
  EOPNOTSUPP,
  EPERM,
  GFP_DIRECT_RECLAIM,
  hex,
  type IommuDmaEntryPoints,
  type IommuDmaFactory,
  kmallocNeedsBounce,
  PAGE_SIZE,
  type Scatterlist,
  SG_DMA_BUS_ADDRESS,
  SG_DMA_SWIOTLB,
  SgTable,
  SIZE_MAX,
  type VmArea,
} from "@dmasim/dma-core";
import {
  DOMAIN_DMA,
  DOMAIN_DMA_FQ,
  DOMAIN_IDENTITY,
  IOMMU_CACHE,
  IOMMU_MMIO,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
  type IommuDomain,
  type IommuUnit,
  IotlbGather,
} from "@dmasim/iommu";
import { FlushQueue } from "./flush_queue.ts";
import { ALLOC_IOVA_FAST, FQ_QUEUE, FREE_IOVA_FAST, isInt } from "./internal.ts";
import { IOVA_ANCHOR_PFN, IovaDomain } from "./iova.ts";
import { LiveIovas } from "./live_iovas.ts";

/** The IOMMU core's default domain policy (iommu.passthrough, iommu.strict, Kconfig default). */
export type DefaultDomainType = "identity" | "dma" | "dma-fq";

export interface IommuDmaOptions {
  /** The IOMMU unit that translates for `dev`, or null when none does. */
  iommuFor(dev: Device): IommuUnit | null;
  /** The PCI host bridge's memory windows (reserved in every IOVA domain so inbound addresses never alias MMIO). */
  pciWindows?: ReadonlyArray<{ start: number; end: number }>;
  /** The default domain type for devices that are not untrusted. */
  defaultDomain?: DefaultDomainType;
  /** iommu.forcedac=1: PCI devices skip the 32-bit-first IOVA trick. */
  forcedac?: boolean;
}

/** Per-domain state (struct iommu_dma_cookie). */
export interface DmaCookie {
  readonly domain: IommuDomain;
  readonly iovad: IovaDomain;
  /** The flush queue of a DMA-FQ domain, or null (strict). */
  readonly fq: FlushQueue | null;
  /** iova_mask(iovad): granule − 1 */
  readonly granuleMask: number;
  readonly granule: number;
  /** 1 / granule (exact: a power of two), so the hot paths multiply instead of dividing. */
  readonly granuleInv: number;
}

interface DevState {
  cookie: DmaCookie;
  /** IOVA ranges handed out and not yet given back (first pfn → length in bytes), for leak reports. */
  live: LiveIovas;
  /** dev->iommu->pci_32bit_workaround */
  pci32bitWorkaround: boolean;
}

/** A noncontiguous allocation: its pages and IOVA, for vmap/mmap/free (struct dma_sgt_handle). */
interface SgtHandle {
  pages: number[];
  iova: number;
  size: number;
  vaddr: number;
}

/** DMA_BIT_MASK(32) as a number. */
const LIMIT_32 = 2 ** 32 - 1;

/** IOVA_RANGE_CACHE_MAX_SIZE */
const IOVA_RANGE_CACHE_MAX_SIZE = 6;

/**
 * x % a, exactly: V8 compiles a `%` of doubles (every address above 2^31) to
 * a slow x87 loop of about 35 ns; a divide, a truncation and a multiply cost
 * a few. What the fast form cannot get exactly (negative, non-finite) takes
 * `%` itself.
 */
function mod(x: number, a: number): number {
  const r = x - Math.trunc(x / a) * a;
  return r >= 0 && r < a ? r : x % a;
}

function alignUp(x: number, a: number): number {
  const r = mod(x, a);
  return r === 0 ? x : x + (a - r);
}

/** mod() by a power of two `a` whose reciprocal `inv` is known: a multiply instead of a divide. */
function modPow2(x: number, a: number, inv: number): number {
  const r = x - Math.trunc(x * inv) * a;
  return r >= 0 && r < a ? r : x % a;
}

/** alignUp() to a power of two `a` whose reciprocal `inv` is known. */
function alignUpPow2(x: number, a: number, inv: number): number {
  const r = modPow2(x, a, inv);
  return r === 0 ? x : x + (a - r);
}

/** Math.trunc in a module binding (fewer bytecodes where the hot paths spell modPow2 out). */
const trunc: (x: number) => number = Math.trunc;

/** 2^52: a segment boundary at or above it never splits a simulated address range. */
const BOUNDARY_NONE = BigInt(2 ** 52);

/**
 * Builds the iommu-dma entry points for one kernel. Hand the result to
 * `new DmaKernel({ iommuDma: createIommuDma(options) })`.
 */
export function createIommuDma(options: IommuDmaOptions): IommuDmaFactory {
  if (!options || typeof options.iommuFor !== "function") {
    throw new TypeError("createIommuDma: options.iommuFor(dev) is required");
  }
  return (kernel: DmaKernel) => new IommuDma(kernel, options);
}

/** The iommu-dma implementation bound to one kernel. */
export class IommuDma implements IommuDmaEntryPoints {
  readonly #k: DmaKernel;
  readonly #opts: IommuDmaOptions;
  readonly #devs = new Map<Device, DevState>();
  readonly #cookies = new Map<IommuDomain, DmaCookie>();
  readonly #sgtHandles = new Map<SgTable, SgtHandle>();
  readonly #vmaps = new Map<number, SgtHandle>();
  readonly #remaps = new Map<number, { pages: number[]; size: number; handle: number }>();
  readonly #gather = new IotlbGather();
  /** The device #state looked up last, and its state (forgotten on set-up and release). */
  #lastDev: Device | null = null;
  #lastSt: DevState | null = null;

  constructor(kernel: DmaKernel, options: IommuDmaOptions) {
    this.#k = kernel;
    this.#opts = options;
    if (options.forcedac) kernel.log.notice("iommu-forcedac", "iommu: Forcing DAC for PCI devices");
  }

  /** The cookie of the device's DMA domain; a device without one is a kernel bug on this path. */
  cookieOf(dev: Device): DmaCookie {
    const st = this.#devs.get(dev);
    if (!st) throw new RangeError(`${dev.name} has no IOMMU DMA domain`);
    return st.cookie;
  }

  // ------------------------------------------------------------ set-up

  /** iommu_setup_dma_ops() with the IOMMU core's default-domain choice before it. */
  setupDevice(dev: Device): boolean {
    const unit = this.#opts.iommuFor(dev);
    if (unit === null) return false;
    // iommu_get_def_domain_type(): untrusted devices always get a strict DMA domain.
    let want = dev.untrusted ? "dma" : (this.#opts.defaultDomain ?? "dma-fq");
    if (want === "dma-fq" && !unit.deferredFlush) want = "dma";
    const type =
      want === "identity" ? DOMAIN_IDENTITY : want === "dma-fq" ? DOMAIN_DMA_FQ : DOMAIN_DMA;
    const domain = unit.allocDomain(type);
    unit.attachDevice(dev.iommuId, domain);
    if (type === DOMAIN_IDENTITY) return false;
    const cookie = this.#initDomain(unit, domain, dev);
    this.#lastDev = null;
    this.#devs.set(dev, {
      cookie,
      live: new LiveIovas(),
      pci32bitWorkaround: dev.pci && !this.#opts.forcedac,
    });
    return true;
  }

  releaseDevice(dev: Device): void {
    const st = this.#devs.get(dev);
    if (!st) return;
    st.cookie.fq?.destroy();
    this.#lastDev = null;
    this.#devs.delete(dev);
  }

  /** iommu_dma_init_domain(): granule, start pfn 1, reserved regions, flush queue. */
  #initDomain(unit: IommuUnit, domain: IommuDomain, _dev: Device): DmaCookie {
    const existing = this.#cookies.get(domain);
    if (existing) return existing;
    const bitmap = domain.pgsizeBitmap;
    const granule = bitmap & -bitmap; // __ffs: the smallest page size
    const iovad = new IovaDomain(granule, 1, { cpus: this.#k.platform.cpus });
    // iova_reserve_pci_windows(): host bridge windows never become IOVAs.
    for (const w of this.#opts.pciWindows ?? []) {
      iovad.reserveIova(Math.floor(w.start / granule), Math.floor(w.end / granule));
    }
    // iova_reserve_iommu_regions(): everything but the software MSI window.
    for (const r of unit.reservedRegions) {
      if (r.type === "sw-msi") continue;
      iovad.reserveIova(
        Math.floor(r.start / granule),
        Math.floor((r.start + r.size - 1) / granule),
      );
    }
    let fq: FlushQueue | null = null;
    if (domain.type === DOMAIN_DMA_FQ) {
      fq = new FlushQueue(iovad, () => domain.flushIotlbAll(), this.#k.platform.clock, {
        shadowOnFlush: unit.cachingMode,
        cpus: this.#k.platform.cpus,
      });
    }
    const cookie: DmaCookie = {
      domain,
      iovad,
      fq,
      granule,
      granuleMask: granule - 1,
      granuleInv: 1 / granule,
    };
    this.#cookies.set(domain, cookie);
    return cookie;
  }

  // ------------------------------------------------------------ IOVA allocation

  /**
   * iommu_dma_alloc_iova(): 32-bit first for PCI devices, then the whole limit
   * with an rcache flush on failure. `limit` is min_not_zero(mask,
   * bus_dma_limit) as a number (the device's streaming or coherent limit).
   */
  #allocIova(dev: Device, st: DevState, size: number, limit: number): number {
    return this.#allocPfn(dev, st, size, limit) * st.cookie.granule;
  }

  /** #allocIova as a pfn (0: none): a pfn stays a small integer, where an address above 2^30 is boxed when passed on. */
  #allocPfn(dev: Device, st: DevState, size: number, limit: number): number {
    const { iovad, domain, granuleInv } = st.cookie;
    const iovaLen = size * granuleInv;
    if (limit === 0) limit = LIMIT_32; // dma_get_mask() of a zero mask is 32 bits
    if (domain.geometry.forceAperture && domain.geometry.apertureEnd < limit)
      limit = domain.geometry.apertureEnd;
    // A size that is no positive integer number of granules (or a CPU the
    // rcache lacks) goes to the checked allocIovaFast, which throws; the
    // limits are computed here.
    const cpu = this.#k.cpu;
    const checked = !(iovaLen >= 1 && isInt(iovaLen) && cpu < iovad.rcache.cpus);
    if (limit > LIMIT_32 && st.pci32bitWorkaround) {
      const limit32 = (LIMIT_32 + 1) * granuleInv - 1;
      const pfn = checked
        ? iovad.allocIovaFast(iovaLen, limit32, false, cpu)
        : iovad[ALLOC_IOVA_FAST](iovaLen, limit32, false, cpu);
      if (pfn !== 0) {
        st.live.set(pfn, size);
        return pfn;
      }
      this.#dacFallback(dev, st, limit);
    }
    const limitPfn = Math.floor(limit * granuleInv);
    const pfn =
      checked || !(limitPfn >= 0 && limitPfn < IOVA_ANCHOR_PFN)
        ? iovad.allocIovaFast(iovaLen, limitPfn, true, cpu)
        : iovad[ALLOC_IOVA_FAST](iovaLen, limitPfn, true, cpu);
    if (pfn !== 0) st.live.set(pfn, size);
    return pfn;
  }

  /** The 32-bit attempt failed: this device asks for the whole limit from now on (cold path). */
  #dacFallback(dev: Device, st: DevState, limit: number): void {
    st.pci32bitWorkaround = false;
    this.#k.log.notice(
      "iommu-dac",
      `Using ${limit.toString(2).length}-bit DMA addresses`,
      dev.name,
    );
  }

  /** iommu_dma_free_iova(): into the flush queue when the unmap was queued, else straight back to the caches. */
  #freeIova(cookie: DmaCookie, iova: number, size: number, queued: boolean, st?: DevState): void {
    const pfn = iova * cookie.granuleInv;
    st?.live.delete(pfn);
    const pages = size * cookie.granuleInv;
    const cpu = this.#k.cpu;
    // Every caller frees a granule-aligned range (whole granules at a granule
    // boundary), so pfn and pages are integers: unchecked, unless it is empty.
    if (!(pages >= 1 && cpu < cookie.iovad.rcache.cpus))
      this.#freeIovaChecked(cookie, pfn, pages, queued, cpu);
    else if (queued && cookie.fq) cookie.fq[FQ_QUEUE](pfn, pages, 0, cpu);
    else cookie.iovad[FREE_IOVA_FAST](pfn, pages, cpu);
  }

  /** #freeIova through the checked calls, which throw for what they refuse (cold path). */
  #freeIovaChecked(
    cookie: DmaCookie,
    pfn: number,
    pages: number,
    queued: boolean,
    cpu: number,
  ): void {
    if (queued && cookie.fq) cookie.fq.queue(pfn, pages, 0, cpu);
    else cookie.iovad.freeIovaFast(pfn, pages, cpu);
  }

  // ------------------------------------------------------------ map / unmap core

  /** dma_info_to_prot() */
  #prot(dir: number, coherent: boolean, attrs: number): number {
    let prot = coherent ? IOMMU_CACHE : 0;
    if (attrs & DMA_ATTR_PRIVILEGED) prot |= IOMMU_PRIV;
    if (dir === DMA_BIDIRECTIONAL) return prot | IOMMU_READ | IOMMU_WRITE;
    if (dir === DMA_TO_DEVICE) return prot | IOMMU_READ;
    if (dir === DMA_FROM_DEVICE) return prot | IOMMU_WRITE;
    return 0;
  }

  /**
   * __iommu_dma_map(): allocate an IOVA for the granule-aligned span and
   * write the page tables; below the device's coherent limit (allocations)
   * or its streaming one.
   */
  #map(dev: Device, phys: number, size: number, prot: number, coherentLimit: boolean): number {
    return this.#mapIn(dev, this.#state(dev), phys, size, prot, coherentLimit);
  }

  /** #map with the device's state already looked up (the limit read here: passed on, it would be boxed). */
  #mapIn(
    dev: Device,
    st: DevState,
    phys: number,
    size: number,
    prot: number,
    coherentLimit: boolean,
  ): number {
    const { cookie } = st;
    const g = cookie.granule;
    const inv = cookie.granuleInv;
    // modPow2 and alignUpPow2 spelt out: calls here would go past V8's inlining budget.
    let off = phys - trunc(phys * inv) * g;
    if (!(off >= 0 && off < g)) off = phys % g;
    if (dev.dmaParms !== null && dev.dmaParms.minAlignMask > cookie.granuleMask)
      return this.#unsupportedAlignment(dev);
    const end = size + off;
    let r = end - trunc(end * inv) * g;
    if (!(r >= 0 && r < g)) r = end % g;
    const len = r === 0 ? end : end + (g - r);
    const limit = coherentLimit ? dev.coherentLimit : dev.streamingLimit;
    const pfn = this.#allocPfn(dev, st, len, limit);
    if (pfn === 0) return DMA_MAPPING_ERROR;
    // By frame number (phys - off and len are multiples of the granule): no address is boxed on the way.
    if (cookie.domain.iommuMapFrames(pfn, (phys - off) * inv, len * inv, prot) !== 0) {
      this.#freeIova(cookie, pfn * g, len, false, st);
      return DMA_MAPPING_ERROR;
    }
    return pfn * g + off;
  }

  /** A min_align_mask wider than the granule cannot be honoured (cold path). */
  #unsupportedAlignment(dev: Device): number {
    this.#k.log.warnOnce(
      `iommu-min-align:${dev.name}`,
      "Unsupported alignment constraint",
      dev.name,
    );
    return DMA_MAPPING_ERROR;
  }

  /** __iommu_dma_unmap(): unmap the granule-aligned span; strict syncs the IOTLB now, lazy queues. */
  #unmap(dev: Device, addr: number, size: number): void {
    this.#unmapIn(dev, this.#state(dev), addr, size);
  }

  /** #unmap with the device's state already looked up. */
  #unmapIn(dev: Device, st: DevState, addr: number, size: number): void {
    const { cookie } = st;
    const g = cookie.granule;
    const inv = cookie.granuleInv;
    // modPow2 and alignUpPow2 spelt out, as in #mapIn.
    let off = addr - trunc(addr * inv) * g;
    if (!(off >= 0 && off < g)) off = addr % g;
    const iova = addr - off;
    const end = size + off;
    let r = end - trunc(end * inv) * g;
    if (!(r >= 0 && r < g)) r = end % g;
    const len = r === 0 ? end : end + (g - r);
    const gather = this.#gather;
    gather.reset();
    gather.queued = cookie.fq !== null;
    const unmapped = cookie.domain.iommuUnmapFast(iova, len, gather);
    if (unmapped !== len) this.#warnUnmapSize(dev, unmapped, len, iova);
    if (!gather.queued) cookie.domain.iotlbSync(gather);
    this.#freeIova(cookie, iova, len, gather.queued, st);
  }

  /** WARN_ON(unmapped != size) (cold path). */
  #warnUnmapSize(dev: Device, unmapped: number, len: number, iova: number): void {
    this.#k.log.warn(
      "iommu-dma-unmap-size",
      `WARN_ON(unmapped != size): unmapped ${unmapped} of ${len} bytes at ${hex(iova)}`,
      dev.name,
    );
  }

  #state(dev: Device): DevState {
    if (dev === this.#lastDev) return this.#lastSt!;
    const st = this.#devs.get(dev);
    if (!st) return this.#noState(dev);
    this.#lastDev = dev;
    this.#lastSt = st;
    return st;
  }

  #noState(dev: Device): never {
    throw new RangeError(`iommu-dma: ${dev.name} is not in an IOMMU DMA domain`);
  }

  /** dev_use_swiotlb() */
  #useSwiotlb(dev: Device, size: number, dir: number): boolean {
    return this.#k.config.swiotlb && (dev.untrusted || kmallocNeedsBounce(this.#k, dev, size, dir));
  }

  mapPhys(dev: Device, phys: number, size: number, dir: number, attrs: number): number {
    if (attrs & DMA_ATTR_MMIO) return this.mapResource(dev, phys, size, dir, attrs);
    const st = this.#state(dev);
    const coherent = dev.dmaCoherent;
    const prot = this.#prot(dir, coherent, attrs);
    if (this.#useSwiotlb(dev, size, dir)) {
      phys = this.#bounceUnaligned(dev, st, phys, size, dir, attrs);
      if (phys < 0) return DMA_MAPPING_ERROR;
    }
    if (!coherent && !(attrs & DMA_ATTR_SKIP_CPU_SYNC)) archSyncForDevice(this.#k, phys, size, dir);
    const iova = this.#mapIn(dev, st, phys, size, prot, false);
    if (iova === DMA_MAPPING_ERROR && this.#k.isSwiotlbBuffer(dev, phys)) {
      this.#k.swiotlbTblUnmapSingle(dev, phys, size, dir, attrs);
    }
    return iova;
  }

  /**
   * mapPhys for a device that may bounce (out of line): an unaligned buffer's
   * swiotlb slot, the buffer itself when aligned, or -1 when it cannot bounce.
   */
  #bounceUnaligned(
    dev: Device,
    st: DevState,
    phys: number,
    size: number,
    dir: number,
    attrs: number,
  ): number {
    if (mod(phys, st.cookie.granule) === 0 && mod(size, st.cookie.granule) === 0) return phys;
    if (attrs & DMA_ATTR_REQUIRE_COHERENT) return -1;
    return this.#mapSwiotlb(dev, st, phys, size, dir, attrs);
  }

  /**
   * iommu_dma_map_swiotlb(): the bounce slot for `phys` (granule-aligned
   * allocation), or -1 when swiotlb is inactive (warned once) or full.
   */
  #mapSwiotlb(
    dev: Device,
    st: DevState,
    phys: number,
    size: number,
    dir: number,
    attrs: number,
  ): number {
    if (this.#k.swiotlb === null) {
      this.#k.log.noticeOnce(
        `iommu-bounce-inactive:${dev.name}`,
        "DMA bounce buffers are inactive, unable to map unaligned transaction.",
        dev.name,
      );
      return -1;
    }
    const tlb = this.#k.swiotlbTblMapSingle(dev, phys, size, st.cookie.granuleMask, dir, attrs);
    if (tlb < 0) return -1;
    if (dev.untrusted) {
      // Zero the pre- and post-padding of the bounce granules so the device sees no stale kernel data.
      const start = tlb - mod(tlb, st.cookie.granule);
      if (tlb > start) this.#k.platform.cache.cpuWrite(start, new Uint8Array(tlb - start));
      const end = tlb + size;
      const padEnd = alignUp(end, st.cookie.granule);
      if (padEnd > end) this.#k.platform.cache.cpuWrite(end, new Uint8Array(padEnd - end));
    }
    return tlb;
  }

  unmapPhys(dev: Device, addr: number, size: number, dir: number, attrs: number): void {
    if (attrs & DMA_ATTR_MMIO) {
      this.unmapResource(dev, addr, size, dir, attrs);
      return;
    }
    const st = this.#state(dev);
    const phys = st.cookie.domain.iovaToPhys(addr);
    if (phys === 0) {
      this.#warnNotMapped(dev, addr);
      return;
    }
    if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) && !dev.dmaCoherent)
      archSyncForCpu(this.#k, phys, size, dir);
    this.#unmapIn(dev, st, addr, size);
    if (this.#k.isSwiotlbBuffer(dev, phys))
      this.#k.swiotlbTblUnmapSingle(dev, phys, size, dir, attrs);
  }

  /** WARN_ON(!phys) in iommu_dma_unmap_phys (cold path). */
  #warnNotMapped(dev: Device, addr: number): void {
    this.#k.log.warn(
      "iommu-dma-unmap-unmapped",
      `WARN_ON(!phys): unmap of ${hex(addr)}, which is not mapped`,
      dev.name,
    );
  }

  /** iommu_dma_map_resource(): IOMMU_MMIO, never IOMMU_CACHE, no maintenance, no bounce. */
  mapResource(dev: Device, phys: number, size: number, dir: number, attrs: number): number {
    const st = this.#state(dev);
    if (
      this.#useSwiotlb(dev, size, dir) &&
      (mod(phys, st.cookie.granule) !== 0 || mod(size, st.cookie.granule) !== 0)
    ) {
      // A resource cannot be bounced.
      if (this.#k.design.physOps) return DMA_MAPPING_ERROR;
    }
    return this.#map(dev, phys, size, this.#prot(dir, false, attrs) | IOMMU_MMIO, false);
  }

  unmapResource(dev: Device, addr: number, size: number, _dir: number, _attrs: number): void {
    this.#unmap(dev, addr, size);
  }

  // ------------------------------------------------------------ scatter-gather

  /** dev_use_sg_swiotlb() */
  #useSgSwiotlb(dev: Device, sgl: Scatterlist[], nents: number, dir: number): boolean {
    if (!this.#k.config.swiotlb) return false;
    if (dev.untrusted) return true;
    for (let i = 0; i < nents; i++)
      if (kmallocNeedsBounce(this.#k, dev, sgl[i]!.length, dir)) return true;
    return false;
  }

  mapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: number, attrs: number): number {
    const st = this.#state(dev);
    const { cookie } = st;
    if (this.#useSgSwiotlb(dev, sgl, nents, dir))
      return this.#mapSgSwiotlb(dev, sgl, nents, dir, attrs);
    if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC)) this.syncSgForDevice(dev, sgl, nents, dir);
    const prot = this.#prot(dir, dev.dmaCoherent, attrs);
    const segMask = this.#k.getSegBoundary(dev);
    const boundary = segMask >= BOUNDARY_NONE ? 0 : Number(segMask) + 1;
    const g = cookie.granule;
    let iovaLen = 0;
    let prev: Scatterlist | null = null;
    for (let i = 0; i < nents; i++) {
      const s = sgl[i]!;
      const sOff = s.offset % g;
      let sLen = s.length;
      // Stash the unaligned parts in the unused DMA fields; the CPU fields become granule-aligned (reversibly).
      s.dmaAddress = sOff;
      s.dmaLength = sLen;
      s.offset -= sOff;
      sLen = alignUpPow2(sLen + sOff, g, cookie.granuleInv);
      s.length = sLen;
      if (boundary !== 0 && prev !== null) {
        const padLen = mod(boundary - mod(iovaLen, boundary), boundary);
        if (padLen !== 0 && padLen < sLen - 1) {
          prev.length += padLen;
          iovaLen += padLen;
        }
      }
      iovaLen += sLen;
      prev = s;
    }
    const iova = this.#allocIova(dev, st, iovaLen, dev.streamingLimit);
    if (iova === 0) {
      this.#invalidateSg(sgl, nents);
      return -ENOMEM;
    }
    // iommu_map_sg(): each segment's aligned span, contiguous in IOVA space;
    // by frame number when the span is whole granules (no address is boxed).
    const inv = cookie.granuleInv;
    let at = iova;
    for (let i = 0; i < nents; i++) {
      const s = sgl[i]!;
      if (s.length === 0) continue;
      const pfn = s.phys * inv;
      const rc = isInt(pfn)
        ? cookie.domain.iommuMapFrames(at * inv, pfn, s.length * inv, prot)
        : cookie.domain.iommuMap(at, s.phys, s.length, prot);
      if (rc !== 0) {
        if (at > iova) cookie.domain.iommuUnmapFast(iova, at - iova, this.#syncedGather(cookie));
        this.#freeIova(cookie, iova, iovaLen, false, st);
        this.#invalidateSg(sgl, nents);
        return rc === -ENOMEM ? -ENOMEM : -EINVAL;
      }
      at += s.length;
    }
    return this.#finaliseSg(dev, sgl, nents, iova);
  }

  #syncedGather(cookie: DmaCookie): IotlbGather {
    const g = this.#gather;
    g.reset();
    g.queued = false;
    void cookie;
    return g;
  }

  /** __finalise_sg(): restore the CPU fields and merge into output DMA segments. */
  #finaliseSg(dev: Device, sgl: Scatterlist[], nents: number, dmaAddr: number): number {
    const segMask = this.#k.getSegBoundary(dev);
    const boundary = segMask >= BOUNDARY_NONE ? 0 : Number(segMask) + 1;
    const maxLen = this.#k.getMaxSegSize(dev);
    let cur = 0;
    let curLen = 0;
    let count = 0;
    for (let i = 0; i < nents; i++) {
      const s = sgl[i]!;
      const sIovaOff = s.dmaAddress;
      const sLength = s.dmaLength;
      const sIovaLen = s.length;
      s.dmaAddress = DMA_MAPPING_ERROR;
      s.dmaLength = 0;
      s.offset += sIovaOff;
      s.length = sLength;
      const atBoundary = boundary !== 0 ? mod(dmaAddr, boundary) === 0 : dmaAddr === 0;
      if (curLen !== 0 && sIovaOff === 0 && !atBoundary && maxLen - curLen >= sLength) {
        curLen += sLength;
      } else {
        if (i > 0) cur++;
        curLen = sLength;
        count++;
        sgl[cur]!.dmaAddress = dmaAddr + sIovaOff;
      }
      sgl[cur]!.dmaLength = curLen;
      dmaAddr += sIovaLen;
      if (sLength + sIovaOff < sIovaLen) curLen = 0;
    }
    return count;
  }

  /** __invalidate_sg(): undo the in-place alignment after a failure. */
  #invalidateSg(sgl: Scatterlist[], nents: number): void {
    for (let i = 0; i < nents; i++) {
      const s = sgl[i]!;
      if (s.dmaAddress !== DMA_MAPPING_ERROR) s.offset += s.dmaAddress;
      if (s.dmaLength) s.length = s.dmaLength;
      s.dmaAddress = DMA_MAPPING_ERROR;
      s.dmaLength = 0;
    }
  }

  /** iommu_dma_map_sg_swiotlb(): every entry on its own, maybe bounced; no merging. */
  #mapSgSwiotlb(
    dev: Device,
    sgl: Scatterlist[],
    nents: number,
    dir: number,
    attrs: number,
  ): number {
    sgl[0]!.dmaFlags |= SG_DMA_SWIOTLB;
    for (let i = 0; i < nents; i++) {
      const s = sgl[i]!;
      s.dmaAddress = this.mapPhys(dev, s.phys, s.length, dir, attrs);
      if (s.dmaAddress === DMA_MAPPING_ERROR) {
        for (let j = 0; j < i; j++)
          this.unmapPhys(
            dev,
            sgl[j]!.dmaAddress,
            sgl[j]!.dmaLength,
            dir,
            attrs | DMA_ATTR_SKIP_CPU_SYNC,
          );
        return -EIO;
      }
      s.dmaLength = s.length;
    }
    return nents;
  }

  unmapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: number, attrs: number): void {
    if (sgl[0]!.dmaFlags & SG_DMA_SWIOTLB) {
      for (let i = 0; i < nents; i++)
        this.unmapPhys(dev, sgl[i]!.dmaAddress, sgl[i]!.dmaLength, dir, attrs);
      sgl[0]!.dmaFlags &= ~SG_DMA_SWIOTLB;
      return;
    }
    if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC)) this.syncSgForCpu(dev, sgl, nents, dir);
    let i = 0;
    let start = 0;
    for (; i < nents; i++) {
      const s = sgl[i]!;
      if (s.dmaFlags & SG_DMA_BUS_ADDRESS) {
        s.dmaFlags &= ~SG_DMA_BUS_ADDRESS;
        continue;
      }
      if (s.dmaLength === 0) break;
      start = s.dmaAddress;
      break;
    }
    let end = 0;
    for (; i < nents; i++) {
      const s = sgl[i]!;
      if (s.dmaFlags & SG_DMA_BUS_ADDRESS) {
        s.dmaFlags &= ~SG_DMA_BUS_ADDRESS;
        continue;
      }
      if (s.dmaLength === 0) break;
      end = s.dmaAddress + s.dmaLength;
    }
    if (end) this.#unmap(dev, start, end - start);
  }

  // ------------------------------------------------------------ sync

  syncSingleForCpu(dev: Device, addr: number, size: number, dir: number): void {
    if (dev.dmaCoherent && !this.#useSwiotlb(dev, size, dir)) return;
    const phys = this.#state(dev).cookie.domain.iovaToPhys(addr);
    if (!dev.dmaCoherent) archSyncForCpu(this.#k, phys, size, dir);
    if (this.#k.isSwiotlbBuffer(dev, phys)) this.#k.swiotlbSyncSingleForCpu(dev, phys, size, dir);
  }

  syncSingleForDevice(dev: Device, addr: number, size: number, dir: number): void {
    if (dev.dmaCoherent && !this.#useSwiotlb(dev, size, dir)) return;
    const phys = this.#state(dev).cookie.domain.iovaToPhys(addr);
    if (this.#k.isSwiotlbBuffer(dev, phys))
      this.#k.swiotlbSyncSingleForDevice(dev, phys, size, dir);
    if (!dev.dmaCoherent) archSyncForDevice(this.#k, phys, size, dir);
  }

  syncSgForCpu(dev: Device, sgl: Scatterlist[], nents: number, dir: number): void {
    if (sgl[0]!.dmaFlags & SG_DMA_SWIOTLB) {
      for (let i = 0; i < nents; i++)
        this.syncSingleForCpu(dev, sgl[i]!.dmaAddress, sgl[i]!.length, dir);
    } else if (!dev.dmaCoherent) {
      for (let i = 0; i < nents; i++) archSyncForCpu(this.#k, sgl[i]!.phys, sgl[i]!.length, dir);
    }
  }

  syncSgForDevice(dev: Device, sgl: Scatterlist[], nents: number, dir: number): void {
    if (sgl[0]!.dmaFlags & SG_DMA_SWIOTLB) {
      for (let i = 0; i < nents; i++)
        this.syncSingleForDevice(dev, sgl[i]!.dmaAddress, sgl[i]!.length, dir);
    } else if (!dev.dmaCoherent) {
      for (let i = 0; i < nents; i++) archSyncForDevice(this.#k, sgl[i]!.phys, sgl[i]!.length, dir);
    }
  }

  // ------------------------------------------------------------ allocations

  /** __iommu_dma_alloc_pages(): highest useful order first, orders the IOMMU can map, split to single pages. */
  #allocPageArray(count: number, orderMask: number): number[] | null {
    const pages: number[] = [];
    let remaining = count;
    while (remaining > 0) {
      let order = Math.floor(Math.log2(remaining));
      while (order > 0 && !((orderMask >>> order) & 1)) order--;
      order = Math.min(order, 10);
      let pa: number | null = null;
      for (; order >= 0; order--) {
        if (order > 0 && !((orderMask >>> order) & 1)) continue;
        pa = this.#k.platform.pages.allocPages(order);
        if (pa !== null) break;
      }
      if (pa === null) {
        for (const p of pages) this.#k.platform.pages.freePages(p, 0);
        return null;
      }
      // split_page(): the block becomes independent order-0 pages.
      const n = 2 ** order;
      for (let j = 0; j < n; j++) pages.push(pa + j * PAGE_SIZE);
      this.#splitBlock(pa, order);
      remaining -= n;
    }
    return pages;
  }

  #splitBlock(pa: number, order: number): void {
    if (order === 0) return;
    // Return the block and take its pages one by one, so each can be freed on its own.
    this.#k.platform.pages.freePages(pa, order);
    for (let j = 0; j < 2 ** order; j++) this.#k.platform.pages.allocPagesAt(pa + j * PAGE_SIZE, 0);
  }

  /** __iommu_dma_alloc_noncontiguous(): pages mapped contiguously in IOVA space. */
  #allocNoncontig(dev: Device, size: number, attrs: number, prot: number): SgtHandle | null {
    const st = this.#state(dev);
    const { cookie } = st;
    let allocSizes = cookie.domain.pgsizeBitmap;
    let minSize = allocSizes & -allocSizes;
    if (minSize < PAGE_SIZE) {
      minSize = PAGE_SIZE;
      allocSizes |= PAGE_SIZE;
    } else size = alignUp(size, minSize);
    if (attrs & 128 /* DMA_ATTR_ALLOC_SINGLE_PAGES */) allocSizes = minSize;
    const count = Math.ceil(size / PAGE_SIZE);
    const orderMask = Math.floor(allocSizes / PAGE_SIZE);
    const pages = this.#allocPageArray(count, orderMask);
    if (pages === null) return null;
    size = alignUp(size, cookie.granule);
    const iova = this.#allocIova(dev, st, size, dev.coherentLimit);
    if (iova === 0) {
      for (const p of pages) this.#k.platform.pages.freePages(p, 0);
      return null;
    }
    // The pages come zeroed from the page allocator (__GFP_ZERO), through the
    // cache; only then does prep_coherent push the zeros out for a
    // non-coherent device, whose CPU view is uncached.
    for (const p of pages) this.#k.platform.cache.cpuWrite(p, ZERO_PAGE);
    if (!(prot & IOMMU_CACHE)) for (const p of pages) this.#k.archDmaPrepCoherent(p, PAGE_SIZE);
    for (let i = 0; i < pages.length; i++) {
      if (cookie.domain.iommuMap(iova + i * PAGE_SIZE, pages[i]!, PAGE_SIZE, prot) !== 0) {
        if (i > 0) {
          const g = this.#syncedGather(cookie);
          cookie.domain.iommuUnmapFast(iova, i * PAGE_SIZE, g);
          cookie.domain.iotlbSync(g);
        }
        this.#freeIova(cookie, iova, size, false, st);
        for (const p of pages) this.#k.platform.pages.freePages(p, 0);
        return null;
      }
    }
    return { pages, iova, size, vaddr: 0 };
  }

  alloc(dev: Device, size: number, gfp: number, attrs: number): DmaAllocation | null {
    const coherent = dev.dmaCoherent;
    const prot = this.#prot(DMA_BIDIRECTIONAL, coherent, attrs);
    if (gfp & GFP_DIRECT_RECLAIM && !(attrs & 64) /* DMA_ATTR_FORCE_CONTIGUOUS */) {
      // iommu_dma_alloc_remap(): non-contiguous pages, one IOVA range, a vmap for the CPU.
      const h = this.#allocNoncontig(dev, size, attrs, prot);
      if (h === null) return null;
      const va = this.#k.platform.kas.vmap(h.pages);
      if (!coherent) this.#k.markUncached(va, h.pages.length * PAGE_SIZE);
      this.#remaps.set(va, { pages: h.pages, size: h.size, handle: h.iova });
      return { cpuAddr: va, handle: h.iova };
    }
    // Contiguous: the atomic pool for a non-coherent atomic caller, else the page allocator.
    const order = Math.ceil(Math.log2(Math.max(1, Math.ceil(size / PAGE_SIZE))));
    let cpuAddr: number;
    let pa: number;
    if (this.#k.config.dmaDirectRemap && !(gfp & GFP_DIRECT_RECLAIM) && !coherent) {
      const a = this.#k.atomicPoolAlloc(dev, alignUp(size, PAGE_SIZE), true);
      if (a === null) return null;
      cpuAddr = a.cpuAddr;
      pa = this.#k.platform.kas.translate(cpuAddr);
    } else {
      const p = this.#k.platform.pages.allocPages(order);
      if (p === null) return null;
      pa = p;
      cpuAddr = this.#k.platform.kas.physToVirt(pa);
      if (!coherent) {
        this.#k.archDmaPrepCoherent(pa, alignUp(size, PAGE_SIZE));
        this.#k.markUncached(cpuAddr, alignUp(size, PAGE_SIZE));
      }
      this.#k.zeroCpu(cpuAddr, alignUp(size, PAGE_SIZE));
    }
    const handle = this.#map(dev, pa, size, prot, true);
    if (handle === DMA_MAPPING_ERROR) {
      if (!this.#k.atomicPoolFree(cpuAddr, alignUp(size, PAGE_SIZE))) {
        this.#k.unmarkUncached(cpuAddr, 0);
        this.#k.platform.pages.freePages(pa, order);
      }
      return null;
    }
    return { cpuAddr, handle };
  }

  free(dev: Device, size: number, cpuAddr: number, handle: number, _attrs: number): void {
    this.#unmap(dev, handle, size);
    const r = this.#remaps.get(cpuAddr);
    if (r) {
      this.#remaps.delete(cpuAddr);
      this.#k.unmarkUncached(cpuAddr, 0);
      this.#k.platform.kas.vunmap(cpuAddr);
      for (const p of r.pages) this.#k.platform.pages.freePages(p, 0);
      return;
    }
    if (this.#k.atomicPoolFree(cpuAddr, alignUp(size, PAGE_SIZE))) return;
    this.#k.unmarkUncached(cpuAddr, 0);
    const order = Math.ceil(Math.log2(Math.max(1, Math.ceil(size / PAGE_SIZE))));
    this.#k.platform.pages.freePages(this.#k.platform.kas.virtToPhys(cpuAddr), order);
  }

  allocNoncontiguous(
    dev: Device,
    size: number,
    _dir: number,
    _gfp: number,
    attrs: number,
  ): SgTable | null {
    const h = this.#allocNoncontig(
      dev,
      size,
      attrs,
      this.#prot(DMA_BIDIRECTIONAL, dev.dmaCoherent, 0),
    );
    if (h === null) return null;
    const sgt = new SgTable(h.pages.length);
    h.pages.forEach((p, i) => {
      sgt.sgl[i]!.setPage(p, PAGE_SIZE, 0);
    });
    sgt.sgl[0]!.dmaAddress = h.iova;
    sgt.sgl[0]!.dmaLength = h.size;
    sgt.nents = 1;
    this.#sgtHandles.set(sgt, h);
    return sgt;
  }

  freeNoncontiguous(dev: Device, size: number, sgt: SgTable, _dir: number): void {
    const h = this.#sgtHandles.get(sgt);
    if (!h) throw new RangeError("freeNoncontiguous: sgt did not come from allocNoncontiguous");
    this.#unmap(dev, h.iova, size);
    this.#sgtHandles.delete(sgt);
    for (const p of h.pages) this.#k.platform.pages.freePages(p, 0);
  }

  vmapNoncontiguous(_dev: Device, _size: number, sgt: SgTable): number | null {
    const h = this.#sgtHandles.get(sgt);
    if (!h) return null;
    const va = this.#k.platform.kas.vmap(h.pages);
    h.vaddr = va;
    this.#vmaps.set(va, h);
    return va;
  }

  vunmapNoncontiguous(_dev: Device, vaddr: number): void {
    if (this.#vmaps.delete(vaddr)) this.#k.platform.kas.vunmap(vaddr);
  }

  mmapNoncontiguous(_dev: Device, vma: VmArea, size: number, _sgt: SgTable): number {
    const count = Math.ceil(size / PAGE_SIZE);
    if (vma.pgoff >= count || Math.ceil(vma.size / PAGE_SIZE) > count - vma.pgoff) return -ENXIO;
    return 0;
  }

  mmap(
    _dev: Device,
    vma: VmArea,
    _cpuAddr: number,
    _handle: number,
    size: number,
    _attrs: number,
  ): number {
    const count = Math.ceil(size / PAGE_SIZE);
    if (vma.pgoff >= count || Math.ceil(vma.size / PAGE_SIZE) > count - vma.pgoff) return -ENXIO;
    return 0;
  }

  getSgtable(
    _dev: Device,
    sgt: SgTable,
    cpuAddr: number,
    _handle: number,
    size: number,
    _attrs: number,
  ): number {
    const r = this.#remaps.get(cpuAddr);
    const pages = r ? r.pages : [this.#k.platform.kas.virtToPhys(cpuAddr)];
    if (r) {
      const n = Math.min(sgt.sgl.length, pages.length);
      for (let i = 0; i < n; i++) sgt.sgl[i]!.setPage(pages[i]!, PAGE_SIZE, 0);
      sgt.origNents = n;
    } else {
      sgt.sgl[0]!.setPage(pages[0]!, alignUp(size, PAGE_SIZE), 0);
      sgt.origNents = 1;
    }
    return 0;
  }

  // ------------------------------------------------------------ capabilities

  getMergeBoundary(dev: Device): bigint {
    return BigInt(this.#state(dev).cookie.granule - 1);
  }

  optMappingSize(): bigint {
    // iova_rcache_range(): PAGE_SIZE << (IOVA_RANGE_CACHE_MAX_SIZE - 1)
    return BigInt(PAGE_SIZE * 2 ** (IOVA_RANGE_CACHE_MAX_SIZE - 1));
  }

  maxMappingSize(dev: Device): bigint {
    if (dev.untrusted && this.#k.swiotlb)
      return BigInt(this.#k.swiotlb.maxMappingSize(this.#k.getMinAlignMask(dev)));
    return SIZE_MAX;
  }

  // ------------------------------------------------------------ IOVA two-step API

  iovaTryAlloc(dev: Device, state: DmaIovaState, phys: number, size: number): boolean {
    const st = this.#devs.get(dev);
    if (!st) return false;
    const off = mod(phys, st.cookie.granule);
    const len = alignUp(size + off, st.cookie.granule);
    const iova = this.#allocIova(dev, st, len, dev.streamingLimit);
    if (iova === 0) return false;
    state.addr = iova + off;
    state.size = size;
    return true;
  }

  iovaLink(
    dev: Device,
    state: DmaIovaState,
    phys: number,
    offset: number,
    size: number,
    dir: number,
    attrs: number,
  ): number {
    const st = this.#state(dev);
    const g = st.cookie.granule;
    if (mod(phys, g) !== 0 && offset > 0) {
      this.#k.log.warnOnce(
        `iova-link-unaligned:${dev.name}`,
        "WARN_ON_ONCE(iova_start_pad && offset > 0) in dma_iova_link",
        dev.name,
      );
      return -EIO;
    }
    if (attrs & DMA_ATTR_REQUIRE_COHERENT && !dev.dmaCoherent) return -EOPNOTSUPP;
    if (this.#useSwiotlb(dev, size, dir) && (mod(phys, g) !== 0 || mod(size, g) !== 0)) {
      if (attrs & (DMA_ATTR_MMIO | DMA_ATTR_REQUIRE_COHERENT)) return -EPERM;
      return this.#iovaLinkSwiotlb(dev, st, state, phys, offset, size, dir, attrs);
    }
    const pad = mod(phys, g);
    return this.#iovaLinkRaw(
      dev,
      st,
      state.addr + offset - pad,
      phys - pad,
      alignUp(size + pad, g),
      dir,
      attrs,
    );
  }

  /** __dma_iova_link(): maintenance for a non-coherent device, then iommu_map_nosync of whole granules. */
  #iovaLinkRaw(
    dev: Device,
    st: DevState,
    addr: number,
    phys: number,
    size: number,
    dir: number,
    attrs: number,
  ): number {
    const prot = this.#prot(dir, dev.dmaCoherent, attrs) | (attrs & DMA_ATTR_MMIO ? IOMMU_MMIO : 0);
    if (!dev.dmaCoherent && !(attrs & (DMA_ATTR_SKIP_CPU_SYNC | DMA_ATTR_MMIO)))
      archSyncForDevice(this.#k, phys, size, dir);
    return st.cookie.domain.iommuMapNosync(addr, phys, size, prot);
  }

  /**
   * iommu_dma_iova_link_swiotlb(): only the partial head granule and the
   * partial tail granule are bounced; the whole granules between them are
   * linked to the caller's pages. A failure part-way unlinks what was linked.
   */
  #iovaLinkSwiotlb(
    dev: Device,
    st: DevState,
    state: DmaIovaState,
    phys: number,
    offset: number,
    size: number,
    dir: number,
    attrs: number,
  ): number {
    const g = st.cookie.granule;
    const startPad = mod(phys, g);
    const endPad = mod(phys + size, g);
    const addr = state.addr + offset;
    let mapped = 0;
    if (startPad > 0) {
      const len = Math.min(size, g - startPad);
      const rc = this.#iovaBounceAndLink(dev, st, addr, phys, len, dir, attrs, startPad);
      if (rc !== 0) return rc;
      state.useSwiotlb = true;
      mapped += len;
      size -= len;
      if (size === 0) return 0;
    }
    size -= endPad;
    // After the partial head and tail there may be no whole granule left to link.
    if (size > 0) {
      const rc = this.#iovaLinkRaw(dev, st, addr + mapped, phys + mapped, size, dir, attrs);
      if (rc !== 0) {
        if (mapped > 0) this.iovaUnlink(dev, state, offset, mapped, dir, attrs);
        return rc;
      }
      mapped += size;
    }
    if (endPad > 0) {
      const rc = this.#iovaBounceAndLink(
        dev,
        st,
        addr + mapped,
        phys + mapped,
        endPad,
        dir,
        attrs,
        0,
      );
      if (rc !== 0) {
        if (mapped > 0) this.iovaUnlink(dev, state, offset, mapped, dir, attrs);
        return rc;
      }
      state.useSwiotlb = true;
    }
    return 0;
  }

  /**
   * iommu_dma_iova_bounce_and_link(): bounce `len` bytes and link the slot's
   * granule at the IOVA granule. The slot must keep the buffer's offset in
   * the granule (the device's min_align_mask does that); otherwise the link
   * is refused as unaligned and the slot released.
   */
  #iovaBounceAndLink(
    dev: Device,
    st: DevState,
    addr: number,
    phys: number,
    len: number,
    dir: number,
    attrs: number,
    startPad: number,
  ): number {
    const tlb = this.#mapSwiotlb(dev, st, phys, len, dir, attrs);
    if (tlb < 0) return -ENOMEM;
    const rc = this.#iovaLinkRaw(
      dev,
      st,
      addr - startPad,
      tlb - startPad,
      alignUp(len + startPad, st.cookie.granule),
      dir,
      attrs,
    );
    if (rc !== 0) this.#k.swiotlbTblUnmapSingle(dev, tlb, len, dir, attrs);
    return rc;
  }

  iovaSync(dev: Device, state: DmaIovaState, offset: number, size: number): number {
    const st = this.#state(dev);
    const addr = state.addr + offset;
    const g = st.cookie.granule;
    return st.cookie.domain.iommuSyncMap(addr - mod(addr, g), alignUp(size + mod(addr, g), g));
  }

  iovaUnlink(
    dev: Device,
    state: DmaIovaState,
    offset: number,
    size: number,
    dir: number,
    attrs: number,
  ): void {
    const st = this.#state(dev);
    const g = st.cookie.granule;
    const addr = state.addr + offset;
    const start = addr - mod(addr, g);
    const len = alignUp(size + mod(addr, g), g);
    if (state.useSwiotlb || (!dev.dmaCoherent && !(attrs & DMA_ATTR_SKIP_CPU_SYNC))) {
      // iommu_dma_iova_unlink_range_slow(): granule by granule, the CPU sync
      // and the release of any bounce slot (which copies FROM_DEVICE data back).
      let a = addr;
      let pad = mod(addr, g);
      const end = addr + size;
      while (a < end) {
        const phys = st.cookie.domain.iovaToPhys(a);
        if (phys === 0) {
          this.#k.log.warn(
            "iova-unlink-unmapped",
            `WARN_ON(!phys): unlink of ${hex(a)}, which is not linked`,
            dev.name,
          );
          break; // the slow path gives up; the unmap below still runs
        }
        const n = Math.min(end - a, g - pad);
        if (!dev.dmaCoherent && !(attrs & (DMA_ATTR_SKIP_CPU_SYNC | DMA_ATTR_MMIO)))
          archSyncForCpu(this.#k, phys, n, dir);
        if (this.#k.isSwiotlbBuffer(dev, phys))
          this.#k.swiotlbTblUnmapSingle(dev, phys, n, dir, attrs);
        a += n;
        pad = 0;
      }
    }
    const gather = this.#gather;
    gather.reset();
    gather.queued = false;
    st.cookie.domain.iommuUnmapFast(start, len, gather);
    st.cookie.domain.iotlbSync(gather);
  }

  iovaDestroy(
    dev: Device,
    state: DmaIovaState,
    mappedLen: number,
    dir: number,
    attrs: number,
  ): void {
    if (mappedLen > 0) this.iovaUnlink(dev, state, 0, mappedLen, dir, attrs);
    this.iovaFree(dev, state);
  }

  iovaFree(dev: Device, state: DmaIovaState): void {
    const st = this.#state(dev);
    const g = st.cookie.granule;
    const off = mod(state.addr, g);
    this.#freeIova(st.cookie, state.addr - off, alignUp(state.size + off, g), false, st);
    state.addr = 0;
    state.size = 0;
    state.useSwiotlb = false;
  }

  liveResources(): string[] {
    const out: string[] = [];
    for (const [dev, st] of this.#devs) {
      for (const [pfn, len] of st.live.entries()) {
        const iova = pfn * st.cookie.granule;
        out.push(`iova ${dev.name} [${hex(iova)}, ${hex(iova + len)})`);
      }
    }
    return out;
  }
}

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);
