// One IOMMU instance (a VT-d DRHD unit or an SMMUv3): its domains, the
// devices attached by requester or stream id, the IOTLB, reserved regions,
// the device-side translation with permission checks, and the fault log.

import {
  describeArg,
  inconsistent,
  isInt,
  needInteger,
  needIntegerIn,
  needObject,
  OWNER_INVALIDATE_DOMAIN,
  OWNER_INVALIDATE_RANGE,
  OWNER_MARK_STALE,
  TLB_INVALIDATE_RANGE,
  TLB_MARK_STALE,
} from "./args.ts";
import {
  DOMAIN_BIT_PAGING,
  DOMAIN_BLOCKED,
  DOMAIN_IDENTITY,
  type DomainOwner,
  IommuDomain,
  moduloPow2,
} from "./domain.ts";
import { Iotlb, type IotlbOptions } from "./iotlb.ts";
import type { PageTableConfig, PteLookup } from "./page_table.ts";
import { IOMMU_READ, IOMMU_WRITE } from "./prot.ts";

export interface ReservedRegion {
  start: number;
  size: number;
  type: "direct" | "msi" | "sw-msi" | "reserved";
}

export interface IommuUnitOptions {
  name: string;
  kind: "vtd" | "smmuv3";
  pageTable: PageTableConfig;
  iotlb?: IotlbOptions;
  /** VT-d Caching Mode: a hypervisor shadows the tables (flushes are expensive). */
  cachingMode?: boolean;
  /** IOMMU_CAP_DEFERRED_FLUSH (default true): the unit supports flush queues. */
  deferredFlush?: boolean;
  reservedRegions?: ReservedRegion[];
  /**
   * Remap only bus addresses inside this window; others pass through
   * untranslated (an AGP/AMD GART remaps its aperture and nothing else).
   */
  aperture?: { start: number; size: number };
}

export type FaultReason = "not-present" | "read-denied" | "write-denied" | "blocked";

export interface FaultRecord {
  seq: number;
  deviceId: string;
  /** The faulting page address, as VT-d records it. */
  iova: number;
  access: "read" | "write";
  reason: FaultReason;
  /** VT-d fault reason or SMMUv3 event id. */
  code: number;
  message: string;
}

export interface StaleIotlbHazard {
  /** stale-iotlb: a hit on an entry whose mapping is gone; unsynced-map: a walk of a mapping made without iommu_sync_map yet. */
  kind: "stale-iotlb" | "unsynced-map";
  deviceId: string;
  iova: number;
  stalePa: number;
  /** What the page tables map now (0 = nothing). */
  currentPa: number;
  access: "read" | "write";
}

/** Filled by translate(): no allocation per access. */
export interface TranslateResult {
  pa: number;
  pageSize: number;
  prot: number;
  fault: FaultRecord | null;
}

export function newTranslateResult(): TranslateResult {
  return { pa: 0, pageSize: 0, prot: 0, fault: null };
}

export class IommuUnit implements DomainOwner {
  readonly name: string;
  readonly kind: "vtd" | "smmuv3";
  readonly cachingMode: boolean;
  readonly deferredFlush: boolean;
  readonly reservedRegions: readonly ReservedRegion[];
  readonly aperture: { start: number; size: number } | null;
  readonly iotlb: Iotlb;
  readonly faults: FaultRecord[] = [];
  readonly hazards: StaleIotlbHazard[] = [];
  readonly identityDomain: IommuDomain;
  readonly blockedDomain: IommuDomain;
  readonly #tableConfig: PageTableConfig;
  readonly #attached = new Map<string, IommuDomain>();
  readonly #groups = new Map<string, string>();
  readonly #faultListeners: Array<(f: FaultRecord) => void> = [];
  readonly #lookup: PteLookup = { pa: 0, prot: 0, pageSize: 0 };
  readonly #granule: number;
  /** 1 / granule (exact: a power of two), so page arithmetic multiplies. */
  readonly #granuleInv: number;
  #seq = 0;
  /** The device the latest translate looked up and its domain (forgotten on attach and detach). */
  #lastDevice: string | null = null;
  #lastDomain: IommuDomain | undefined = undefined;

