// The flush queue of dma-iommu.c (lazy, DMA-FQ domains): unmapped IOVAs wait
// in a per-CPU ring (256 entries, 10 ms) or one global ring (32768 entries,
// 1 s, for IOMMUs whose flushes a hypervisor shadows) until a flush-all has
// completed after they were queued; a full ring forces a flush-all.
import type { IovaDomain } from "./iova.ts";
import type { TimerClock } from "./rcache.ts";

export const IOVA_DEFAULT_FQ_SIZE = 256;
export const IOVA_DEFAULT_FQ_TIMEOUT_NS = 10_000_000;
export const IOVA_SINGLE_FQ_SIZE = 32768;
export const IOVA_SINGLE_FQ_TIMEOUT_NS = 1_000_000_000;

interface Ring {
  pfn: Float64Array;
  pages: Float64Array;
  counter: Float64Array;
  head: number;
  tail: number;
  count: number;
}

export interface FlushQueueOptions {
  /** One global ring of 32768 entries with a 1 s timeout (shadow_on_flush). */
  shadowOnFlush?: boolean;
  cpus?: number;
}

export interface FlushQueueStats {
  queued: number;
  flushAll: number;
  timerFlushes: number;
  fullFlushes: number;
  entriesFreed: number;
  maxDepth: number;
}

export class FlushQueue {
  readonly size: number;
  readonly timeoutNs: number;
  readonly stats: FlushQueueStats = {
    queued: 0,
    flushAll: 0,
    timerFlushes: 0,
    fullFlushes: 0,
    entriesFreed: 0,
    maxDepth: 0,
  };
  readonly #iovad: IovaDomain;
  readonly #flushIotlbAll: () => void;
  readonly #clock: TimerClock;
  readonly #rings: Ring[];
  readonly #single: boolean;
  #startCnt = 0;
  #finishCnt = 0;
  #timer: unknown = null;

  constructor(
    iovad: IovaDomain,
    flushIotlbAll: () => void,
    clock: TimerClock,
    options: FlushQueueOptions = {},
  ) {
    this.#iovad = iovad;
    this.#flushIotlbAll = flushIotlbAll;
    this.#clock = clock;
    this.#single = options.shadowOnFlush ?? false;
    this.size = this.#single ? IOVA_SINGLE_FQ_SIZE : IOVA_DEFAULT_FQ_SIZE;
    this.timeoutNs = this.#single ? IOVA_SINGLE_FQ_TIMEOUT_NS : IOVA_DEFAULT_FQ_TIMEOUT_NS;
    const n = this.#single ? 1 : (options.cpus ?? 1);
    this.#rings = Array.from({ length: n }, () => ({
      pfn: new Float64Array(this.size),
      pages: new Float64Array(this.size),
      counter: new Float64Array(this.size),
      head: 0,
      tail: 0,
      count: 0,
    }));
    iovad.rcache.setClock(clock);
  }

  /** fq_flush_iotlb(): a flush-all, counted so queued entries know when they are safe. */
  #flush(): void {
    this.#startCnt++;
    this.#flushIotlbAll();
    this.#finishCnt++;
    this.stats.flushAll++;
  }

  /** fq_ring_free(): release every entry queued before the last completed flush. */
  #ringFree(r: Ring, cpu: number): void {
    while (r.count > 0 && r.counter[r.head]! < this.#finishCnt) {
      this.#iovad.freeIovaFast(r.pfn[r.head]!, r.pages[r.head]!, cpu);
      r.head = (r.head + 1) % this.size;
      r.count--;
      this.stats.entriesFreed++;
    }
  }

  /** queue_iova() */
  queue(pfn: number, pages: number, _freelist: number, cpu = 0): void {
    const ri = this.#single ? 0 : cpu;
    const r = this.#rings[ri];
    if (r === undefined)
      throw new RangeError(`queue: cpu must be from 0 to ${this.#rings.length - 1}, got ${cpu}`);
    this.#ringFree(r, cpu);
    if (r.count === this.size) {
      this.stats.fullFlushes++;
      this.#flush();
      this.#ringFree(r, cpu);
    }
    r.pfn[r.tail] = pfn;
    r.pages[r.tail] = pages;
    r.counter[r.tail] = this.#startCnt;
    r.tail = (r.tail + 1) % this.size;
    r.count++;
    this.stats.queued++;
    if (r.count > this.stats.maxDepth) this.stats.maxDepth = r.count;
    if (this.#timer === null)
      this.#timer = this.#clock.setTimer(this.#clock.now() + this.timeoutNs, () => this.#timeout());
  }

  /** fq_flush_timeout(): flush-all, then free every ring. */
  #timeout(): void {
    this.#timer = null;
    this.stats.timerFlushes++;
    this.#flush();
    for (let cpu = 0; cpu < this.#rings.length; cpu++) this.#ringFree(this.#rings[cpu]!, cpu);
  }

  /** Entries waiting in the rings. */
  get depth(): number {
    return this.#rings.reduce((s, r) => s + r.count, 0);
  }

  /** iommu_dma_free_fq(): flush and release everything. */
  destroy(): void {
    if (this.#timer !== null) this.#clock.clearTimer(this.#timer);
    this.#timer = null;
    if (this.depth > 0) {
      this.#flush();
      for (let cpu = 0; cpu < this.#rings.length; cpu++) this.#ringFree(this.#rings[cpu]!, cpu);
    }
  }
}
