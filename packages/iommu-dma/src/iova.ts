// The IOVA allocator of drivers/iommu/iova.c, rbtree era (Linux 6.12):
// allocated pfn ranges kept in pfn order with an anchor node above them all;
// allocation walks DOWN from a cached node (one for ≤ 4 GiB limits, one for
// the rest), size-aligned, with one retry from the top; a failed 32-bit
// request leaves a "max32_alloc_size" hint so same-or-larger ones fail fast;
// alloc_iova_fast/free_iova_fast put the per-CPU rcache in front of it.
//
// The kernel's rbtree is replaced by a treap (same ordered-set semantics:
// insert, delete, predecessor, successor, lookup, all O(log n) expected).
// Only the order of the ranges is observable, so results are identical.
import {
  ALLOC_IOVA_FAST,
  describeArg,
  FREE_IOVA_FAST,
  isInt,
  RCACHE_GET,
  RCACHE_INSERT,
} from "./internal.ts";
import { IOVA_RANGE_CACHE_MAX_SIZE, IovaRcache, type TimerClock } from "./rcache.ts";

/** One allocated range (struct iova): pfns [pfnLo, pfnHi], both inclusive. */
export interface Iova {
  readonly pfnLo: number;
  readonly pfnHi: number;
  /** Made by reserveIova (PCI windows, IOMMU reserved regions); never freed. */
  readonly reserved: boolean;
}

/** Misuse of the allocator the kernel would WARN about or crash on (freeing what was never allocated, using a put domain). */
export class IovaError extends Error {
  override name = "IovaError";
}

/**
 * Sizes below this many granules are rounded up to a power of two
 * (1 << (IOVA_RANGE_CACHE_MAX_SIZE - 1)). Computed once: evaluated per
 * call it measured ~60 ns under tsx, more than the rest of the fast path.
 */
const RCACHE_ROUNDUP_BELOW = 2 ** (IOVA_RANGE_CACHE_MAX_SIZE - 1);

/** Math.clz32 in a module binding (fewer bytecodes in the hot allocIovaFast). */
const clz32: (x: number) => number = Math.clz32;

/** pfn of the anchor node, above every real pfn (kernel: IOVA_ANCHOR = ~0UL). */
export const IOVA_ANCHOR_PFN = 2 ** 52;

/** A tree node: the range plus treap links. Handed out typed as `Iova`. */
class IovaNode implements Iova {
  pfnLo: number;
  pfnHi: number;
  reserved: boolean;
  left: IovaNode | null = null;
  right: IovaNode | null = null;
  parent: IovaNode | null = null;
  readonly prio: number;

  constructor(pfnLo: number, pfnHi: number, reserved: boolean, prio: number) {
    this.pfnLo = pfnLo;
    this.pfnHi = pfnHi;
    this.reserved = reserved;
    this.prio = prio;
  }
}

/** Ordered set of non-overlapping ranges keyed by pfnLo (a min-heap-ordered treap). */
class IovaTree {
  root: IovaNode | null = null;
  count = 0;
  #seed = 0x2545f491;

  /** Deterministic xorshift32 priorities: same shape, same speed, every run. */
  node(pfnLo: number, pfnHi: number, reserved: boolean): IovaNode {
    let x = this.#seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#seed = x >>> 0;
    return new IovaNode(pfnLo, pfnHi, reserved, this.#seed);
  }

  #rotateUp(x: IovaNode): void {
    const p = x.parent!;
    const g = p.parent;
    if (p.left === x) {
      p.left = x.right;
      if (x.right !== null) x.right.parent = p;
      x.right = p;
    } else {
      p.right = x.left;
      if (x.left !== null) x.left.parent = p;
      x.left = p;
    }
    p.parent = x;
    x.parent = g;
    if (g === null) this.root = x;
    else if (g.left === p) g.left = x;
    else g.right = x;
  }

  insert(n: IovaNode): void {
    this.count++;
    let cur = this.root;
    if (cur === null) {
      this.root = n;
      return;
    }
    for (;;) {
      if (n.pfnLo < cur.pfnLo) {
        if (cur.left === null) {
          cur.left = n;
          break;
        }
        cur = cur.left;
      } else {
        if (cur.right === null) {
          cur.right = n;
          break;
        }
        cur = cur.right;
      }
    }
    n.parent = cur;
    while (n.parent !== null && n.prio < n.parent.prio) this.#rotateUp(n);
  }

