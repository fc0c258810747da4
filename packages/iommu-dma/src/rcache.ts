// The per-CPU IOVA range cache of drivers/iommu/iova.c (Linux 6.12), after
// Bonwick and Adams' "Magazines and Vmem": six power-of-two size classes,
// per CPU a `loaded` and a `prev` magazine of 127 pfns per class, and a
// depot of full magazines shared by all CPUs, trimmed back to the tree by a
// delayed work item every 100 ms while it holds more magazines than there
// are online CPUs.

import { describeArg, isInt, RCACHE_GET, RCACHE_INSERT } from "./internal.ts";

/** pfns are below this (the IOVA domain's anchor, 2^52). */
const PFN_END = 2 ** 52;

/** Size classes 1, 2, 4, 8, 16 and 32 granules (kernel: IOVA_RANGE_CACHE_MAX_SIZE). */
export const IOVA_RANGE_CACHE_MAX_SIZE = 6;
/** pfns per magazine (kernel: IOVA_MAG_SIZE; 127 so the struct is 1 KiB). */
export const IOVA_MAG_SIZE = 127;
/** Delay of the depot trimming work (kernel: IOVA_DEPOT_DELAY = 100 ms). */
export const IOVA_DEPOT_DELAY_NS = 100_000_000;

/**
 * A simulated clock with one-shot timers. The machine's `Clock` satisfies it
 * structurally; `ManualClock` (flush_queue.ts) is a stand-alone one.
 */
export interface TimerClock {
  /** Current simulated time in ns. */
  now(): number;
  /** Runs `fn` once the clock reaches `atNs`; returns a handle for clearTimer. */
  setTimer(atNs: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
}

/** A TimerClock (the machine's Clock, a ManualClock) or null; throws a TypeError naming `what` otherwise. */
export function checkTimerClock(what: string, clock: unknown): void {
  if (clock === null || clock === undefined) return;
  const c = clock as { now?: unknown; setTimer?: unknown; clearTimer?: unknown };
  if (
    typeof c !== "object" ||
    typeof c.now !== "function" ||
    typeof c.setTimer !== "function" ||
    typeof c.clearTimer !== "function"
  )
    throw new TypeError(
      `${what}: clock must be a TimerClock (now, setTimer, clearTimer) or null, got ${String(clock)}`,
    );
}

/** order_base_2(size) for size ≥ 1: the rcache size class. */
export function iovaSizeClass(size: number): number {
  if (size <= 1) return 0;
  // fls(size − 1); sizes beyond 2^31 are far above every class anyway.
  return size > 2 ** 31 ? 32 : 32 - Math.clz32(size - 1);
}

function checkSizeClass(fn: string, c: number): void {
  if (!Number.isInteger(c) || c < 0 || c >= IOVA_RANGE_CACHE_MAX_SIZE)
    throw new RangeError(
      `IovaRcache.${fn}: sizeClass must be an integer from 0 to ${IOVA_RANGE_CACHE_MAX_SIZE - 1}, got ${String(c)}`,
    );
}

/** struct iova_magazine: a stack of up to IOVA_MAG_SIZE pfns. */
class Magazine {
  readonly pfns = new Float64Array(IOVA_MAG_SIZE);
  size = 0;

