// struct iommu_domain and the IOMMU core's map/unmap (drivers/iommu/iommu.c):
// iommu_map splits a range with the iommu_pgsize rule; unmap gathers the
// range for one IOTLB invalidation; flush-all serves the flush queue.
import {
  ADD_PAGE,
  ADD_RANGE,
  inconsistent,
  isInt,
  MAP_LEAVES,
  MAP_PAGES,
  needInteger,
  needIntegerIn,
  needObject,
  needProt,
  OWNER_INVALIDATE_DOMAIN,
  OWNER_INVALIDATE_RANGE,
  OWNER_MARK_STALE,
  PROT_ALL,
  UNMAP_LEAF,
} from "./args.ts";
import { IotlbGather } from "./iotlb_gather.ts";
import { IoPageTable, type PageTableConfig } from "./page_table.ts";
import { EINVAL, ENODEV } from "./prot.ts";

/**
 * x % a, exactly, for the address arithmetic of the hot paths: V8 compiles a
 * `%` of doubles (addresses above 2^31) to a slow x87 loop of about 35 ns,
 * while a divide, a truncation and a multiply cost a few. Anything the fast
 * form cannot get exactly (negative, non-finite) takes `%` itself.
 */
export function modulo(x: number, a: number): number {
  const r = x - Math.trunc(x / a) * a;
  return r >= 0 && r < a ? r : x % a;
}

/** Math.trunc in a module binding: a few bytecodes less at each use. */
const trunc: (x: number) => number = Math.trunc;

/**
 * What x exceeds the multiple of `a` below it by, for a power of two `a`
 * whose reciprocal is `inv`: 0 exactly when x is a multiple of `a` (every
 * step is exact for any double; NaN for NaN and Infinity). Short enough (under
 * 28 bytecodes) that V8 inlines it at every call, even past the budget.
 */
function excess(x: number, a: number, inv: number): number {
  return x - trunc(x * inv) * a;
}

/** modulo() by a power of two `a` whose reciprocal `inv` is known: a multiply instead of a divide. */
export function moduloPow2(x: number, a: number, inv: number): number {
  const r = x - Math.trunc(x * inv) * a;
  return r >= 0 && r < a ? r : x % a;
}

/** Domain type bits (include/linux/iommu.h). */
export const DOMAIN_BIT_PAGING = 1 << 0;
export const DOMAIN_BIT_DMA_API = 1 << 1;
export const DOMAIN_BIT_PT = 1 << 2;
export const DOMAIN_BIT_DMA_FQ = 1 << 3;
export const DOMAIN_BLOCKED = 0;
export const DOMAIN_IDENTITY = DOMAIN_BIT_PT;
export const DOMAIN_UNMANAGED = DOMAIN_BIT_PAGING;
export const DOMAIN_DMA = DOMAIN_BIT_PAGING | DOMAIN_BIT_DMA_API;
export const DOMAIN_DMA_FQ = DOMAIN_BIT_PAGING | DOMAIN_BIT_DMA_API | DOMAIN_BIT_DMA_FQ;

export function domainTypeName(type: number): string {
  switch (type) {
    case DOMAIN_BLOCKED:
      return "blocked";
    case DOMAIN_IDENTITY:
      return "identity";
    case DOMAIN_UNMANAGED:
      return "unmanaged";
    case DOMAIN_DMA:
      return "dma";
    case DOMAIN_DMA_FQ:
      return "dma-fq";
    default:
      return "other";
  }
}

/**
 * iommu_pgsize(): the largest supported page size that the remaining size and
 * the alignment of iova|paddr allow, and how many of them to map before the
 * next larger supported size could take over (only when iova and paddr are
 * congruent modulo it and a larger page would fit after the boundary).
 * Writes into `out` so the map loop allocates nothing.
 */
export function iommuPgsize(
  pgsizeBitmap: number,
  iova: number,
  paddr: number,
  size: number,
  out: { pgsize: number; count: number },
): void {
  if (
    !(
      (pgsizeBitmap & 0x7fffffff) === pgsizeBitmap &&
      isInt(iova) &&
      isInt(paddr) &&
      isInt(size) &&
      typeof out?.pgsize === "number"
    )
  )
    badPgsize(pgsizeBitmap, iova, paddr, size, out);
  pgsizeStep(sizesOf(pgsizeBitmap), iova, paddr, size, out);
}