  remove(n: IovaNode): void {
    this.count--;
    // Rotate the node down until it has at most one child, then splice it out.
    while (n.left !== null && n.right !== null)
      this.#rotateUp(n.left.prio < n.right.prio ? n.left : n.right);
    const child = n.left ?? n.right;
    const p = n.parent;
    if (child !== null) child.parent = p;
    if (p === null) this.root = child;
    else if (p.left === n) p.left = child;
    else p.right = child;
    n.left = n.right = n.parent = null;
  }

  /** rb_prev() */
  prev(n: IovaNode): IovaNode | null {
    if (n.left !== null) {
      let c = n.left;
      while (c.right !== null) c = c.right;
      return c;
    }
    let c = n;
    let p = n.parent;
    while (p !== null && p.left === c) {
      c = p;
      p = p.parent;
    }
    return p;
  }

  /** rb_next() */
  next(n: IovaNode): IovaNode | null {
    if (n.right !== null) {
      let c = n.right;
      while (c.left !== null) c = c.left;
      return c;
    }
    let c = n;
    let p = n.parent;
    while (p !== null && p.right === c) {
      c = p;
      p = p.parent;
    }
    return p;
  }

  first(): IovaNode | null {
    let c = this.root;
    if (c === null) return null;
    while (c.left !== null) c = c.left;
    return c;
  }

  /** private_find_iova(): the node whose range contains pfn. */
  find(pfn: number): IovaNode | null {
    let c = this.root;
    while (c !== null) {
      if (pfn < c.pfnLo) c = c.left;
      else if (pfn > c.pfnHi) c = c.right;
      else return c;
    }
    return null;
  }

  /** The lowest node with pfnHi ≥ pfn (null if none). */
  lowestEndingAtOrAbove(pfn: number): IovaNode | null {
    let c = this.root;
    let best: IovaNode | null = null;
    while (c !== null) {
      if (c.pfnHi >= pfn) {
        best = c;
        c = c.left;
      } else c = c.right;
    }
    return best;
  }
}

/** roundup_pow_of_two(n) for n ≥ 1, exact beyond 32 bits. */
export function roundupPowOfTwo(n: number): number {
  if (n <= 1) return 1;
  if (n <= 2 ** 31) return 2 ** (32 - Math.clz32(n - 1));
  let p = 2 ** 31;
  while (p < n) p *= 2;
  return p;
}

/** A snapshot of the allocator's counters. */
export interface IovaStats {
  /** allocIovaFast calls, and how many returned 0. */
  fastAllocs: number;
  fastFailures: number;
  /** freeIovaFast calls. */
  fastFrees: number;
  /** Tree allocations (alloc_iova) that succeeded / failed. */
  treeAllocs: number;
  treeFailures: number;
  /** Of the failures, those refused by the max32_alloc_size hint without a walk. */
  max32FastFails: number;
  /** Retries from the top after the walk from the cached node found nothing. */
  retries: number;
  /** Nodes visited by allocation walks (the cost the maple-tree proposal attacks). */
  walkSteps: number;
  /** Ranges freed to the tree. */
  treeFrees: number;
  /** alloc_iova_fast's "flush every cache and retry". */
  rcacheFlushes: number;
  /**
   * pfns the rcache gave back that no range holds (freeIovaFast of a pfn
   * that was never allocated): skipped, as the kernel's
   * iova_magazine_free_pfns() does after its WARN_ON.
   */
  unknownCachedFrees: number;
  /** Tree nodes now: allocated, reserved, and the anchor. */
  nodes: number;
  reservedNodes: number;
  max32AllocSize: number;
}

export interface IovaDomainOptions {
  /** Online CPUs: per-CPU magazines, and the depot trimming threshold. Default 1. */
  cpus?: number;
  /** Clock for the rcache depot trimming (none: the depot is never trimmed). */
  clock?: TimerClock | null;
}

function checkCount(fn: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1)
    throw new RangeError(
      `${fn}: ${name} must be a positive integer number of granules, got ${describeArg(v)}`,
    );
}

function checkPfn(fn: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= IOVA_ANCHOR_PFN)
    throw new RangeError(
      `${fn}: ${name} must be an integer pfn from 0 to 2^52 - 1, got ${describeArg(v)}`,
    );
}

/** The error for the one argument left when the others passed: the CPU. */
function cpuError(fn: string, cpu: number, cpus: number): RangeError {
  return new RangeError(
    `${fn}: cpu must be an integer from 0 to ${cpus - 1}, got ${describeArg(cpu)}`,
  );
}

