// A board: RAM layout, PCI host bridge windows and ECAM, IOMMU units and the
// devices each translates for, CPUs with their shared data cache, devices
// with DMA engines, firmware-reserved RAM, and a clock. Built from a plain
// data MachineDescription, validated up front so a mistake names its field.
import { type CacheOptions, CpuCache } from "@dmasim/cache";
import { IommuUnit, type IommuUnitOptions } from "@dmasim/iommu";
import { KernelAddressSpace, PageAllocator, PhysicalMemory } from "@dmasim/memory";
import { Clock } from "./clock.ts";
import { DmaEngine } from "./dma_engine.ts";
import { EDU_BAR_SIZE, EduDevice } from "./edu.ts";

export interface BarDescription {
  /** Bytes; a power of two of at least 4 KiB (PCI BARs are naturally aligned powers of two). */
  size: number;
  /** Physical address; omitted = the lowest free aligned spot in a host bridge window at or above 1 MiB. */
  at?: number;
}

export interface DeviceDescription {
  /** dev_name(), e.g. "0000:00:01.0". */
  name: string;
  /** "edu" gets QEMU's edu register model on BAR0; "generic" (default) is a bare DMA engine. */
  kind?: "edu" | "generic";
  /** Requester id ("00:01.0") or stream id ("0x8") the IOMMU knows it by; default: bus:dev.fn of a PCI name, else the name. */
  iommuId?: string;
  /** Snoops the CPU caches (x86 PCI devices do; many Arm SoC devices do not). */
  coherent: boolean;
  /** The device's own address width (default 64): every bus address it emits is truncated to it. */
  dmaAddressBits?: number;
  /** Sits on the PCI bus (default false). */
  pci?: boolean;
  /** Behind an external-facing port (pci_dev->untrusted). */
  untrusted?: boolean;
  bars?: BarDescription[];
}

export interface IommuDescription extends IommuUnitOptions {
  /** Names of the devices this unit translates for. */
  covers: string[];
}

export interface PciWindow {
  start: number;
  /** Inclusive, as Linux prints root bus resources. */
  end: number;
  name: string;
}

export interface MachineDescription {
  name: string;
  /** RAM ranges (page-aligned). */
  ram: Array<{ start: number; size: number }>;
  /** Simulated CPU count (default 1). */
  cpus?: number;
  /** The CPU data cache: line size, capacity, speculative fills. */
  cache?: CacheOptions;
  /** Zone limits (exclusive ends; 0 = no such zone); default DMA 16 MiB, DMA32 4 GiB. */
  zones?: { dmaLimit?: number; dma32Limit?: number };
  /** ARCH_KMALLOC_MINALIGN (default 8). */
  kmallocMinAlign?: number;
  /** The PCI host bridge's memory windows, as Linux reports its root bus resources. */
  pciWindows?: PciWindow[];
  /** The PCIe configuration space window (MMCONFIG / ECAM). */
  pciEcam?: { start: number; size: number };
  /** Fixed MMIO windows (interrupt controllers, IOMMU registers, firmware ROM). */
  mmio?: Array<{ start: number; size: number; name: string }>;
  iommus?: IommuDescription[];
  devices: DeviceDescription[];
  /** RAM the page allocator never hands out (firmware, legacy areas). */
  reserved?: Array<{ start: number; size: number; name?: string }>;
}

/** A device on the board. */
export interface MachineDevice {
  readonly name: string;
  readonly kind: "edu" | "generic";
  readonly iommuId: string;
  readonly coherent: boolean;
  readonly dmaAddressBits: number;
  readonly pci: boolean;
  readonly untrusted: boolean;
  /** Where its BARs ended up. */
  readonly bars: ReadonlyArray<{ start: number; size: number }>;
  readonly engine: DmaEngine;
  /** The edu register model, for kind "edu". */
  readonly edu: EduDevice | null;
  /** The IOMMU unit translating for it, or null. */
  readonly iommu: IommuUnit | null;
  readonly description: DeviceDescription;
}

export interface PciHostBridge {
  readonly windows: ReadonlyArray<PciWindow>;
  readonly ecam?: { readonly start: number; readonly size: number };
}

const LIMIT = 2 ** 52;
const MiB = 2 ** 20;