function badPgsize(
  pgsizeBitmap: unknown,
  iova: unknown,
  paddr: unknown,
  size: unknown,
  out: unknown,
): never {
  const fn = "iommuPgsize";
  needBitmap(fn, pgsizeBitmap);
  needInteger(fn, "iova", iova, "an IOVA");
  needInteger(fn, "paddr", paddr, "a physical address");
  needInteger(fn, "size", size, "a size in bytes");
  needObject(
    fn,
    "out",
    out,
    typeof (out as { pgsize?: unknown } | null)?.pgsize === "number",
    "an object { pgsize, count } to fill in",
  );
  inconsistent(fn);
}

function needBitmap(fn: string, v: unknown): void {
  needIntegerIn(fn, "pgsizeBitmap", v, 0, 2 ** 31, "a page-size bitmap");
}

/** The page sizes of a bitmap, smallest first. */
export function sizesOf(pgsizeBitmap: number): number[] {
  if ((pgsizeBitmap & 0x7fffffff) !== pgsizeBitmap) needBitmap("sizesOf", pgsizeBitmap);
  const sizes: number[] = [];
  for (let p = 1; p <= 0x40000000; p *= 2) if ((pgsizeBitmap & p) !== 0) sizes.push(p);
  return sizes;
}

/** iommuPgsize over a precomputed size list (the map loop's allocation-free form). */
function pgsizeStep(
  sizes: readonly number[],
  iova: number,
  paddr: number,
  size: number,
  out: { pgsize: number; count: number },
): void {
  let k = -1;
  for (let i = sizes.length - 1; i >= 0; i--) {
    const p = sizes[i]!;
    if (p <= size && modulo(iova, p) === 0 && modulo(paddr, p) === 0) {
      k = i;
      break;
    }
  }
  if (k < 0) {
    out.pgsize = 0;
    out.count = 0;
    return;
  }
  const pgsize = sizes[k]!;
  out.pgsize = pgsize;
  let span = size;
  const next = sizes[k + 1];
  if (next !== undefined) {
    const iovaOff = modulo(iova, next);
    if (iovaOff === modulo(paddr, next)) {
      const offset = next - iovaOff;
      if (offset + next <= size) span = offset;
    }
  }
  out.count = Math.floor(span / pgsize);
}

/**
 * What a domain needs of the unit it belongs to: the unit's invalidateRange,
 * invalidateDomain and markStale, without their argument checks (the domain
 * passes itself and addresses it has checked).
 */
export interface DomainOwner {
  [OWNER_INVALIDATE_RANGE](domain: IommuDomain, iova: number, size: number): void;
  [OWNER_INVALIDATE_DOMAIN](domain: IommuDomain): void;
  [OWNER_MARK_STALE](domain: IommuDomain, iova: number, size: number): void;
  /** The unit's IOTLB: an empty one has nothing to mark stale, so the domain skips the call. */
  readonly iotlb: { readonly size: number };
}

let nextDomainId = 1;

export class IommuDomain {
  readonly id = nextDomainId++;
  readonly type: number;
  readonly pgsizeBitmap: number;
  readonly geometry: { apertureStart: number; apertureEnd: number; forceAperture: boolean };
  readonly pageTable: IoPageTable | null;
  /** Pages mapped without iommuSyncMap yet (the two-step API's "not yet synced" window). */
  readonly unsynced = new Set<number>();
  readonly #owner: DomainOwner;
  readonly #step = { pgsize: 0, count: 0 };
  readonly #sizes: number[];
  /** The smallest page size, and the next one (Infinity when there is none). */
  readonly #min: number;
  readonly #minInv: number;
  readonly #second: number;
  /** Frame numbers below this give addresses below 2^52 (exact products). */
  readonly #frameEnd: number;
  readonly #gather = new IotlbGather();

