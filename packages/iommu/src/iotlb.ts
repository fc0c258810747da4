// The IOTLB: translations cached per (domain, page), invalidated by range, by
// domain or globally. An entry outlives its page-table mapping until it is
// invalidated; the model marks such entries stale so that a device access
// that hits one is recorded as the hazard lazy unmapping accepts.

export interface IotlbEntry {
  /** Physical address of the cached page (granule-sized). */
  pa: number;
  /** Fill/use tick for the approximate LRU. */
  tick: number;
  prot: number;
  /** The page-table mapping behind this entry was removed or changed without an invalidation. */
  stale: boolean;
}

export interface IotlbOptions {
  /** Entries; 0 = unbounded (default 4096). */
  capacity?: number;
  policy?: "lru" | "fifo" | "random";
  random?: () => number;
}

export interface IotlbStats {
  hits: number;
  misses: number;
  walks: number;
  fills: number;
  invalidations: { range: number; domain: number; all: number };
  entriesInvalidated: number;
  staleHits: number;
}

import {
  inconsistent,
  isInt,
  needInteger,
  needIntegerIn,
  needProt,
  PROT_ALL,
  TLB_INVALIDATE_RANGE,
  TLB_MARK_STALE,
} from "./args.ts";

const PFN_SPAN = 2 ** 40;
/** Domain ids below this make every key exact (id * 2^40 + pfn < 2^53). */
const DOMAIN_IDS = 2 ** 13;

/** Iotlb.key without its checks, for callers that built the parts themselves. */
function keyOf(domainId: number, pfn: number): number {
  return domainId * PFN_SPAN + pfn;
}

export class Iotlb {
  readonly capacity: number;
  readonly policy: "lru" | "fifo" | "random";
  readonly stats: IotlbStats = {
    hits: 0,
    misses: 0,
    walks: 0,
    fills: 0,
    invalidations: { range: 0, domain: 0, all: 0 },
    entriesInvalidated: 0,
    staleHits: 0,
  };
  readonly #entries = new Map<number, IotlbEntry>();
  readonly #random: () => number;
  readonly #spare: IotlbEntry[] = [];
  #tick = 0;
  /**
   * The entry the latest lookup found, and its key (NaN: none, a value no
   * key equals): a repeated hit skips the Map. Forgotten whenever an entry
   * leaves the Map or is replaced.
   */
  #lastKey = Number.NaN;
  #lastEntry: IotlbEntry | null = null;
  /**
   * Bounds of every key inserted since the IOTLB was last empty (a superset
   * of the keys present): a range wholly outside them holds no entry, so
   * marking or invalidating it needs no lookup (a Map lookup boxes each key
   * above 2^31).
   */
  #minKey = Number.POSITIVE_INFINITY;
  #maxKey = Number.NEGATIVE_INFINITY;

