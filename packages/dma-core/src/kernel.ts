// DmaKernel: one simulated kernel's DMA layer (kernel/dma/mapping.c and the
// glue around it). It owns the devices, the log, swiotlb and the dispatch;
// dma-direct lives in direct.ts, iommu-dma is handed in at construction.
import { ARM64_CACHE_HOOKS, type ArchDmaHooks, type CacheOp } from "./arch_hooks.ts";
import { DEFAULT_DMA_CORE_CONFIG, type DmaCoreConfig } from "./config.ts";
import {
  DMA_ATTR_ALL,
  DMA_ATTR_ALLOC_SINGLE_PAGES,
  DMA_ATTR_MMIO,
  DMA_ATTR_NO_WARN,
  DMA_ATTR_REQUIRE_COHERENT,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_ATTR_WRITE_COMBINE,
  DMA_BIT_MASK,
  DMA_MAPPING_ERROR,
  directionName,
  EINVAL,
  EIO,
  ENOMEM,
  ENXIO,
  EOPNOTSUPP,
  EREMOTEIO,
  GFP_COMP,
  GFP_DMA,
  GFP_DMA32,
  GFP_HIGHMEM,
  GFP_NOWARN,
  GFP_ZONEMASK,
  hex,
  minNotZero,
  NO_LIMIT,
  PAGE_SIZE,
  SIZE_MAX,
  U64_MAX,
  ULONG_MAX,
  u64ToLimit,
  validDirection,
} from "./constants.ts";
import { DmaDebug, type DmaDebugFs } from "./debug.ts";
import { Device, type DeviceOptions } from "./device.ts";
import * as direct from "./direct.ts";
import { checkKernelBuild, DESIGNS, type DesignTraits, type DispatchDesign } from "./dispatch.ts";
import type { DmaAllocation, DmaMapOps, DmaPageAllocation, VmArea } from "./dma_ops.ts";
import { KernelBug } from "./errors.ts";
import { PagePool } from "./gen_pool.ts";
import type { DmaIovaState, IommuDmaEntryPoints, IommuDmaFactory } from "./iommu_dma_api.ts";
import type { KernelContext } from "./kernel_context.ts";
import { type LiveKind, LiveTable } from "./live_table.ts";
import { SystemLog } from "./log.ts";
import type { DmaPlatform } from "./platform.ts";
import { Scatterlist, SgTable } from "./scatterlist.ts";
import {
  type CpuAccess,
  parseSwiotlbParam,
  type SwiotlbDevice,
  SwiotlbMem,
  swiotlbDefaultGeometry,
} from "./swiotlb.ts";

/** How the boot sets up swiotlb. */
export interface SwiotlbSetup {
  /** The `swiotlb=` boot parameter. */
  param?: string;
  /** Physical start of the default pool (a recorded boot's address); else placed top-down below 4 GiB. */
  start?: number;
  /** Set up the pool even if the platform would not (x86 does when RAM extends above 4 GiB). */
  enable?: boolean;
  /** Bounce every dma-direct streaming map (swiotlb=force, or a confidential guest). */
  force?: boolean;
}

export interface DmaKernelOptions {
  platform: DmaPlatform;
  config?: Partial<DmaCoreConfig>;
  /** The dispatch design (default "phys", the newest kernel). */
  design?: DispatchDesign;
  /**
   * iommu-dma, linked in when CONFIG_IOMMU_DMA=y. Without it no device gets
   * a DMA domain (as a kernel with iommu-dma built but no IOMMU hardware).
   */
  iommuDma?: IommuDmaFactory;
  /** Cache maintenance for non-coherent devices (default arm64's). */
  arch?: ArchDmaHooks;
  /** The arch's default dma_map_ops (get_dma_ops falls back to it). */
  archDefaultOps?: DmaMapOps | null;
  /** swiotlb set-up; false disables it (as swiotlb=noforce does). */
  swiotlb?: SwiotlbSetup | false;
  /** The memory encryption bit of an encrypted guest, as an address value (0 = none). */
  memEncryptBit?: number;
  /** Size of each atomic pool (default 128 KiB per GiB of RAM, 128 KiB..4 MiB). */
  atomicPoolBytes?: number;
  /** Per-buffer direct hooks of CONFIG_ARCH_HAS_DMA_MAP_DIRECT (powerpc). */
  archMapDirect?: (dev: Device, endPhysOrDma: number) => boolean;
  /** Name for the log and reports. */
  name?: string;
}

/**
 * What an observer of the DMA API sees (an ownership checker, a tracer).
 * Observers watch; they never change what the API returns.
 */
export interface DmaApiObserver {
  /** A successful map or allocation (for sg: once per mapped DMA segment). */
  onMap?(
    dev: Device,
    kind: "phys" | "sg" | "coherent" | "noncoherent",
    info: { addr: number; size: number; dir: number; phys: number },
  ): void;
  /** A successful dma_map_sg: the list as the driver passed it, and the segments mapped. */
  onMapSg?(
    dev: Device,
    sgl: readonly Scatterlist[],
    nents: number,
    count: number,
    dir: number,
  ): void;
  /** An unmap or free of the mapping that starts at `addr`, before the back end runs. */
  onUnmap?(dev: Device, addr: number): void;
  /** A single sync call (before the back end runs, whether or not it needs to do anything). */
  onSync?(dev: Device, addr: number, size: number, dir: number, forCpu: boolean): void;
  /** An sg sync call, nents as passed to the map. */
  onSyncSg?(
    dev: Device,
    sgl: readonly Scatterlist[],
    nents: number,
    dir: number,
    forCpu: boolean,
  ): void;
  /** A CPU load or store that reached physical memory (one call per page piece). */
  onCpuAccess?(kind: "read" | "write", pa: number, len: number): void;
}

/** The observer interface's earlier name. */
export type MapObserver = DmaApiObserver;

export interface DmaKernelStats {
  /** Calls made through a dma_map_ops table (each an indirect call in the kernel). */
  indirectCalls: number;
  /** Direct calls into iommu-dma. */
  iommuDirectCalls: number;
  /** Calls served by dma-direct. */
  directCalls: number;
  /** arch cache maintenance operations performed. */
  cacheMaintenanceOps: number;
  swiotlbBounces: number;
  swiotlbBytesCopied: number;
}

export interface MaintenanceEvent {
  edge: "for-device" | "for-cpu" | "prep-coherent";
  op: CacheOp;
  pa: number;
  size: number;
  dir: number;
}

interface Devres {
  kind: "coherent";
  size: number;
  cpuAddr: number;
  handle: number;
  attrs: number;
}

const PAGE_COOKIE_BASE = 2 ** 51 + 2 ** 50; // not in any mapped kernel region
const REMAP_BASE = 2 ** 50 + 2 ** 48 + 2 ** 47; // uncached aliases inside the vmalloc window's upper half
/** cpuFill writes up to this many bytes from a reused buffer. */
const FILL_SCRATCH_MAX = 2 ** 20;

/** kernel.devices: a Map that counts its changes, so a device check can be remembered until the map changes. */
class DeviceMap extends Map<string, Device> {
  version = 0;
  override set(name: string, dev: Device): this {
    this.version++;
    return super.set(name, dev);
  }
  override delete(name: string): boolean {
    this.version++;
    return super.delete(name);
  }
  override clear(): void {
    this.version++;
    super.clear();
  }
}

/** The DMA layer of one simulated kernel. */
export class DmaKernel implements KernelContext {
  readonly name: string;
  readonly platform: DmaPlatform;
  readonly config: Readonly<DmaCoreConfig>;
  readonly log: SystemLog;
  readonly design: DesignTraits;
  readonly arch: ArchDmaHooks;
  readonly memEncryptBit: number;
  readonly minLowPhys: number;
  readonly stats: DmaKernelStats = {
    indirectCalls: 0,
    iommuDirectCalls: 0,
    directCalls: 0,
    cacheMaintenanceOps: 0,
    swiotlbBounces: 0,
    swiotlbBytesCopied: 0,
  };
  /** The last arch cache operations, newest last (bounded). */
  readonly maintenance: MaintenanceEvent[] = [];
  /** The default io_tlb_mem, or null when swiotlb is not set up. */
  readonly swiotlb: SwiotlbMem | null;
  readonly devices: Map<string, Device> = new DeviceMap();
  /** The iommu-dma entry points, when linked. */
  readonly iommu: IommuDmaEntryPoints | null;
  /** CONFIG_DMA_API_DEBUG's checker; null when not built or switched off with dma_debug=off. */
  readonly debug: DmaDebug | null;
  /** debugfs dma-api/: there whenever debug is built, so `disabled` reads Y after dma_debug=off. */
  readonly debugfs: DmaDebugFs | null;
  /** Simulated: interrupts disabled on the current CPU (dma_free_attrs warns). */
  irqsDisabled = false;
  readonly #archDefaultOps: DmaMapOps | null;
  /** Can get_dma_ops() return anything: ARCH_HAS_DMA_OPS, or iommu-dma as an ops table. */
  readonly #hasOps: boolean;
  /**
   * No ops and no arch_dma_map_*_direct() in this build: the streaming
   * dispatch is use_dma_iommu() alone, as the compiler folds it in such a kernel.
   */
  readonly #iommuOrDirect: boolean;
  readonly #archMapDirect: ((dev: Device, end: number) => boolean) | null;
  readonly #iommuOps: DmaMapOps | null;
  #cpu = 0;
  readonly #devres = new Map<Device, Devres[]>();
  readonly #devPools = new Map<Device, PagePool>();
  readonly #atomicPools: Array<{ zone: number; pool: PagePool }> = [];
  readonly #globalPool: PagePool | null = null;
  readonly #remaps = new Map<number, { pa: number; size: number; writeCombine: boolean }>();
  #nextRemap = REMAP_BASE;
  readonly #uncachedLinear = new Map<number, number>();
  /** Live mappings by (device number, bus address); a map or unmap allocates nothing. */
  readonly #live = new LiveTable<Device>();
  readonly #observers: DmaApiObserver[] = [];
  /** #needDev's memory: the last device it accepted and the devices map's version then. */
  #okDev: Device | null = null;
  #okDevVersion = -1;
  readonly #swiotlbDevs = new Map<Device, SwiotlbDevice>();
  #fillScratch = new Uint8Array(4096);

  constructor(options: DmaKernelOptions) {
    if (!options || typeof options !== "object" || !options.platform) {
      throw new TypeError(
        "DmaKernel: options.platform is required (a Machine or another DmaPlatform)",
      );
    }
    this.name = options.name ?? "kernel";
    this.platform = options.platform;
    this.config = Object.freeze({ ...DEFAULT_DMA_CORE_CONFIG, ...options.config });
    const designId = options.design ?? "phys";
    checkKernelBuild(designId, this.config);
    this.design = DESIGNS[designId];
    this.arch = options.arch ?? ARM64_CACHE_HOOKS;
    this.memEncryptBit = options.memEncryptBit ?? 0;
    this.minLowPhys = this.platform.memory.ramRanges[0]?.start ?? 0;
    this.log = new SystemLog({ now: () => this.platform.clock.now() });
    this.#archDefaultOps = this.config.archHasDmaOps ? (options.archDefaultOps ?? null) : null;
    this.#hasOps = this.config.archHasDmaOps || this.design.iommuOpsTable;
    this.#archMapDirect = this.config.archHasDmaMapDirect ? (options.archMapDirect ?? null) : null;
    this.#iommuOrDirect = !this.#hasOps && this.#archMapDirect === null;
    this.swiotlb = this.#setupSwiotlb(options.swiotlb);
    this.#setupAtomicPools(options.atomicPoolBytes);
    this.iommu = this.config.iommuDma && options.iommuDma ? options.iommuDma(this) : null;
    this.#iommuOps =
      this.iommu && this.design.iommuOpsTable
        ? iommuOpsTable(this.iommu, this.design, {
            allocPages: (dev, size, dir, gfp) => this.#commonAllocPages(dev, size, dir, gfp),
            freePages: (dev, size, pa, handle, dir) =>
              this.#commonFreePages(dev, size, pa, handle, dir),
          })
        : null;
    const dbg = this.config.dmaApiDebug ? new DmaDebug(this) : null;
    this.debug = dbg?.disabled ? null : dbg;
    this.debugfs = dbg;
    // The sanitizer of @dmasim/testing finds live mappings through this hook.
    const hook = (
      globalThis as Record<symbol, { register(s: unknown, l?: string): void } | undefined>
    )[Symbol.for("dmasim.sanitizer")];
    hook?.register(this, this.name);
  }

  // ---------------------------------------------------------------- set-up

