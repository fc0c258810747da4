// The IOVA allocator of drivers/iommu/iova.c (the rbtree era, Linux 6.12):
// allocated ranges in pfn order with an anchor at the top; allocation walks
// down from a cached node, size-aligned; a retry from the top; the 32-bit
// "max32_alloc_size" fast-fail hint; and the per-CPU rcache in front of it.
import { IOVA_RANGE_CACHE_MAX_SIZE, IovaRcache } from "./rcache.ts";

/** One allocated range (struct iova): pfns [pfnLo, pfnHi]. */
export interface Iova {
  pfnLo: number;
  pfnHi: number;
  /** Reserved ranges (PCI windows, IOMMU reserved regions) are never freed. */
  reserved?: boolean;
}

/** Freeing something that was never allocated. */
export class IovaError extends Error {
  override name = "IovaError";
}

/** The anchor node's pfn: above every real pfn (the kernel uses ~0UL). */
const ANCHOR_PFN = 2 ** 52;

/** Ranges kept sorted by pfnLo; binary search gives the predecessor/successor an rbtree would. */
class IovaTree {
  readonly nodes: Iova[] = [];

  indexOf(node: Iova): number {
    let lo = 0;
    let hi = this.nodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.nodes[mid]!.pfnLo < node.pfnLo) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(node: Iova): void {
    this.nodes.splice(this.indexOf(node), 0, node);
  }

  remove(node: Iova): void {
    const i = this.indexOf(node);
    if (this.nodes[i] === node) this.nodes.splice(i, 1);
  }