function defaultIommuId(name: string): string {
  const m = name.match(/^[0-9a-f]{4}:([0-9a-f]{2}:[0-9a-f]{2}\.[0-7])$/i);
  return m ? m[1]! : name;
}

function isAddr(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v < LIMIT;
}

function isPow2(v: number): boolean {
  return v > 0 && 2 ** Math.round(Math.log2(v)) === v;
}

function alignUp(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}

function hex(v: number): string {
  return `0x${v.toString(16)}`;
}

/** Renders a bad argument for an error message. */
function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null || typeof v !== "object") return String(v);
  return Array.isArray(v) ? "an array" : `a ${v.constructor?.name ?? "object"}`;
}

/** Checks a description's shape and cross references; throws TypeError/RangeError naming the field. */
export function validateMachineDescription(desc: MachineDescription): void {
  if (desc === null || typeof desc !== "object")
    throw new TypeError("MachineDescription must be an object");
  if (typeof desc.name !== "string" || desc.name === "")
    throw new TypeError("MachineDescription.name must be a non-empty string");
  if (!Array.isArray(desc.ram) || desc.ram.length === 0)
    throw new TypeError("MachineDescription.ram must list at least one { start, size } range");
  for (const f of ["pciWindows", "mmio", "iommus", "reserved"] as const)
    if (desc[f] !== undefined && !Array.isArray(desc[f]))
      throw new TypeError(
        `MachineDescription.${f} must be an array (or left out), got ${describe(desc[f])}`,
      );
  for (const f of ["zones", "pciEcam", "cache"] as const)
    if (desc[f] !== undefined && (desc[f] === null || typeof desc[f] !== "object"))
      throw new TypeError(
        `MachineDescription.${f} must be an object (or left out), got ${describe(desc[f])}`,
      );
  (desc.mmio ?? []).forEach((r, i) => {
    if (!r || typeof r !== "object" || !isAddr(r.start) || !isAddr(r.size) || r.size === 0)
      throw new RangeError(
        `MachineDescription.mmio[${i}] must be { start, size, name } with integer start and size > 0 below 2^52, got ${describe(r)}`,
      );
    if (typeof r.name !== "string")
      throw new TypeError(`MachineDescription.mmio[${i}].name must be a string`);
  });
  desc.ram.forEach((r, i) => {
    if (!r || !isAddr(r.start) || !isAddr(r.size) || r.size === 0 || r.start + r.size > LIMIT)
      throw new RangeError(
        `MachineDescription.ram[${i}] must be { start, size } integers with size > 0 ending below 2^52`,
      );
  });
  if (
    desc.cpus !== undefined &&
    (!Number.isInteger(desc.cpus) || desc.cpus < 1 || desc.cpus > 4096)
  )
    throw new RangeError(
      `MachineDescription.cpus must be an integer from 1 to 4096, got ${desc.cpus}`,
    );
  for (const z of ["dmaLimit", "dma32Limit"] as const) {
    const v = desc.zones?.[z];
    if (v !== undefined && !isAddr(v))
      throw new RangeError(
        `MachineDescription.zones.${z} must be an address below 2^52 (0 = no zone), got ${v}`,
      );
  }
  (desc.pciWindows ?? []).forEach((w, i) => {
    if (!w || !isAddr(w.start) || !isAddr(w.end) || w.end < w.start)
      throw new RangeError(
        `MachineDescription.pciWindows[${i}] needs integer start <= end (inclusive) below 2^52`,
      );
    if (typeof w.name !== "string")
      throw new TypeError(`MachineDescription.pciWindows[${i}].name must be a string`);
  });
  const e = desc.pciEcam;
  if (e !== undefined && (!isAddr(e.start) || !isAddr(e.size) || e.size === 0))
    throw new RangeError("MachineDescription.pciEcam must be { start, size } with size > 0");
  (desc.reserved ?? []).forEach((r, i) => {
    if (!r || !isAddr(r.start) || !isAddr(r.size) || r.size === 0)
      throw new RangeError(
        `MachineDescription.reserved[${i}] must be { start, size } with size > 0`,
      );
  });
  if (!Array.isArray(desc.devices))
    throw new TypeError("MachineDescription.devices must be an array (it may be empty)");
  const names = new Set<string>();
  desc.devices.forEach((d, i) => {
    const at = `MachineDescription.devices[${i}]`;
    if (!d || typeof d.name !== "string" || d.name === "")
      throw new TypeError(`${at}.name must be a non-empty string`);
    if (names.has(d.name)) throw new RangeError(`${at}.name ${d.name} appears twice`);
    names.add(d.name);
    if (d.kind !== undefined && d.kind !== "edu" && d.kind !== "generic")
      throw new RangeError(`${at}.kind must be "edu" or "generic", got ${String(d.kind)}`);
    if (typeof d.coherent !== "boolean")
      throw new TypeError(`${at}.coherent must be true or false (does the device snoop caches?)`);
    const bits = d.dmaAddressBits;
    if (bits !== undefined && (!Number.isInteger(bits) || bits < 1 || bits > 64))
      throw new RangeError(`${at}.dmaAddressBits must be an integer 1..64, got ${bits}`);
    if (d.iommuId !== undefined && (typeof d.iommuId !== "string" || d.iommuId === ""))
      throw new TypeError(`${at}.iommuId must be a non-empty string`);
    for (const f of ["pci", "untrusted"] as const)
      if (d[f] !== undefined && typeof d[f] !== "boolean")
        throw new TypeError(`${at}.${f} must be a boolean`);
    if (d.bars !== undefined && !Array.isArray(d.bars))
      throw new TypeError(`${at}.bars must be an array of { size, at? } (or left out)`);
    (d.bars ?? []).forEach((b, j) => {
      if (!b || !isAddr(b.size) || !isPow2(b.size) || b.size < 4096)
        throw new RangeError(
          `${at}.bars[${j}].size must be a power of two >= 4096, got ${b?.size}`,
        );
      if (b.at !== undefined && (!isAddr(b.at) || b.at % b.size !== 0))
        throw new RangeError(
          `${at}.bars[${j}].at must be aligned to the BAR size ${hex(b.size)}, got ${b.at}`,
        );
    });
  });
  const covered = new Map<string, string>();
  const unitNames = new Set<string>();
  (desc.iommus ?? []).forEach((u, i) => {
    const at = `MachineDescription.iommus[${i}]`;
    if (!u || typeof u.name !== "string" || u.name === "")
      throw new TypeError(`${at}.name must be a non-empty string`);
    if (unitNames.has(u.name)) throw new RangeError(`${at}.name ${u.name} appears twice`);
    unitNames.add(u.name);
    if (u.kind !== "vtd" && u.kind !== "smmuv3")
      throw new RangeError(`${at}.kind must be "vtd" or "smmuv3", got ${String(u.kind)}`);
    if (!Array.isArray(u.covers))
      throw new TypeError(`${at}.covers must be an array of device names`);
    const ids = new Set<string>();
    for (const dev of u.covers) {
      const d = desc.devices.find((x) => x.name === dev);
      if (!d) throw new RangeError(`${at}.covers names ${dev}, which is not in devices`);
      const other = covered.get(dev);
      if (other !== undefined)
        throw new RangeError(`${at}.covers ${dev}, already covered by IOMMU ${other}`);
      covered.set(dev, u.name);
      const id = d.iommuId ?? defaultIommuId(d.name);
      if (ids.has(id))
        throw new RangeError(`${at}: two devices share the requester/stream id ${id}`);
      ids.add(id);
    }
  });
}