  /**
   * iova_magazine_pop(): from the top down, the first pfn ≤ highestPfn; its
   * slot is filled with the last element. 0 when no pfn fits (the kernel
   * only falls back to the tree when nothing in the magazine is usable).
   */
  pop(highestPfn: number): number {
    const pfns = this.pfns;
    let i = this.size - 1;
    while (i >= 0 && pfns[i]! > highestPfn) i--;
    if (i < 0) return 0;
    const pfn = pfns[i]!;
    pfns[i] = pfns[--this.size]!;
    return pfn;
  }
}

/** Counters of one IovaRcache. */
export interface RcacheStats {
  /** get() answered from a magazine. */
  hits: number;
  /** get() of a cacheable size that found nothing suitable. */
  misses: number;
  hitsByClass: number[];
  missesByClass: number[];
  /** Sizes of 64 granules or more, which never go through the cache. */
  bypassed: number;
  /** pfns accepted by insert(). */
  inserts: number;
  /** loaded/prev exchanges, on insert (loaded full) and get (loaded empty). */
  swaps: number;
  /** Full magazines moved to the depot. */
  depotPushes: number;
  /** Full magazines taken back from the depot by get(). */
  depotPops: number;
  /** Depot magazines returned to the tree by the delayed trim. */
  trims: number;
  /** pfns given back to the tree (flushes and trims). */
  pfnsFreed: number;
}

/** One pfn held by the cache, for accounting. */
export interface CachedPfn {
  pfn: number;
  sizeClass: number;
  /** CPU whose loaded/prev magazine holds it, or -1 for the depot. */
  cpu: number;
}

/**
 * struct iova_rcache × IOVA_RANGE_CACHE_MAX_SIZE. `freePfn` returns one pfn
 * to the allocator tree (kernel: remove_iova via iova_magazine_free_pfns).
 * Without a clock the depot is never trimmed (as if the workqueue never ran).
 */
export class IovaRcache {
  readonly cpus: number;
  readonly stats: RcacheStats = {
    hits: 0,
    misses: 0,
    hitsByClass: new Array<number>(IOVA_RANGE_CACHE_MAX_SIZE).fill(0),
    missesByClass: new Array<number>(IOVA_RANGE_CACHE_MAX_SIZE).fill(0),
    bypassed: 0,
    inserts: 0,
    swaps: 0,
    depotPushes: 0,
    depotPops: 0,
    trims: 0,
    pfnsFreed: 0,
  };
  readonly #freePfn: (pfn: number) => void;
  /** Per class × CPU, flat: index cls * cpus + cpu. */
  readonly #loaded: Magazine[];
  readonly #prev: Magazine[];
  /** Per class, a stack of full magazines (the kernel's singly linked depot list). */
  readonly #depot: Magazine[][];
  readonly #trimTimer: unknown[];
  #clock: TimerClock | null;

  constructor(freePfn: (pfn: number) => void, cpus = 1, clock: TimerClock | null = null) {
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 4096)
      throw new RangeError(`IovaRcache: cpus must be an integer from 1 to 4096, got ${cpus}`);
    if (typeof freePfn !== "function")
      throw new TypeError(`IovaRcache: freePfn must be a function, got ${String(freePfn)}`);
    checkTimerClock("IovaRcache", clock);
    this.#freePfn = freePfn;
    this.cpus = cpus;
    this.#clock = clock;
    const n = IOVA_RANGE_CACHE_MAX_SIZE * cpus;
    this.#loaded = Array.from({ length: n }, () => new Magazine());
    this.#prev = Array.from({ length: n }, () => new Magazine());
    this.#depot = Array.from({ length: IOVA_RANGE_CACHE_MAX_SIZE }, () => []);
    this.#trimTimer = new Array<unknown>(IOVA_RANGE_CACHE_MAX_SIZE).fill(null);
  }

  /** The clock the depot trimming runs on (null: no trimming). */
  get clock(): TimerClock | null {
    return this.#clock;
  }

  /** Gives the depot trimmer a clock; a pending trim keeps its old timer. */
  setClock(clock: TimerClock | null): void {
    checkTimerClock("IovaRcache.setClock", clock);
    this.#clock = clock;
  }