  #setupSwiotlb(setup: SwiotlbSetup | false | undefined): SwiotlbMem | null {
    if (setup === false || !this.config.swiotlb) return null;
    const param = setup?.param ? parseSwiotlbParam(setup.param) : {};
    if (param.noforce) return null;
    const force = setup?.force === true || param.force === true || this.config.forceDmaUnencrypted;
    const aboveDma32 = this.platform.memory.lastRamByte >= 2 ** 32;
    if (!(setup?.enable ?? (aboveDma32 || force))) return null;
    const geo = swiotlbDefaultGeometry({
      possibleCpus: this.config.possibleCpus,
      param: setup?.param,
    });
    const bytes = geo.nslabs * 2048;
    const start = setup?.start ?? this.#reserveTopDown(bytes, 2 ** 32);
    if (start === null) {
      this.log.notice("swiotlb-init-failed", "software IO TLB: Cannot allocate buffer");
      return null;
    }
    if (setup?.start !== undefined) this.#reserveAt(start, bytes);
    const cache = this.platform.cache;
    const cpu: CpuAccess = {
      cpuReadInto: (pa, dst, o, l) => cache.cpuReadInto(pa, dst, o, l),
      cpuWrite: (pa, src, o, l) => {
        this.stats.swiotlbBytesCopied += l ?? src.length - (o ?? 0);
        cache.cpuWrite(pa, src, o, l);
      },
    };
    // A cache that copies by itself saves the bounce its pass through a buffer.
    if (cache.cpuCopy !== undefined)
      cpu.cpuCopy = (dst, src, l) => {
        cache.cpuCopy!(dst, src, l);
        this.stats.swiotlbBytesCopied += l; // after: a failing read of the original counts nothing
      };
    const mem = new SwiotlbMem({
      start,
      nslabs: geo.nslabs,
      nareas: geo.nareas,
      force,
      cpu,
      log: {
        warn: (code, message, device, once, ratelimited) => {
          if (once) this.log.warnOnce(code, message, device);
          else if (ratelimited) this.log.noticeRatelimited(code, message, device);
          else this.log.warn(code, message, device);
        },
        info: (code, message) => this.log.notice(code, message),
      },
      grow: this.config.swiotlbDynamic
        ? {
            allocPool: (bytes, limit) => this.#swiotlbAllocTlb(bytes, limit),
            freePool: (pa, bytes) => this.platform.pages.freePages(pa, direct.getOrder(bytes)),
          }
        : undefined,
    });
    for (const line of geo.logLines) this.log.notice("swiotlb-init", line);
    return mem;
  }

  /**
   * swiotlb_alloc_tlb() for a transient pool: GFP_NOWAIT pages in the zone
   * the device's limit asks for, retried in lower zones while they land above
   * it. (A confidential guest would take them from the atomic pools, which
   * this model does not do: it gets none.)
   */
  #swiotlbAllocTlb(bytes: number, limit: number): number | null {
    if (this.config.forceDmaUnencrypted) return null;
    const lim = limit === 0 ? NO_LIMIT : limit;
    const order = direct.getOrder(bytes);
    let zone: number;
    if (this.config.zoneDma && BigInt(lim) <= this.config.zoneDmaLimit) zone = 0;
    else if (this.config.zoneDma32 && lim <= 2 ** 32 - 1) zone = 1;
    else zone = 2;
    for (;;) {
      const pa = this.platform.pages.allocPages(order, zone);
      if (pa === null) return null;
      if (pa + bytes - 1 <= lim) return pa;
      this.platform.pages.freePages(pa, order);
      if (zone === 2 && this.config.zoneDma32 && lim < NO_LIMIT) zone = 1;
      else if (zone > 0 && this.config.zoneDma) zone = 0;
      else return null;
    }
  }

  /** memblock-style: the highest free physically contiguous range below `limit`. */
  #reserveTopDown(bytes: number, limit: number): number | null {
    // memblock hands out the highest free page-aligned range; try candidates 1 MiB apart.
    const step = 2 ** 20;
    const ranges = [...this.platform.memory.ramRanges].sort((a, b) => b.start - a.start);
    for (const r of ranges) {
      const top = Math.min(r.start + r.size, limit);
      for (let end = top - (top % step); end - bytes >= r.start; end -= step) {
        if (this.#tryReserve(end - bytes, bytes)) return end - bytes;
      }
    }
    return null;
  }

  #tryReserve(start: number, bytes: number): boolean {
    const taken: number[] = [];
    for (let pa = start; pa < start + bytes; pa += PAGE_SIZE) {
      if (!this.platform.pages.allocPagesAt(pa, 0)) {
        for (const t of taken) this.platform.pages.freePages(t, 0);
        return false;
      }
      taken.push(pa);
    }
    return true;
  }

  #reserveAt(start: number, bytes: number): void {
    if (!this.#tryReserve(start, bytes)) {
      throw new RangeError(`swiotlb.start: [${hex(start)}, ${hex(start + bytes)}) is not free RAM`);
    }
  }

  #setupAtomicPools(bytes: number | undefined): void {
    const ramGiB = this.platform.memory.ramRanges.reduce((s, r) => s + r.size, 0) / 2 ** 30;
    const size =
      bytes ?? Math.min(4 * 2 ** 20, Math.max(128 * 1024, Math.ceil(ramGiB) * 128 * 1024));
    const order = direct.getOrder(size);
    const zones = [2];
    if (this.config.zoneDma32) zones.push(1);
    if (this.config.zoneDma) zones.push(0);
    for (const zone of zones) {
      const pa = this.platform.pages.allocPages(order, zone);
      if (pa === null) continue;
      // Pool memory is cleaned and invalidated once (arch_dma_prep_coherent) at boot.
      this.platform.cache.cleanInvalidate(pa, size);
      this.#atomicPools.push({
        zone,
        pool: new PagePool(pa, this.platform.kas.physToVirt(pa), size),
      });
    }
  }

  // ---------------------------------------------------------------- devices

  /** Registers a device (device_add). Devices behind an IOMMU get their DMA domain set up by iommu-dma. */
  addDevice(options: DeviceOptions): Device {
    if (typeof options !== "object" || options === null || typeof options.name !== "string")
      throw new TypeError(
        `addDevice: options must be an object with a string name, got ${describeArg(options)}`,
      );
    if (this.devices.has(options.name))
      throw new RangeError(`addDevice: a device named ${options.name} exists already`);
    const dev = new Device(options);
    this.devices.set(dev.name, dev);
    if (this.iommu?.setupDevice(dev)) {
      if (this.design.iommuDirectCall) dev.dmaIommu = true;
      else dev.dmaOps = this.#iommuOps;
    }
    return dev;
  }

  /** The device called `name`; throws when there is none. */
  device(name: string): Device {
    const d = this.devices.get(name);
    if (!d)
      throw new RangeError(
        `unknown device ${JSON.stringify(name)}; known: ${[...this.devices.keys()].join(", ") || "none"}`,
      );
    return d;
  }

  /** set_dma_ops(): a no-op without ARCH_HAS_DMA_OPS (e.g. arm64 without Xen). */
  setDmaOps(dev: Device, ops: DmaMapOps | null): void {
    this.#needDev(dev, "setDmaOps");
    if (!this.config.archHasDmaOps) return;
    dev.dmaOps = ops;
  }

  /** get_dma_ops(): the device's ops, else the arch default, else none. */
  getDmaOps(dev: Device): DmaMapOps | null {
    this.#needDev(dev, "getDmaOps");
    return this.#opsOf(dev);
  }

  /** get_dma_ops() for a device already checked. */
  #opsOf(dev: Device): DmaMapOps | null {
    if (!this.#hasOps) return null;
    return dev.dmaOps ?? this.#archDefaultOps;
  }

  /** Binds a driver (probe). */
  bindDriver(dev: Device, driverName: string): void {
    this.#needDev(dev, "bindDriver");
    if (dev.driverName !== null)
      throw new RangeError(`bindDriver: ${dev.name} is bound to ${dev.driverName} already`);
    dev.driverName = driverName;
  }

  /** Unbinds the driver: managed (dmam_) allocations are released, as devres does. */
  unbindDriver(dev: Device): void {
    this.#needDev(dev, "unbindDriver");
    const list = this.#devres.get(dev) ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      const r = list[i]!;
      this.freeAttrs(dev, r.size, r.cpuAddr, r.handle, r.attrs);
    }
    this.#devres.delete(dev);
    dev.driverName = null;
    this.debug?.unbind(dev);
  }

  /** The CPU the next calls run on (each simulated CPU has its own rcache magazines and flush queue). */
  get cpu(): number {
    return this.#cpu;
  }

  set cpu(n: number) {
    if (!Number.isInteger(n) || n < 0 || n >= this.platform.cpus) {
      throw new RangeError(`cpu must be an integer from 0 to ${this.platform.cpus - 1}, got ${n}`);
    }
    this.#cpu = n;
  }

  /** Runs `fn` on CPU `n`. */
  onCpu<T>(n: number, fn: () => T): T {
    const prev = this.#cpu;
    this.cpu = n;
    try {
      return fn();
    } finally {
      this.#cpu = prev;
    }
  }

  addObserver(o: DmaApiObserver): void {
    this.#observers.push(o);
  }

  // ---------------------------------------------------------------- dispatch predicates

  /** use_dma_iommu() */
  useDmaIommu(dev: Device): boolean {
    this.#needDev(dev, "useDmaIommu");
    return dev.dmaIommu;
  }

  /** dma_go_direct() */
  #goDirect(dev: Device, mask: bigint, ops: DmaMapOps | null): boolean {
    if (dev.dmaIommu) return false;
    if (ops === null) return true;
    if (this.config.dmaOpsBypass && dev.dmaOpsBypass) {
      return minNotZero(mask, dev.busDmaLimit) >= direct.directGetRequiredMask(this, dev);
    }
    return false;
  }

  /** dma_map_direct(): the streaming mask decides. */
  mapDirect(dev: Device, ops: DmaMapOps | null = this.getDmaOps(dev)): boolean {
    this.#needDev(dev, "mapDirect");
    return this.#mapDirect(dev, ops);
  }

  /** dma_map_direct() for a device already checked. */
  #mapDirect(dev: Device, ops: DmaMapOps | null): boolean {
    if (dev.dmaIommu) return false;
    if (ops === null) return true;
    return this.#goDirect(dev, dev.dmaMask, ops);
  }

  /** dma_alloc_direct(): the coherent mask decides. */
  allocDirect(dev: Device, ops: DmaMapOps | null = this.getDmaOps(dev)): boolean {
    this.#needDev(dev, "allocDirect");
    if (dev.dmaIommu) return false;
    if (ops === null) return true;
    return this.#goDirect(dev, dev.coherentDmaMask, ops);
  }

  // Each check is a small test the hot paths inline, and an out-of-line
  // function that throws: a check the compiler cannot inline is a call that
  // boxes every address above 2^31 it is passed.
  #checkDir(dir: number, fn: string): void {
    if (!validDirection(dir)) this.#badDir(dir, fn);
  }

  #badDir(dir: number, fn: string): never {
    throw new KernelBug(
      "dma-invalid-direction",
      `${fn}: invalid DMA direction ${dir} (valid: 0 BIDIRECTIONAL, 1 TO_DEVICE, 2 FROM_DEVICE)`,
    );
  }

  // Argument checks for simulator input: a clear error naming the argument,
  // before anything changes. (The kernel trusts its callers; a model must not.)
  #needDev(dev: Device, fn: string): void {
    // The last device that passed, while the devices map is unchanged, passes again without the lookup.
    if (dev !== this.#okDev || (this.devices as DeviceMap).version !== this.#okDevVersion)
      this.#lookUpDev(dev, fn);
  }

  #lookUpDev(dev: Device, fn: string): void {
    const devices = this.devices as DeviceMap;
    if (!(dev instanceof Device) || devices.get(dev.name) !== dev)
      throw new TypeError(
        `${fn}: dev must be a device added to this kernel with addDevice(), got ${describeArg(dev)}`,
      );
    this.#okDev = dev;
    this.#okDevVersion = devices.version;
  }

  #needSgl(sgl: Scatterlist[], fn: string): void {
    if (!Array.isArray(sgl) || sgl.some((s) => !(s instanceof Scatterlist)))
      throw new TypeError(
        `${fn}: sgl must be an array of Scatterlist entries, got ${describeArg(sgl)}`,
      );
  }

  #needSgt(sgt: SgTable, fn: string): void {
    if (!(sgt instanceof SgTable))
      throw new TypeError(`${fn}: sgt must be an SgTable, got ${describeArg(sgt)}`);
  }

  #needState(state: DmaIovaState, fn: string): void {
    if (
      typeof state !== "object" ||
      state === null ||
      !Number.isInteger(state.addr) ||
      !Number.isInteger(state.size)
    )
      throw new TypeError(
        `${fn}: state must be a dma_iova_state { addr, size, useSwiotlb }, got ${describeArg(state)}`,
      );
  }

  /** A CPU access length: checked before a buffer of that size is made. */
  #needCpuLen(len: number, fn: string): void {
    if (!Number.isInteger(len) || len < 0 || len > 2 ** 30)
      throw new RangeError(`${fn}: len must be an integer from 0 to 2^30, got ${describeArg(len)}`);
  }

  #needGfp(gfp: number, fn: string): void {
    if (!Number.isInteger(gfp) || gfp < 0 || gfp > 0xffffffff)
      throw new RangeError(
        `${fn}: gfp must be a set of GFP_* flags (a 32-bit integer), got ${describeArg(gfp)}`,
      );
  }

  #needInt(v: number, name: string, fn: string): void {
    if (!(Number.isInteger(v) && v >= 0 && v < 2 ** 52)) this.#badInt(v, name, fn);
  }

  #badInt(v: number, name: string, fn: string): never {
    throw new RangeError(
      `${fn}: ${name} must be a non-negative integer below 2^52, got ${describeArg(v)}`,
    );
  }

  #checkArgs(
    fn: string,
    dev: Device,
    addr: number,
    addrName: string,
    size: number,
    attrs: number,
  ): void {
    if (
      !(
        dev instanceof Device &&
        Number.isInteger(addr) &&
        addr >= -1 &&
        addr < 2 ** 52 &&
        Number.isInteger(size) &&
        size >= 0 &&
        size <= 2 ** 48 &&
        Number.isInteger(attrs) &&
        attrs >= 0 &&
        attrs <= 0x7fffffff &&
        (attrs & ~DMA_ATTR_ALL) === 0
      )
    )
      this.#badArgs(fn, dev, addr, addrName, size, attrs);
  }

  /** The first failing check of #checkArgs, thrown. */
  #badArgs(
    fn: string,
    dev: Device,
    addr: number,
    addrName: string,
    size: number,
    attrs: number,
  ): void {
    if (!(dev instanceof Device)) throw new TypeError(`${fn}: dev must be a Device of this kernel`);
    if (!Number.isInteger(addr) || addr < -1 || addr >= 2 ** 52) {
      throw new RangeError(`${fn}: ${addrName} must be an integer address below 2^52, got ${addr}`);
    }
    if (!Number.isInteger(size) || size < 0 || size > 2 ** 48) {
      throw new RangeError(`${fn}: size must be an integer from 0 to 2^48, got ${size}`);
    }
    // The range test comes first: JavaScript's & sees only the low 32 bits.
    if (
      !Number.isInteger(attrs) ||
      attrs < 0 ||
      attrs > 0x7fffffff ||
      (attrs & ~DMA_ATTR_ALL) !== 0
    ) {
      throw new RangeError(
        `${fn}: attrs has unknown bits (allowed: the DMA_ATTR_* bits 1,2,4..13), got ${Number.isInteger(attrs) && attrs >= 0 && attrs <= 0x7fffffff ? hex(attrs) : describeArg(attrs)}`,
      );
    }
  }

  #opsMissing(ops: DmaMapOps, callback: string): never {
    throw new KernelBug(
      "null-ops-callback",
      `BUG: kernel NULL pointer dereference calling ${ops.name}.${callback}`,
    );
  }

  // ---------------------------------------------------------------- masks (§1.2)

  /** dma_supported() (static in mapping.c) */
  #supported(dev: Device, mask: bigint): boolean {
    const ops = this.getDmaOps(dev);
    if (dev.dmaIommu) {
      if (ops !== null) {
        this.log.warn(
          "dma-supported-ops-and-iommu",
          "dma_supported: device has both dma_map_ops and an IOMMU DMA domain",
          dev.name,
        );
        return false;
      }
      return true;
    }
    if (ops !== null) {
      if (!ops.dmaSupported) return true;
      this.stats.indirectCalls++;
      return ops.dmaSupported(dev, mask);
    }
    return direct.directSupported(this, dev, mask);
  }

  #truncateMask(mask: bigint, fn: string): bigint {
    if (typeof mask !== "bigint" || mask < 0n)
      throw new TypeError(
        `${fn}: mask must be a non-negative bigint (use DMA_BIT_MASK(n)), got ${String(mask)}`,
      );
    mask &= U64_MAX;
    return this.config.dmaAddr32 ? mask & DMA_BIT_MASK(32) : mask;
  }

  /** dma_set_mask() */
  setMask(dev: Device, mask: bigint): number {
    this.#needDev(dev, "setMask");
    mask = this.#truncateMask(mask, "setMask");
    if (!dev.hasDmaMask || !this.#supported(dev, mask)) return -EIO;
    dev.dmaMask = mask;
    this.#setupNeedSync(dev);
    return 0;
  }

  /** dma_set_coherent_mask() */
  setCoherentMask(dev: Device, mask: bigint): number {
    this.#needDev(dev, "setCoherentMask");
    mask = this.#truncateMask(mask, "setCoherentMask");
    if (!this.#supported(dev, mask)) return -EIO;
    dev.coherentDmaMask = mask;
    return 0;
  }

  /** dma_set_mask_and_coherent() */
  setMaskAndCoherent(dev: Device, mask: bigint): number {
    this.#needDev(dev, "setMaskAndCoherent");
    const rc = this.setMask(dev, mask);
    if (rc === 0) this.setCoherentMask(dev, mask);
    return rc;
  }

  /** dma_coerce_mask_and_coherent() */
  coerceMaskAndCoherent(dev: Device, mask: bigint): number {
    this.#needDev(dev, "coerceMaskAndCoherent");
    dev.aliasDmaMaskToCoherent();
    return this.setMaskAndCoherent(dev, mask);
  }

  /** dma_get_mask() */
  getMask(dev: Device): bigint {
    this.#needDev(dev, "getMask");
    return dev.hasDmaMask && dev.dmaMask !== 0n ? dev.dmaMask : DMA_BIT_MASK(32);
  }

  /** dma_setup_need_sync() */
  #setupNeedSync(dev: Device): void {
    const ops = this.getDmaOps(dev);
    if (this.mapDirect(dev, ops) || dev.dmaIommu || ops?.canSkipSync === true)
      dev.dmaSkipSync = dev.dmaCoherent;
    else if (
      ops &&
      !ops.syncSingleForDevice &&
      !ops.syncSingleForCpu &&
      !ops.syncSgForDevice &&
      !ops.syncSgForCpu
    )
      dev.dmaSkipSync = true;
    else dev.dmaSkipSync = false;
  }

  /** dma_get_required_mask() */
  getRequiredMask(dev: Device): bigint {
    this.#needDev(dev, "getRequiredMask");
    const ops = this.getDmaOps(dev);
    if (this.allocDirect(dev, ops)) return direct.directGetRequiredMask(this, dev);
    if (dev.dmaIommu) return DMA_BIT_MASK(32);
    if (ops?.getRequiredMask) {
      this.stats.indirectCalls++;
      return ops.getRequiredMask(dev);
    }
    return DMA_BIT_MASK(32);
  }

  /** dma_addressing_limited() */
  addressingLimited(dev: Device): boolean {
    this.#needDev(dev, "addressingLimited");
    const ops = this.getDmaOps(dev);
    if (minNotZero(this.getMask(dev), dev.busDmaLimit) < this.getRequiredMask(dev)) return true;
    if (ops !== null || dev.dmaIommu) return false;
    return !direct.directAllRamMapped(this, dev);
  }

  /** dma_max_mapping_size() */
  maxMappingSize(dev: Device): bigint {
    this.#needDev(dev, "maxMappingSize");
    const ops = this.getDmaOps(dev);
    if (this.mapDirect(dev, ops)) return direct.directMaxMappingSize(this, dev);
    if (dev.dmaIommu) return this.iommu!.maxMappingSize(dev);
    if (ops?.maxMappingSize) {
      this.stats.indirectCalls++;
      return ops.maxMappingSize(dev);
    }
    return SIZE_MAX;
  }

  /** dma_opt_mapping_size() */
  optMappingSize(dev: Device): bigint {
    this.#needDev(dev, "optMappingSize");
    const ops = this.getDmaOps(dev);
    let size = SIZE_MAX;
    if (dev.dmaIommu) size = this.iommu!.optMappingSize();
    else if (ops?.optMappingSize) {
      this.stats.indirectCalls++;
      size = ops.optMappingSize();
    }
    const max = this.maxMappingSize(dev);
    // biome-ignore lint/complexity/useMathMinMax: bigints, which Math.min cannot compare.
    return max < size ? max : size;
  }

  /** dma_get_merge_boundary() */
  getMergeBoundary(dev: Device): bigint {
    this.#needDev(dev, "getMergeBoundary");
    if (dev.dmaIommu) return this.iommu!.getMergeBoundary(dev);
    const ops = this.getDmaOps(dev);
    if (!ops?.getMergeBoundary) return 0n;
    this.stats.indirectCalls++;
    return ops.getMergeBoundary(dev);
  }

  /** dma_dev_need_sync() */
  devNeedSync(dev: Device): boolean {
    this.#needDev(dev, "devNeedSync");
    return !dev.dmaSkipSync || this.config.dmaApiDebug;
  }

  /** dma_need_sync() */
  needSync(dev: Device, addr: number): boolean {
    this.#needDev(dev, "needSync");
    if (!this.devNeedSync(dev)) return false;
    if (this.mapDirect(dev)) return direct.directNeedSync(this, dev, addr);
    return true;
  }

  /** dma_need_unmap() */
  needUnmap(dev: Device): boolean {
    this.#needDev(dev, "needUnmap");
    if (this.config.dmaApiDebug) return true;
    if (this.mapDirect(dev)) return !dev.dmaSkipSync;
    return true;
  }

  /** dma_get_max_seg_size() */
  getMaxSegSize(dev: Device): number {
    this.#needDev(dev, "getMaxSegSize");
    return dev.dmaParms?.maxSegmentSize ?? 65536;
  }

  /** dma_get_seg_boundary() */
  getSegBoundary(dev: Device): bigint {
    this.#needDev(dev, "getSegBoundary");
    return dev.dmaParms?.segmentBoundaryMask ?? ULONG_MAX;
  }

  /** dma_get_min_align_mask() */
  getMinAlignMask(dev: Device): number {
    this.#needDev(dev, "getMinAlignMask");
    return dev.dmaParms?.minAlignMask ?? 0;
  }

  /** dma_set_max_seg_size(): warns once and does nothing without dma_parms. */
  setMaxSegSize(dev: Device, size: number): void {
    this.#needDev(dev, "setMaxSegSize");
    this.#needInt(size, "size", "setMaxSegSize");
    if (!Number.isInteger(size) || size < 1 || size > 2 ** 32 - 1)
      throw new RangeError(`setMaxSegSize: size must be an integer from 1 to 2^32-1, got ${size}`);
    if (!dev.dmaParms) {
      this.log.warnOnce(
        `no-dma-parms:max_seg:${dev.name}`,
        "dma_set_max_seg_size: device has no dma_parms",
        dev.name,
      );
      return;
    }
    dev.dmaParms.maxSegmentSize = size;
  }

  /** dma_set_seg_boundary() */
  setSegBoundary(dev: Device, mask: bigint): void {
    this.#needDev(dev, "setSegBoundary");
    if (typeof mask !== "bigint" || mask < 0n || mask > U64_MAX)
      throw new RangeError("setSegBoundary: mask must be a bigint from 0 to 2^64-1");
    if (!dev.dmaParms) {
      this.log.warnOnce(
        `no-dma-parms:seg_boundary:${dev.name}`,
        "dma_set_seg_boundary: device has no dma_parms",
        dev.name,
      );
      return;
    }
    dev.dmaParms.segmentBoundaryMask = mask;
  }

  /** dma_set_min_align_mask() */
  setMinAlignMask(dev: Device, mask: number): void {
    this.#needDev(dev, "setMinAlignMask");
    if (!Number.isInteger(mask) || mask < 0 || mask > 2 ** 31 - 1)
      throw new RangeError(
        `setMinAlignMask: mask must be an integer from 0 to 2^31-1, got ${mask}`,
      );
    if (!dev.dmaParms) {
      this.log.warnOnce(
        `no-dma-parms:min_align:${dev.name}`,
        "dma_set_min_align_mask: device has no dma_parms",
        dev.name,
      );
      return;
    }
    dev.dmaParms.minAlignMask = mask;
  }

  /** dma_get_cache_alignment() */
  getCacheAlignment(): number {
    return this.config.dmaCacheAlignment;
  }

  /** dma_mapping_error(): -ENOMEM for the error value, else 0. */
  mappingError(dev: Device, addr: number): number {
    this.#needDev(dev, "mappingError");
    this.debug?.mappingError(dev, addr);
    return addr === DMA_MAPPING_ERROR ? -ENOMEM : 0;
  }

  // ---------------------------------------------------------------- streaming maps (§1.3)

  // The streaming entry points below test all their arguments at once and
  // call out of line only to throw (#badStreamArgs, in the order the checks
  // read). V8 boxes each address above 2^31 that it passes to a function it
  // did not inline, so the path from the driver's call to dma-direct is kept
  // to a few small functions.

  /** dma_map_phys() (6.18+): the primary streaming entry point. */
  mapPhys(dev: Device, phys: number, size: number, dir: number, attrs = 0): number {
    this.#needDev(dev, "mapPhys");
    if (!mapArgsOk(phys, size, dir, attrs))
      this.#badStreamArgs("mapPhys", dev, phys, size, dir, attrs);
    this.#needBelowMemory(phys);
    return this.#mapPhys(dev, phys, size, dir, attrs);
  }

  /** Above every RAM range and MMIO window nothing answers: a clear error rather than a bounce that copies from nowhere. */
  #needBelowMemory(phys: number): void {
    const rs = this.platform.memory.ranges;
    if (rs.length > 0 && phys >= rs[rs.length - 1]!.end) this.#aboveMemory(phys);
  }

  #aboveMemory(phys: number): never {
    const rs = this.platform.memory.ranges;
    throw new RangeError(
      `mapPhys: phys ${hex(phys)} is above all of memory (the highest range ends at ${hex(rs[rs.length - 1]!.end)})`,
    );
  }

  /**
   * A streaming call's bad argument, thrown with the message of the first
   * check it fails: the address (map calls only), mapPhys's memory bound, the
   * size, the direction, then #checkArgs's ranges.
   */
  #badStreamArgs(
    fn: StreamEntry,
    dev: Device,
    addr: number,
    size: number,
    dir: number,
    attrs: number,
  ): never {
    const e = STREAM_ENTRIES[fn];
    if (e.isMap) this.#needInt(addr, e.addr, fn);
    if (fn === "mapPhys") this.#needBelowMemory(addr);
    this.#needInt(size, "size", fn);
    this.#checkDir(dir, e.kernel);
    this.#checkArgs(fn, dev, addr, e.addr, size, attrs);
    throw new RangeError(`${fn}: bad arguments`); // not reached: one of the checks above throws
  }

  #mapPhys(dev: Device, phys: number, size: number, dir: number, attrs: number): number {
    if (!dev.hasDmaMask) return this.#noDmaMask(dev);
    if (attrs & DMA_ATTR_REQUIRE_COHERENT && !dev.dmaCoherent) return DMA_MAPPING_ERROR;
    let addr: number;
    if (this.#streamsDirect(dev, phys + size, attrs)) {
      this.stats.directCalls++;
      addr = direct.directMapPhys(this, dev, phys, size, dir, attrs);
    } else addr = this.#mapPhysIndirect(dev, phys, size, dir, attrs);
    if (this.debug !== null) this.debug.mapPhys(dev, phys, size, dir, addr, attrs);
    if (addr !== DMA_MAPPING_ERROR) this.#recordMap(dev, "phys", addr, size, dir, phys);
    return addr;
  }

  /** The streaming dispatch: dma_map_direct(), or the arch's own direct test for a non-MMIO range ending at `end`. */
  #streamsDirect(dev: Device, end: number, attrs: number): boolean {
    return this.#iommuOrDirect ? !dev.dmaIommu : this.#streamsDirectOrOps(dev, end, attrs);
  }

  #streamsDirectOrOps(dev: Device, end: number, attrs: number): boolean {
    return (
      this.#mapDirect(dev, this.#opsOf(dev)) ||
      ((attrs & DMA_ATTR_MMIO) === 0 &&
        this.#archMapDirect !== null &&
        this.#archMapDirect(dev, end))
    );
  }

  /** Not direct: iommu-dma by direct call, else dev->dma_ops. */
  #mapPhysIndirect(dev: Device, phys: number, size: number, dir: number, attrs: number): number {
    if (dev.dmaIommu) {
      this.stats.iommuDirectCalls++;
      return attrs & DMA_ATTR_MMIO && !this.design.physOps
        ? this.iommu!.mapResource(dev, phys, size, dir, attrs)
        : this.iommu!.mapPhys(dev, phys, size, dir, attrs);
    }
    return this.#opsMapPhys(dev, this.#opsOf(dev)!, phys, size, dir, attrs);
  }

  #noDmaMask(dev: Device): number {
    this.log.warnOnce(
      `no-dma-mask:${dev.name}`,
      "WARN_ON_ONCE(!dev->dma_mask): device has no DMA mask",
      dev.name,
    );
    return DMA_MAPPING_ERROR;
  }

  #opsMapPhys(
    dev: Device,
    ops: DmaMapOps,
    phys: number,
    size: number,
    dir: number,
    attrs: number,
  ): number {
    const d = this.design;
    if (d.physOps) {
      if (!ops.mapPhys) return DMA_MAPPING_ERROR;
      this.stats.indirectCalls++;
      return ops.mapPhys(dev, phys, size, dir, attrs);
    }
    if (attrs & DMA_ATTR_MMIO) {
      if (!ops.mapResource) return DMA_MAPPING_ERROR;
      this.stats.indirectCalls++;
      return ops.mapResource(dev, phys, size, dir, attrs & ~DMA_ATTR_MMIO);
    }
    if (d.wrapperFallsBackToIommu) {
      // v0's dma_iommu_map_page(): the ops' own map_page if present, else iommu-dma directly.
      if (d.wrapperStubbedWithoutIommuDma && !this.config.iommuDma) return DMA_MAPPING_ERROR;
      if (ops.mapPage) {
        this.stats.indirectCalls++;
        return ops.mapPage(dev, phys - (phys % PAGE_SIZE), phys % PAGE_SIZE, size, dir, attrs);
      }
      return this.#v0IommuFallback(
        dev,
        "iommu_dma_map_page",
        () => this.iommu!.mapPhys(dev, phys, size, dir, attrs),
        DMA_MAPPING_ERROR,
      );
    }
    if (!ops.mapPage) this.#opsMissing(ops, "map_page");
    this.stats.indirectCalls++;
    return ops.mapPage(dev, phys - (phys % PAGE_SIZE), phys % PAGE_SIZE, size, dir, attrs);
  }

  /** The v0 wrapper's iommu_dma_* call: a stub without IOMMU_DMA, a crash for a device without a DMA domain. */
  #v0IommuFallback<T>(dev: Device, fn: string, call: () => T, stub: T): T {
    if (!this.config.iommuDma || this.iommu === null) return stub;
    if (dev.dmaOps !== this.#iommuOps) {
      throw new KernelBug(
        "null-iommu-cookie",
        `BUG: kernel NULL pointer dereference in ${fn}: ${dev.name} has no IOMMU DMA domain (no iommu_dma_cookie)`,
      );
    }
    this.stats.iommuDirectCalls++;
    return call();
  }

  /** dma_unmap_phys() */
  unmapPhys(dev: Device, addr: number, size: number, dir: number, attrs = 0): void {
    this.#needDev(dev, "unmapPhys");
    if (!unmapArgsOk(addr, size, dir, attrs))
      this.#badStreamArgs("unmapPhys", dev, addr, size, dir, attrs);
    this.#unmapPhys(dev, addr, size, dir, attrs);
  }

  #unmapPhys(dev: Device, addr: number, size: number, dir: number, attrs: number): void {
    this.#recordUnmap(dev, addr);
    if (this.debug !== null) this.debug.unmapPhys(dev, addr, size, dir);
    if (this.#streamsDirect(dev, addr + size, attrs)) {
      this.stats.directCalls++;
      direct.directUnmapPhys(this, dev, addr, size, dir, attrs);
    } else this.#unmapPhysIndirect(dev, addr, size, dir, attrs);
  }

  #unmapPhysIndirect(dev: Device, addr: number, size: number, dir: number, attrs: number): void {
    if (dev.dmaIommu) {
      this.stats.iommuDirectCalls++;
      if (attrs & DMA_ATTR_MMIO && !this.design.physOps)
        this.iommu!.unmapResource(dev, addr, size, dir, attrs);
      else this.iommu!.unmapPhys(dev, addr, size, dir, attrs);
      return;
    }
    this.#opsUnmapPhys(dev, this.#opsOf(dev)!, addr, size, dir, attrs);
  }

  #opsUnmapPhys(
    dev: Device,
    ops: DmaMapOps,
    addr: number,
    size: number,
    dir: number,
    attrs: number,
  ): void {
    const d = this.design;
    if (d.physOps) {
      if (!ops.unmapPhys) return;
      this.stats.indirectCalls++;
      ops.unmapPhys(dev, addr, size, dir, attrs);
      return;
    }
    if (attrs & DMA_ATTR_MMIO) {
      if (!ops.unmapResource) return;
      this.stats.indirectCalls++;
      ops.unmapResource(dev, addr, size, dir, attrs & ~DMA_ATTR_MMIO);
      return;
    }
    if (d.wrapperFallsBackToIommu) {
      if (d.wrapperStubbedWithoutIommuDma && !this.config.iommuDma) return;
      if (ops.unmapPage) {
        this.stats.indirectCalls++;
        ops.unmapPage(dev, addr, size, dir, attrs);
        return;
      }
      this.#v0IommuFallback(
        dev,
        "iommu_dma_unmap_page",
        () => this.iommu!.unmapPhys(dev, addr, size, dir, attrs),
        undefined,
      );
      return;
    }
    if (!ops.unmapPage) {
      if (d.unmapCalledUnconditionally) this.#opsMissing(ops, "unmap_page");
      return;
    }
    this.stats.indirectCalls++;
    ops.unmapPage(dev, addr, size, dir, attrs);
  }

  /** dma_map_page_attrs(): refuses DMA_ATTR_MMIO. */
  mapPage(
    dev: Device,
    pagePhys: number,
    offset: number,
    size: number,
    dir: number,
    attrs = 0,
  ): number {
    this.#needDev(dev, "mapPage");
    this.#needInt(pagePhys, "pagePhys", "mapPage");
    this.#needInt(offset, "offset", "mapPage");
    const phys = pagePhys + offset;
    if (!mapArgsOk(phys, size, dir, attrs))
      this.#badStreamArgs("mapPage", dev, phys, size, dir, attrs);
    if (attrs & DMA_ATTR_MMIO && this.design.physOps) return DMA_MAPPING_ERROR;
    return this.#mapPhys(dev, phys, size, dir, attrs);
  }

  /** dma_unmap_page_attrs(): ignores a call carrying DMA_ATTR_MMIO. */
  unmapPage(dev: Device, addr: number, size: number, dir: number, attrs = 0): void {
    this.#needDev(dev, "unmapPage");
    if (!unmapArgsOk(addr, size, dir, attrs))
      this.#badStreamArgs("unmapPage", dev, addr, size, dir, attrs);
    if (attrs & DMA_ATTR_MMIO && this.design.physOps) return;
    this.#unmapPhys(dev, addr, size, dir, attrs);
  }

  /** dma_map_single_attrs(): a linear-map address; vmalloc memory is refused. */
  mapSingle(dev: Device, cpuAddr: number, size: number, dir: number, attrs = 0): number {
    this.#needDev(dev, "mapSingle");
    if (!mapArgsOk(cpuAddr, size, dir, attrs))
      this.#badStreamArgs("mapSingle", dev, cpuAddr, size, dir, attrs);
    // A linear-map address is neither vmalloc memory nor one of our remaps:
    // only other addresses need the region lookup.
    const pa = this.platform.kas.linearToPhys(cpuAddr);
    if (pa < 0) return this.#mapSingleNotLinear(dev, cpuAddr, size, dir, attrs);
    if (this.debug !== null) this.debug.mapSingle(dev, cpuAddr, size);
    return this.#mapPhys(dev, pa, size, dir, attrs);
  }

  #mapSingleNotLinear(
    dev: Device,
    cpuAddr: number,
    size: number,
    dir: number,
    attrs: number,
  ): number {
    const region = this.platform.kas.regionOf(cpuAddr);
    // (The size test first: a lookup keyed by a number above 2^31 boxes it.)
    if (region === "vmalloc" || (this.#remaps.size > 0 && this.#remaps.has(cpuAddr))) {
      this.log.warnOnce(`vmalloc-map:${dev.name}`, "rejecting DMA map of vmalloc memory", dev.name);
      return DMA_MAPPING_ERROR;
    }
    this.debug?.mapSingle(dev, cpuAddr, size);
    const pa = this.platform.kas.translate(cpuAddr);
    if (pa < 0)
      throw new RangeError(`mapSingle: cpuAddr ${hex(cpuAddr)} is not a mapped kernel address`);
    return this.#mapPhys(dev, pa, size, dir, attrs);
  }

  /** dma_unmap_single_attrs(): dma_unmap_page_attrs. */
  unmapSingle(dev: Device, addr: number, size: number, dir: number, attrs = 0): void {
    this.#needDev(dev, "unmapSingle");
    if (!unmapArgsOk(addr, size, dir, attrs))
      this.#badStreamArgs("unmapSingle", dev, addr, size, dir, attrs);
    if (attrs & DMA_ATTR_MMIO && this.design.physOps) return;
    this.#unmapPhys(dev, addr, size, dir, attrs);
  }

  /** dma_map_resource(): dma_map_phys with DMA_ATTR_MMIO. */
  mapResource(dev: Device, phys: number, size: number, dir: number, attrs = 0): number {
    this.#needDev(dev, "mapResource");
    if (!mapArgsOk(phys, size, dir, attrs))
      this.#badStreamArgs("mapResource", dev, phys, size, dir, attrs);
    return this.#mapPhys(dev, phys, size, dir, attrs | DMA_ATTR_MMIO);
  }

  /** dma_unmap_resource() */
  unmapResource(dev: Device, addr: number, size: number, dir: number, attrs = 0): void {
    this.#needDev(dev, "unmapResource");
    if (!unmapArgsOk(addr, size, dir, attrs))
      this.#badStreamArgs("unmapResource", dev, addr, size, dir, attrs);
    this.#unmapPhys(dev, addr, size, dir, attrs | DMA_ATTR_MMIO);
  }

  // ---------------------------------------------------------------- scatter-gather (§1.4)

  /** __dma_map_sg_attrs(): > 0 segments or a negative errno. */
  #mapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: number, attrs: number): number {
    this.#checkDir(dir, "dma_map_sg_attrs");
    if (!Number.isInteger(nents) || nents < 1 || nents > sgl.length) {
      throw new RangeError(
        `mapSg: nents must be an integer from 1 to the list length ${sgl.length}, got ${nents}`,
      );
    }
    this.#checkArgs("mapSg", dev, 0, "sg", 0, attrs);
    if (attrs & DMA_ATTR_REQUIRE_COHERENT && !dev.dmaCoherent) return -EOPNOTSUPP;
    if (!dev.hasDmaMask) {
      this.#noDmaMask(dev);
      return 0;
    }
    const ops = this.getDmaOps(dev);
    let ents: number;
    if (
      this.mapDirect(dev, ops) ||
      (this.#archMapDirect !== null && this.#sgDirect(dev, sgl, nents))
    ) {
      this.stats.directCalls++;
      ents = direct.directMapSg(this, dev, sgl, nents, dir, attrs);
    } else if (dev.dmaIommu) {
      this.stats.iommuDirectCalls++;
      ents = this.iommu!.mapSg(dev, sgl, nents, dir, attrs);
    } else ents = this.#opsMapSg(dev, ops!, sgl, nents, dir, attrs);
    if (ents > 0) {
      this.debug?.mapSg(dev, sgl, nents, ents, dir, attrs);
      for (let i = 0; i < ents; i++)
        this.#recordMap(dev, "sg", sgl[i]!.dmaAddress, sgl[i]!.dmaLength, dir, sgl[i]!.phys);
      for (let i = 0; i < this.#observers.length; i++)
        this.#observers[i]!.onMapSg?.(dev, sgl, nents, ents, dir);
      return ents;
    }
    if (ents !== -EINVAL && ents !== -ENOMEM && ents !== -EIO && ents !== -EREMOTEIO) {
      this.log.warnOnce(
        "dma-map-sg-bad-return",
        `dma_map_sg: backend returned ${ents}, reported as -EIO`,
        dev.name,
      );
      return -EIO;
    }
    return ents;
  }

  #sgDirect(dev: Device, sgl: Scatterlist[], nents: number): boolean {
    for (let i = 0; i < nents; i++) {
      const s = sgl[i]!;
      if (!this.#archMapDirect!(dev, s.phys + s.length)) return false;
    }
    return true;
  }

  #opsMapSg(
    dev: Device,
    ops: DmaMapOps,
    sgl: Scatterlist[],
    nents: number,
    dir: number,
    attrs: number,
  ): number {
    const d = this.design;
    if (d.wrapperFallsBackToIommu) {
      if (d.wrapperStubbedWithoutIommuDma && !this.config.iommuDma) return -EINVAL;
      if (ops.mapSg) {
        this.stats.indirectCalls++;
        return ops.mapSg(dev, sgl, nents, dir, attrs);
      }
      return this.#v0IommuFallback(
        dev,
        "iommu_dma_map_sg",
        () => this.iommu!.mapSg(dev, sgl, nents, dir, attrs),
        -EINVAL,
      );
    }
    if (!ops.mapSg) this.#opsMissing(ops, "map_sg");
    this.stats.indirectCalls++;
    return ops.mapSg(dev, sgl, nents, dir, attrs);
  }

  /** dma_map_sg_attrs(): the segment count, or 0 on any error. */
  mapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: number, attrs = 0): number {
    this.#needDev(dev, "mapSg");
    this.#needSgl(sgl, "mapSg");
    const r = this.#mapSg(dev, sgl, nents, dir, attrs);
    return Math.max(r, 0);
  }

  /** dma_map_sgtable(): 0 or a negative errno; sets sgt.nents. */
  mapSgtable(dev: Device, sgt: SgTable, dir: number, attrs = 0): number {
    this.#needDev(dev, "mapSgtable");
    this.#needSgt(sgt, "mapSgtable");
    const r = this.#mapSg(dev, sgt.sgl, sgt.origNents, dir, attrs);
    if (r < 0) return r;
    sgt.nents = r;
    return 0;
  }

  /** dma_unmap_sg_attrs(): nents is the count passed to the map. */
  unmapSg(dev: Device, sgl: Scatterlist[], nents: number, dir: number, attrs = 0): void {
    this.#needDev(dev, "unmapSg");
    this.#needSgl(sgl, "unmapSg");
    this.#checkDir(dir, "dma_unmap_sg_attrs");
    if (!Number.isInteger(nents) || nents < 1 || nents > sgl.length) {
      throw new RangeError(
        `unmapSg: nents must be an integer from 1 to the list length ${sgl.length}, got ${nents}`,
      );
    }
    this.#checkArgs("unmapSg", dev, 0, "sg", 0, attrs);
    this.debug?.unmapSg(dev, sgl, nents, dir);
    for (let i = 0; i < nents; i++) {
      const s = sgl[i]!;
      if (s.dmaLength > 0) this.#recordUnmap(dev, s.dmaAddress);
    }
    const ops = this.getDmaOps(dev);
    if (
      this.mapDirect(dev, ops) ||
      (this.#archMapDirect !== null && this.#sgDirect(dev, sgl, nents))
    ) {
      this.stats.directCalls++;
      direct.directUnmapSg(this, dev, sgl, nents, dir, attrs);
    } else if (dev.dmaIommu) {
      this.stats.iommuDirectCalls++;
      this.iommu!.unmapSg(dev, sgl, nents, dir, attrs);
    } else {
      const d = this.design;
      const o = ops!;
      if (d.wrapperFallsBackToIommu) {
        if (d.wrapperStubbedWithoutIommuDma && !this.config.iommuDma) return;
        if (o.unmapSg) {
          this.stats.indirectCalls++;
          o.unmapSg(dev, sgl, nents, dir, attrs);
        } else
          this.#v0IommuFallback(
            dev,
            "iommu_dma_unmap_sg",
            () => this.iommu!.unmapSg(dev, sgl, nents, dir, attrs),
            undefined,
          );
        return;
      }
      if (!o.unmapSg) {
        if (d.unmapCalledUnconditionally) this.#opsMissing(o, "unmap_sg");
        return;
      }
      this.stats.indirectCalls++;
      o.unmapSg(dev, sgl, nents, dir, attrs);
    }
  }

  /** dma_unmap_sgtable(): over orig_nents. */
  unmapSgtable(dev: Device, sgt: SgTable, dir: number, attrs = 0): void {
    this.#needDev(dev, "unmapSgtable");
    this.#needSgt(sgt, "unmapSgtable");
    this.unmapSg(dev, sgt.sgl, sgt.origNents, dir, attrs);
  }

  // ---------------------------------------------------------------- sync (§1.5)

  #syncSingle(dev: Device, addr: number, size: number, dir: number, forCpu: boolean): void {
    this.#checkDir(dir, forCpu ? "dma_sync_single_for_cpu" : "dma_sync_single_for_device");
    this.#checkArgs(
      forCpu ? "syncSingleForCpu" : "syncSingleForDevice",
      dev,
      addr,
      "addr",
      size,
      0,
    );
    for (let i = 0; i < this.#observers.length; i++)
      this.#observers[i]!.onSync?.(dev, addr, size, dir, forCpu);
    if (!this.devNeedSync(dev)) return; // the inline wrapper's fast path
    this.debug?.syncSingle(dev, addr, size, dir, forCpu);
    const ops = this.getDmaOps(dev);
    if (this.mapDirect(dev, ops)) {
      this.stats.directCalls++;
      if (forCpu) direct.directSyncSingleForCpu(this, dev, addr, size, dir);
      else direct.directSyncSingleForDevice(this, dev, addr, size, dir);
    } else if (dev.dmaIommu) {
      this.stats.iommuDirectCalls++;
      if (forCpu) this.iommu!.syncSingleForCpu(dev, addr, size, dir);
      else this.iommu!.syncSingleForDevice(dev, addr, size, dir);
    } else {
      const fn = forCpu ? ops!.syncSingleForCpu : ops!.syncSingleForDevice;
      if (!fn) return;
      this.stats.indirectCalls++;
      fn.call(ops, dev, addr, size, dir);
    }
  }

  /** dma_sync_single_for_cpu() */
  syncSingleForCpu(dev: Device, addr: number, size: number, dir: number): void {
    this.#needDev(dev, "syncSingleForCpu");
    this.#needInt(size, "size", "syncSingleForCpu");
    this.#syncSingle(dev, addr, size, dir, true);
  }

  /** dma_sync_single_for_device() */
  syncSingleForDevice(dev: Device, addr: number, size: number, dir: number): void {
    this.#needDev(dev, "syncSingleForDevice");
    this.#needInt(size, "size", "syncSingleForDevice");
    this.#syncSingle(dev, addr, size, dir, false);
  }

  /** dma_sync_single_range_for_cpu(): the same as syncing addr + offset. */
  syncSingleRangeForCpu(
    dev: Device,
    addr: number,
    offset: number,
    size: number,
    dir: number,
  ): void {
    this.#needDev(dev, "syncSingleRangeForCpu");
    this.#needInt(offset, "offset", "syncSingleRangeForCpu");
    this.#needInt(size, "size", "syncSingleRangeForCpu");
    this.#syncSingle(dev, addr + offset, size, dir, true);
  }

  /** dma_sync_single_range_for_device() */
  syncSingleRangeForDevice(
    dev: Device,
    addr: number,
    offset: number,
    size: number,
    dir: number,
  ): void {
    this.#needDev(dev, "syncSingleRangeForDevice");
    this.#needInt(offset, "offset", "syncSingleRangeForDevice");
    this.#needInt(size, "size", "syncSingleRangeForDevice");
    this.#syncSingle(dev, addr + offset, size, dir, false);
  }

  #syncSg(dev: Device, sgl: Scatterlist[], nents: number, dir: number, forCpu: boolean): void {
    this.#checkDir(dir, forCpu ? "dma_sync_sg_for_cpu" : "dma_sync_sg_for_device");
    if (!Number.isInteger(nents) || nents < 1 || nents > sgl.length) {
      throw new RangeError(
        `syncSg: nents must be an integer from 1 to the list length ${sgl.length}, got ${nents}`,
      );
    }
    for (let i = 0; i < this.#observers.length; i++)
      this.#observers[i]!.onSyncSg?.(dev, sgl, nents, dir, forCpu);
    if (!this.devNeedSync(dev)) return;
    this.debug?.syncSg(dev, sgl, nents, dir, forCpu);
    const ops = this.getDmaOps(dev);
    if (this.mapDirect(dev, ops)) {
      this.stats.directCalls++;
      if (forCpu) direct.directSyncSgForCpu(this, dev, sgl, nents, dir);
      else direct.directSyncSgForDevice(this, dev, sgl, nents, dir);
    } else if (dev.dmaIommu) {
      this.stats.iommuDirectCalls++;
      if (forCpu) this.iommu!.syncSgForCpu(dev, sgl, nents, dir);
      else this.iommu!.syncSgForDevice(dev, sgl, nents, dir);
    } else {
      const fn = forCpu ? ops!.syncSgForCpu : ops!.syncSgForDevice;
      if (!fn) return;
      this.stats.indirectCalls++;
      fn.call(ops, dev, sgl, nents, dir);
    }
  }

  /** dma_sync_sg_for_cpu(): nents as passed to the map. */
  syncSgForCpu(dev: Device, sgl: Scatterlist[], nents: number, dir: number): void {
    this.#needDev(dev, "syncSgForCpu");
    this.#needSgl(sgl, "syncSgForCpu");
    this.#syncSg(dev, sgl, nents, dir, true);
  }

  /** dma_sync_sg_for_device() */
  syncSgForDevice(dev: Device, sgl: Scatterlist[], nents: number, dir: number): void {
    this.#needDev(dev, "syncSgForDevice");
    this.#needSgl(sgl, "syncSgForDevice");
    this.#syncSg(dev, sgl, nents, dir, false);
  }

  /** dma_sync_sgtable_for_cpu(): over orig_nents. */
  syncSgtableForCpu(dev: Device, sgt: SgTable, dir: number): void {
    this.#needDev(dev, "syncSgtableForCpu");
    this.#needSgt(sgt, "syncSgtableForCpu");
    this.#syncSg(dev, sgt.sgl, sgt.origNents, dir, true);
  }

  /** dma_sync_sgtable_for_device() */
  syncSgtableForDevice(dev: Device, sgt: SgTable, dir: number): void {
    this.#needDev(dev, "syncSgtableForDevice");
    this.#needSgt(sgt, "syncSgtableForDevice");
    this.#syncSg(dev, sgt.sgl, sgt.origNents, dir, false);
  }

  // ---------------------------------------------------------------- coherent allocations (§1.6)

  /** dma_alloc_attrs(): the CPU address and handle, or null. */
  allocAttrs(dev: Device, size: number, gfp: number, attrs = 0): DmaAllocation | null {
    this.#needDev(dev, "allocAttrs");
    this.#needGfp(gfp, "allocAttrs");
    this.#needInt(size, "size", "allocAttrs");
    this.#checkArgs("allocAttrs", dev, 0, "-", size, attrs);
    if (size === 0) throw new RangeError("allocAttrs: size must be at least 1");
    if (dev.coherentDmaMask === 0n)
      this.log.warnOnce(
        `zero-coherent-mask:${dev.name}`,
        "WARN_ON_ONCE(!dev->coherent_dma_mask)",
        dev.name,
      );
    if (gfp & GFP_COMP) {
      this.log.warnOnce(
        "dma-alloc-gfp-comp",
        "WARN_ON_ONCE(flag & __GFP_COMP): compound pages cannot be DMA-allocated",
        dev.name,
      );
      return null;
    }
    const pool = this.#devPools.get(dev);
    if (pool) {
      // A device with declared coherent memory never falls back to system RAM.
      const idx = pool.alloc(size);
      if (idx < 0) return null;
      const off = idx * PAGE_SIZE;
      // The pool is memremap'd write-combining in the kernel; its linear address stands for that mapping here.
      const a = { cpuAddr: this.platform.kas.physToVirt(pool.phys) + off, handle: pool.base + off };
      this.zeroCpu(a.cpuAddr, Math.ceil(size / PAGE_SIZE) * PAGE_SIZE);
      return a;
    }
    gfp &= ~(GFP_DMA | GFP_DMA32 | GFP_HIGHMEM);
    const ops = this.getDmaOps(dev);
    let a: DmaAllocation | null;
    if (this.allocDirect(dev, ops)) {
      this.stats.directCalls++;
      a = direct.directAlloc(this, dev, size, gfp, attrs);
    } else if (dev.dmaIommu) {
      this.stats.iommuDirectCalls++;
      a = this.iommu!.alloc(dev, size, gfp, attrs);
    } else if (ops?.alloc) {
      this.stats.indirectCalls++;
      a = ops.alloc(dev, size, gfp, attrs);
    } else return null;
    if (a !== null) this.#recordMap(dev, "coherent", a.handle, size, 0, a.cpuAddr);
    this.debug?.allocCoherent(dev, size, a, attrs);
    return a;
  }

  /** dma_alloc_coherent(): NO_WARN when gfp has __GFP_NOWARN. */
  allocCoherent(dev: Device, size: number, gfp: number): DmaAllocation | null {
    this.#needDev(dev, "allocCoherent");
    this.#needGfp(gfp, "allocCoherent");
    this.#needInt(size, "size", "allocCoherent");
    return this.allocAttrs(dev, size, gfp, gfp & GFP_NOWARN ? DMA_ATTR_NO_WARN : 0);
  }

  /** dma_free_attrs() */
  freeAttrs(dev: Device, size: number, cpuAddr: number, handle: number, attrs = 0): void {
    this.#needDev(dev, "freeAttrs");
    this.#needInt(cpuAddr, "cpuAddr", "freeAttrs");
    this.#needInt(handle, "handle", "freeAttrs");
    this.#needInt(size, "size", "freeAttrs");
    this.#checkArgs("freeAttrs", dev, handle, "handle", size, attrs);
    const pool = this.#devPools.get(dev);
    if (pool) {
      const idx = pool.indexOf(handle);
      if (idx >= 0 && pool.free(idx)) return;
    }
    if (this.irqsDisabled)
      this.log.warn(
        "dma-free-irqs-disabled",
        "WARN_ON(irqs_disabled()) in dma_free_attrs",
        dev.name,
      );
    if (cpuAddr === 0) return;
    this.#recordUnmap(dev, handle);
    this.debug?.freeCoherent(dev, size, cpuAddr, handle);
    const ops = this.getDmaOps(dev);
    if (this.allocDirect(dev, ops)) {
      this.stats.directCalls++;
      direct.directFree(this, dev, size, cpuAddr, handle, attrs);
    } else if (dev.dmaIommu) {
      this.stats.iommuDirectCalls++;
      this.iommu!.free(dev, size, cpuAddr, handle, attrs);
    } else if (ops?.free) {
      this.stats.indirectCalls++;
      ops.free(dev, size, cpuAddr, handle, attrs);
    }
  }

  /** dma_free_coherent() */
  freeCoherent(dev: Device, size: number, cpuAddr: number, handle: number): void {
    this.#needDev(dev, "freeCoherent");
    this.#needInt(cpuAddr, "cpuAddr", "freeCoherent");
    this.#needInt(handle, "handle", "freeCoherent");
    this.#needInt(size, "size", "freeCoherent");
    this.freeAttrs(dev, size, cpuAddr, handle, 0);
  }

  /** dmam_alloc_attrs(): released automatically at driver unbind. */
  dmamAllocAttrs(dev: Device, size: number, gfp: number, attrs = 0): DmaAllocation | null {
    this.#needDev(dev, "dmamAllocAttrs");
    this.#needGfp(gfp, "dmamAllocAttrs");
    this.#needInt(size, "size", "dmamAllocAttrs");
    const a = this.allocAttrs(dev, size, gfp, attrs);
    if (a === null) return null;
    const list = this.#devres.get(dev) ?? [];
    list.push({ kind: "coherent", size, cpuAddr: a.cpuAddr, handle: a.handle, attrs });
    this.#devres.set(dev, list);
    return a;
  }

  /** dmam_alloc_coherent() */
  dmamAllocCoherent(dev: Device, size: number, gfp: number): DmaAllocation | null {
    this.#needDev(dev, "dmamAllocCoherent");
    this.#needGfp(gfp, "dmamAllocCoherent");
    this.#needInt(size, "size", "dmamAllocCoherent");
    return this.dmamAllocAttrs(dev, size, gfp, gfp & GFP_NOWARN ? DMA_ATTR_NO_WARN : 0);
  }

  /** dmam_free_coherent(): frees and drops the devres entry; warns when there is none. */
  dmamFreeCoherent(dev: Device, size: number, cpuAddr: number, handle: number): void {
    this.#needDev(dev, "dmamFreeCoherent");
    this.#needInt(cpuAddr, "cpuAddr", "dmamFreeCoherent");
    this.#needInt(handle, "handle", "dmamFreeCoherent");
    this.#needInt(size, "size", "dmamFreeCoherent");
    const list = this.#devres.get(dev) ?? [];
    const i = list.findIndex((r) => r.cpuAddr === cpuAddr);
    if (i < 0)
      this.log.warn("dmam-no-devres", "dmam_free_coherent: no matching devres entry", dev.name);
    else {
      const r = list[i]!;
      if (r.size !== size || r.handle !== handle)
        this.log.warn(
          "dmam-devres-mismatch",
          "dmam_free_coherent: devres entry with a different size or handle",
          dev.name,
        );
      list.splice(i, 1);
    }
    this.freeAttrs(dev, size, cpuAddr, handle, 0);
  }

  /** dma_declare_coherent_memory(): a per-device pool at `phys`, seen by the device at `deviceAddr`. */
  declareCoherentMemory(dev: Device, phys: number, deviceAddr: number, size: number): number {
    this.#needDev(dev, "declareCoherentMemory");
    this.#needInt(size, "size", "declareCoherentMemory");
    if (!Number.isInteger(size) || size < PAGE_SIZE || size % PAGE_SIZE !== 0)
      throw new RangeError(
        `declareCoherentMemory: size must be a positive multiple of ${PAGE_SIZE}, got ${size}`,
      );
    if (this.#devPools.has(dev)) return -EINVAL;
    if (!this.#tryReserve(phys, size))
      throw new RangeError(`declareCoherentMemory: [${hex(phys)}, +${size}) is not free RAM`);
    this.#devPools.set(dev, new PagePool(phys, deviceAddr, size));
    return 0;
  }

  // ---------------------------------------------------------------- non-coherent allocations (§1.7)

  #allocPagesChecks(dev: Device, gfp: number, fn: string): boolean {
    if (dev.coherentDmaMask === 0n) {
      this.log.warnOnce(
        `${fn}-zero-mask:${dev.name}`,
        `WARN_ON_ONCE(!dev->coherent_dma_mask) in ${fn}`,
        dev.name,
      );
      return false;
    }
    if (gfp & (GFP_ZONEMASK | GFP_COMP)) {
      this.log.warnOnce(
        `${fn}-gfp`,
        `WARN_ON_ONCE(gfp & (__GFP_DMA | __GFP_DMA32 | __GFP_HIGHMEM | __GFP_COMP)) in ${fn}`,
        dev.name,
      );
      return false;
    }
    return true;
  }

  /** dma_alloc_pages(): cacheable, zeroed pages; the caller syncs. */
  allocPages(dev: Device, size: number, dir: number, gfp: number): DmaPageAllocation | null {
    this.#needDev(dev, "allocPages");
    this.#needGfp(gfp, "allocPages");
    this.#needInt(size, "size", "allocPages");
    this.#checkDir(dir, "dma_alloc_pages");
    this.#checkArgs("allocPages", dev, 0, "-", size, 0);
    if (!this.#allocPagesChecks(dev, gfp, "dma_alloc_pages")) return null;
    size = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    const r = this.#allocPagesBody(dev, size, dir, gfp);
    this.debug?.allocPages(dev, size, dir, r);
    return r;
  }

  /** __dma_alloc_pages(): dma_alloc_pages without its DMA-API debug hook (size page-aligned). */
  #allocPagesBody(dev: Device, size: number, dir: number, gfp: number): DmaPageAllocation | null {
    const ops = this.getDmaOps(dev);
    let r: DmaPageAllocation | null;
    if (this.allocDirect(dev, ops)) r = direct.directAllocPages(this, dev, size, gfp);
    else if (dev.dmaIommu || !ops?.allocPagesOp) {
      if (!dev.dmaIommu && !ops?.allocPagesOp) return null;
      r = this.#commonAllocPages(dev, size, dir, gfp);
    } else {
      this.stats.indirectCalls++;
      r = ops.allocPagesOp(dev, size, dir, gfp);
    }
    if (r !== null) this.#recordMap(dev, "noncoherent", r.handle, size, dir, r.pagePhys);
    return r;
  }

  /** dma_common_alloc_pages(): page allocator, then an IOMMU (or ops) map with SKIP_CPU_SYNC. */
  #commonAllocPages(
    dev: Device,
    size: number,
    dir: number,
    _gfp: number,
  ): DmaPageAllocation | null {
    const order = direct.getOrder(size);
    const pa = this.platform.pages.allocPages(order);
    if (pa === null) return null;
    const handle = dev.dmaIommu
      ? this.iommu!.mapPhys(dev, pa, size, dir, DMA_ATTR_SKIP_CPU_SYNC)
      : this.#commonOpsMap(dev, pa, size, dir);
    if (handle === DMA_MAPPING_ERROR) {
      this.platform.pages.freePages(pa, order);
      return null;
    }
    this.zeroCpu(this.platform.kas.physToVirt(pa), size);
    return { pagePhys: pa, handle };
  }

  /**
   * dma_common_alloc_pages() of an ops table calls the table's own map entry
   * directly, not through mapping.c's wrappers: the v0 patch's fallback to
   * iommu-dma does not apply here, so its iommu_dma_ops (which lost
   * map_page) dereferences NULL, as the patched kernel would.
   */
  #commonOpsMap(dev: Device, pa: number, size: number, dir: number): number {
    const ops = this.getDmaOps(dev)!;
    const attrs = DMA_ATTR_SKIP_CPU_SYNC;
    this.stats.indirectCalls++;
    if (this.design.physOps) {
      if (!ops.mapPhys) this.#opsMissing(ops, "map_phys");
      return ops.mapPhys(dev, pa, size, dir, attrs);
    }
    if (!ops.mapPage) this.#opsMissing(ops, "map_page");
    return ops.mapPage(dev, pa, 0, size, dir, attrs);
  }

  /** dma_common_free_pages(): unmap through iommu-dma or the table's own unmap entry, then free. */
  #commonFreePages(dev: Device, size: number, pagePhys: number, handle: number, dir: number): void {
    const attrs = DMA_ATTR_SKIP_CPU_SYNC;
    if (dev.dmaIommu) this.iommu!.unmapPhys(dev, handle, size, dir, attrs);
    else {
      const ops = this.getDmaOps(dev)!;
      const unmap = this.design.physOps ? ops.unmapPhys : ops.unmapPage;
      if (unmap) {
        this.stats.indirectCalls++;
        unmap.call(ops, dev, handle, size, dir, attrs);
      }
    }
    this.platform.pages.freePages(pagePhys, direct.getOrder(size));
  }

  /** dma_free_pages() */
  freePages(dev: Device, size: number, pagePhys: number, handle: number, dir: number): void {
    this.#needDev(dev, "freePages");
    this.#needInt(pagePhys, "pagePhys", "freePages");
    this.#needInt(handle, "handle", "freePages");
    this.#needInt(size, "size", "freePages");
    this.#checkDir(dir, "dma_free_pages");
    size = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    this.debug?.freePages(dev, size, pagePhys, handle, dir);
    this.#freePagesBody(dev, size, pagePhys, handle, dir);
  }

  /** __dma_free_pages(): dma_free_pages without its DMA-API debug hook (size page-aligned). */
  #freePagesBody(dev: Device, size: number, pagePhys: number, handle: number, dir: number): void {
    this.#recordUnmap(dev, handle);
    const ops = this.getDmaOps(dev);
    if (this.allocDirect(dev, ops)) direct.directFreePages(this, dev, size, pagePhys);
    else if (dev.dmaIommu || !ops?.freePages) {
      if (dev.dmaIommu) this.iommu!.unmapPhys(dev, handle, size, dir, DMA_ATTR_SKIP_CPU_SYNC);
      else if (ops) this.#opsUnmapPhys(dev, ops, handle, size, dir, DMA_ATTR_SKIP_CPU_SYNC);
      this.platform.pages.freePages(pagePhys, direct.getOrder(size));
    } else {
      this.stats.indirectCalls++;
      ops.freePages(dev, size, pagePhys, handle, dir);
    }
  }

  /** dma_alloc_noncoherent(): the linear address of dma_alloc_pages' memory. */
  allocNoncoherent(dev: Device, size: number, dir: number, gfp: number): DmaAllocation | null {
    this.#needDev(dev, "allocNoncoherent");
    this.#needGfp(gfp, "allocNoncoherent");
    this.#needInt(size, "size", "allocNoncoherent");
    const p = this.allocPages(dev, size, dir, gfp);
    return p === null
      ? null
      : { cpuAddr: this.platform.kas.physToVirt(p.pagePhys), handle: p.handle };
  }

  /** dma_free_noncoherent() */
  freeNoncoherent(dev: Device, size: number, cpuAddr: number, handle: number, dir: number): void {
    this.#needDev(dev, "freeNoncoherent");
    this.#needInt(cpuAddr, "cpuAddr", "freeNoncoherent");
    this.#needInt(handle, "handle", "freeNoncoherent");
    this.#needInt(size, "size", "freeNoncoherent");
    this.freePages(dev, size, this.platform.kas.virtToPhys(cpuAddr), handle, dir);
  }

  /** dma_alloc_noncontiguous(): one DMA segment, possibly several CPU segments. */
  allocNoncontiguous(
    dev: Device,
    size: number,
    dir: number,
    gfp: number,
    attrs = 0,
  ): SgTable | null {
    this.#needDev(dev, "allocNoncontiguous");
    this.#needGfp(gfp, "allocNoncontiguous");
    this.#needInt(size, "size", "allocNoncontiguous");
    this.#checkDir(dir, "dma_alloc_noncontiguous");
    this.#checkArgs("allocNoncontiguous", dev, 0, "-", size, attrs);
    if (attrs & ~DMA_ATTR_ALLOC_SINGLE_PAGES) {
      this.log.warnOnce(
        "noncontig-attrs",
        "WARN_ON_ONCE(attrs & ~DMA_ATTR_ALLOC_SINGLE_PAGES) in dma_alloc_noncontiguous",
        dev.name,
      );
      return null;
    }
    if (gfp & GFP_COMP) {
      this.log.warnOnce(
        "noncontig-gfp-comp",
        "WARN_ON_ONCE(gfp & __GFP_COMP) in dma_alloc_noncontiguous",
        dev.name,
      );
      return null;
    }
    let sgt: SgTable | null;
    const ops = this.getDmaOps(dev);
    if (dev.dmaIommu) sgt = this.iommu!.allocNoncontiguous(dev, size, dir, gfp, attrs);
    else if (ops?.allocNoncontiguous) {
      // Before 6.12 the ops table may bring its own (iommu_dma_ops did).
      this.stats.indirectCalls++;
      sgt = ops.allocNoncontiguous(dev, size, dir, gfp, attrs);
    } else sgt = this.#allocSingleSgt(dev, size, dir, gfp);
    // Whatever made it, DMA-API debug sees one mapped sg entry.
    if (sgt !== null) this.debug?.mapSg(dev, sgt.sgl, sgt.origNents, 1, dir, attrs);
    return sgt;
  }

  /** alloc_single_sgt(): one entry over __dma_alloc_pages' pages, its DMA length page-aligned. */
  #allocSingleSgt(dev: Device, size: number, dir: number, gfp: number): SgTable | null {
    if (!this.#allocPagesChecks(dev, gfp, "dma_alloc_pages")) return null;
    const aligned = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    const p = this.#allocPagesBody(dev, aligned, dir, gfp);
    if (p === null) return null;
    const sgt = new SgTable(1);
    sgt.sgl[0]!.setPage(p.pagePhys, aligned, 0);
    sgt.sgl[0]!.dmaAddress = p.handle;
    sgt.sgl[0]!.dmaLength = aligned;
    sgt.nents = 1;
    return sgt;
  }

  /** dma_free_noncontiguous() */
  freeNoncontiguous(dev: Device, size: number, sgt: SgTable, dir: number): void {
    this.#needDev(dev, "freeNoncontiguous");
    this.#needSgt(sgt, "freeNoncontiguous");
    this.#needInt(size, "size", "freeNoncontiguous");
    this.#checkDir(dir, "dma_free_noncontiguous");
    this.debug?.unmapSg(dev, sgt.sgl, sgt.origNents, dir);
    if (dev.dmaIommu) {
      this.iommu!.freeNoncontiguous(dev, size, sgt, dir);
      return;
    }
    const ops = this.getDmaOps(dev);
    if (ops?.freeNoncontiguous) {
      this.stats.indirectCalls++;
      ops.freeNoncontiguous(dev, size, sgt, dir);
      return;
    }
    const s = sgt.sgl[0]!;
    this.#freePagesBody(
      dev,
      Math.ceil(size / PAGE_SIZE) * PAGE_SIZE,
      s.pagePhys,
      s.dmaAddress,
      dir,
    );
  }

  /**
   * Whether a noncontiguous allocation came from iommu-dma: by direct call
   * (6.12+), or from the ops table's alloc_noncontiguous (before 6.12 only
   * iommu_dma_ops had one), whose pages the vmap and mmap helpers map.
   */
  #noncontigViaIommu(dev: Device): boolean {
    if (dev.dmaIommu) return true;
    return this.iommu !== null && this.getDmaOps(dev)?.allocNoncontiguous !== undefined;
  }

  /** dma_vmap_noncontiguous(): IOMMU vmaps the pages; direct returns the linear address. */
  vmapNoncontiguous(dev: Device, size: number, sgt: SgTable): number | null {
    this.#needDev(dev, "vmapNoncontiguous");
    this.#needSgt(sgt, "vmapNoncontiguous");
    this.#needInt(size, "size", "vmapNoncontiguous");
    if (this.#noncontigViaIommu(dev)) return this.iommu!.vmapNoncontiguous(dev, size, sgt);
    return this.platform.kas.physToVirt(sgt.sgl[0]!.pagePhys);
  }

  /** dma_vunmap_noncontiguous() */
  vunmapNoncontiguous(dev: Device, vaddr: number): void {
    this.#needDev(dev, "vunmapNoncontiguous");
    if (this.#noncontigViaIommu(dev)) this.iommu!.vunmapNoncontiguous(dev, vaddr);
  }

  /** dma_mmap_noncontiguous() */
  mmapNoncontiguous(dev: Device, vma: VmArea, size: number, sgt: SgTable): number {
    this.#needDev(dev, "mmapNoncontiguous");
    this.#needSgt(sgt, "mmapNoncontiguous");
    this.#needInt(size, "size", "mmapNoncontiguous");
    if (this.#noncontigViaIommu(dev)) return this.iommu!.mmapNoncontiguous(dev, vma, size, sgt);
    const count = Math.ceil(size / PAGE_SIZE);
    if (vma.pgoff >= count || Math.ceil(vma.size / PAGE_SIZE) > count - vma.pgoff) return -ENXIO;
    return 0;
  }

  /** dma_mmap_attrs() */
  mmapAttrs(
    dev: Device,
    vma: VmArea,
    cpuAddr: number,
    handle: number,
    size: number,
    attrs = 0,
  ): number {
    this.#needDev(dev, "mmapAttrs");
    this.#needInt(cpuAddr, "cpuAddr", "mmapAttrs");
    this.#needInt(handle, "handle", "mmapAttrs");
    this.#needInt(size, "size", "mmapAttrs");
    const ops = this.getDmaOps(dev);
    if (this.allocDirect(dev, ops)) return direct.directMmap(this, dev, vma, cpuAddr, handle, size);
    if (dev.dmaIommu) return this.iommu!.mmap(dev, vma, cpuAddr, handle, size, attrs);
    if (!ops?.mmap) return -ENXIO;
    this.stats.indirectCalls++;
    return ops.mmap(dev, vma, cpuAddr, handle, size, attrs);
  }

  /** dma_mmap_coherent() */
  mmapCoherent(dev: Device, vma: VmArea, cpuAddr: number, handle: number, size: number): number {
    this.#needDev(dev, "mmapCoherent");
    this.#needInt(cpuAddr, "cpuAddr", "mmapCoherent");
    this.#needInt(handle, "handle", "mmapCoherent");
    this.#needInt(size, "size", "mmapCoherent");
    return this.mmapAttrs(dev, vma, cpuAddr, handle, size, 0);
  }

  /** dma_mmap_pages(): -ENXIO when the vma exceeds the allocation. */
  mmapPages(_dev: Device, vma: VmArea, size: number): number {
    this.#needInt(size, "size", "mmapPages");
    const count = Math.ceil(size / PAGE_SIZE);
    if (vma.pgoff >= count || Math.ceil(vma.size / PAGE_SIZE) > count - vma.pgoff) return -ENXIO;
    return 0;
  }

  /** dma_can_mmap() */
  canMmap(dev: Device): boolean {
    this.#needDev(dev, "canMmap");
    const ops = this.getDmaOps(dev);
    if (this.allocDirect(dev, ops)) return direct.directCanMmap(this, dev);
    if (dev.dmaIommu) return true;
    return ops?.mmap !== undefined;
  }

  /** dma_get_sgtable_attrs() */
  getSgtableAttrs(
    dev: Device,
    sgt: SgTable,
    cpuAddr: number,
    handle: number,
    size: number,
    attrs = 0,
  ): number {
    this.#needDev(dev, "getSgtableAttrs");
    this.#needSgt(sgt, "getSgtableAttrs");
    this.#needInt(cpuAddr, "cpuAddr", "getSgtableAttrs");
    this.#needInt(handle, "handle", "getSgtableAttrs");
    this.#needInt(size, "size", "getSgtableAttrs");
    const ops = this.getDmaOps(dev);
    if (this.allocDirect(dev, ops))
      return direct.directGetSgtable(this, dev, sgt, cpuAddr, handle, size);
    if (dev.dmaIommu) return this.iommu!.getSgtable(dev, sgt, cpuAddr, handle, size, attrs);
    if (!ops?.getSgtable) return -ENXIO;
    this.stats.indirectCalls++;
    return ops.getSgtable(dev, sgt, cpuAddr, handle, size, attrs);
  }

  /**
   * dma_pgprot(): how the CPU maps an allocation. Write-combining is only an
   * option where the arch selects ARCH_HAS_DMA_WRITE_COMBINE; elsewhere the
   * attribute is ignored and the mapping is the arch's coherent (uncached) one.
   */
  pgprot(dev: Device, attrs: number): "cacheable" | "uncached" | "write-combine" {
    this.#needDev(dev, "pgprot");
    if (dev.dmaCoherent) return "cacheable";
    return this.config.archHasDmaWriteCombine && attrs & DMA_ATTR_WRITE_COMBINE
      ? "write-combine"
      : "uncached";
  }

  // ---------------------------------------------------------------- IOVA two-step API (§1.8)

  /** dma_iova_try_alloc() */
  iovaTryAlloc(dev: Device, state: DmaIovaState, phys: number, size: number): boolean {
    this.#needDev(dev, "iovaTryAlloc");
    this.#needInt(phys, "phys", "iovaTryAlloc");
    if (typeof size !== "number" || Number.isNaN(size) || size < 0 || !Number.isInteger(size))
      throw new RangeError(
        `iovaTryAlloc: size must be a non-negative integer, got ${describeArg(size)}`,
      );
    this.#needState(state, "iovaTryAlloc");
    state.addr = 0;
    state.size = 0;
    state.useSwiotlb = false;
    if (!dev.dmaIommu || this.iommu === null) return false;
    if (size === 0 || size >= 2 ** 63) {
      this.log.warnOnce(
        "iova-try-alloc-size",
        "WARN_ON_ONCE(!size || (size & DMA_IOVA_USE_SWIOTLB)) in dma_iova_try_alloc",
        dev.name,
      );
      return false;
    }
    return this.iommu.iovaTryAlloc(dev, state, phys, size);
  }

  /** dma_use_iova() */
  useIova(state: DmaIovaState): boolean {
    this.#needState(state, "useIova");
    return state.size !== 0;
  }

  /** dma_iova_link() */
  iovaLink(
    dev: Device,
    state: DmaIovaState,
    phys: number,
    offset: number,
    size: number,
    dir: number,
    attrs = 0,
  ): number {
    this.#needDev(dev, "iovaLink");
    this.#needState(state, "iovaLink");
    this.#needInt(offset, "offset", "iovaLink");
    this.#needInt(size, "size", "iovaLink");
    this.#checkDir(dir, "dma_iova_link");
    if (this.iommu === null) return -EOPNOTSUPP;
    return this.iommu.iovaLink(dev, state, phys, offset, size, dir, attrs);
  }

  /** dma_iova_sync() */
  iovaSync(dev: Device, state: DmaIovaState, offset: number, size: number): number {
    this.#needDev(dev, "iovaSync");
    this.#needState(state, "iovaSync");
    this.#needInt(offset, "offset", "iovaSync");
    this.#needInt(size, "size", "iovaSync");
    if (this.iommu === null) return -EOPNOTSUPP;
    return this.iommu.iovaSync(dev, state, offset, size);
  }

  /** dma_iova_unlink() */
  iovaUnlink(
    dev: Device,
    state: DmaIovaState,
    offset: number,
    size: number,
    dir: number,
    attrs = 0,
  ): void {
    this.#needDev(dev, "iovaUnlink");
    this.#needState(state, "iovaUnlink");
    this.#needInt(offset, "offset", "iovaUnlink");
    this.#needInt(size, "size", "iovaUnlink");
    this.#checkDir(dir, "dma_iova_unlink");
    this.iommu?.iovaUnlink(dev, state, offset, size, dir, attrs);
  }

  /** dma_iova_destroy() */
  iovaDestroy(dev: Device, state: DmaIovaState, mappedLen: number, dir: number, attrs = 0): void {
    this.#needDev(dev, "iovaDestroy");
    this.#needState(state, "iovaDestroy");
    this.#checkDir(dir, "dma_iova_destroy");
    this.iommu?.iovaDestroy(dev, state, mappedLen, dir, attrs);
  }

  /** dma_iova_free() */
  iovaFree(dev: Device, state: DmaIovaState): void {
    this.#needDev(dev, "iovaFree");
    this.#needState(state, "iovaFree");
    // A state that try_alloc never filled holds no IOVA: the kernel would
    // hand a zero-length range to the allocator, which finds nothing to free.
    if (state.size === 0) return;
    this.iommu?.iovaFree(dev, state);
  }

  // ---------------------------------------------------------------- the CPU's view of memory

  #cpuAccess(
    va: number,
    len: number,
    fn: (pa: number, off: number, n: number, uncached: boolean) => void,
  ): void {
    if (!Number.isInteger(va) || va < 0 || !Number.isInteger(len) || len < 0) {
      throw new RangeError(
        `CPU access: va must be a kernel address and len a non-negative integer (va=${va}, len=${len})`,
      );
    }
    if (va >= PAGE_COOKIE_BASE && va < PAGE_COOKIE_BASE + 2 ** 48) {
      this.log.hazard(
        "cookie-dereference",
        `CPU dereferenced the DMA_ATTR_NO_KERNEL_MAPPING cookie ${hex(va)}`,
      );
      throw new KernelBug(
        "cookie-dereference",
        `unable to handle page fault for address ${hex(va)} (a DMA_ATTR_NO_KERNEL_MAPPING cookie)`,
      );
    }
    let off = 0;
    while (off < len) {
      const a = va + off;
      const n = Math.min(len - off, PAGE_SIZE - (a % PAGE_SIZE));
      const { pa, uncached } = this.#translate(a);
      if (pa < 0)
        throw new KernelBug("page-fault", `unable to handle page fault for address ${hex(a)}`);
      fn(pa, off, n, uncached);
      off += n;
    }
  }

  #translate(va: number): { pa: number; uncached: boolean } {
    for (const [base, r] of this.#remaps) {
      if (va >= base && va < base + r.size) return { pa: r.pa + (va - base), uncached: true };
    }
    const pa = this.platform.kas.translate(va);
    if (pa >= 0 && this.#uncachedLinear.size > 0) {
      for (const [base, size] of this.#uncachedLinear)
        if (va >= base && va < base + size) return { pa, uncached: true };
    }
    return { pa, uncached: false };
  }

  /** The CPU reads `len` bytes at kernel address `va` (through the cache, or uncached for uncached aliases). */
  cpuRead(va: number, len: number): Uint8Array {
    this.#needCpuLen(len, "cpuRead");
    const out = new Uint8Array(len);
    this.#cpuAccess(va, len, (pa, off, n, unc) => {
      if (unc) this.platform.cache.cpuReadUncached(pa, out, off, n);
      else this.platform.cache.cpuReadInto(pa, out, off, n);
      for (let i = 0; i < this.#observers.length; i++)
        this.#observers[i]!.onCpuAccess?.("read", pa, n);
    });
    return out;
  }

  /** The CPU writes `data` at kernel address `va`. */
  cpuWrite(va: number, data: Uint8Array): void {
    if (!(data instanceof Uint8Array))
      throw new TypeError(`cpuWrite: data must be a Uint8Array, got ${describeArg(data)}`);
    this.#cpuAccess(va, data.length, (pa, off, n, unc) => {
      if (unc) this.platform.cache.cpuWriteUncached(pa, data, off, n);
      else this.platform.cache.cpuWrite(pa, data, off, n);
      for (let i = 0; i < this.#observers.length; i++)
        this.#observers[i]!.onCpuAccess?.("write", pa, n);
    });
  }

  /** memset() through the CPU. */
  cpuFill(va: number, len: number, byte: number): void {
    this.#needCpuLen(len, "cpuFill");
    // Up to 1 MiB the bytes come from a reused buffer (the cache and memory copy them, nothing keeps it).
    if (!(Number.isInteger(len) && len > 0 && len <= FILL_SCRATCH_MAX)) {
      this.cpuWrite(va, new Uint8Array(len).fill(byte));
      return;
    }
    if (this.#fillScratch.length < len)
      this.#fillScratch = new Uint8Array(
        Math.min(FILL_SCRATCH_MAX, 2 ** Math.ceil(Math.log2(len))),
      );
    const buf = this.#fillScratch;
    buf.fill(byte, 0, len);
    this.cpuWrite(va, len === buf.length ? buf : buf.subarray(0, len));
  }

  // ---------------------------------------------------------------- KernelContext services

  swiotlbFor(_dev: Device): SwiotlbMem | null {
    return this.swiotlb;
  }

  isSwiotlbBuffer(_dev: Device, pa: number): boolean {
    // biome-ignore lint/complexity/useOptionalChain: the result must be a boolean, never undefined.
    return this.swiotlb !== null && this.swiotlb.isSwiotlbBuffer(pa);
  }

  /** What swiotlb sees of the device: one object per device, its fields read afresh at every call (swiotlb keeps none). */
  #swiotlbDev(dev: Device): SwiotlbDevice {
    // The device's last segment boundary as a bigint rides along, unseen by swiotlb.
    let d = this.#swiotlbDevs.get(dev) as (SwiotlbDevice & { segBoundary: bigint }) | undefined;
    if (d === undefined) {
      d = { name: dev.name, minAlignMask: 0, segBoundaryMask: 0, dmaLimit: 0, segBoundary: -1n };
      this.#swiotlbDevs.set(dev, d);
    }
    d.minAlignMask = this.getMinAlignMask(dev);
    // bigint to number costs more than the comparison: convert only when the mask changed.
    const seg = this.getSegBoundary(dev);
    if (seg !== d.segBoundary) {
      d.segBoundary = seg;
      d.segBoundaryMask = u64ToLimit(seg);
    }
    d.dmaLimit = dev.streamingLimit;
    return d;
  }

  swiotlbTblMapSingle(
    dev: Device,
    pa: number,
    size: number,
    allocAlignMask: number,
    dir: number,
    attrs: number,
  ): number {
    const mem = this.swiotlb;
    if (mem === null) {
      this.log.noticeRatelimited(
        "swiotlb-no-buffer",
        "Can not allocate SWIOTLB buffer earlier and can't now provide you with the DMA bounce buffer",
        dev.name,
      );
      return -1;
    }
    const tlb = mem.tblMapSingle(
      this.#swiotlbDev(dev),
      pa,
      size,
      allocAlignMask,
      dir,
      attrs,
      this.#cpu,
    );
    if (tlb >= 0) {
      dev.dmaSkipSync = false; // dma_reset_need_sync()
      this.stats.swiotlbBounces++;
    }
    return tlb;
  }

  swiotlbTblUnmapSingle(
    dev: Device,
    tlbAddr: number,
    size: number,
    dir: number,
    attrs: number,
  ): void {
    this.swiotlb?.tblUnmapSingle(this.#swiotlbDev(dev), tlbAddr, size, dir, attrs);
  }

  swiotlbSyncSingleForDevice(dev: Device, tlbAddr: number, size: number, dir: number): void {
    this.swiotlb?.syncSingleForDevice(this.#swiotlbDev(dev), tlbAddr, size, dir);
  }

  swiotlbSyncSingleForCpu(dev: Device, tlbAddr: number, size: number, dir: number): void {
    this.swiotlb?.syncSingleForCpu(this.#swiotlbDev(dev), tlbAddr, size, dir);
  }

  kmallocSizeClass(size: number): number {
    const align = Math.max(
      8,
      this.config.dmaBounceUnalignedKmalloc ? 8 : this.config.dmaCacheAlignment,
    );
    const classes = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];
    for (const c of classes) {
      if ((c === 96 && align > 32) || (c === 192 && align > 64)) continue;
      if (c >= size && c % Math.min(align, c) === 0 && c >= align) return c;
    }
    return Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  }

  recordMaintenance(
    edge: MaintenanceEvent["edge"],
    op: CacheOp,
    pa: number,
    size: number,
    dir: number,
  ): void {
    this.stats.cacheMaintenanceOps++;
    if (this.maintenance.length >= 1024) this.maintenance.shift();
    this.maintenance.push({ edge, op, pa, size, dir });
  }

  archDmaPrepCoherent(pa: number, size: number): void {
    this.platform.cache.cleanInvalidate(pa, size);
    this.recordMaintenance("prep-coherent", "clean+invalidate", pa, size, 0);
  }

  pageCookie(pa: number): number {
    return PAGE_COOKIE_BASE + pa / PAGE_SIZE;
  }

  cookiePage(cookie: number): number {
    return (cookie - PAGE_COOKIE_BASE) * PAGE_SIZE;
  }

  archDmaAlloc(dev: Device, _size: number, _gfp: number, _attrs: number): DmaAllocation | null {
    this.log.noticeOnce(
      "arch-dma-alloc-missing",
      "arch_dma_alloc: this platform provides no arch allocator",
      dev.name,
    );
    return null;
  }

  archDmaFree(_dev: Device, _size: number, _cpuAddr: number, _handle: number): void {}

  globalPoolAlloc(dev: Device, size: number): DmaAllocation | null {
    const pool = this.#globalPool;
    if (pool === null) return null;
    const idx = pool.alloc(size);
    if (idx < 0) return null;
    const pa = pool.phys + idx * PAGE_SIZE;
    return { cpuAddr: this.platform.kas.physToVirt(pa), handle: direct.physToDma(this, dev, pa) };
  }

  globalPoolFree(dev: Device, cpuAddr: number, _size: number): void {
    const pool = this.#globalPool;
    const idx = pool ? pool.indexOf(cpuAddr) : -1;
    if (pool === null || idx < 0 || !pool.free(idx)) {
      this.log.warnOnce(
        "global-pool-free",
        "dma_free_from_global_coherent: address not in the global pool",
        dev.name,
      );
    }
  }

  atomicPoolAlloc(dev: Device, size: number, uncached: boolean): DmaAllocation | null {
    // Lookup order follows gfp: DMA32 (if requested) → DMA (if requested) → kernel → DMA32 → DMA.
    const want = (() => {
      const limit = dev.coherentLimit === 0 ? NO_LIMIT : dev.coherentLimit;
      return limit;
    })();
    for (const { pool } of this.#atomicPools) {
      const idx = pool.alloc(size);
      if (idx < 0) continue;
      const pa = pool.phys + idx * PAGE_SIZE;
      const dma = direct.physToDmaUnencrypted(dev, pa);
      if (dma === DMA_MAPPING_ERROR || dma + size - 1 > want) {
        pool.free(idx);
        continue;
      }
      const cpuAddr = pool.base + idx * PAGE_SIZE;
      if (uncached) this.markUncached(cpuAddr, size);
      this.zeroCpu(cpuAddr, size);
      return { cpuAddr, handle: dma };
    }
    this.log.warn("atomic-pool-exhausted", `Failed to get suitable pool for ${dev.name}`, dev.name);
    return null;
  }

  atomicPoolFree(cpuAddr: number, size: number): boolean {
    for (const { pool } of this.#atomicPools) {
      const idx = pool.indexOf(cpuAddr);
      if (idx >= 0) {
        if (pool.free(idx)) this.unmarkUncached(cpuAddr, size);
        return true;
      }
    }
    return false;
  }

  remapUncached(pa: number, size: number, writeCombine: boolean): number {
    const va = this.#nextRemap;
    this.#nextRemap += Math.ceil(size / PAGE_SIZE) * PAGE_SIZE + PAGE_SIZE; // guard page
    this.#remaps.set(va, { pa, size, writeCombine });
    return va;
  }

  unmapUncached(cpuAddr: number): void {
    this.#remaps.delete(cpuAddr);
  }

  isRemapped(cpuAddr: number): boolean {
    return this.#remaps.has(cpuAddr);
  }

  markUncached(cpuAddr: number, size: number): void {
    this.#uncachedLinear.set(cpuAddr, size);
  }

  unmarkUncached(cpuAddr: number, _size: number): void {
    this.#uncachedLinear.delete(cpuAddr);
  }

  zeroCpu(cpuAddr: number, size: number): void {
    this.cpuFill(cpuAddr, size, 0);
  }

  // ---------------------------------------------------------------- bookkeeping for leak reports

  #recordMap(
    dev: Device,
    kind: LiveKind,
    addr: number,
    size: number,
    dir: number,
    phys: number,
  ): void {
    this.#live.add(dev, addr, kind, size, dir, phys);
    if (this.#observers.length !== 0) this.#notifyMap(dev, kind, addr, size, dir, phys);
  }

  #notifyMap(
    dev: Device,
    kind: LiveKind,
    addr: number,
    size: number,
    dir: number,
    phys: number,
  ): void {
    for (let i = 0; i < this.#observers.length; i++)
      this.#observers[i]!.onMap?.(dev, kind, { addr, size, dir, phys });
  }

  #recordUnmap(dev: Device, addr: number): void {
    if (this.#observers.length !== 0) this.#notifyUnmap(dev, addr);
    this.#live.remove(dev, addr);
  }

  #notifyUnmap(dev: Device, addr: number): void {
    for (let i = 0; i < this.#observers.length; i++) this.#observers[i]!.onUnmap?.(dev, addr);
  }

  /** Live mappings and allocations, one line each (the test harness's sanitizer reads this). */
  liveResources(): string[] {
    const out: string[] = [];
    for (const e of this.#live.entries()) {
      const times = e.count > 1 ? ` (x${e.count})` : "";
      out.push(
        `${e.kind} ${e.dev.name} dma=${hex(e.addr)} size=${e.size} dir=${directionName(e.dir)} phys=${hex(e.phys)}${times}`,
      );
    }
    if (this.swiotlb)
      for (const b of this.swiotlb.liveBounces())
        out.push(`swiotlb bounce ${typeof b === "string" ? b : JSON.stringify(b)}`);
    if (this.iommu) out.push(...this.iommu.liveResources());
    return out;
  }
}

/** dma_common_alloc_pages / dma_common_free_pages (kernel/dma/ops_helpers.c), for the ops table. */
interface CommonPageOps {
  allocPages(dev: Device, size: number, dir: number, gfp: number): DmaPageAllocation | null;
  freePages(dev: Device, size: number, pagePhys: number, handle: number, dir: number): void;
}

/**
 * The iommu-dma ops table of the ops-table designs (iommu_dma_ops, up to
 * 6.11): besides the streaming entries it carried alloc_pages_op and
 * free_pages (the common helpers) and alloc/free_noncontiguous. The v0 patch
 * removed the four streaming entries.
 */
function iommuOpsTable(e: IommuDmaEntryPoints, d: DesignTraits, common: CommonPageOps): DmaMapOps {
  const table: DmaMapOps = {
    name: "iommu_dma_ops",
    canSkipSync: true,
    alloc: (dev, size, gfp, attrs) => e.alloc(dev, size, gfp, attrs),
    free: (dev, size, cpu, h, attrs) => e.free(dev, size, cpu, h, attrs),
    allocPagesOp: (dev, size, dir, gfp) => common.allocPages(dev, size, dir, gfp),
    freePages: (dev, size, pa, h, dir) => common.freePages(dev, size, pa, h, dir),
    allocNoncontiguous: (dev, size, dir, gfp, attrs) =>
      e.allocNoncontiguous(dev, size, dir, gfp, attrs),
    freeNoncontiguous: (dev, size, sgt, dir) => e.freeNoncontiguous(dev, size, sgt, dir),
    mmap: (dev, vma, cpu, h, size, attrs) => e.mmap(dev, vma, cpu, h, size, attrs),
    getSgtable: (dev, sgt, cpu, h, size, attrs) => e.getSgtable(dev, sgt, cpu, h, size, attrs),
    mapResource: (dev, phys, size, dir, attrs) => e.mapResource(dev, phys, size, dir, attrs),
    unmapResource: (dev, a, size, dir, attrs) => e.unmapResource(dev, a, size, dir, attrs),
    syncSingleForCpu: (dev, a, s, dir) => e.syncSingleForCpu(dev, a, s, dir),
    syncSingleForDevice: (dev, a, s, dir) => e.syncSingleForDevice(dev, a, s, dir),
    syncSgForCpu: (dev, sgl, n, dir) => e.syncSgForCpu(dev, sgl, n, dir),
    syncSgForDevice: (dev, sgl, n, dir) => e.syncSgForDevice(dev, sgl, n, dir),
    getMergeBoundary: (dev) => e.getMergeBoundary(dev),
    optMappingSize: () => e.optMappingSize(),
    maxMappingSize: (dev) => e.maxMappingSize(dev),
  };
  if (!d.wrapperFallsBackToIommu) {
    table.mapPage = (dev, page, off, size, dir, attrs) =>
      e.mapPhys(dev, page + off, size, dir, attrs);
    table.unmapPage = (dev, a, size, dir, attrs) => e.unmapPhys(dev, a, size, dir, attrs);
    table.mapSg = (dev, sgl, n, dir, attrs) => e.mapSg(dev, sgl, n, dir, attrs);
    table.unmapSg = (dev, sgl, n, dir, attrs) => e.unmapSg(dev, sgl, n, dir, attrs);
  }
  return table;
}

/** Each streaming entry point's kernel function and address argument, as its errors name them. */
const STREAM_ENTRIES = {
  mapPhys: { kernel: "dma_map_phys", addr: "phys", isMap: true },
  unmapPhys: { kernel: "dma_unmap_phys", addr: "addr", isMap: false },
  mapPage: { kernel: "dma_map_page_attrs", addr: "page + offset", isMap: true },
  unmapPage: { kernel: "dma_unmap_page_attrs", addr: "addr", isMap: false },
  mapSingle: { kernel: "dma_map_single_attrs", addr: "cpuAddr", isMap: true },
  unmapSingle: { kernel: "dma_unmap_page_attrs", addr: "addr", isMap: false },
  mapResource: { kernel: "dma_map_resource", addr: "phys", isMap: true },
  unmapResource: { kernel: "dma_unmap_resource", addr: "addr", isMap: false },
} as const;
type StreamEntry = keyof typeof STREAM_ENTRIES;

// The streaming calls' argument tests, kept small so that the JIT inlines
// them into the entry points. For an integer, `(attrs & DMA_ATTR_ALL) ===
// attrs` holds only when it is made of known bits: & turns a negative number
// or one of 2^31 or more into a different value.

/** A streaming map's arguments: an address and size in range, a direction, known attrs. */
function mapArgsOk(addr: number, size: number, dir: number, attrs: number): boolean {
  return addr >= 0 && unmapArgsOk(addr, size, dir, attrs);
}

/** An unmap's arguments: the bus address may be DMA_MAPPING_ERROR (-1). */
function unmapArgsOk(addr: number, size: number, dir: number, attrs: number): boolean {
  return (
    Number.isInteger(addr) &&
    addr >= -1 &&
    addr < 2 ** 52 &&
    Number.isInteger(size) &&
    size >= 0 &&
    size <= 2 ** 48 &&
    (dir === 0 || dir === 1 || dir === 2) &&
    Number.isInteger(attrs) &&
    (attrs & DMA_ATTR_ALL) === attrs
  );
}

/** How a bad argument reads in an error message. */
function describeArg(v: unknown): string {
  if (typeof v === "number" || typeof v === "bigint" || v === null || v === undefined)
    return String(v);
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return typeof v === "object" ? `an object (${v.constructor?.name ?? "Object"})` : typeof v;
}