export class Machine {
  readonly name: string;
  readonly memory: PhysicalMemory;
  readonly pages: PageAllocator;
  /** The kernel's virtual address space (linear map, kmalloc, vmalloc). */
  readonly kas: KernelAddressSpace;
  /** One CPU data cache shared by all CPUs (a coherent hierarchy seen from DMA). */
  readonly cache: CpuCache;
  readonly clock = new Clock();
  readonly cpus: number;
  readonly pciHostBridge: PciHostBridge;
  readonly iommus = new Map<string, IommuUnit>();
  readonly devices = new Map<string, MachineDevice>();
  /** RAM kept from the page allocator (firmware and the like). */
  readonly reservedRanges: ReadonlyArray<{ start: number; size: number; name: string }>;
  readonly description: MachineDescription;

  constructor(desc: MachineDescription) {
    validateMachineDescription(desc);
    this.description = desc;
    this.name = desc.name;
    this.cpus = desc.cpus ?? 1;
    const mmio = [...(desc.mmio ?? [])];
    if (desc.pciEcam) mmio.push({ ...desc.pciEcam, name: "PCI ECAM" });
    this.memory = new PhysicalMemory({ ram: desc.ram, mmio });
    this.reservedRanges = (desc.reserved ?? []).map((r) => ({
      start: r.start,
      size: r.size,
      name: r.name ?? "reserved",
    }));
    this.pages = new PageAllocator(this.memory, {
      zoneDmaLimit: desc.zones?.dmaLimit,
      zoneDma32Limit: desc.zones?.dma32Limit,
      reserved: this.reservedRanges,
    });
    this.kas = new KernelAddressSpace(this.memory, this.pages, {
      kmallocMinAlign: desc.kmallocMinAlign,
    });
    this.cache = new CpuCache(this.memory, desc.cache);
    const windows = (desc.pciWindows ?? []).map((w) => ({ ...w }));
    this.pciHostBridge = desc.pciEcam
      ? { windows, ecam: { start: desc.pciEcam.start, size: desc.pciEcam.size } }
      : { windows };
    const coveredBy = new Map<string, IommuUnit>();
    for (const d of desc.iommus ?? []) {
      const { covers, ...options } = d;
      const unit = new IommuUnit(options);
      this.iommus.set(d.name, unit);
      for (const dev of covers) coveredBy.set(dev, unit);
    }
    desc.devices.forEach((d, i) => {
      const kind = d.kind ?? "generic";
      // QEMU's edu always has its 1 MiB BAR0.
      const barDescs = d.bars ?? (kind === "edu" ? [{ size: EDU_BAR_SIZE }] : []);
      const bars = barDescs.map((b, j) => {
        const start = b.at ?? this.#placeBar(b.size, `devices[${i}].bars[${j}]`);
        this.memory.addMmio(start, b.size, `${d.name} BAR${j}`, d.name);
        return { start, size: b.size };
      });
      const iommuId = d.iommuId ?? defaultIommuId(d.name);
      const iommu = coveredBy.get(d.name) ?? null;
      const bits = d.dmaAddressBits ?? 64;
      const engine = new DmaEngine({
        device: d.name,
        iommuId,
        coherent: d.coherent,
        addressBits: bits,
        memory: this.memory,
        cache: this.cache,
        iommu,
      });
      const edu = kind === "edu" ? new EduDevice(bars[0]!.start, engine, this.clock) : null;
      this.devices.set(d.name, {
        name: d.name,
        kind,
        iommuId,
        coherent: d.coherent,
        dmaAddressBits: bits,
        pci: d.pci ?? false,
        untrusted: d.untrusted ?? false,
        bars,
        engine,
        edu,
        iommu,
        description: d,
      });
    });
  }

