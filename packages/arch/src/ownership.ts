// The ownership checker: what DMA-API debug cannot do. dma-debug sees calls;
// this sees accesses. It follows every mapping the DMA API makes on a system
// (through the kernel's DmaApiObserver), every access a device's DMA engine
// makes, every IOMMU fault, every CPU load and store, and every cache hazard,
// and reports an access that breaks the ownership rules of dma-api.rst Part Id
// (C154, C155, C157), naming both the access and the mapping.
//
// Each report says whether it is harmful on this system. The rules are the
// same everywhere, but their cost is not: a CPU store into a buffer the device
// owns is harmless on a coherent x86 device (the snoop keeps both views equal)
// and loses data on a non-coherent arm64 device, or whenever the mapping is
// bounced through swiotlb (the device never sees the original). dma-debug's
// cacheline check reports both alike; this checker tells them apart.
//
// Ownership is kept per mapping, not per byte: a sync of part of a mapping
// hands the whole mapping over. That is the granularity drivers use.
import {
  type Device,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  type DmaApiObserver,
  directionName,
  dmaToPhys,
  type Scatterlist,
} from "@dmasim/dma-core";
import type { DmaSystem } from "./system.ts";

export type OwnershipCode =
  /** C154: the CPU touched a streaming buffer the device owns. */
  | "cpu-access-device-owned"
  /** C154: the device touched a streaming buffer the CPU owns. */
  | "device-access-cpu-owned"
  /** C155: a CPU store into a FROM_DEVICE mapping. */
  | "cpu-write-from-device-mapping"
  /** C155: a device write into a TO_DEVICE mapping (or a read of a FROM_DEVICE one). */
  | "device-access-against-direction"
  /** C154/C157: a device access to a mapping that was unmapped or freed. */
  | "device-access-after-unmap"
  /** C157: a device access to an address the DMA API never returned. */
  | "device-access-unmapped"
  /** The cache model saw the CPU read a line older than what a device wrote. */
  | "cpu-stale-read"
  /** The cache model saw a dirty line written back over data a device wrote. */
  | "lost-device-write"
  /** C078: an sg list mapped again while its earlier mapping is live (the map may have rewritten it). */
  | "sg-list-mapped-again";

export interface TrackedMapping {
  /** Creation order, from 1. */
  readonly id: number;
  readonly device: string;
  readonly kind: "single" | "sg" | "coherent" | "noncoherent";
  /** The DMA API call that made it. */
  readonly call: string;
  readonly dir: number;
  /** Bus ranges the device may use. */
  readonly bus: ReadonlyArray<{ addr: number; len: number }>;
  /** The CPU's buffer (physical ranges); empty for coherent allocations, which both sides share. */
  readonly cpu: ReadonlyArray<{ pa: number; len: number }>;
  /** The device reaches a swiotlb copy, not the CPU's buffer. */
  readonly bounced: boolean;
  owner: "device" | "cpu";
  live: boolean;
  /** Unmapped or freed: by which call. */
  endedBy: string | null;
}

export interface OwnershipAccess {
  by: "cpu" | "device";
  kind: "read" | "write";
  /** Physical address (CPU accesses, device accesses that reached memory). */
  pa: number | null;
  /** Bus address (device accesses). */
  bus: number | null;
  len: number;
  /** The device, for device accesses. */
  device: string | null;
  /** The IOMMU refused the access (it never reached memory). */
  faulted: boolean;
}

export interface OwnershipViolation {
  readonly code: OwnershipCode;
  /** Data can actually go wrong on this system (non-coherent device, bounced buffer, or a hazard the cache saw). */
  readonly harmful: boolean;
  readonly access: OwnershipAccess;
  readonly mapping: TrackedMapping | null;
  readonly message: string;
}

export interface OwnershipCheckerOptions {
  /** Also record each violation in the system log as a "hazard" event (default true). */
  log?: boolean;
  /** How many ended mappings to remember, to name them in after-unmap reports (default 256). */
  remember?: number;
}

const hex = (v: number) => `0x${v.toString(16)}`;

const OWNERSHIP_CODES: readonly OwnershipCode[] = [
  "cpu-access-device-owned",
  "device-access-cpu-owned",
  "cpu-write-from-device-mapping",
  "device-access-against-direction",
  "device-access-after-unmap",
  "device-access-unmapped",
  "cpu-stale-read",
  "lost-device-write",
  "sg-list-mapped-again",
];