  constructor(options: IotlbOptions = {}) {
    if (options === null || typeof options !== "object")
      throw new TypeError(`Iotlb: options must be an object, got ${String(options)}`);
    this.capacity = options.capacity ?? 4096;
    if (!Number.isInteger(this.capacity) || this.capacity < 0)
      throw new RangeError(
        `iotlb.capacity must be a non-negative integer, got ${options.capacity}`,
      );
    this.policy = options.policy ?? "lru";
    if (!["lru", "fifo", "random"].includes(this.policy))
      throw new RangeError(
        `iotlb.policy must be lru, fifo or random, got ${String(options.policy)}`,
      );
    let s = 12345;
    this.#random =
      options.random ?? (() => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  }

  static key(domainId: number, pfn: number): number {
    if (
      !(
        domainId >= 0 &&
        domainId < DOMAIN_IDS &&
        pfn >= 0 &&
        pfn < PFN_SPAN &&
        isInt(domainId) &&
        isInt(pfn)
      )
    )
      badKey(domainId, pfn);
    return domainId * PFN_SPAN + pfn;
  }

  get size(): number {
    return this.#entries.size;
  }

  lookup(key: number): IotlbEntry | undefined {
    let e: IotlbEntry | undefined;
    if (key === this.#lastKey) e = this.#lastEntry!;
    else {
      e = this.#entries.get(key);
      if (e === undefined) {
        this.stats.misses++;
        return undefined;
      }
      this.#lastKey = key;
      this.#lastEntry = e;
    }
    this.stats.hits++;
    // Approximate LRU: an entry is moved to the young end only once it has aged by half the
    // capacity, so a hot entry costs no reordering on every hit.
    if (this.policy === "lru" && this.capacity > 0 && this.#tick - e.tick > this.capacity / 2) {
      e.tick = this.#tick;
      this.#entries.delete(key);
      this.#entries.set(key, e);
    }
    return e;
  }

  insert(key: number, pa: number, prot: number): void {
    if (!(key >= 0 && isInt(key) && isInt(pa) && (prot & PROT_ALL) === prot))
      badInsert(key, pa, prot);
    this.#lastKey = Number.NaN;
    if (this.capacity > 0 && this.#entries.size >= this.capacity && !this.#entries.has(key)) {
      let victim: number;
      if (this.policy === "random") {
        const n = Math.floor(this.#random() * this.#entries.size);
        let i = 0;
        victim = 0;
        for (const k of this.#entries.keys()) if (i++ === n) victim = k;
      } else victim = this.#entries.keys().next().value as number;
      this.#spare.push(this.#entries.get(victim)!);
      this.#entries.delete(victim);
    }
    const e = this.#spare.pop() ?? { pa: 0, tick: 0, prot: 0, stale: false };
    e.tick = ++this.#tick;
    e.pa = pa;
    e.prot = prot;
    e.stale = false;
    if (this.#entries.size === 0) {
      this.#minKey = Number.POSITIVE_INFINITY;
      this.#maxKey = Number.NEGATIVE_INFINITY;
    }
    if (key < this.#minKey) this.#minKey = key;
    if (key > this.#maxKey) this.#maxKey = key;
    this.#entries.set(key, e);
    this.stats.fills++;
  }

  /** The model's bookkeeping: the mapping behind these pages changed; hits are now stale. */
  markStale(domainId: number, firstPfn: number, pages: number): void {
    if (!(isInt(domainId) && isInt(firstPfn) && isInt(pages)))
      badRange("Iotlb.markStale", domainId, firstPfn, pages);
    this[TLB_MARK_STALE](domainId, firstPfn, pages);
  }

  [TLB_MARK_STALE](domainId: number, firstPfn: number, pages: number): void {
    const entries = this.#entries;
    if (entries.size === 0) return;
    const lo = keyOf(domainId, firstPfn);
    if (lo > this.#maxKey || lo + pages <= this.#minKey) return;
    if (pages <= entries.size) {
      for (let p = 0; p < pages; p++) {
        const e = entries.get(lo + p);
        if (e !== undefined) e.stale = true;
      }
    } else {
      const hi = lo + pages;
      for (const [k, e] of entries) if (k >= lo && k < hi) e.stale = true;
    }
  }

  invalidateRange(domainId: number, firstPfn: number, pages: number): void {
    if (!(isInt(domainId) && isInt(firstPfn) && isInt(pages)))
      badRange("Iotlb.invalidateRange", domainId, firstPfn, pages);
    this[TLB_INVALIDATE_RANGE](domainId, firstPfn, pages);
  }

  [TLB_INVALIDATE_RANGE](domainId: number, firstPfn: number, pages: number): void {
    this.stats.invalidations.range++;
    if (this.#entries.size === 0) return;
    const lo = keyOf(domainId, firstPfn);
    if (lo > this.#maxKey || lo + pages <= this.#minKey) return;
    this.#invalidateEntries(domainId, firstPfn, pages);
  }

  #invalidateEntries(domainId: number, firstPfn: number, pages: number): void {
    const entries = this.#entries;
    this.#lastKey = Number.NaN;
    const lo = keyOf(domainId, firstPfn);
    if (pages <= entries.size) {
      for (let p = 0; p < pages; p++) {
        const e = entries.get(lo + p);
        if (e !== undefined) {
          this.#spare.push(e);
          entries.delete(lo + p);
          this.stats.entriesInvalidated++;
        }
      }
    } else {
      // Deleting the entry an iteration is on is safe for a Map: the walk goes on with the next.
      const hi = lo + pages;
      for (const [k, e] of entries) {
        if (k >= lo && k < hi) {
          this.#spare.push(e);
          entries.delete(k);
          this.stats.entriesInvalidated++;
        }
      }
    }
  }

  invalidateDomain(domainId: number): void {
    if (!isInt(domainId)) {
      needInteger("Iotlb.invalidateDomain", "domainId", domainId, "a domain id");
      inconsistent("Iotlb.invalidateDomain");
    }
    this.stats.invalidations.domain++;
    this.#lastKey = Number.NaN;
    const lo = keyOf(domainId, 0);
    const hi = lo + PFN_SPAN;
    for (const k of [...this.#entries.keys()]) {
      if (k >= lo && k < hi) {
        this.#entries.delete(k);
        this.stats.entriesInvalidated++;
      }
    }
  }

  invalidateAll(): void {
    this.stats.invalidations.all++;
    this.#lastKey = Number.NaN;
    this.stats.entriesInvalidated += this.#entries.size;
    this.#entries.clear();
  }
}

function badKey(domainId: unknown, pfn: unknown): never {
  needIntegerIn("Iotlb.key", "domainId", domainId, 0, DOMAIN_IDS, "a domain id");
  needIntegerIn("Iotlb.key", "pfn", pfn, 0, PFN_SPAN, "a page frame number");
  inconsistent("Iotlb.key");
}

function badInsert(key: unknown, pa: unknown, prot: unknown): never {
  needIntegerIn("Iotlb.insert", "key", key, 0, 2 ** 53, "a key from Iotlb.key");
  needInteger("Iotlb.insert", "pa", pa, "a physical address");
  needProt("Iotlb.insert", "prot", prot);
  inconsistent("Iotlb.insert");
}

function badRange(fn: string, domainId: unknown, firstPfn: unknown, pages: unknown): never {
  needInteger(fn, "domainId", domainId, "a domain id");
  needInteger(fn, "firstPfn", firstPfn, "a page frame number");
  needInteger(fn, "pages", pages, "a page count");
  inconsistent(fn);
}
