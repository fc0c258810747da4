// The per-CPU IOVA magazine cache of iova.c ("Magazines and Vmem"): six size
// classes (1..32 granules), a loaded and a previous magazine of 127 pfns per
// CPU and class, and a depot of full magazines trimmed back to the tree.
import type { IovaDomain } from "./iova.ts";

export const IOVA_RANGE_CACHE_MAX_SIZE = 6;
export const IOVA_MAG_SIZE = 127;
/** IOVA_DEPOT_DELAY: 100 ms between depot trims. */
export const IOVA_DEPOT_DELAY_NS = 100_000_000;

class Magazine {
  readonly pfns = new Float64Array(IOVA_MAG_SIZE);
  size = 0;

  get full(): boolean {
    return this.size === IOVA_MAG_SIZE;
  }

  get empty(): boolean {
    return this.size === 0;
  }

  push(pfn: number): void {
    this.pfns[this.size++] = pfn;
  }

  /** iova_magazine_pop(): from the top, the first pfn ≤ limit; swap-remove. 0 when none fits. */
  pop(limitPfn: number): number {
    let i = this.size - 1;
    while (i >= 0 && this.pfns[i]! > limitPfn) i--;
    if (i < 0) return 0;
    const pfn = this.pfns[i]!;
    this.pfns[i] = this.pfns[--this.size]!;
    return pfn;
  }
}

interface CpuRcache {
  loaded: Magazine;
  prev: Magazine;
}

/** The timer the depot trim uses (the machine's Clock satisfies it). */
export interface TimerClock {
  now(): number;
  setTimer(atNs: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
}

export interface RcacheStats {
  hits: number;
  misses: number;
  swaps: number;
  depotPushes: number;
  depotPops: number;
  trims: number;
}

export class IovaRcache {
  readonly cpus: number;
  readonly stats: RcacheStats = {
    hits: 0,
    misses: 0,
    swaps: 0,
    depotPushes: 0,
    depotPops: 0,
    trims: 0,
  };
  readonly #iovad: IovaDomain;
  /** [class][cpu] */
  readonly #cpu: CpuRcache[][];
  readonly #depot: Magazine[][];
  #clock: TimerClock | null = null;
  readonly #trimArmed: boolean[];

  constructor(iovad: IovaDomain, cpus: number) {
    if (!Number.isInteger(cpus) || cpus < 1)
      throw new RangeError(`IovaRcache: cpus must be a positive integer, got ${cpus}`);
    this.#iovad = iovad;
    this.cpus = cpus;
    this.#cpu = Array.from({ length: IOVA_RANGE_CACHE_MAX_SIZE }, () =>
      Array.from({ length: cpus }, () => ({ loaded: new Magazine(), prev: new Magazine() })),
    );
    this.#depot = Array.from({ length: IOVA_RANGE_CACHE_MAX_SIZE }, () => []);
    this.#trimArmed = new Array(IOVA_RANGE_CACHE_MAX_SIZE).fill(false);
  }

  /** Gives the depot trimmer a clock (without one, full magazines just wait in the depot). */
  setClock(clock: TimerClock): void {
    this.#clock = clock;
  }

  #class(size: number): number {
    return size <= 1 ? 0 : Math.ceil(Math.log2(size));
  }

  #cpuCache(cls: number, cpu: number): CpuRcache {
    const c = this.#cpu[cls]![cpu];
    if (c === undefined) throw new RangeError(`cpu must be from 0 to ${this.cpus - 1}, got ${cpu}`);
    return c;
  }

  /** __iova_rcache_insert(); false when the size is not cached. */
  insert(pfn: number, size: number, cpu: number): boolean {
    const cls = this.#class(size);
    if (cls >= IOVA_RANGE_CACHE_MAX_SIZE) return false;
    const c = this.#cpuCache(cls, cpu);
    if (c.loaded.full) {
      if (!c.prev.full) {
        const t = c.loaded;
        c.loaded = c.prev;
        c.prev = t;
        this.stats.swaps++;
      } else {
        this.#depot[cls]!.push(c.loaded);
        this.stats.depotPushes++;
        c.loaded = new Magazine();
        this.#armTrim(cls);
      }
    }
    c.loaded.push(pfn);
    return true;
  }

  /** __iova_rcache_get(): `limitPfnExclusive - size` is the highest acceptable pfn. 0 on a miss. */
  get(size: number, limitPfnExclusive: number, cpu: number): number {
    const cls = this.#class(size);
    if (cls >= IOVA_RANGE_CACHE_MAX_SIZE) return 0;
    const c = this.#cpuCache(cls, cpu);
    let has = false;
    if (!c.loaded.empty) has = true;
    else if (!c.prev.empty) {
      const t = c.loaded;
      c.loaded = c.prev;
      c.prev = t;
      this.stats.swaps++;
      has = true;
    } else if (this.#depot[cls]!.length > 0) {
      c.loaded = this.#depot[cls]!.pop()!;
      this.stats.depotPops++;
      has = true;
    }
    const pfn = has ? c.loaded.pop(limitPfnExclusive - size) : 0;
    if (pfn === 0) this.stats.misses++;
    else this.stats.hits++;
    return pfn;
  }

  #armTrim(cls: number): void {
    if (this.#clock === null || this.#trimArmed[cls]) return;
    this.#trimArmed[cls] = true;
    this.#clock.setTimer(this.#clock.now() + IOVA_DEPOT_DELAY_NS, () => this.#trim(cls));
  }

  /** iova_depot_work_func(): one magazine back to the tree while the depot outgrows the CPU count. */
  #trim(cls: number): void {
    this.#trimArmed[cls] = false;
    const depot = this.#depot[cls]!;
    if (depot.length > this.cpus) {
      const mag = depot.pop()!;
      this.#freeMagazine(mag);
      this.stats.trims++;
    }
    if (depot.length > this.cpus) this.#armTrim(cls);
  }

  #freeMagazine(mag: Magazine): void {
    for (let i = 0; i < mag.size; i++) this.#iovad.freeIova(mag.pfns[i]!);
    mag.size = 0;
  }

  /** free_cpu_cached_iovas() */
  flushCpu(cpu: number): void {
    for (let cls = 0; cls < IOVA_RANGE_CACHE_MAX_SIZE; cls++) {
      const c = this.#cpuCache(cls, cpu);
      this.#freeMagazine(c.loaded);
      this.#freeMagazine(c.prev);
    }
  }

  /** free_global_cached_iovas() */
  flushDepot(): void {
    for (const depot of this.#depot) while (depot.length > 0) this.#freeMagazine(depot.pop()!);
  }

  /** Every CPU's magazines and the depot, back to the tree (alloc_iova_fast's retry). */
  flushAll(): void {
    for (let cpu = 0; cpu < this.cpus; cpu++) this.flushCpu(cpu);
    this.flushDepot();
  }

  /** How many pfns are cached, per size class. */
  cachedCounts(): number[] {
    return this.#cpu.map(
      (per, cls) =>
        per.reduce((s, c) => s + c.loaded.size + c.prev.size, 0) +
        this.#depot[cls]!.reduce((s, m) => s + m.size, 0),
    );
  }

  depotSize(cls: number): number {
    return this.#depot[cls]?.length ?? 0;
  }
}