  constructor(
    type: number,
    owner: DomainOwner,
    tableConfig: PageTableConfig | null,
    forceAperture: boolean,
  ) {
    this.type = type;
    this.#owner = owner;
    this.pageTable =
      (type & DOMAIN_BIT_PAGING) !== 0 && tableConfig ? new IoPageTable(tableConfig) : null;
    this.pgsizeBitmap = this.pageTable?.pgsizeBitmap ?? 0;
    this.#sizes = sizesOf(this.pgsizeBitmap);
    this.#min = this.pgsizeBitmap & -this.pgsizeBitmap;
    this.#minInv = 1 / this.#min;
    this.#second = this.#sizes[1] ?? Number.POSITIVE_INFINITY;
    this.#frameEnd = this.#min === 0 ? 0 : 2 ** 52 / this.#min;
    const end = this.pageTable ? 2 ** this.pageTable.inputBits - 1 : 2 ** 52 - 1;
    this.geometry = { apertureStart: 0, apertureEnd: end, forceAperture };
  }

  get isPaging(): boolean {
    return this.pageTable !== null;
  }

  /** iommu_map_nosync(): writes the page tables without the driver's post-map sync. */
  iommuMapNosync(iova: number, paddr: number, size: number, prot: number): number {
    const rc = this.#mapPages(iova, paddr, size, prot);
    if (rc !== 0) return mapFailed("IommuDomain.iommuMapNosync", rc, iova, paddr, size, prot);
    // The two-step API's window: these pages are not guaranteed to work until iommuSyncMap.
    const min = this.pgsizeBitmap & -this.pgsizeBitmap;
    for (let a = iova; a < iova + size; a += min) this.unsynced.add(a);
    return 0;
  }

  /**
   * The map both entries share. Its one entry test covers the arguments too:
   * numbers and known prot bits here, and the alignment test proves them
   * integers (a multiple of a power-of-two page size is one). A map that
   * fails goes through mapFailed, which throws if an argument was the cause.
   */
  #mapPages(iova: number, paddr: number, size: number, prot: number): number {
    const pt = this.pageTable;
    if (pt === null) return -ENODEV;
    const min = this.#min;
    const inv = this.#minInv;
    if (
      !(
        typeof iova === "number" &&
        typeof paddr === "number" &&
        typeof size === "number" &&
        (prot & PROT_ALL) === prot &&
        excess(iova, min, inv) === 0 &&
        excess(paddr, min, inv) === 0 &&
        excess(size, min, inv) === 0 &&
        size !== 0
      )
    )
      return -EINVAL;
    // No larger page fits: iommu_pgsize would answer the smallest page, all of it at once.
    if (size > 0 && size < this.#second)
      return this.#mapSmallest(pt, iova * inv, paddr * inv, size * inv, prot);
    const rc = this.#mapSteps(pt, iova, paddr, size, prot);
    if (rc !== 0) return rc;
    // Any IOTLB entry for these pages belongs to an earlier mapping.
    if (this.#owner.iotlb.size !== 0) this.#owner[OWNER_MARK_STALE](this, iova, size);
    return 0;
  }

  /**
   * `count` smallest pages (the table's leaves) by frame number: frame
   * numbers stay small integers across the call, where addresses above 2^30
   * would each be boxed into a new heap number.
   */
  #mapSmallest(
    pt: IoPageTable,
    iovaPfn: number,
    paPfn: number,
    count: number,
    prot: number,
  ): number {
    const rc = pt[MAP_LEAVES](iovaPfn, paPfn, count, prot);
    if (rc !== 0) return rc;
    // Any IOTLB entry for these pages belongs to an earlier mapping.
    if (this.#owner.iotlb.size !== 0)
      this.#owner[OWNER_MARK_STALE](this, iovaPfn * this.#min, count * this.#min);
    return 0;
  }

  /** The iommu_pgsize loop: the largest page each step allows. */
  #mapSteps(pt: IoPageTable, iova: number, paddr: number, size: number, prot: number): number {
    let done = 0;
    while (done < size) {
      pgsizeStep(this.#sizes, iova + done, paddr + done, size - done, this.#step);
      const { pgsize, count } = this.#step;
      if (pgsize === 0) return -EINVAL;
      const rc = pt[MAP_PAGES](iova + done, paddr + done, pgsize, count, prot);
      if (rc !== 0) {
        if (done > 0) this.#undoMap(iova, done);
        return rc;
      }
      done += pgsize * count;
    }
    return 0;
  }

  /** iommu_unmap() of a partial map that failed (its arguments were checked by the map). */
  #undoMap(iova: number, size: number): void {
    const g = this.#gather;
    g.reset();
    this.iommuUnmapFast(iova, size, g);
    this.#sync(g);
  }

