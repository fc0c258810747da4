// The zoned buddy page allocator (mm/page_alloc.c): ZONE_DMA, ZONE_DMA32 and
// ZONE_NORMAL, each a buddy system of naturally aligned blocks of
// PAGE_SIZE << order that split on allocation and merge with their buddy on
// free. Allocation falls back from the highest allowed zone to lower ones,
// like a zonelist.
import { alignDown, MAX_ORDER, PAGE_SIZE } from "./constants.ts";
import type { PhysicalMemory } from "./physical_memory.ts";

export const Zone = { DMA: 0, DMA32: 1, NORMAL: 2 } as const;
export type Zone = (typeof Zone)[keyof typeof Zone];
const ZONE_NAMES = ["DMA", "DMA32", "Normal"] as const;

export interface PageAllocatorOptions {
  /** End of ZONE_DMA (exclusive); default 16 MiB. 0 = no ZONE_DMA. */
  zoneDmaLimit?: number;
  /** End of ZONE_DMA32 (exclusive); default 4 GiB. 0 = no ZONE_DMA32. */
  zoneDma32Limit?: number;
  /** Ranges never handed out (firmware, the kernel image...). */
  reserved?: ReadonlyArray<{ start: number; size: number }>;
  /** Largest block order; default MAX_ORDER (10). */
  maxOrder?: number;
}

/** A misuse of the allocator: double free, foreign free, address outside RAM. */
export class PageAllocatorError extends Error {
  override name = "PageAllocatorError";
}

export interface ZoneStats {
  zone: Zone;
  name: (typeof ZONE_NAMES)[number];
  start: number;
  end: number;
  totalPages: number;
  freePages: number;
  freeBlocksByOrder: number[];
}

interface ZoneState {
  zone: Zone;
  start: number;
  end: number;
  totalPages: number;
  freePages: number;
  /** free[order]: sorted start addresses of free blocks of that order. */
  free: number[][];
}

