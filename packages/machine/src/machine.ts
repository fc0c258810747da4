// A board: RAM layout, PCI host bridge windows, IOMMU units and the devices
// each covers, CPUs with their (shared) data cache, devices with DMA engines,
// and a clock. Built from a plain-data MachineDescription.
import { type CacheOptions, CpuCache } from "@dmasim/cache";
import { IommuUnit, type IommuUnitOptions } from "@dmasim/iommu";
import { KernelAddressSpace, PageAllocator, PhysicalMemory } from "@dmasim/memory";
import { Clock } from "./clock.ts";
import { DmaEngine } from "./dma_engine.ts";
import { EduDevice } from "./edu.ts";

export interface DeviceDescription {
  /** dev_name(), e.g. "0000:00:01.0". */
  name: string;
  kind?: "edu" | "generic";
  /** Requester id ("00:01.0") or stream id the IOMMU knows it by; defaults to the name's bus:dev.fn. */
  iommuId?: string;
  /** Snoops the CPU caches. */
  coherent: boolean;
  /** The device's own address width (default 64). */
  dmaAddressBits?: number;
  pci?: boolean;
  untrusted?: boolean;
  /** BARs: MMIO windows; `at` fixes the address. */
  bars?: Array<{ size: number; at: number }>;
}

export interface IommuDescription extends IommuUnitOptions {
  /** Device names this unit translates for. */
  covers: string[];
}

export interface MachineDescription {
  name: string;
  ram: Array<{ start: number; size: number }>;
  cpus?: number;
  cache?: CacheOptions;
  zones?: { dmaLimit?: number; dma32Limit?: number };
  kmallocMinAlign?: number;
  /** PCI host bridge memory windows (inclusive ends), as Linux reports its root bus resources. */
  pciWindows?: Array<{ start: number; end: number; name: string }>;
  /** Fixed MMIO windows (ECAM, interrupt controllers...). */
  mmio?: Array<{ start: number; size: number; name: string }>;
  iommus?: IommuDescription[];
  devices: DeviceDescription[];
  /** RAM the page allocator never hands out (firmware). */
  reserved?: Array<{ start: number; size: number }>;
}

/** A device on the board. */
export interface MachineDevice {
  readonly description: DeviceDescription;
  readonly iommuId: string;
  readonly engine: DmaEngine;
  /** The edu device's register model, for kind "edu". */
  readonly edu: EduDevice | null;
  readonly iommu: IommuUnit | null;
}

function defaultIommuId(name: string): string {
  const m = name.match(/^[0-9a-f]{4}:([0-9a-f]{2}:[0-9a-f]{2}\.[0-7])$/i);
  return m ? m[1]! : name;
}

export class Machine {
  readonly name: string;
  readonly memory: PhysicalMemory;
  readonly pages: PageAllocator;
  readonly kas: KernelAddressSpace;
  readonly cache: CpuCache;
  readonly clock = new Clock();
  readonly cpus: number;
  readonly pciHostBridge: { windows: ReadonlyArray<{ start: number; end: number; name: string }> };
  readonly iommus = new Map<string, IommuUnit>();
  readonly devices = new Map<string, MachineDevice>();
  readonly description: MachineDescription;

  constructor(desc: MachineDescription) {
    if (!desc || typeof desc.name !== "string")
      throw new TypeError("Machine: description.name is required");
    if (!Array.isArray(desc.devices))
      throw new TypeError("Machine: description.devices must be an array");
    this.description = desc;
    this.name = desc.name;
    this.cpus = desc.cpus ?? 1;
    if (!Number.isInteger(this.cpus) || this.cpus < 1 || this.cpus > 4096)
      throw new RangeError(`cpus must be an integer from 1 to 4096, got ${desc.cpus}`);
    this.memory = new PhysicalMemory({ ram: desc.ram, mmio: desc.mmio });
    this.pages = new PageAllocator(this.memory, {
      zoneDmaLimit: desc.zones?.dmaLimit,
      zoneDma32Limit: desc.zones?.dma32Limit,
      reserved: desc.reserved,
    });
    this.kas = new KernelAddressSpace(this.memory, this.pages, {
      kmallocMinAlign: desc.kmallocMinAlign,
    });
    this.cache = new CpuCache(this.memory, desc.cache);
    this.pciHostBridge = { windows: desc.pciWindows ?? [] };
    const coveredBy = new Map<string, IommuUnit>();
    for (const d of desc.iommus ?? []) {
      const unit = new IommuUnit(d);
      this.iommus.set(d.name, unit);
      for (const dev of d.covers) coveredBy.set(dev, unit);
    }
    for (const d of desc.devices) {
      if (this.devices.has(d.name)) throw new RangeError(`devices: ${d.name} appears twice`);
      const bits = d.dmaAddressBits ?? 64;
      if (!Number.isInteger(bits) || bits < 1 || bits > 64)
        throw new RangeError(
          `devices[${d.name}].dmaAddressBits must be 1..64, got ${d.dmaAddressBits}`,
        );
      for (const b of d.bars ?? []) this.memory.addMmio(b.at, b.size, `${d.name} BAR`, d.name);
      const iommuId = d.iommuId ?? defaultIommuId(d.name);
      const iommu = coveredBy.get(d.name) ?? null;
      const engine = new DmaEngine(
        d.name,
        iommuId,
        d.coherent,
        bits,
        this.memory,
        this.cache,
        iommu,
      );
      const bar = d.bars?.[0];
      const edu = d.kind === "edu" ? new EduDevice(bar ? bar.at : 0, engine, this.clock) : null;
      this.devices.set(d.name, { description: d, iommuId, engine, edu, iommu });
    }
  }

  /** The IOMMU unit translating for device `name`, or null. */
  iommuFor(name: string): IommuUnit | null {
    return this.devices.get(name)?.iommu ?? null;
  }
}