  /** iommu_sync_map(): the driver's iotlb_sync_map for the range. */
  iommuSyncMap(iova: number, size: number): number {
    if (!(isInt(iova) && isInt(size))) badRange("IommuDomain.iommuSyncMap", iova, size);
    if (this.unsynced.size > 0) this.#forgetUnsynced(iova, size);
    return 0;
  }

  /** iommu_map(): map, then sync (the new pages are usable at once). 0 or a negative errno. */
  iommuMap(iova: number, paddr: number, size: number, prot: number): number {
    const rc = this.#mapPages(iova, paddr, size, prot);
    if (rc !== 0) return mapFailed("IommuDomain.iommuMap", rc, iova, paddr, size, prot);
    if (this.unsynced.size > 0) this.#forgetUnsynced(iova, size);
    return 0;
  }

  /**
   * iommuMap(iovaPfn × g, paPfn × g, count × g, prot) for the smallest page
   * size g, by frame number: the same result, but frame numbers stay small
   * integers across the call (iommu-dma's map), where addresses above 2^30
   * are each boxed into a new heap number. Frame numbers must be integers;
   * whatever the shortcut does not cover (a larger page, a frame out of
   * range, bad prot bits) goes through iommuMap itself.
   */
  iommuMapFrames(iovaPfn: number, paPfn: number, count: number, prot: number): number {
    if (!(isInt(iovaPfn) && isInt(paPfn) && isInt(count))) badFrames(iovaPfn, paPfn, count);
    const pt = this.pageTable;
    const min = this.#min;
    if (
      !(
        pt !== null &&
        iovaPfn >= 0 &&
        iovaPfn < this.#frameEnd &&
        paPfn >= 0 &&
        paPfn < this.#frameEnd &&
        count >= 1 &&
        count * min < this.#second &&
        (prot & PROT_ALL) === prot
      )
    )
      return this.iommuMap(iovaPfn * min, paPfn * min, count * min, prot);
    const rc = this.#mapSmallest(pt, iovaPfn, paPfn, count, prot);
    if (rc !== 0) return rc;
    if (this.unsynced.size > 0) this.#forgetUnsynced(iovaPfn * min, count * min);
    return 0;
  }