function lowerBound(a: number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(a: number[], v: number): void {
  a.splice(lowerBound(a, v), 0, v);
}

function removeSorted(a: number[], v: number): boolean {
  const i = lowerBound(a, v);
  if (a[i] !== v) return false;
  a.splice(i, 1);
  return true;
}

export class PageAllocator {
  readonly maxOrder: number;
  readonly #zones: ZoneState[] = [];
  readonly #allocated = new Map<number, number>();
  readonly #memory: PhysicalMemory;
  readonly #initial: string;

  constructor(memory: PhysicalMemory, options: PageAllocatorOptions = {}) {
    checkOptions(memory, options);
    this.#memory = memory;
    this.maxOrder = options.maxOrder ?? MAX_ORDER;
    if (!Number.isInteger(this.maxOrder) || this.maxOrder < 0 || this.maxOrder > 18) {
      throw new RangeError(`maxOrder must be an integer from 0 to 18, got ${options.maxOrder}`);
    }
    const dma = options.zoneDmaLimit ?? 16 * 2 ** 20;
    const dma32 = options.zoneDma32Limit ?? 2 ** 32;
    const bounds: Array<[Zone, number, number]> = [];
    let lo = 0;
    if (dma > 0) {
      bounds.push([Zone.DMA, 0, dma]);
      lo = dma;
    }
    if (dma32 > lo) {
      bounds.push([Zone.DMA32, lo, dma32]);
      lo = dma32;
    }
    bounds.push([Zone.NORMAL, lo, 2 ** 52]);
    const reserved = (options.reserved ?? []).map((r) => [r.start, r.start + r.size] as const);
    for (const [zone, zs, ze] of bounds) {
      const z: ZoneState = {
        zone,
        start: zs,
        end: ze,
        totalPages: 0,
        freePages: 0,
        free: Array.from({ length: this.maxOrder + 1 }, () => []),
      };
      for (const r of memory.ramRanges) {
        const s = Math.max(r.start, zs);
        const e = Math.min(r.end, ze);
        if (s >= e) continue;
        // Subtract reserved ranges, then carve the rest into the largest aligned blocks.
        let pieces: Array<[number, number]> = [[s, e]];
        for (const [rs, re] of reserved) {
          pieces = pieces.flatMap(([a, b]): Array<[number, number]> => {
            if (re <= a || rs >= b) return [[a, b]];
            const out: Array<[number, number]> = [];
            if (rs > a) out.push([a, alignDown(rs, PAGE_SIZE)]);
            if (re < b) out.push([Math.ceil(re / PAGE_SIZE) * PAGE_SIZE, b]);
            return out;
          });
        }
        for (const [a, b] of pieces) this.#carve(z, a, b);
        z.totalPages += (e - s) / PAGE_SIZE;
      }
      this.#zones.push(z);
    }
    this.#initial = this.#fingerprint();
  }

  #carve(z: ZoneState, a: number, b: number): void {
    let pa = a;
    while (pa < b) {
      let order = this.maxOrder;
      while (order > 0 && (pa % (PAGE_SIZE * 2 ** order) !== 0 || pa + PAGE_SIZE * 2 ** order > b))
        order--;
      z.free[order]!.push(pa);
      z.freePages += 2 ** order;
      pa += PAGE_SIZE * 2 ** order;
    }
    for (const list of z.free) list.sort((x, y) => x - y);
  }

  #fingerprint(): string {
    return this.#zones.map((z) => z.free.map((l) => l.join(",")).join("|")).join("/");
  }

  /** True when every block is free again, exactly as at construction. */
  isPristine(): boolean {
    return this.#allocated.size === 0 && this.#fingerprint() === this.#initial;
  }

  #zoneState(zone: number): ZoneState | undefined {
    return this.#zones.find((z) => z.zone === zone);
  }

  /**
   * Allocates 2^order contiguous pages from `highestZone` or, failing that, a
   * lower zone; the lowest-addressed block of the smallest sufficient order.
   * Returns the physical address or null.
   */
  allocPages(order: number, highestZone: number = Zone.NORMAL): number | null {
    checkZone("allocPages", highestZone);
    if (!Number.isInteger(order) || order < 0 || order > this.maxOrder) {
      throw new RangeError(
        `allocPages: order must be an integer from 0 to ${this.maxOrder}, got ${order}`,
      );
    }
    for (let zi = this.#zones.length - 1; zi >= 0; zi--) {
      const z = this.#zones[zi]!;
      if (z.zone > highestZone) continue;
      for (let o = order; o <= this.maxOrder; o++) {
        const list = z.free[o]!;
        if (list.length === 0) continue;
        const pa = list.shift()!;
        this.#splitDown(z, pa, o, order);
        z.freePages -= 2 ** order;
        this.#allocated.set(pa, order);
        return pa;
      }
    }
    return null;
  }

  /** Returns the halves above `target` of a block being split to the free lists. */
  #splitDown(z: ZoneState, pa: number, from: number, target: number): void {
    for (let o = from; o > target; o--) {
      insertSorted(z.free[o - 1]!, pa + PAGE_SIZE * 2 ** (o - 1));
    }
  }

  /** Carves exactly the block at `pa` of `order` (to replay a recorded boot); false when any page of it is not free. */
  allocPagesAt(pa: number, order: number): boolean {
    if (!Number.isInteger(order) || order < 0 || order > this.maxOrder) {
      throw new RangeError(
        `allocPagesAt: order must be an integer from 0 to ${this.maxOrder}, got ${order}`,
      );
    }
    if (!Number.isInteger(pa) || pa < 0 || pa % (PAGE_SIZE * 2 ** order) !== 0) {
      throw new RangeError(
        `allocPagesAt: pa must be aligned to its block size (${PAGE_SIZE * 2 ** order}), got ${pa}`,
      );
    }
    const z = this.#zones.find((zz) => pa >= zz.start && pa < zz.end);
    if (!z) return false;
    for (let o = order; o <= this.maxOrder; o++) {
      const base = alignDown(pa, PAGE_SIZE * 2 ** o);
      if (!removeSorted(z.free[o]!, base)) continue;
      // Split the containing block down, keeping every half that does not hold `pa`.
      let cur = base;
      for (let k = o; k > order; k--) {
        const half = PAGE_SIZE * 2 ** (k - 1);
        if (pa >= cur + half) {
          insertSorted(z.free[k - 1]!, cur);
          cur += half;
        } else insertSorted(z.free[k - 1]!, cur + half);
      }
      z.freePages -= 2 ** order;
      this.#allocated.set(pa, order);
      return true;
    }
    return false;
  }

  /** Frees a block; merges it with its free buddy, repeatedly. */
  freePages(pa: number, order: number): void {
    if (!this.#memory.isRam(pa, PAGE_SIZE)) {
      throw new PageAllocatorError(`freePages: ${hex(pa)} is outside RAM`);
    }
    const got = this.#allocated.get(pa);
    if (got === undefined) {
      throw new PageAllocatorError(
        `freePages: ${hex(pa)} (order ${order}) is not allocated: a double free or a free of something never allocated`,
      );
    }
    if (got !== order) {
      throw new PageAllocatorError(
        `freePages: ${hex(pa)} was allocated with order ${got}, freed with order ${order}`,
      );
    }
    this.#allocated.delete(pa);
    const z = this.#zones.find((zz) => pa >= zz.start && pa < zz.end)!;
    z.freePages += 2 ** order;
    let cur = pa;
    let o = order;
    while (o < this.maxOrder) {
      const size = PAGE_SIZE * 2 ** o;
      const buddy = (cur / size) % 2 === 0 ? cur + size : cur - size;
      if (buddy < z.start || buddy >= z.end || !removeSorted(z.free[o]!, buddy)) break;
      cur = Math.min(cur, buddy);
      o++;
    }
    insertSorted(z.free[o]!, cur);
  }

  zoneOf(pa: number): Zone | undefined {
    if (!this.#memory.isRam(pa)) return undefined;
    return this.#zones.find((z) => pa >= z.start && pa < z.end)?.zone;
  }

  /** Is `pa` the start of an allocated block? */
  isAllocated(pa: number): boolean {
    return this.#allocated.has(pa);
  }

  allocatedBlocks(): Array<{ pa: number; order: number }> {
    return [...this.#allocated].map(([pa, order]) => ({ pa, order }));
  }

  stats(): { zones: ZoneStats[]; allocatedPages: number } {
    let allocatedPages = 0;
    for (const o of this.#allocated.values()) allocatedPages += 2 ** o;
    return {
      zones: this.#zones.map((z) => ({
        zone: z.zone,
        name: ZONE_NAMES[z.zone]!,
        start: z.start,
        end: Math.min(z.end, this.#memory.lastRamByte + 1),
        totalPages: z.totalPages,
        freePages: z.freePages,
        freeBlocksByOrder: z.free.map((l) => l.length),
      })),
      allocatedPages,
    };
  }

  /** Does zone `zone` exist on this machine? */
  hasZone(zone: number): boolean {
    return this.#zoneState(zone) !== undefined;
  }
}