/** struct iova_domain: init_iova_domain() + iova_domain_init_rcaches(). */
export class IovaDomain {
  /** Bytes per pfn: the smallest IOMMU page size. */
  readonly granule: number;
  /** Lowest pfn ever handed out (1 by default in iommu-dma: IOVA 0 is never valid). */
  readonly startPfn: number;
  /** 4 GiB in granules (kernel: dma_32bit_pfn). */
  readonly dma32BitPfn: number;
  /** Hint: requests under a ≤ 4 GiB limit of this many granules or more fail at once. */
  max32AllocSize: number;
  readonly rcache: IovaRcache;
  readonly #tree = new IovaTree();
  readonly #anchor: IovaNode;
  #cachedNode: IovaNode;
  #cached32Node: IovaNode;
  #dead = false;
  #fastAllocs = 0;
  #fastFailures = 0;
  #fastFrees = 0;
  #treeAllocs = 0;
  #treeFailures = 0;
  #max32FastFails = 0;
  #retries = 0;
  #walkSteps = 0;
  #treeFrees = 0;
  #rcacheFlushes = 0;
  #unknownCachedFrees = 0;
  #reservedNodes = 0;

  constructor(granule: number, startPfn: number, options: IovaDomainOptions = {}) {
    // (bitwise is safe: the granule is at most 2^16)
    if (
      !Number.isInteger(granule) ||
      granule < 1 ||
      granule > 65536 ||
      (granule & (granule - 1)) !== 0
    )
      throw new RangeError(
        `IovaDomain: granule must be a power of two up to 65536, got ${granule}`,
      );
    checkPfn("IovaDomain", "startPfn", startPfn);
    if (options === null || typeof options !== "object")
      throw new TypeError(`IovaDomain: options must be an object, got ${String(options)}`);
    for (const k of Object.keys(options))
      if (k !== "cpus" && k !== "clock")
        throw new RangeError(
          `IovaDomain: unknown option ${JSON.stringify(k)}; the options are cpus, clock`,
        );
    this.granule = granule;
    this.startPfn = startPfn;
    this.dma32BitPfn = 2 ** 32 / granule;
    this.max32AllocSize = this.dma32BitPfn;
    this.#anchor = this.#tree.node(IOVA_ANCHOR_PFN, IOVA_ANCHOR_PFN, true);
    this.#tree.insert(this.#anchor);
    this.#cachedNode = this.#anchor;
    this.#cached32Node = this.#anchor;
    this.rcache = new IovaRcache(
      (pfn) => this.#freeCachedPfn(pfn),
      options.cpus ?? 1,
      options.clock ?? null,
    );
  }

  #checkAlive(fn: string): void {
    if (this.#dead) throw new IovaError(`${fn}: the IOVA domain was put (putDomain)`);
  }

  /**
   * alloc_iova(): `size` granules ending at or below `limitPfn` (inclusive),
   * top-down; with `sizeAligned` the start is a multiple of
   * roundup_pow_of_two(size) (only `size` granules are taken). null when
   * there is no room.
   */
  allocIova(size: number, limitPfn: number, sizeAligned: boolean): Iova | null {
    this.#checkAlive("allocIova");
    checkCount("allocIova", "size", size);
    checkPfn("allocIova", "limitPfn", limitPfn);
    if (typeof sizeAligned !== "boolean")
      throw new TypeError(
        `allocIova: sizeAligned must be true or false, got ${String(sizeAligned)}`,
      );
    // kernel: alloc_iova passes limit_pfn + 1 down as an exclusive bound.
    return this.#allocAndInsertRange(size, limitPfn + 1, sizeAligned);
  }