  /** The node containing pfn, if any. */
  find(pfn: number): Iova | undefined {
    let lo = 0;
    let hi = this.nodes.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const n = this.nodes[mid]!;
      if (pfn < n.pfnLo) hi = mid - 1;
      else if (pfn > n.pfnHi) lo = mid + 1;
      else return n;
    }
    return undefined;
  }

  /** The lowest node with pfnLo ≥ pfn (iova_find_limit's starting point). */
  firstAtOrAbove(pfn: number): number {
    let lo = 0;
    let hi = this.nodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.nodes[mid]!.pfnLo < pfn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export interface IovaStats {
  allocs: number;
  frees: number;
  treeAllocs: number;
  treeFailures: number;
  rcacheFlushes: number;
  nodes: number;
}

/** struct iova_domain */
export class IovaDomain {
  readonly granule: number;
  readonly startPfn: number;
  /** 4 GiB in granules. */
  readonly dma32BitPfn: number;
  /** Hint: 32-bit allocations of this size or more fail fast. */
  max32AllocSize: number;
  readonly rcache: IovaRcache;
  readonly stats: IovaStats = {
    allocs: 0,
    frees: 0,
    treeAllocs: 0,
    treeFailures: 0,
    rcacheFlushes: 0,
    nodes: 0,
  };
  readonly #tree = new IovaTree();
  readonly #anchor: Iova = { pfnLo: ANCHOR_PFN, pfnHi: ANCHOR_PFN, reserved: true };
  #cachedNode: Iova;
  #cached32Node: Iova;

  constructor(granule: number, startPfn: number, options: { cpus?: number } = {}) {
    if (
      !Number.isInteger(granule) ||
      granule < 512 ||
      granule > 65536 ||
      (granule & (granule - 1)) !== 0
    ) {
      throw new RangeError(
        `IovaDomain: granule must be a power of two from 512 to 65536, got ${granule}`,
      );
    }
    if (!Number.isInteger(startPfn) || startPfn < 0)
      throw new RangeError(`IovaDomain: startPfn must be a non-negative integer, got ${startPfn}`);
    this.granule = granule;
    this.startPfn = startPfn;
    this.dma32BitPfn = 2 ** 32 / granule;
    this.max32AllocSize = this.dma32BitPfn;
    this.#tree.insert(this.#anchor);
    this.#cachedNode = this.#anchor;
    this.#cached32Node = this.#anchor;
    this.rcache = new IovaRcache(this, options.cpus ?? 1);
  }

  #next(node: Iova): Iova | undefined {
    return this.#tree.nodes[this.#tree.indexOf(node) + 1];
  }

  /**
   * alloc_iova(): `size` pfns at or below limitPfn, top-down, aligned to the
   * size rounded up to a power of two when sizeAligned.
   */
  allocIova(size: number, limitPfn: number, sizeAligned: boolean): Iova | null {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`allocIova: size must be a positive number of granules, got ${size}`);
    const node = this.#allocAndInsert(size, limitPfn + 1, sizeAligned);
    if (node === null) this.stats.treeFailures++;
    else this.stats.treeAllocs++;
    return node;
  }

  /** __alloc_and_insert_iova_range(): limit is exclusive here, as in the kernel. */
  #allocAndInsert(size: number, limitPfn: number, sizeAligned: boolean): Iova | null {
    // align_mask <<= fls_long(size - 1): start pfns are multiples of this.
    const align = sizeAligned ? 2 ** (size - 1).toString(2).replace(/^0$/, "").length : 1;
    let highPfn = limitPfn;
    let lowPfn = this.startPfn;
    if (limitPfn <= this.dma32BitPfn && size >= this.max32AllocSize) return null;
    const nodes = this.#tree.nodes;
    let curr: Iova | undefined =
      limitPfn <= this.dma32BitPfn ? this.#cached32Node : this.#cachedNode;
    let ci = this.#tree.indexOf(curr);
    const retryPfn = curr.pfnHi;
    let newPfn = 0;
    let prev: Iova = curr;
    for (let pass = 0; pass < 2; pass++) {
      do {
        highPfn = Math.min(highPfn, curr!.pfnLo);
        newPfn = Math.floor((highPfn - size) / align) * align;
        prev = curr!;
        ci--;
        curr = ci >= 0 ? nodes[ci] : undefined;
      } while (curr !== undefined && newPfn <= curr.pfnHi && newPfn >= lowPfn);
      if (highPfn < size || newPfn < lowPfn) {
        if (pass === 0 && lowPfn === this.startPfn && retryPfn < limitPfn) {
          // One retry from the top of the range the cached node skipped.
          highPfn = limitPfn;
          lowPfn = retryPfn + 1;
          ci = this.#tree.firstAtOrAbove(limitPfn);
          curr = nodes[ci];
          continue;
        }
        this.max32AllocSize = size;
        return null;
      }
      break;
    }
    const node: Iova = { pfnLo: newPfn, pfnHi: newPfn + size - 1 };
    void prev;
    this.#tree.insert(node);
    this.stats.nodes++;
    // __cached_rbnode_insert_update()
    if (node.pfnHi < this.dma32BitPfn) this.#cached32Node = node;
    else this.#cachedNode = node;
    return node;
  }

  /** find_iova() */
  findIova(pfn: number): Iova | undefined {
    return this.#tree.find(pfn);
  }

  /** __free_iova(): move the cached nodes past the freed range first. */
  freeIovaNode(node: Iova): void {
    if (node.reserved)
      throw new IovaError(`cannot free a reserved IOVA range [${node.pfnLo}, ${node.pfnHi}]`);
    const c32 = this.#cached32Node;
    if (node === c32 || (node.pfnHi < this.dma32BitPfn && node.pfnLo >= c32.pfnLo))
      this.#cached32Node = this.#next(node) ?? this.#anchor;
    if (node.pfnLo < this.dma32BitPfn) this.max32AllocSize = this.dma32BitPfn;
    if (node.pfnLo >= this.#cachedNode.pfnLo) this.#cachedNode = this.#next(node) ?? this.#anchor;
    this.#tree.remove(node);
    this.stats.nodes--;
  }

  /** free_iova(): frees the range starting at (or containing) pfn. */
  freeIova(pfn: number): void {
    const node = this.#tree.find(pfn);
    if (node === undefined) throw new IovaError(`freeIova: pfn ${pfn} is not allocated`);
    this.freeIovaNode(node);
  }

  /** reserve_iova(): marks [pfnLo, pfnHi] allocated forever, swallowing what it overlaps. */
  reserveIova(pfnLo: number, pfnHi: number): void {
    if (pfnHi < pfnLo) return;
    let lo = pfnLo;
    let hi = pfnHi;
    for (;;) {
      const overlap = this.#tree.nodes.find(
        (n) => n !== this.#anchor && n.pfnLo <= hi && lo <= n.pfnHi,
      );
      if (!overlap) break;
      lo = Math.min(lo, overlap.pfnLo);
      hi = Math.max(hi, overlap.pfnHi);
      this.#tree.remove(overlap);
    }
    this.#tree.insert({ pfnLo: lo, pfnHi: hi, reserved: true });
  }

  /**
   * alloc_iova_fast(): sizes below 32 granules are rounded up to a power of
   * two so they recycle through the size-class caches; try the rcache, then
   * the tree; on failure optionally flush every cache and retry once.
   * Returns the pfn, or 0.
   */
  allocIovaFast(size: number, limitPfn: number, flushRcache: boolean, cpu = 0): number {
    this.stats.allocs++;
    if (size < 2 ** (IOVA_RANGE_CACHE_MAX_SIZE - 1))
      size = size <= 1 ? 1 : 2 ** Math.ceil(Math.log2(size));
    const cached = this.rcache.get(size, limitPfn + 1, cpu);
    if (cached !== 0) return cached;
    let node = this.allocIova(size, limitPfn, true);
    if (node === null && flushRcache) {
      this.stats.rcacheFlushes++;
      this.rcache.flushAll();
      node = this.allocIova(size, limitPfn, true);
    }
    return node === null ? 0 : node.pfnLo;
  }

  /** free_iova_fast(): into the rcache when it takes the size class, else back to the tree. */
  freeIovaFast(pfn: number, size: number, cpu = 0): void {
    this.stats.frees++;
    if (this.rcache.insert(pfn, size, cpu)) return;
    this.freeIova(pfn);
  }

  /** Allocated ranges that are not reserved (held by callers or cached in the rcache). */
  liveRanges(): Iova[] {
    return this.#tree.nodes.filter((n) => !n.reserved);
  }

  /** Every node, reserved ones included (for tests and debugging). */
  allRanges(): readonly Iova[] {
    return this.#tree.nodes;
  }
}