  #slot(cls: number, cpu: number): number {
    if (!(cpu >= 0 && cpu < this.cpus && Number.isInteger(cpu)))
      throw new RangeError(
        `IovaRcache: cpu must be an integer from 0 to ${this.cpus - 1}, got ${describeArg(cpu)}`,
      );
    return cls * this.cpus + cpu;
  }

  /**
   * iova_rcache_insert(): caches a freed range of `size` granules starting at
   * `pfn` on `cpu`. False when the size class is not cached (the caller then
   * frees to the tree).
   */
  insert(pfn: number, size: number, cpu = 0): boolean {
    // One inlinable test; what failed is worked out, and thrown, out of line.
    if (
      !(
        isInt(pfn) &&
        pfn >= 0 &&
        pfn < PFN_END &&
        isInt(size) &&
        size >= 1 &&
        isInt(cpu) &&
        cpu >= 0 &&
        cpu < this.cpus
      )
    )
      this.#badArgs("insert", "pfn", pfn, size, cpu);
    return this[RCACHE_INSERT](pfn, size, cpu);
  }

  /** insert() without the argument check (for IovaDomain.freeIovaFast, which made it). */
  [RCACHE_INSERT](pfn: number, size: number, cpu: number): boolean {
    const cls = iovaSizeClass(size);
    if (cls >= IOVA_RANGE_CACHE_MAX_SIZE) return false;
    const i = cls * this.cpus + cpu;
    let loaded = this.#loaded[i]!;
    if (loaded.size === IOVA_MAG_SIZE) loaded = this.#makeRoom(cls, i, loaded);
    loaded.pfns[loaded.size++] = pfn;
    this.stats.inserts++;
    return true;
  }

  /** insert() found the loaded magazine full: swap in prev, or push loaded to the depot for a fresh one (out of line). */
  #makeRoom(cls: number, i: number, loaded: Magazine): Magazine {
    const prev = this.#prev[i]!;
    if (prev.size < IOVA_MAG_SIZE) {
      this.#loaded[i] = prev;
      this.#prev[i] = loaded;
      this.stats.swaps++;
      return prev;
    }
    // Both full: the loaded magazine goes to the depot, a fresh one
    // replaces it, and the trim work is scheduled (if not pending).
    this.#depot[cls]!.push(loaded);
    this.stats.depotPushes++;
    const fresh = new Magazine();
    this.#loaded[i] = fresh;
    this.#scheduleTrim(cls);
    return fresh;
  }

  /**
   * iova_rcache_get(): a cached pfn for `size` granules whose range ends
   * below `limitPfnExclusive` (alloc_iova_fast passes limit_pfn + 1; the
   * highest acceptable start is that minus `size`). 0 on a miss.
   */
  get(size: number, limitPfnExclusive: number, cpu = 0): number {
    if (
      !(
        isInt(size) &&
        size >= 1 &&
        isInt(limitPfnExclusive) &&
        limitPfnExclusive >= 0 &&
        limitPfnExclusive <= PFN_END &&
        isInt(cpu) &&
        cpu >= 0 &&
        cpu < this.cpus
      )
    )
      this.#badArgs("get", "limitPfnExclusive", limitPfnExclusive, size, cpu);
    return this[RCACHE_GET](size, limitPfnExclusive, cpu);
  }

  /** get() without the argument check (for IovaDomain.allocIovaFast, which made it). */
  [RCACHE_GET](size: number, limitPfnExclusive: number, cpu: number): number {
    const cls = iovaSizeClass(size);
    if (cls >= IOVA_RANGE_CACHE_MAX_SIZE) {
      this.stats.bypassed++;
      return 0;
    }
    const i = cls * this.cpus + cpu;
    let loaded: Magazine | null = this.#loaded[i]!;
    if (loaded.size === 0) loaded = this.#refill(cls, i, loaded);
    const pfn = loaded === null ? 0 : loaded.pop(limitPfnExclusive - size);
    if (pfn === 0) {
      this.stats.misses++;
      this.stats.missesByClass[cls]!++;
    } else {
      this.stats.hits++;
      this.stats.hitsByClass[cls]!++;
    }
    return pfn;
  }

  /** get() found the loaded magazine empty: swap in prev, or take the newest depot magazine; null if neither has pfns (out of line). */
  #refill(cls: number, i: number, loaded: Magazine): Magazine | null {
    const prev = this.#prev[i]!;
    if (prev.size !== 0) {
      this.#loaded[i] = prev;
      this.#prev[i] = loaded;
      this.stats.swaps++;
      return prev;
    }
    const depot = this.#depot[cls]!;
    if (depot.length === 0) return null;
    // The empty loaded magazine is dropped for the newest depot one.
    const full = depot.pop()!;
    this.#loaded[i] = full;
    this.stats.depotPops++;
    return full;
  }

  /** The first failing check of insert (pfn) or get (limitPfnExclusive), thrown out of line. */
  #badArgs(fn: string, pfnName: string, pfn: number, size: number, cpu: number): never {
    const end = fn === "get" ? PFN_END : PFN_END - 1;
    if (!Number.isInteger(pfn) || pfn < 0 || pfn > end)
      throw new RangeError(
        `IovaRcache.${fn}: ${pfnName} must be an integer pfn from 0 to 2^52${fn === "get" ? "" : " - 1"}, got ${describeArg(pfn)}`,
      );
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(
        `IovaRcache.${fn}: size must be a positive integer number of granules, got ${describeArg(size)}`,
      );
    throw new RangeError(
      `IovaRcache.${fn}: cpu must be an integer from 0 to ${this.cpus - 1}, got ${describeArg(cpu)}`,
    );
  }

  /** schedule_delayed_work(): a no-op while the work is already pending. */
  #scheduleTrim(cls: number): void {
    const clock = this.#clock;
    if (clock === null || this.#trimTimer[cls] !== null) return;
    this.#trimTimer[cls] = clock.setTimer(clock.now() + IOVA_DEPOT_DELAY_NS, () =>
      this.#depotWork(cls),
    );
  }

  /**
   * iova_depot_work_func(): while the depot holds more magazines than there
   * are online CPUs, the newest one goes back to the tree, then the work is
   * scheduled again; otherwise it stops.
   */
  #depotWork(cls: number): void {
    this.#trimTimer[cls] = null;
    const depot = this.#depot[cls]!;
    if (depot.length <= this.cpus) return;
    this.#freeMagazine(depot.pop()!);
    this.stats.trims++;
    this.#scheduleTrim(cls);
  }

  /** iova_magazine_free_pfns(): in slot order, each pfn back to the tree. */
  #freeMagazine(mag: Magazine): void {
    const n = mag.size;
    mag.size = 0;
    for (let k = 0; k < n; k++) this.#freePfn(mag.pfns[k]!);
    this.stats.pfnsFreed += n;
  }

  /** free_cpu_cached_iovas(): one CPU's loaded and prev magazines of every class (also CPU hot-unplug). */
  flushCpu(cpu: number): void {
    for (let cls = 0; cls < IOVA_RANGE_CACHE_MAX_SIZE; cls++) {
      const i = this.#slot(cls, cpu);
      this.#freeMagazine(this.#loaded[i]!);
      this.#freeMagazine(this.#prev[i]!);
    }
  }

  /** free_global_cached_iovas(): every depot magazine of every class. */
  flushDepot(): void {
    for (const depot of this.#depot) {
      while (depot.length > 0) this.#freeMagazine(depot.pop()!);
    }
  }

  /** What alloc_iova_fast does before its retry: every online CPU, then the depot. */
  flushAll(): void {
    for (let cpu = 0; cpu < this.cpus; cpu++) this.flushCpu(cpu);
    this.flushDepot();
  }

  /**
   * free_iova_rcaches(): cancels the trim work and drops every magazine
   * WITHOUT returning pfns (the tree is being torn down with the domain).
   */
  destroy(): void {
    for (let cls = 0; cls < IOVA_RANGE_CACHE_MAX_SIZE; cls++) {
      const t = this.#trimTimer[cls];
      if (t !== null && this.#clock !== null) this.#clock.clearTimer(t);
      this.#trimTimer[cls] = null;
      this.#depot[cls]!.length = 0;
    }
    for (const m of this.#loaded) m.size = 0;
    for (const m of this.#prev) m.size = 0;
  }

  /** Full magazines waiting in the depot of one size class. */
  depotSize(sizeClass: number): number {
    checkSizeClass("depotSize", sizeClass);
    return this.#depot[sizeClass]?.length ?? 0;
  }

  /** Whether the trim work of a size class is pending. */
  trimPending(sizeClass: number): boolean {
    checkSizeClass("trimPending", sizeClass);
    return (this.#trimTimer[sizeClass] ?? null) !== null;
  }

  /** pfns in `cpu`'s loaded and prev magazines of a class (loaded first, bottom to top). */
  magazineContents(sizeClass: number, cpu: number): { loaded: number[]; prev: number[] } {
    checkSizeClass("magazineContents", sizeClass);
    const i = this.#slot(sizeClass, cpu);
    const l = this.#loaded[i]!;
    const p = this.#prev[i]!;
    return {
      loaded: Array.from(l.pfns.subarray(0, l.size)),
      prev: Array.from(p.pfns.subarray(0, p.size)),
    };
  }

  /** How many pfns are cached per size class (all CPUs and the depot). */
  cachedCounts(): number[] {
    const out = new Array<number>(IOVA_RANGE_CACHE_MAX_SIZE).fill(0);
    for (let cls = 0; cls < IOVA_RANGE_CACHE_MAX_SIZE; cls++) {
      for (let cpu = 0; cpu < this.cpus; cpu++) {
        const i = cls * this.cpus + cpu;
        out[cls]! += this.#loaded[i]!.size + this.#prev[i]!.size;
      }
      for (const m of this.#depot[cls]!) out[cls]! += m.size;
    }
    return out;
  }

  /** Every cached pfn with its class and holder (for leak accounting). */
  cachedPfns(): CachedPfn[] {
    const out: CachedPfn[] = [];
    for (let cls = 0; cls < IOVA_RANGE_CACHE_MAX_SIZE; cls++) {
      for (let cpu = 0; cpu < this.cpus; cpu++) {
        const i = cls * this.cpus + cpu;
        for (const m of [this.#loaded[i]!, this.#prev[i]!])
          for (let k = 0; k < m.size; k++) out.push({ pfn: m.pfns[k]!, sizeClass: cls, cpu });
      }
      for (const m of this.#depot[cls]!)
        for (let k = 0; k < m.size; k++) out.push({ pfn: m.pfns[k]!, sizeClass: cls, cpu: -1 });
    }
    return out;
  }
}