  /** The lowest free, naturally aligned spot for a BAR in a window at or above 1 MiB. */
  #placeBar(size: number, what: string): number {
    const wins = [...this.pciHostBridge.windows]
      .filter((w) => w.end >= MiB)
      .sort((a, b) => a.start - b.start);
    const ranges = this.memory.ranges;
    for (const w of wins) {
      let a = alignUp(Math.max(w.start, MiB), size);
      while (a + size - 1 <= w.end) {
        const hit = ranges.find((r) => r.start < a + size && a < r.end);
        if (hit === undefined) return a;
        a = alignUp(hit.end, size);
      }
    }
    throw new RangeError(
      `MachineDescription.${what}: no room for a ${hex(size)}-byte BAR in the PCI windows; give "at" or a pciWindows entry`,
    );
  }

  /** The IOMMU unit translating for device `name`, or null. */
  iommuFor(name: string): IommuUnit | null {
    if (typeof name !== "string")
      throw new TypeError(
        `Machine.iommuFor: name must be a device name (a string), got ${describe(name)}`,
      );
    return this.devices.get(name)?.iommu ?? null;
  }

  /** The device `name`; throws RangeError naming the known ones if there is none. */
  device(name: string): MachineDevice {
    if (typeof name !== "string")
      throw new TypeError(
        `Machine.device: name must be a device name (a string), got ${describe(name)}`,
      );
    const d = this.devices.get(name);
    if (d === undefined)
      throw new RangeError(
        `no device ${name} on ${this.name}; devices: ${[...this.devices.keys()].join(", ")}`,
      );
    return d;
  }
}