function describe(m: TrackedMapping): string {
  const where = m.bus.map((s) => `${hex(s.addr)}+${s.len}`).join(",");
  const state = m.live ? `owned by the ${m.owner}` : `ended by ${m.endedBy}`;
  return `mapping #${m.id} (${m.call} ${directionName(m.dir)} by ${m.device}, bus ${where}${m.bounced ? ", bounced" : ""}, ${state})`;
}

const overlaps = (a: number, alen: number, b: number, blen: number) => a < b + blen && b < a + alen;

/** Watches a system's DMA API calls and accesses; see the file comment. */
export class OwnershipChecker {
  readonly violations: OwnershipViolation[] = [];
  readonly #sys: DmaSystem;
  readonly #live: TrackedMapping[] = [];
  readonly #ended: TrackedMapping[] = [];
  readonly #remember: number;
  readonly #log: boolean;
  readonly #unsubscribe: Array<() => void> = [];
  /** The scatterlist array each live sg mapping was made from. */
  readonly #sgLists = new Map<TrackedMapping, readonly Scatterlist[]>();
  #nextId = 1;
  #active = true;

  constructor(sys: DmaSystem, options: OwnershipCheckerOptions = {}) {
    if (typeof sys?.dma?.addObserver !== "function" || !(sys.machine?.devices instanceof Map))
      throw new TypeError("OwnershipChecker: sys must be a system from createSystem()");
    if (options === null || typeof options !== "object")
      throw new TypeError(`OwnershipChecker: options must be an object, got ${String(options)}`);
    for (const k of Object.keys(options))
      if (k !== "log" && k !== "remember")
        throw new RangeError(
          `OwnershipChecker: unknown option ${JSON.stringify(k)}; the options are log, remember`,
        );
    if (options.log !== undefined && typeof options.log !== "boolean")
      throw new TypeError(
        `OwnershipChecker: log must be true or false, got ${String(options.log)}`,
      );
    const remember = options.remember ?? 256;
    if (!Number.isInteger(remember) || remember < 0)
      throw new RangeError(
        `OwnershipChecker: remember must be a non-negative integer, got ${remember}`,
      );
    this.#sys = sys;
    this.#remember = remember;
    this.#log = options.log ?? true;
    const observer: DmaApiObserver = {
      onMap: (dev, kind, info) => {
        if (kind === "sg") return; // onMapSg sees the whole list
        this.#onMap(dev, kind, info.addr, info.size, info.dir, info.phys);
      },
      onMapSg: (dev, sgl, nents, count, dir) => this.#onMapSg(dev, sgl, nents, count, dir),
      onUnmap: (dev, addr) => this.#onUnmap(dev, addr),
      onSync: (dev, addr, size, _dir, forCpu) => this.#onSync(dev, addr, size, forCpu),
      onSyncSg: (dev, sgl, nents, _dir, forCpu) => {
        for (let i = 0; i < nents; i++) {
          const s = sgl[i]!;
          if (s.dmaLength > 0) this.#onSync(dev, s.dmaAddress, s.dmaLength, forCpu);
        }
      },
      onCpuAccess: (kind, pa, len) => this.#onCpu(kind, pa, len),
    };
    sys.dma.addObserver(observer);
    // The kernel keeps observers for its lifetime; `stop()` mutes this one.
    for (const [name, mdev] of sys.machine.devices) {
      this.#unsubscribe.push(
        mdev.engine.onAccess((_d, kind, bus, pa, len) => this.#onDevice(name, kind, bus, pa, len)),
      );
      const unit = mdev.iommu;
      if (unit)
        this.#unsubscribe.push(
          unit.onFault((f) => {
            // VT-d and SMMU records name the faulting page, not the byte.
            if (f.deviceId === mdev.iommuId)
              this.#onDevice(name, f.access, f.iova, null, unit.granule, true);
          }),
        );
    }
    this.#unsubscribe.push(
      sys.machine.cache.onHazard((e) => {
        const m = this.#findByPa(e.pa, 1, true);
        this.#report(
          e.kind === "stale-read" ? "cpu-stale-read" : "lost-device-write",
          true,
          {
            // A lost device write is the CPU's write-back landing on the device's data.
            by: "cpu",
            kind: e.kind === "stale-read" ? "read" : "write",
            pa: e.pa,
            bus: null,
            len: e.len,
            device: m?.device ?? null,
            faulted: false,
          },
          m,
          e.detail,
        );
      }),
    );
  }

  /** Mappings alive now. */
  get liveMappings(): readonly TrackedMapping[] {
    return this.#live;
  }

  /** Violations with the given code. */
  withCode(code: OwnershipCode): OwnershipViolation[] {
    if (!OWNERSHIP_CODES.includes(code))
      throw new RangeError(
        `OwnershipChecker.withCode: code must be one of ${OWNERSHIP_CODES.join(", ")}; got ${String(code)}`,
      );
    return this.violations.filter((v) => v.code === code);
  }

  /** Stops watching (the violations found so far stay). */
  stop(): void {
    this.#active = false;
    for (const u of this.#unsubscribe.splice(0)) u();
  }

  // ------------------------------------------------------------ the API side

  #busToPhys(dev: Device, bus: number): number {
    const mdev = this.#sys.machine.devices.get(dev.name);
    const dom = mdev?.iommu?.domainOf(mdev.iommuId);
    if (dom) return dom.iovaToPhys(bus);
    return dmaToPhys(this.#sys.dma, dev, bus);
  }

  #track(
    dev: Device,
    kind: TrackedMapping["kind"],
    call: string,
    dir: number,
    bus: Array<{ addr: number; len: number }>,
    cpu: Array<{ pa: number; len: number }>,
    owner: "device" | "cpu",
  ): TrackedMapping | null {
    if (!this.#active) return null;
    const first = bus[0];
    const bounced =
      first !== undefined && this.#sys.dma.isSwiotlbBuffer(dev, this.#busToPhys(dev, first.addr));
    const m: TrackedMapping = {
      id: this.#nextId++,
      device: dev.name,
      kind,
      call,
      dir,
      bus,
      cpu,
      bounced,
      owner,
      live: true,
      endedBy: null,
    };
    this.#live.push(m);
    return m;
  }

  #onMap(
    dev: Device,
    kind: "phys" | "coherent" | "noncoherent",
    addr: number,
    size: number,
    dir: number,
    phys: number,
  ): void {
    const bus = [{ addr, len: size }];
    if (kind === "phys")
      this.#track(dev, "single", "dma_map_phys", dir, bus, [{ pa: phys, len: size }], "device");
    else if (kind === "coherent")
      this.#track(dev, "coherent", "dma_alloc_attrs", dir, bus, [], "device");
    // dma_alloc_pages zeroes the pages with the CPU: the CPU owns them until
    // the driver syncs them for the device.
    else
      this.#track(
        dev,
        "noncoherent",
        "dma_alloc_pages",
        dir,
        bus,
        [{ pa: phys, len: size }],
        "cpu",
      );
  }

  #onMapSg(
    dev: Device,
    sgl: readonly Scatterlist[],
    nents: number,
    count: number,
    dir: number,
  ): void {
    const bus: Array<{ addr: number; len: number }> = [];
    for (let i = 0; i < count; i++) bus.push({ addr: sgl[i]!.dmaAddress, len: sgl[i]!.dmaLength });
    const cpu: Array<{ pa: number; len: number }> = [];
    for (let i = 0; i < nents; i++) cpu.push({ pa: sgl[i]!.phys, len: sgl[i]!.length });
    // dma-api.rst Part Id: a list that is mapped must not be mapped again
    // (the first map may have rewritten its fields, and its unmap is owed).
    if (this.#active)
      for (const [earlier, list] of this.#sgLists)
        if (list === sgl)
          this.#report(
            "sg-list-mapped-again",
            true,
            {
              by: "cpu",
              kind: "write",
              pa: null,
              bus: null,
              len: 0,
              device: dev.name,
              faulted: false,
            },
            earlier,
            `${dev.name} mapped an sg list that is still mapped`,
          );
    const m = this.#track(dev, "sg", "dma_map_sg", dir, bus, cpu, "device");
    if (m !== null) this.#sgLists.set(m, sgl);
  }

  #onUnmap(dev: Device, addr: number): void {
    if (!this.#active) return;
    for (let i = this.#live.length - 1; i >= 0; i--) {
      const m = this.#live[i]!;
      if (m.device !== dev.name || !m.bus.some((s) => s.addr === addr)) continue;
      this.#live.splice(i, 1);
      this.#sgLists.delete(m);
      m.live = false;
      m.endedBy =
        m.kind === "coherent"
          ? "dma_free_attrs"
          : m.kind === "noncoherent"
            ? "dma_free_pages"
            : m.kind === "sg"
              ? "dma_unmap_sg"
              : "dma_unmap_phys";
      this.#ended.push(m);
      if (this.#ended.length > this.#remember) this.#ended.shift();
      return;
    }
  }

  #onSync(dev: Device, addr: number, size: number, forCpu: boolean): void {
    if (!this.#active) return;
    for (const m of this.#live) {
      if (m.device !== dev.name || m.kind === "coherent") continue;
      if (m.bus.some((s) => overlaps(addr, Math.max(size, 1), s.addr, s.len))) {
        m.owner = forCpu ? "cpu" : "device";
        return;
      }
    }
  }

  // ------------------------------------------------------------ the access side

  #harmful(m: TrackedMapping): boolean {
    const dev = this.#sys.dma.devices.get(m.device);
    return m.bounced || dev === undefined || !dev.dmaCoherent;
  }

  #findByPa(pa: number, len: number, includeEnded: boolean): TrackedMapping | null {
    for (const m of this.#live) if (m.cpu.some((r) => overlaps(pa, len, r.pa, r.len))) return m;
    if (includeEnded)
      for (let i = this.#ended.length - 1; i >= 0; i--) {
        const m = this.#ended[i]!;
        if (m.cpu.some((r) => overlaps(pa, len, r.pa, r.len))) return m;
      }
    return null;
  }

  #onCpu(kind: "read" | "write", pa: number, len: number): void {
    if (!this.#active) return;
    for (const m of this.#live) {
      if (m.kind === "coherent" || !m.cpu.some((r) => overlaps(pa, len, r.pa, r.len))) continue;
      const access: OwnershipAccess = {
        by: "cpu",
        kind,
        pa,
        bus: null,
        len,
        device: null,
        faulted: false,
      };
      if (m.owner === "device")
        this.#report(
          "cpu-access-device-owned",
          this.#harmful(m),
          access,
          m,
          `CPU ${kind} of ${len} bytes at ${hex(pa)} while the device owns it`,
        );
      if (kind === "write" && m.dir === DMA_FROM_DEVICE && m.kind !== "noncoherent")
        this.#report(
          "cpu-write-from-device-mapping",
          this.#harmful(m),
          access,
          m,
          `CPU store of ${len} bytes at ${hex(pa)} into a FROM_DEVICE buffer`,
        );
    }
  }

  #onDevice(
    device: string,
    kind: "read" | "write",
    bus: number,
    pa: number | null,
    len: number,
    faulted = false,
  ): void {
    if (!this.#active) return;
    const access: OwnershipAccess = { by: "device", kind, pa, bus, len, device, faulted };
    let covered = 0;
    for (const m of this.#live) {
      if (m.device !== device) continue;
      for (const s of m.bus) {
        if (!overlaps(bus, len, s.addr, s.len)) continue;
        covered += Math.min(bus + len, s.addr + s.len) - Math.max(bus, s.addr);
        if (m.kind === "coherent") continue;
        if (m.owner === "cpu")
          this.#report(
            "device-access-cpu-owned",
            this.#harmful(m),
            access,
            m,
            `${device} ${kind} of ${len} bytes at bus ${hex(bus)} while the CPU owns it`,
          );
        const against =
          (kind === "write" && m.dir === DMA_TO_DEVICE) ||
          (kind === "read" && m.dir === DMA_FROM_DEVICE);
        if (against)
          this.#report(
            "device-access-against-direction",
            true,
            access,
            m,
            `${device} ${kind} at bus ${hex(bus)} against a ${directionName(m.dir)} mapping${faulted ? " (the IOMMU refused it)" : ""}`,
          );
      }
    }
    // A fault names a page: any mapping on it is the one the access meant.
    if (covered >= len || (faulted && covered > 0)) return;
    // Some bytes are outside every live mapping of this device.
    for (let i = this.#ended.length - 1; i >= 0; i--) {
      const m = this.#ended[i]!;
      if (m.device === device && m.bus.some((s) => overlaps(bus, len, s.addr, s.len))) {
        this.#report(
          "device-access-after-unmap",
          true,
          access,
          m,
          `${device} ${kind} of ${len} bytes at bus ${hex(bus)} after ${m.endedBy}${faulted ? " (the IOMMU refused it)" : ""}`,
        );
        return;
      }
    }
    this.#report(
      "device-access-unmapped",
      true,
      access,
      null,
      `${device} ${kind} of ${len} bytes at bus ${hex(bus)}, an address the DMA API never returned to it${faulted ? " (the IOMMU refused it)" : ""}`,
    );
  }

  #report(
    code: OwnershipCode,
    harmful: boolean,
    access: OwnershipAccess,
    mapping: TrackedMapping | null,
    what: string,
  ): void {
    const message = `${what}${mapping ? `: ${describe(mapping)}` : ""}${harmful ? "" : " [harmless on this coherent system]"}`;
    // The mapping is copied so later ownership changes do not rewrite history.
    const snapshot = mapping ? { ...mapping } : null;
    this.violations.push({ code, harmful, access, mapping: snapshot, message });
    if (this.#log)
      this.#sys.log.hazard(`ownership-${code}`, message, access.device ?? mapping?.device);
  }
}