function hex(v: number): string {
  return typeof v === "number" ? `0x${v.toString(16)}` : String(v);
}

/** highestZone is one of Zone.DMA (0), Zone.DMA32 (1), Zone.NORMAL (2). */
function checkZone(what: string, zone: number): void {
  if (zone !== 0 && zone !== 1 && zone !== 2)
    throw new RangeError(
      `${what}: highestZone must be Zone.DMA (0), Zone.DMA32 (1) or Zone.NORMAL (2), got ${String(zone)}`,
    );
}

function isAddr(v: unknown): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 2 ** 52;
}

function checkOptions(memory: PhysicalMemory, options: PageAllocatorOptions): void {
  if (typeof memory?.isRam !== "function" || !Array.isArray(memory.ramRanges))
    throw new TypeError(
      `new PageAllocator: memory must be a PhysicalMemory, got ${String(memory)}`,
    );
  if (options === null || typeof options !== "object")
    throw new TypeError(`new PageAllocator: options must be an object, got ${String(options)}`);
  for (const k of ["zoneDmaLimit", "zoneDma32Limit"] as const)
    if (options[k] !== undefined && !isAddr(options[k]))
      throw new RangeError(
        `new PageAllocator: options.${k} must be an integer address up to 2^52 (0 = no such zone), got ${String(options[k])}`,
      );
  const res = options.reserved;
  if (res !== undefined) {
    if (!Array.isArray(res))
      throw new TypeError(
        "new PageAllocator: options.reserved must be an array of { start, size }",
      );
    res.forEach((r, i) => {
      if (!r || !isAddr(r.start) || !isAddr(r.size) || r.start + r.size > 2 ** 52)
        throw new RangeError(
          `new PageAllocator: options.reserved[${i}] must be { start, size } integers ending below 2^52`,
        );
    });
  }
}
