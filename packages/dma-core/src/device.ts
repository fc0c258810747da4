// struct device, the parts the DMA layer reads and writes
// (include/linux/device.h, include/linux/dma-map-ops.h).
import { DMA_BIT_MASK, NO_LIMIT, ULONG_MAX, u64ToLimit } from "./constants.ts";
import type { DmaMapOps } from "./dma_ops.ts";

/** One region of dev->dma_range_map (struct bus_dma_region). */
export interface DmaRangeRegion {
  cpuStart: number;
  dmaStart: number;
  size: number;
}

/** struct device_dma_parameters. */
export interface DmaParms {
  /** dma_get_max_seg_size(): 64 KiB unless set. */
  maxSegmentSize: number;
  /** dma_get_seg_boundary(): ULONG_MAX unless set. */
  segmentBoundaryMask: bigint;
  /** dma_get_min_align_mask(): 0 unless set. */
  minAlignMask: number;
}

/** What the DMA layer needs of the machine's device: its DMA engine and identity. */
export interface DeviceBinding {
  /** Requester id (PCI bus:dev.fn) or stream id the IOMMU knows the device by. */
  readonly iommuId: string;
}

export interface DeviceOptions {
  /** dev_name(), e.g. "0000:00:01.0". */
  name: string;
  /** Is this a PCI device (the 32-bit-first IOVA workaround and PCI dma_parms apply). */
  pci?: boolean;
  /** dev->dma_coherent: the device snoops CPU caches. */
  coherent?: boolean;
  /** dev->untrusted: an external-facing PCI device (always strict, bounces sub-granule buffers). */
  untrusted?: boolean;
  /**
   * Whether dev->dma_mask points at storage. false models a device whose bus
   * never set the pointer (dma_set_mask then returns -EIO).
   */
  hasDmaMaskPointer?: boolean;
  /** dev->bus_dma_limit (0 = none). */
  busDmaLimit?: bigint;
  /** dev->dma_range_map. */
  dmaRangeMap?: DmaRangeRegion[];
  /** Give the device dma_parms (PCI devices always have them). */
  dmaParms?: Partial<DmaParms> | boolean;
  /** The IOMMU id of the device (requester id or stream id); defaults to the name's bus:dev.fn. */
  iommuId?: string;
}

/** struct device as far as DMA is concerned. */
export class Device {
  readonly name: string;
  readonly pci: boolean;
  /** dev->dma_coherent */
  dmaCoherent: boolean;
  /** dev->untrusted */
  untrusted: boolean;
  /** Storage of dev->dma_mask: "own", aliased to coherent_dma_mask ("coherent", after dma_coerce_mask_and_coherent), or null (no pointer). */
  #maskStorage: "own" | "coherent" | null;
  #dmaMask: bigint;
  #coherentDmaMask: bigint;
  #busDmaLimit: bigint;
  /** min_not_zero(*dma_mask, bus_dma_limit) as a number: the streaming limit the hot path reads. */
  streamingLimit = NO_LIMIT;
  /** min_not_zero(coherent_dma_mask, bus_dma_limit) as a number. */
  coherentLimit = NO_LIMIT;
  dmaRangeMap: DmaRangeRegion[] | null;
  dmaOps: DmaMapOps | null = null;
  /** dev->dma_ops_bypass (CONFIG_DMA_OPS_BYPASS) */
  dmaOpsBypass = false;
  /** dev->dma_iommu: the default domain is a DMA-API domain, use iommu-dma by direct call. */
  dmaIommu = false;
  /** dev->dma_skip_sync */
  dmaSkipSync = false;
  dmaParms: DmaParms | null;
  /** The bound driver's name; null when unbound. */
  driverName: string | null = null;
  readonly iommuId: string;
  /** Back-end private data (iommu-dma keeps the per-device 32-bit workaround flag here, arch ops their state). */
  readonly priv = new Map<string, unknown>();

  constructor(options: DeviceOptions) {
    if (typeof options.name !== "string" || options.name.length === 0) {
      throw new TypeError("Device: name must be a non-empty string");
    }
    this.name = options.name;
    this.pci = options.pci ?? false;
    this.dmaCoherent = options.coherent ?? true;
    this.untrusted = options.untrusted ?? false;
    this.#maskStorage = options.hasDmaMaskPointer === false ? null : "own";
    // Buses set up a 32-bit default for both masks (e.g. PCI's pci_setup_device).
    this.#dmaMask = DMA_BIT_MASK(32);
    this.#coherentDmaMask = DMA_BIT_MASK(32);
    this.#busDmaLimit = options.busDmaLimit ?? 0n;
    this.dmaRangeMap = options.dmaRangeMap ? options.dmaRangeMap.map((r) => ({ ...r })) : null;
    const parms = options.dmaParms ?? this.pci;
    this.dmaParms = parms
      ? {
          maxSegmentSize: 65536,
          // PCI sets a 4 GiB segment boundary for every device (pci_device_add).
          segmentBoundaryMask: this.pci ? DMA_BIT_MASK(32) : ULONG_MAX,
          minAlignMask: 0,
          ...(typeof parms === "object" ? parms : {}),
        }
      : null;
    this.iommuId = options.iommuId ?? defaultIommuId(options.name);
    this.#recompute();
  }

  /** Does dev->dma_mask point at storage? */
  get hasDmaMask(): boolean {
    return this.#maskStorage !== null;
  }

  /** *dev->dma_mask (0 when there is no pointer). */
  get dmaMask(): bigint {
    if (this.#maskStorage === null) return 0n;
    return this.#maskStorage === "coherent" ? this.#coherentDmaMask : this.#dmaMask;
  }

  /** Writes *dev->dma_mask; the caller checked hasDmaMask. */
  set dmaMask(v: bigint) {
    if (this.#maskStorage === "coherent") this.#coherentDmaMask = v;
    else this.#dmaMask = v;
    this.#recompute();
  }

  get coherentDmaMask(): bigint {
    return this.#coherentDmaMask;
  }

  set coherentDmaMask(v: bigint) {
    this.#coherentDmaMask = v;
    this.#recompute();
  }

  get busDmaLimit(): bigint {
    return this.#busDmaLimit;
  }

  set busDmaLimit(v: bigint) {
    this.#busDmaLimit = v;
    this.#recompute();
  }

  /** dma_coerce_mask_and_coherent's first step: point dma_mask at coherent_dma_mask. */
  aliasDmaMaskToCoherent(): void {
    this.#maskStorage = "coherent";
    this.#recompute();
  }

  #recompute(): void {
    this.streamingLimit = limitOf(this.dmaMask, this.#busDmaLimit);
    this.coherentLimit = limitOf(this.#coherentDmaMask, this.#busDmaLimit);
  }
}

function limitOf(mask: bigint, bus: bigint): number {
  const m = mask === 0n ? bus : bus === 0n ? mask : mask < bus ? mask : bus;
  return m === 0n ? 0 : u64ToLimit(m);
}

function defaultIommuId(name: string): string {
  // "0000:00:01.0" → "00:01.0", the form VT-d fault records print.
  const m = name.match(/^[0-9a-f]{4}:([0-9a-f]{2}:[0-9a-f]{2}\.[0-7])$/i);
  return m ? m[1]! : name;
}
