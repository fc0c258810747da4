// The flush queue of drivers/iommu/dma-iommu.c (Linux 6.12, DMA-FQ domains):
// a lazy unmap does not invalidate the IOTLB; the IOVA range and the page-
// table pages the unmap freed wait in a ring until a whole-domain flush that
// STARTED after they were queued has FINISHED. Per-CPU rings of 256 entries
// with a 10 ms timer, or (IOMMUs whose flushes a hypervisor shadows) one
// global ring of 32768 entries with a 1 s timer.
import { describeArg, FQ_QUEUE, FREE_IOVA_FAST, isInt } from "./internal.ts";
import { IovaDomain } from "./iova.ts";
import { checkTimerClock, type TimerClock } from "./rcache.ts";

/** pfns are below the IOVA domain's anchor, 2^52 (a local constant: the check folds it). */
const IOVA_ANCHOR_PFN = 2 ** 52;

/** Ring size per CPU (kernel: IOVA_DEFAULT_FQ_SIZE). */
export const IOVA_DEFAULT_FQ_SIZE = 256;
/** kernel: IOVA_DEFAULT_FQ_TIMEOUT = 10 ms */
export const IOVA_DEFAULT_FQ_TIMEOUT_NS = 10_000_000;
/** Size of the single ring of shadow-on-flush IOMMUs (kernel: IOVA_SINGLE_FQ_SIZE). */
export const IOVA_SINGLE_FQ_SIZE = 32768;
/** kernel: IOVA_SINGLE_FQ_TIMEOUT = 1000 ms */
export const IOVA_SINGLE_FQ_TIMEOUT_NS = 1_000_000_000;

/**
 * A stand-alone TimerClock: time only moves when `advance` is called, and
 * timers that fall due run in time order (ties in the order they were set).
 */
export class ManualClock implements TimerClock {
  #now = 0;
  #seq = 0;
  #timers: { at: number; seq: number; fn: () => void }[] = [];

  now(): number {
    return this.#now;
  }