  /** The smallest page its tables map: 4 KiB on VT-d, the granule on Arm LPAE. */
  get granule(): number {
    return this.#granule;
  }

  constructor(options: IommuUnitOptions) {
    if (!options || typeof options.name !== "string")
      throw new TypeError("IommuUnit: options.name is required");
    if (options.kind !== "vtd" && options.kind !== "smmuv3")
      throw new RangeError(`IommuUnit kind must be "vtd" or "smmuv3", got ${String(options.kind)}`);
    checkUnitOptions(options);
    this.name = options.name;
    this.kind = options.kind;
    this.cachingMode = options.cachingMode ?? false;
    this.deferredFlush = options.deferredFlush ?? true;
    this.reservedRegions = options.reservedRegions ?? [];
    this.aperture = options.aperture ?? null;
    this.iotlb = new Iotlb(options.iotlb);
    this.#tableConfig = options.pageTable;
    this.#granule = options.pageTable.format === "vtd" ? 4096 : options.pageTable.granule;
    this.#granuleInv = 1 / this.#granule;
    this.identityDomain = new IommuDomain(DOMAIN_IDENTITY, this, null, false);
    this.blockedDomain = new IommuDomain(DOMAIN_BLOCKED, this, null, false);
  }

  /** A new domain of `type`; paging types get a page table of the unit's format. */
  allocDomain(type: number): IommuDomain {
    if (!DOMAIN_TYPES.includes(type))
      throw new RangeError(
        `allocDomain: type must be DOMAIN_BLOCKED (0), DOMAIN_UNMANAGED (1), DOMAIN_DMA (3), DOMAIN_IDENTITY (4) or DOMAIN_DMA_FQ (11), got ${describeArg(type)}`,
      );
    if (type === DOMAIN_IDENTITY) return this.identityDomain;
    if (type === DOMAIN_BLOCKED) return this.blockedDomain;
    if ((type & DOMAIN_BIT_PAGING) === 0)
      throw new RangeError(`allocDomain: unsupported domain type ${type}`);
    return new IommuDomain(type, this, this.#tableConfig, this.kind === "vtd");
  }

  attachDevice(deviceId: string, domain: IommuDomain): void {
    checkId("attachDevice", "deviceId", deviceId);
    if (!(domain instanceof IommuDomain))
      throw new TypeError(
        `attachDevice: domain must be an IommuDomain (from allocDomain), got ${describeArg(domain)}`,
      );
    this.#lastDevice = null;
    this.#attached.set(deviceId, domain);
    if (!this.#groups.has(deviceId)) this.#groups.set(deviceId, deviceId);
  }

  detachDevice(deviceId: string): void {
    this.#lastDevice = null;
    this.#attached.delete(deviceId);
  }

  domainOf(deviceId: string): IommuDomain | undefined {
    return this.#attached.get(deviceId);
  }

  /** The device's IOMMU group (one per device unless put together). */
  group(deviceId: string): string | undefined {
    return this.#groups.get(deviceId);
  }

  addToGroup(deviceId: string, groupId: string): void {
    checkId("addToGroup", "deviceId", deviceId);
    checkId("addToGroup", "groupId", groupId);
    this.#groups.set(deviceId, groupId);
  }

  onFault(fn: (f: FaultRecord) => void): () => void {
    if (typeof fn !== "function")
      throw new TypeError(`onFault: the listener must be a function, got ${describeArg(fn)}`);
    this.#faultListeners.push(fn);
    return () => this.#faultListeners.splice(this.#faultListeners.indexOf(fn), 1);
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  #fault(
    deviceId: string,
    iova: number,
    isWrite: boolean,
    reason: FaultReason,
    out: TranslateResult,
  ): boolean {
    const page = iova - moduloPow2(iova, this.#granule, this.#granuleInv);
    let code: number;
    let message: string;
    const access = isWrite ? "write" : "read";
    if (this.kind === "vtd") {
      // VT-d (and QEMU's model of it) reports a missing or non-writable leaf for a write as
      // reason 5 and for a read as reason 6; a device with no context entry as reason 2.
      if (reason === "blocked") {
        code = 0x02;
        message = `DMAR: [DMA ${isWrite ? "Write" : "Read"} NO_PASID] Request device [${deviceId}] fault addr ${hex(page)} [fault reason 0x02] Present bit in context entry is clear`;
      } else {
        code = isWrite ? 0x05 : 0x06;
        message = `DMAR: [DMA ${isWrite ? "Write" : "Read"} NO_PASID] Request device [${deviceId}] fault addr ${hex(page)} [fault reason 0x0${code}] PTE ${isWrite ? "Write" : "Read"} access is not set`;
      }
    } else {
      code = reason === "not-present" || reason === "blocked" ? 0x10 : 0x13;
      message = `arm-smmu-v3 ${this.name}: event 0x${code.toString(16)} received: sid ${deviceId} iova ${hex(iova)} ${access} ${reason === "blocked" ? "(abort)" : code === 0x10 ? "F_TRANSLATION" : "F_PERMISSION"}`;
    }
    const f: FaultRecord = {
      seq: this.#seq++,
      deviceId,
      iova: this.kind === "vtd" ? page : iova,
      access,
      reason,
      code,
      message,
    };
    this.faults.push(f);
    for (const l of this.#faultListeners) l(f);
    out.fault = f;
    return false;
  }

  /**
   * The device-side path: IOTLB, then a page walk; permission check. Returns
   * true with `out` filled, or false with `out.fault` recorded. A hit on a
   * stale IOTLB entry succeeds (the hardware cannot know) and is recorded.
   */
  translate(deviceId: string, iova: number, isWrite: boolean, out: TranslateResult): boolean {
    if (!(iova >= 0 && isInt(iova) && typeof isWrite === "boolean" && typeof out?.pa === "number"))
      badTranslate(iova, isWrite, out);
    out.fault = null;
    const ap = this.aperture;
    if (ap !== null && (iova < ap.start || iova >= ap.start + ap.size)) {
      out.pa = iova;
      out.pageSize = this.#granule;
      out.prot = IOMMU_READ | IOMMU_WRITE;
      return true;
    }
    let d: IommuDomain | undefined;
    if (deviceId === this.#lastDevice) d = this.#lastDomain;
    else {
      d = this.#attached.get(deviceId);
      this.#lastDevice = deviceId;
      this.#lastDomain = d;
    }
    if (d === undefined || d.type === DOMAIN_BLOCKED)
      return this.#fault(deviceId, iova, isWrite, "blocked", out);
    if (d.type === DOMAIN_IDENTITY) {
      out.pa = iova;
      out.pageSize = this.#granule;
      out.prot = IOMMU_READ | IOMMU_WRITE;
      return true;
    }
    const g = this.#granule;
    const off = moduloPow2(iova, g, this.#granuleInv);
    const pfn = (iova - off) * this.#granuleInv;
    const key = d.id * PFN_SPAN + pfn;
    const need = isWrite ? IOMMU_WRITE : IOMMU_READ;
    const e = this.iotlb.lookup(key);
    if (e !== undefined) {
      if ((e.prot & need) === 0)
        return this.#fault(deviceId, iova, isWrite, isWrite ? "write-denied" : "read-denied", out);
      if (e.stale) {
        this.iotlb.stats.staleHits++;
        this.hazards.push({
          kind: "stale-iotlb",
          deviceId,
          iova,
          stalePa: e.pa + off,
          currentPa: d.iovaToPhys(iova),
          access: isWrite ? "write" : "read",
        });
      }
      out.pa = e.pa + off;
      out.pageSize = g;
      out.prot = e.prot;
      return true;
    }
    this.iotlb.stats.walks++;
    const pte = this.#lookup;
    if (!d.pageTable!.lookup(iova, pte))
      return this.#fault(deviceId, iova, isWrite, "not-present", out);
    if ((pte.prot & need) === 0)
      return this.#fault(deviceId, iova, isWrite, isWrite ? "write-denied" : "read-denied", out);
    if (d.unsynced.size > 0 && d.unsynced.has(iova - off)) {
      // Linked but not yet synced (dma_iova_sync): the access is not guaranteed to work.
      this.hazards.push({
        kind: "unsynced-map",
        deviceId,
        iova,
        stalePa: 0,
        currentPa: pte.pa,
        access: isWrite ? "write" : "read",
      });
    }
    this.iotlb.insert(key, pte.pa - off, pte.prot);
    out.pa = pte.pa;
    out.pageSize = g;
    out.prot = pte.prot;
    return true;
  }

  // DomainOwner: the invalidation commands a domain issues.
  invalidateRange(domain: IommuDomain, iova: number, size: number): void {
    if (!(domain instanceof IommuDomain && isInt(iova) && isInt(size)))
      badDomainRange("IommuUnit.invalidateRange", domain, iova, size);
    this[OWNER_INVALIDATE_RANGE](domain, iova, size);
  }

  [OWNER_INVALIDATE_RANGE](domain: IommuDomain, iova: number, size: number): void {
    const inv = this.#granuleInv;
    const first = Math.floor(iova * inv);
    this.iotlb[TLB_INVALIDATE_RANGE](domain.id, first, Math.ceil((iova + size) * inv) - first);
  }

  invalidateDomain(domain: IommuDomain): void {
    if (!(domain instanceof IommuDomain)) {
      needDomain("IommuUnit.invalidateDomain", domain);
      inconsistent("IommuUnit.invalidateDomain");
    }
    this[OWNER_INVALIDATE_DOMAIN](domain);
  }

  [OWNER_INVALIDATE_DOMAIN](domain: IommuDomain): void {
    this.iotlb.invalidateDomain(domain.id);
  }

  markStale(domain: IommuDomain, iova: number, size: number): void {
    if (!(domain instanceof IommuDomain && isInt(iova) && isInt(size)))
      badDomainRange("IommuUnit.markStale", domain, iova, size);
    this[OWNER_MARK_STALE](domain, iova, size);
  }

  [OWNER_MARK_STALE](domain: IommuDomain, iova: number, size: number): void {
    if (this.iotlb.size === 0) return;
    const inv = this.#granuleInv;
    const first = Math.floor(iova * inv);
    this.iotlb[TLB_MARK_STALE](domain.id, first, Math.ceil((iova + size) * inv) - first);
  }
}

function hex(v: number): string {
  return `0x${v.toString(16)}`;
}

/** Iotlb.key without its checks: translate builds the parts itself. */
const PFN_SPAN = 2 ** 40;

function badTranslate(iova: unknown, isWrite: unknown, out: unknown): never {
  const fn = "IommuUnit.translate";
  if (typeof iova !== "number" || !(iova >= 0 && Number.isInteger(iova)))
    needIntegerIn(fn, "iova", iova, 0, Number.POSITIVE_INFINITY, "a bus address");
  if (typeof isWrite !== "boolean")
    throw new TypeError(`${fn}: isWrite must be true or false, got ${describeArg(isWrite)}`);
  needObject(
    fn,
    "out",
    out,
    typeof (out as { pa?: unknown } | null)?.pa === "number",
    "a TranslateResult (newTranslateResult())",
  );
  inconsistent(fn);
}

function badDomainRange(fn: string, domain: unknown, iova: unknown, size: unknown): never {
  needDomain(fn, domain);
  needInteger(fn, "iova", iova, "an IOVA");
  needInteger(fn, "size", size, "a size in bytes");
  inconsistent(fn);
}

function needDomain(fn: string, domain: unknown): void {
  needObject(fn, "domain", domain, domain instanceof IommuDomain, "an IommuDomain");
}

const RESERVED_TYPES = ["direct", "msi", "sw-msi", "reserved"];

const DOMAIN_TYPES: readonly number[] = [
  DOMAIN_BLOCKED,
  DOMAIN_BIT_PAGING,
  DOMAIN_BIT_PAGING | 2,
  DOMAIN_IDENTITY,
  DOMAIN_BIT_PAGING | 2 | 8,
];

function checkId(fn: string, what: string, v: unknown): void {
  if (typeof v !== "string" || v === "")
    throw new TypeError(
      `${fn}: ${what} must be a requester or stream id (a non-empty string), got ${describeArg(v)}`,
    );
}

function isAddress(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 2 ** 52;
}

/** The options the constructor would otherwise take on trust (checked once, when the unit is built). */
function checkUnitOptions(o: IommuUnitOptions): void {
  const at = `IommuUnit ${o.name}`;
  const t = o.pageTable as {
    format?: unknown;
    addressWidth?: unknown;
    superpages?: unknown;
    granule?: unknown;
    inputBits?: unknown;
  } | null;
  if (t === null || typeof t !== "object")
    throw new TypeError(
      `${at}: options.pageTable must be a page-table config object, got ${describeArg(t)}`,
    );
  if (t.format === "vtd") {
    if (t.addressWidth !== 39 && t.addressWidth !== 48 && t.addressWidth !== 57)
      throw new RangeError(
        `${at}: pageTable.addressWidth must be 39, 48 or 57, got ${describeArg(t.addressWidth)}`,
      );
    if (t.superpages !== undefined && typeof t.superpages !== "boolean")
      throw new TypeError(
        `${at}: pageTable.superpages must be true or false, got ${describeArg(t.superpages)}`,
      );
  } else if (t.format === "arm-lpae") {
    if (t.granule !== 4096 && t.granule !== 16384 && t.granule !== 65536)
      throw new RangeError(
        `${at}: pageTable.granule must be 4096, 16384 or 65536, got ${describeArg(t.granule)}`,
      );
    if (
      t.inputBits !== undefined &&
      !(
        Number.isInteger(t.inputBits) &&
        (t.inputBits as number) >= 32 &&
        (t.inputBits as number) <= 52
      )
    )
      throw new RangeError(
        `${at}: pageTable.inputBits must be an integer from 32 to 52, got ${describeArg(t.inputBits)}`,
      );
  } else
    throw new RangeError(
      `${at}: pageTable.format must be "vtd" or "arm-lpae", got ${describeArg(t.format)}`,
    );
  if (o.iotlb !== undefined && (o.iotlb === null || typeof o.iotlb !== "object"))
    throw new TypeError(
      `${at}: options.iotlb must be an object (or left out), got ${describeArg(o.iotlb)}`,
    );
  for (const f of ["cachingMode", "deferredFlush"] as const)
    if (o[f] !== undefined && typeof o[f] !== "boolean")
      throw new TypeError(`${at}: options.${f} must be true or false, got ${describeArg(o[f])}`);
  if (o.reservedRegions !== undefined) {
    if (!Array.isArray(o.reservedRegions))
      throw new TypeError(
        `${at}: options.reservedRegions must be an array, got ${describeArg(o.reservedRegions)}`,
      );
    o.reservedRegions.forEach((r, i) => {
      if (
        !r ||
        !isAddress(r.start) ||
        !isAddress(r.size) ||
        r.size === 0 ||
        r.start + r.size > 2 ** 52
      )
        throw new RangeError(
          `${at}: reservedRegions[${i}] must be { start, size, type } with integer start and size > 0 below 2^52, got ${describeArg(r)}`,
        );
      if (!RESERVED_TYPES.includes(r.type))
        throw new RangeError(
          `${at}: reservedRegions[${i}].type must be one of ${RESERVED_TYPES.join(", ")}, got ${describeArg(r.type)}`,
        );
    });
  }
  const a = o.aperture;
  if (
    a !== undefined &&
    (a === null ||
      typeof a !== "object" ||
      !isAddress(a.start) ||
      !isAddress(a.size) ||
      a.size === 0)
  )
    throw new RangeError(
      `${at}: options.aperture must be { start, size } with integer start and size > 0 below 2^52, got ${describeArg(a)}`,
    );
}