  /** The pages of [iova, iova + size) leave the not-yet-synced window (synced, or no longer mapped). */
  #forgetUnsynced(iova: number, size: number): void {
    const min = this.pgsizeBitmap & -this.pgsizeBitmap || 4096;
    if (size / min > this.unsynced.size) {
      // A range wider than the set (iommuSyncMap(0, 2^60)): walk the set, not the range.
      const lo = iova - modulo(iova, min);
      const hi = iova + size;
      for (const a of this.unsynced) if (a >= lo && a < hi) this.unsynced.delete(a);
      return;
    }
    for (let a = iova - modulo(iova, min); a < iova + size; a += min) this.unsynced.delete(a);
  }

  /** iommu_unmap_fast(): unmap and gather; returns the bytes unmapped. */
  iommuUnmapFast(iova: number, size: number, gather: IotlbGather): number {
    if (!IotlbGather.isGather(gather)) needGather("IommuDomain.iommuUnmapFast", gather);
    const pt = this.pageTable;
    const min = this.#min;
    const inv = this.#minInv;
    // Numbers, and aligned (so integers); anything else unmaps nothing, or throws if it is no integer.
    if (
      !(
        pt !== null &&
        typeof iova === "number" &&
        typeof size === "number" &&
        excess(iova, min, inv) === 0 &&
        excess(size, min, inv) === 0
      )
    )
      return unmapNothing("IommuDomain.iommuUnmapFast", iova, size);
    const done = this.#unmapLeaves(pt, iova * inv, size, gather);
    if (done > 0) {
      if (this.#owner.iotlb.size !== 0) this.#owner[OWNER_MARK_STALE](this, iova, done);
      // An unlinked page is no longer waiting for its sync: a later map of the IOVA starts afresh.
      if (this.unsynced.size > 0) this.#forgetUnsynced(iova, done);
    }
    return done;
  }

  /**
   * The unmap loop from frame `iovaPfn`: returns the bytes unmapped. (By
   * frame number: it stays a small integer across the call, where an
   * address above 2^30 would be boxed into a new heap number.)
   */
  #unmapLeaves(pt: IoPageTable, iovaPfn: number, size: number, gather: IotlbGather): number {
    const iova = iovaPfn * this.#min;
    let done = 0;
    while (done < size) {
      const a = iova + done;
      // Unmap in the size the range was mapped with, never splitting a block:
      // the leaf at `a` goes if it starts there and fits in what is left.
      const n = pt[UNMAP_LEAF](a, size - done);
      if (n === 0) break;
      if (gather.queued) gather[ADD_RANGE](a, n);
      else gather[ADD_PAGE](this, a, n);
      done += n;
    }
    return done;
  }

  /** iommu_unmap(): unmap and invalidate at once. */
  iommuUnmap(iova: number, size: number): number {
    if (!(isInt(iova) && isInt(size))) badRange("IommuDomain.iommuUnmap", iova, size);
    const g = this.#gather;
    g.reset();
    const n = this.iommuUnmapFast(iova, size, g);
    this.#sync(g);
    return n;
  }

  /** iommu_iotlb_sync(): invalidate the gathered range. */
  iotlbSync(gather: IotlbGather): void {
    if (!IotlbGather.isGather(gather)) needGather("IommuDomain.iotlbSync", gather);
    this.#sync(gather);
  }

  #sync(gather: IotlbGather): void {
    if (!gather.empty)
      this.#owner[OWNER_INVALIDATE_RANGE](this, gather.start, gather.end - gather.start + 1);
    const queued = gather.queued;
    gather.reset();
    gather.queued = queued;
  }

  /** iommu_flush_iotlb_all() */
  flushIotlbAll(): void {
    this.#owner[OWNER_INVALIDATE_DOMAIN](this);
  }

  /** iommu_iova_to_phys(): the page tables' answer (0 when unmapped; identity for passthrough). */
  iovaToPhys(iova: number): number {
    if (this.type === DOMAIN_IDENTITY) return iova;
    return this.pageTable ? this.pageTable.iovaToPhys(iova) : 0;
  }
}

/** A map that failed: an argument of the wrong kind throws; good ones keep the kernel's errno. */
function mapFailed(
  fn: string,
  rc: number,
  iova: number,
  paddr: number,
  size: number,
  prot: number,
): number {
  if (!(isInt(iova) && isInt(paddr) && isInt(size) && (prot & PROT_ALL) === prot))
    badMap(fn, iova, paddr, size, prot);
  return rc;
}

/** An unmap that found its arguments unaligned (or no page table): 0 bytes, or a throw if they are no integers. */
function unmapNothing(fn: string, iova: number, size: number): number {
  if (!(isInt(iova) && isInt(size))) badRange(fn, iova, size);
  return 0;
}

function badMap(fn: string, iova: unknown, paddr: unknown, size: unknown, prot: unknown): never {
  needInteger(fn, "iova", iova, "an IOVA");
  needInteger(fn, "paddr", paddr, "a physical address");
  needInteger(fn, "size", size, "a size in bytes");
  needProt(fn, "prot", prot);
  inconsistent(fn);
}

function badFrames(iovaPfn: unknown, paPfn: unknown, count: unknown): never {
  const fn = "IommuDomain.iommuMapFrames";
  needInteger(fn, "iovaPfn", iovaPfn, "an IOVA frame number");
  needInteger(fn, "paPfn", paPfn, "a physical frame number");
  needInteger(fn, "count", count, "a page count");
  inconsistent(fn);
}

function badRange(fn: string, iova: unknown, size: unknown): never {
  needInteger(fn, "iova", iova, "an IOVA");
  needInteger(fn, "size", size, "a size in bytes");
  inconsistent(fn);
}

function needGather(fn: string, gather: unknown): void {
  needObject(fn, "gather", gather, IotlbGather.isGather(gather), "an IotlbGather");
}