  setTimer(atNs: number, fn: () => void): unknown {
    if (typeof fn !== "function") throw new TypeError("setTimer: fn must be a function");
    if (!Number.isFinite(atNs))
      throw new RangeError(`setTimer: atNs must be a finite time in ns, got ${atNs}`);
    const t = { at: Math.max(atNs, this.#now), seq: this.#seq++, fn };
    let i = this.#timers.length;
    while (i > 0 && this.#timers[i - 1]!.at > t.at) i--;
    this.#timers.splice(i, 0, t);
    return t;
  }

  clearTimer(handle: unknown): void {
    const i = this.#timers.indexOf(handle as { at: number; seq: number; fn: () => void });
    if (i >= 0) this.#timers.splice(i, 1);
  }

  /** Moves time forward by `ns`, running each timer at its own time. */
  advance(ns: number): void {
    if (!Number.isFinite(ns) || ns < 0)
      throw new RangeError(`advance: ns must be a non-negative number, got ${ns}`);
    const end = this.#now + ns;
    while (this.#timers.length > 0 && this.#timers[0]!.at <= end) {
      const t = this.#timers.shift()!;
      this.#now = t.at;
      t.fn();
    }
    this.#now = end;
  }

  /** Timers set and not yet run or cleared. */
  get pending(): number {
    return this.#timers.length;
  }
}

export interface FlushQueueOptions {
  /** One global ring of 32768 entries with a 1 s timeout (kernel: IOMMU_DMA_OPTS_SINGLE_QUEUE for shadow_on_flush). */
  shadowOnFlush?: boolean;
  /** Possible CPUs: one ring each (per-CPU mode). Default 1. */
  cpus?: number;
  /** Receives the number of page-table pages an entry releases (kernel: iommu_put_pages_list). */
  releasePages?: (count: number) => void;
}

export interface FlushQueueStats {
  /** Entries queued. */
  queued: number;
  /** Whole-domain IOTLB flushes (fq_flush_iotlb). */
  flushAll: number;
  /** Of them, made by the timer. */
  timerFlushes: number;
  /** Of them, forced by a full ring. */
  fullFlushes: number;
  /** Entries released (IOVA back to the allocator). */
  entriesFreed: number;
  /** Page-table pages released with them. */
  pagesFreed: number;
  /** Deepest a single ring has been. */
  maxDepth: number;
}

/** struct iova_fq: a power-of-two ring; head = oldest, tail = next free slot. */
class Ring {
  readonly pfn: Float64Array;
  readonly pages: Float64Array;
  readonly counter: Float64Array;
  readonly freelist: Float64Array;
  head = 0;
  tail = 0;

  constructor(size: number) {
    this.pfn = new Float64Array(size);
    this.pages = new Float64Array(size);
    this.counter = new Float64Array(size);
    this.freelist = new Float64Array(size);
  }
}

/**
 * The flush queue of one DMA-FQ domain (kernel: the fq part of struct
 * iommu_dma_cookie). `flushIotlbAll` is the IOMMU driver's flush_iotlb_all.
 * If the IOVA domain's rcache has no clock yet, it gets this one, so depot
 * trimming runs on the same simulated time.
 */
export class FlushQueue {
  /** Slots per ring; as in the kernel one slot stays empty, so a ring holds size − 1 entries. */
  readonly size: number;
  readonly timeoutNs: number;
  readonly single: boolean;
  readonly stats: FlushQueueStats = {
    queued: 0,
    flushAll: 0,
    timerFlushes: 0,
    fullFlushes: 0,
    entriesFreed: 0,
    pagesFreed: 0,
    maxDepth: 0,
  };
  readonly #iovad: IovaDomain;
  readonly #flushIotlbAll: () => void;
  readonly #clock: TimerClock;
  readonly #releasePages: ((count: number) => void) | null;
  readonly #rings: Ring[];
  readonly #mask: number;
  /** CPUs queue() takes: each needs a ring (per-CPU mode) and an rcache slot for the frees. */
  readonly #cpuEnd: number;
  /** fq_flush_start_cnt / fq_flush_finish_cnt */
  #startCnt = 0;
  #finishCnt = 0;
  #timer: unknown = null;
  /** CPU that armed the timer: the timer runs there, so its frees go to that CPU's rcache. */
  #timerCpu = 0;

  constructor(
    iovad: IovaDomain,
    flushIotlbAll: () => void,
    clock: TimerClock,
    options: FlushQueueOptions = {},
  ) {
    if (!(iovad instanceof IovaDomain))
      throw new TypeError(`FlushQueue: iovad must be an IovaDomain, got ${String(iovad)}`);
    if (typeof flushIotlbAll !== "function")
      throw new TypeError(
        `FlushQueue: flushIotlbAll must be a function, got ${String(flushIotlbAll)}`,
      );
    if (clock === null || clock === undefined)
      throw new TypeError("FlushQueue: clock must be a TimerClock (the flush timer runs on it)");
    checkTimerClock("FlushQueue", clock);
    if (options === null || typeof options !== "object")
      throw new TypeError(`FlushQueue: options must be an object, got ${String(options)}`);
    for (const k of Object.keys(options))
      if (k !== "shadowOnFlush" && k !== "cpus" && k !== "releasePages")
        throw new RangeError(
          `FlushQueue: unknown option ${JSON.stringify(k)}; the options are shadowOnFlush, cpus, releasePages`,
        );
    if (options.shadowOnFlush !== undefined && typeof options.shadowOnFlush !== "boolean")
      throw new TypeError(
        `FlushQueue: shadowOnFlush must be true or false, got ${String(options.shadowOnFlush)}`,
      );
    if (options.releasePages !== undefined && typeof options.releasePages !== "function")
      throw new TypeError(
        `FlushQueue: releasePages must be a function, got ${String(options.releasePages)}`,
      );
    const cpus = options.cpus ?? 1;
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 4096)
      throw new RangeError(`FlushQueue: cpus must be an integer from 1 to 4096, got ${cpus}`);
    this.#iovad = iovad;
    this.#flushIotlbAll = flushIotlbAll;
    this.#clock = clock;
    this.#releasePages = options.releasePages ?? null;
    this.single = options.shadowOnFlush ?? false;
    this.size = this.single ? IOVA_SINGLE_FQ_SIZE : IOVA_DEFAULT_FQ_SIZE;
    this.timeoutNs = this.single ? IOVA_SINGLE_FQ_TIMEOUT_NS : IOVA_DEFAULT_FQ_TIMEOUT_NS;
    this.#mask = this.size - 1;
    this.#rings = Array.from({ length: this.single ? 1 : cpus }, () => new Ring(this.size));
    this.#cpuEnd = this.single ? iovad.rcache.cpus : Math.min(cpus, iovad.rcache.cpus);
    if (iovad.rcache.clock === null) iovad.rcache.setClock(clock);
  }

  /** Flush counters (start, finish): entries queued at start count c are releasable once finish > c. */
  get counters(): { start: number; finish: number } {
    return { start: this.#startCnt, finish: this.#finishCnt };
  }

  /** fq_flush_iotlb(): one whole-domain invalidation, bracketed by the counters. */
  #flush(): void {
    this.#startCnt++;
    this.#flushIotlbAll();
    this.#finishCnt++;
    this.stats.flushAll++;
  }

  /** fq_ring_free_locked(): release, oldest first, every entry queued before the last finished flush. */
  #ringFree(r: Ring, cpu: number): void {
    const finish = this.#finishCnt;
    const mask = this.#mask;
    while (r.head !== r.tail && r.counter[r.head]! < finish) {
      const h = r.head;
      const pages = r.freelist[h]!;
      if (pages > 0) {
        this.stats.pagesFreed += pages;
        this.#releasePages?.(pages);
      }
      this.#iovad[FREE_IOVA_FAST](r.pfn[h]!, r.pages[h]!, cpu);
      r.head = (h + 1) & mask;
      this.stats.entriesFreed++;
    }
  }

  /**
   * queue_iova(): defers freeing `pages` granules at `pfn` (and
   * `freelistPages` page-table pages) until the IOTLB is known clean. First
   * releases what earlier flushes already covered; a full ring forces a
   * flush-all; the timer is armed if it is not.
   */
  queue(pfn: number, pages: number, freelistPages = 0, cpu = 0): void {
    // One inlinable test, so that nothing the later free would choke on is
    // stored; what failed is worked out, and thrown, out of line.
    if (
      !(
        isInt(pfn) &&
        pfn >= 0 &&
        pfn < IOVA_ANCHOR_PFN &&
        isInt(pages) &&
        pages >= 1 &&
        isInt(freelistPages) &&
        freelistPages >= 0 &&
        freelistPages < IOVA_ANCHOR_PFN &&
        isInt(cpu) &&
        cpu >= 0 &&
        cpu < this.#cpuEnd
      )
    )
      this.#badQueue(pfn, pages, freelistPages, cpu);
    this[FQ_QUEUE](pfn, pages, freelistPages, cpu);
  }

  /** queue() without the argument check, for iommu-dma's unmap (its pfn and pages are whole granules, its CPU the kernel's). */
  [FQ_QUEUE](pfn: number, pages: number, freelistPages: number, cpu: number): void {
    const r = this.#rings[this.single ? 0 : cpu]!;
    const mask = this.#mask;
    // Only entries older than the last finished flush can go (the test, inline; the frees, not).
    if (r.head !== r.tail && r.counter[r.head]! < this.#finishCnt) this.#ringFree(r, cpu);
    if (((r.tail + 1) & mask) === r.head) this.#flushFull(r, cpu);
    const t = r.tail;
    r.pfn[t] = pfn;
    r.pages[t] = pages;
    r.freelist[t] = freelistPages;
    r.counter[t] = this.#startCnt;
    r.tail = (t + 1) & mask;
    this.stats.queued++;
    const depth = (r.tail - r.head) & mask;
    if (depth > this.stats.maxDepth) this.stats.maxDepth = depth;
    if (this.#timer === null) this.#arm(cpu);
  }

  /** fq_full(): the ring is full with entries no flush has covered yet (out of line). */
  #flushFull(r: Ring, cpu: number): void {
    this.stats.fullFlushes++;
    this.#flush();
    this.#ringFree(r, cpu);
  }

  /** Arms the flush timer on `cpu` (out of line). */
  #arm(cpu: number): void {
    this.#timerCpu = cpu;
    this.#timer = this.#clock.setTimer(this.#clock.now() + this.timeoutNs, () => this.#timeout());
  }

  /** The first failing check of queue(), thrown. */
  #badQueue(pfn: number, pages: number, freelistPages: number, cpu: number): never {
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= IOVA_ANCHOR_PFN)
      throw new RangeError(
        `FlushQueue.queue: pfn must be an integer pfn from 0 to 2^52 - 1, got ${describeArg(pfn)}`,
      );
    if (!Number.isInteger(pages) || pages < 1)
      throw new RangeError(
        `FlushQueue.queue: pages must be a positive integer number of granules, got ${describeArg(pages)}`,
      );
    if (!Number.isInteger(freelistPages) || freelistPages < 0 || freelistPages >= IOVA_ANCHOR_PFN)
      throw new RangeError(
        `FlushQueue.queue: freelistPages must be a non-negative integer below 2^52, got ${describeArg(freelistPages)}`,
      );
    throw new RangeError(
      `FlushQueue.queue: cpu must be an integer from 0 to ${this.#cpuEnd - 1}, got ${describeArg(cpu)}`,
    );
  }

  /** fq_flush_timeout(): disarm, flush-all, then release every ring. */
  #timeout(): void {
    // The frees happen on the CPU this timer runs on, even if a queue during
    // the flush arms the next timer elsewhere.
    const cpu = this.#timerCpu;
    this.#timer = null;
    this.stats.timerFlushes++;
    this.#flush();
    for (const r of this.#rings) this.#ringFree(r, cpu); // for_each_possible_cpu order
  }

  /** Entries waiting in all rings. */
  get depth(): number {
    let n = 0;
    for (const r of this.#rings) n += (r.tail - r.head) & this.#mask;
    return n;
  }

  /** Whether the flush timer is armed. */
  get timerArmed(): boolean {
    return this.#timer !== null;
  }

  /**
   * iommu_dma_free_fq(): stops the timer; anything still queued is flushed
   * and released. (The kernel only drops the page lists, because the IOVA
   * domain is put right after; releasing keeps the allocator's accounting
   * exact should it live on.)
   */
  destroy(): void {
    if (this.#timer !== null) this.#clock.clearTimer(this.#timer);
    this.#timer = null;
    if (this.depth > 0) {
      this.#flush();
      for (const r of this.#rings) this.#ringFree(r, this.#timerCpu);
    }
  }
}