  /** __alloc_and_insert_iova_range(); `limit` is exclusive. */
  #allocAndInsertRange(size: number, limit: number, sizeAligned: boolean): IovaNode | null {
    // align_mask = ~0 << fls(size − 1): starts are multiples of this.
    const align = sizeAligned ? roundupPowOfTwo(size) : 1;
    if (limit <= this.dma32BitPfn && size >= this.max32AllocSize) {
      this.#max32FastFails++;
      this.#treeFailures++;
      return null;
    }
    const tree = this.#tree;
    // __get_cached_rbnode()
    let curr: IovaNode | null = limit <= this.dma32BitPfn ? this.#cached32Node : this.#cachedNode;
    const retryPfn = curr.pfnHi;
    let highPfn = limit;
    let lowPfn = this.startPfn;
    let newPfn = 0;
    let steps = 0;
    for (;;) {
      // Walk backwards through the allocated ranges until a gap below
      // `highPfn` can hold the (aligned) range.
      do {
        const c: IovaNode = curr!;
        if (c.pfnLo < highPfn) highPfn = c.pfnLo;
        newPfn = Math.floor((highPfn - size) / align) * align;
        curr = tree.prev(c);
        steps++;
      } while (curr !== null && newPfn <= curr.pfnHi && newPfn >= lowPfn);
      if (highPfn >= size && newPfn >= lowPfn) break;
      if (lowPfn === this.startPfn && retryPfn < limit) {
        // The walk from the cached node only looked below it: try once more
        // from the limit down to just above where the first walk started.
        highPfn = limit;
        lowPfn = retryPfn + 1;
        curr = this.#findLimit(limit);
        this.#retries++;
        continue;
      }
      // kernel: set whatever the limit, so a failed 64-bit request also
      // throttles later 32-bit ones until something below 4 GiB is freed.
      this.max32AllocSize = size;
      this.#walkSteps += steps;
      this.#treeFailures++;
      return null;
    }
    this.#walkSteps += steps;
    const node = tree.node(newPfn, newPfn + size - 1, false);
    tree.insert(node);
    // __cached_rbnode_insert_update()
    if (node.pfnHi < this.dma32BitPfn) this.#cached32Node = node;
    else this.#cachedNode = node;
    this.#treeAllocs++;
    return node;
  }

  /**
   * iova_find_limit(): where a walk for `limit` starts. Above 4 GiB the
   * kernel simply starts at the anchor; below, at the lowest range that is
   * not wholly under the limit (the walk result is the same either way).
   */
  #findLimit(limit: number): IovaNode {
    if (limit > this.dma32BitPfn) return this.#anchor;
    return this.#tree.lowestEndingAtOrAbove(limit) ?? this.#anchor;
  }

  /** find_iova(): the allocated or reserved range containing pfn. */
  findIova(pfn: number): Iova | null {
    return this.#tree.find(pfn);
  }

  /**
   * __free_iova(): returns a range to the tree. The cached nodes move past
   * it first (__cached_rbnode_delete_update), and any free below 4 GiB
   * lifts the max32 hint. Throws IovaError for reserved ranges and for nodes
   * that are not in this tree.
   */
  freeIovaNode(iova: Iova): void {
    this.#checkAlive("freeIovaNode");
    const node = iova as IovaNode;
    if (!(node instanceof IovaNode) || this.#tree.find(node.pfnLo) !== node)
      throw new IovaError(
        `freeIovaNode: [${iova?.pfnLo}, ${iova?.pfnHi}] is not allocated in this domain`,
      );
    this.#freeNode(node);
  }

  /**
   * free_iova(): frees the range containing `pfn`. The kernel silently
   * ignores an unknown pfn here (and WARNs when a cached one is missing);
   * the simulator throws IovaError so the misuse is not lost.
   */
  freeIova(pfn: number): void {
    this.#checkAlive("freeIova");
    if (!Number.isInteger(pfn) || pfn < 0 || pfn > IOVA_ANCHOR_PFN)
      throw new RangeError(`freeIova: pfn must be an integer pfn from 0 to 2^52, got ${pfn}`);
    const node = this.#tree.find(pfn);
    if (node === null) throw new IovaError(`freeIova: pfn ${pfn} is not allocated`);
    this.#freeNode(node);
  }

  #freeNode(node: IovaNode): void {
    if (node.reserved)
      throw new IovaError(
        `freeIova: [${node.pfnLo}, ${node.pfnHi}] is reserved and is never freed`,
      );
    this.#removeNode(node);
  }

  /**
   * iova_magazine_free_pfns(), for one pfn the rcache gives back (a flush,
   * a depot trim): the range holding it is removed (remove_iova(), which
   * does not look at the reserved flag); a pfn no range holds is skipped
   * (the kernel's WARN_ON(!iova); continue) and counted. It never throws:
   * it runs later, from a flush or a timer, far from the bad free.
   */
  #freeCachedPfn(pfn: number): void {
    const node = this.#tree.find(pfn);
    if (node === null || node === this.#anchor) {
      this.#unknownCachedFrees++;
      return;
    }
    if (node.reserved) this.#reservedNodes--;
    this.#removeNode(node);
  }

  /** remove_iova(): __cached_rbnode_delete_update(), then out of the tree. */
  #removeNode(node: IovaNode): void {
    const next = this.#tree.next(node)!; // the anchor is above every real node
    const c32 = this.#cached32Node;
    if (node === c32 || (node.pfnHi < this.dma32BitPfn && node.pfnLo >= c32.pfnLo))
      this.#cached32Node = next;
    if (node.pfnLo < this.dma32BitPfn) this.max32AllocSize = this.dma32BitPfn;
    if (node.pfnLo >= this.#cachedNode.pfnLo) this.#cachedNode = next;
    this.#tree.remove(node);
    this.#treeFrees++;
  }

  /**
   * reserve_iova(): marks [pfnLo, pfnHi] as never to be allocated. Like the
   * kernel, ranges it overlaps are stretched down to cover it and a node is
   * inserted only for the part above the last of them, so the nodes may
   * end up adjacent rather than merged. Returns the node that covers
   * pfnHi.
   */
  reserveIova(pfnLo: number, pfnHi: number): Iova {
    this.#checkAlive("reserveIova");
    checkPfn("reserveIova", "pfnLo", pfnLo);
    checkPfn("reserveIova", "pfnHi", pfnHi);
    if (pfnHi < pfnLo)
      throw new RangeError(`reserveIova: pfnHi (${pfnHi}) must be ≥ pfnLo (${pfnLo})`);
    let lo = pfnLo;
    const hi = pfnHi;
    // The lowest range that could overlap, then upwards in order.
    for (
      let n = this.#tree.lowestEndingAtOrAbove(lo);
      n !== null && n !== this.#anchor;
      n = this.#tree.next(n)
    ) {
      if (n.pfnLo <= hi && lo <= n.pfnHi) {
        // __adjust_overlap_range(): extend the node down, continue above it.
        if (lo < n.pfnLo) n.pfnLo = lo;
        if (!n.reserved) {
          n.reserved = true;
          this.#reservedNodes++;
        }
        if (hi <= n.pfnHi) return n;
        lo = n.pfnHi + 1;
      } else break; // in pfn order: nothing further up can overlap either
    }
    const node = this.#tree.node(lo, hi, true);
    this.#tree.insert(node);
    this.#reservedNodes++;
    return node;
  }

  /**
   * alloc_iova_fast(): the pfn of `size` granules ending at or below
   * `limitPfn`, or 0. Sizes below 32 granules are rounded up to a power of
   * two so they recycle through the size-class caches; the rcache of `cpu`
   * is tried first, then the tree (size-aligned); on failure with
   * `flushRcache`, every CPU's magazines and the depot go back to the tree
   * and the tree is tried once more.
   */
  allocIovaFast(size: number, limitPfn: number, flushRcache: boolean, cpu = 0): number {
    // One inlinable test; what failed is worked out, and thrown, out of line.
    if (
      !(
        isInt(size) &&
        size >= 1 &&
        isInt(limitPfn) &&
        limitPfn >= 0 &&
        limitPfn < IOVA_ANCHOR_PFN &&
        typeof flushRcache === "boolean" &&
        isInt(cpu) &&
        cpu >= 0 &&
        cpu < this.rcache.cpus
      ) ||
      this.#dead
    )
      this.#badFastAlloc(size, limitPfn, flushRcache, cpu);
    return this[ALLOC_IOVA_FAST](size, limitPfn, flushRcache, cpu);
  }

  /**
   * allocIovaFast() without the argument check, for iommu-dma: a size it
   * tested to be a positive integer, a limit below 2^52 it computed, the
   * kernel's CPU (always one the rcache has).
   */
  [ALLOC_IOVA_FAST](size: number, limitPfn: number, flushRcache: boolean, cpu: number): number {
    if (this.#dead) this.#checkAlive("allocIovaFast");
    this.#fastAllocs++;
    // roundupPowOfTwo below 32 (size ≥ 1 here), spelt out so that it inlines.
    if (size > 1 && size < RCACHE_ROUNDUP_BELOW) size = 1 << (32 - clz32(size - 1));
    const cached = this.rcache[RCACHE_GET](size, limitPfn + 1, cpu);
    if (cached !== 0) return cached;
    return this.#allocFromTree(size, limitPfn, flushRcache);
  }

  /** alloc_iova_fast() past an rcache miss: the tree, then (with `flushRcache`) every cache flushed and the tree again. */
  #allocFromTree(size: number, limitPfn: number, flushRcache: boolean): number {
    let node = this.#allocAndInsertRange(size, limitPfn + 1, true);
    if (node === null && flushRcache) {
      this.#rcacheFlushes++;
      this.rcache.flushAll();
      node = this.#allocAndInsertRange(size, limitPfn + 1, true);
    }
    if (node === null) {
      this.#fastFailures++;
      return 0;
    }
    return node.pfnLo;
  }

  /**
   * free_iova_fast(): into `cpu`'s rcache when the size class is cached and
   * a magazine takes it, else back to the tree. `size` is what the caller
   * mapped (unrounded: its order equals that of the rounded size). Like the
   * kernel, a pfn that goes to the rcache is not checked against the tree.
   */
  freeIovaFast(pfn: number, size: number, cpu = 0): void {
    if (
      !(
        isInt(pfn) &&
        pfn >= 0 &&
        pfn < IOVA_ANCHOR_PFN &&
        isInt(size) &&
        size >= 1 &&
        isInt(cpu) &&
        cpu >= 0 &&
        cpu < this.rcache.cpus
      ) ||
      this.#dead
    )
      this.#badFastFree(pfn, size, cpu);
    this[FREE_IOVA_FAST](pfn, size, cpu);
  }

  /** freeIovaFast() without the argument check (for the flush queue, whose queue() made it). */
  [FREE_IOVA_FAST](pfn: number, size: number, cpu: number): void {
    if (this.#dead) this.#checkAlive("freeIovaFast");
    this.#fastFrees++;
    if (this.rcache[RCACHE_INSERT](pfn, size, cpu)) return;
    this.freeIova(pfn);
  }

  /** The first failing check of allocIovaFast, thrown (out of line: the hot function stays small). */
  #badFastAlloc(size: number, limitPfn: number, flushRcache: unknown, cpu: number): never {
    this.#checkAlive("allocIovaFast");
    checkCount("allocIovaFast", "size", size);
    checkPfn("allocIovaFast", "limitPfn", limitPfn);
    if (typeof flushRcache !== "boolean")
      throw new TypeError(
        `allocIovaFast: flushRcache must be true or false, got ${describeArg(flushRcache)}`,
      );
    throw cpuError("allocIovaFast", cpu, this.rcache.cpus);
  }

  /** The first failing check of freeIovaFast, thrown. */
  #badFastFree(pfn: number, size: number, cpu: number): never {
    this.#checkAlive("freeIovaFast");
    checkPfn("freeIovaFast", "pfn", pfn);
    checkCount("freeIovaFast", "size", size);
    throw cpuError("freeIovaFast", cpu, this.rcache.cpus);
  }

  /**
   * put_iova_domain(): cancels the depot trimming, drops every cached pfn
   * and every range. Any later use throws IovaError.
   */
  putDomain(): void {
    if (this.#dead) return;
    this.rcache.destroy();
    this.#dead = true;
    this.#tree.root = null;
    this.#tree.count = 0;
    this.#reservedNodes = 0;
  }

  /** Allocated, not reserved ranges in pfn order: held by callers or cached in the rcache. */
  liveRanges(): Iova[] {
    const out: Iova[] = [];
    for (let n = this.#tree.first(); n !== null; n = this.#tree.next(n))
      if (!n.reserved) out.push({ pfnLo: n.pfnLo, pfnHi: n.pfnHi, reserved: false });
    return out;
  }

  /** Every node in pfn order, reserved ones and the anchor (last) included. */
  allRanges(): Iova[] {
    const out: Iova[] = [];
    for (let n = this.#tree.first(); n !== null; n = this.#tree.next(n))
      out.push({ pfnLo: n.pfnLo, pfnHi: n.pfnHi, reserved: n.reserved });
    return out;
  }

  /** The two walk starting points (kernel cached_node / cached32_node). */
  cachedNodes(): { cachedNode: Iova; cached32Node: Iova } {
    return { cachedNode: this.#cachedNode, cached32Node: this.#cached32Node };
  }

  stats(): IovaStats {
    return {
      fastAllocs: this.#fastAllocs,
      fastFailures: this.#fastFailures,
      fastFrees: this.#fastFrees,
      treeAllocs: this.#treeAllocs,
      treeFailures: this.#treeFailures,
      max32FastFails: this.#max32FastFails,
      retries: this.#retries,
      walkSteps: this.#walkSteps,
      treeFrees: this.#treeFrees,
      rcacheFlushes: this.#rcacheFlushes,
      unknownCachedFrees: this.#unknownCachedFrees,
      nodes: this.#tree.count,
      reservedNodes: this.#reservedNodes,
      max32AllocSize: this.max32AllocSize,
    };
  }
}
