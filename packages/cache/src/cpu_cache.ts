// The CPU data cache as DMA sees it: write-back, write-allocate lines with
// valid and dirty state over physical memory; maintenance by range (clean,
// invalidate, clean+invalidate); device accesses that snoop it (coherent) or
// bypass it (non-coherent); and the two hazards a non-coherent device makes
// observable: the CPU reading a stale line, and a dirty line written back
// over data a device wrote.

/** The memory below the cache (PhysicalMemory satisfies it). */
export interface BackingStore {
  readInto(pa: number, dst: Uint8Array, dstOffset?: number, len?: number): void;
  write(pa: number, src: Uint8Array, srcOffset?: number, len?: number): void;
  /** When present, a CPU store outside it is refused before a line is allocated for it. */
  isRam?(pa: number, size?: number): boolean;
}

export interface CacheOptions {
  /** Line size in bytes, a power of two (default 64). */
  lineSize?: number;
  /** Capacity in lines; 0 = unbounded (default). */
  capacityLines?: number;
  /** Associativity when bounded (default: fully associative). */
  ways?: number;
  replacement?: "lru" | "fifo";
  /** Allow speculative fills (an out-of-order core may pull lines in at any time). */
  speculativeFill?: boolean;
  /** Seeded random source for speculation (default: a small deterministic PRNG). */
  random?: () => number;
}

export type HazardKind = "stale-read" | "lost-device-write";

export interface HazardEvent {
  kind: HazardKind;
  /** The line's physical address. */
  lineAddress: number;
  /** The access that exposed the hazard. */
  pa: number;
  len: number;
  /** Sequence number of the device write involved. */
  deviceWriteSeq: number;
  /** Sequence number of the line's fill. */
  lineFillSeq: number;
  /** Sequence number of the exposing access (CPU read or write-back). */
  accessSeq: number;
  detail: string;
}

export type MaintenanceOp = "clean" | "invalidate" | "clean+invalidate";

export interface CacheStats {
  hits: number;
  misses: number;
  fills: number;
  evictions: number;
  writebacks: number;
  cleanOps: number;
  invalidateOps: number;
  cleanInvalidateOps: number;
  linesCleaned: number;
  linesInvalidated: number;
  speculativeFills: number;
}

/** The lines of one 4 KiB page: their bytes and per-line state in typed arrays. */
interface CachePage {
  readonly data: Uint8Array;
  readonly valid: Uint8Array;
  readonly dirty: Uint8Array;
  readonly fillSeq: Float64Array;
  /** The last non-coherent device write to a line's memory after its fill (0 = none). */
  readonly devSeq: Float64Array;
  validCount: number;
  /** False while no line has a devSeq: a CPU read of the page then has no stale line to report. */
  mayBeStale: boolean;
}

const PAGE = 4096;
/** Pages per lookup chunk (4 MiB of addresses) and per data slab. */
const CHUNK = 1024;
const SLAB_PAGES = 64;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class CpuCache {
  readonly lineSize: number;
  readonly capacityLines: number;
  readonly ways: number;
  readonly replacement: "lru" | "fifo";
  readonly speculativeFill: boolean;
  readonly stats: CacheStats = {
    hits: 0,
    misses: 0,
    fills: 0,
    evictions: 0,
    writebacks: 0,
    cleanOps: 0,
    invalidateOps: 0,
    cleanInvalidateOps: 0,
    linesCleaned: 0,
    linesInvalidated: 0,
    speculativeFills: 0,
  };
  readonly hazards: HazardEvent[] = [];
  readonly #mem: BackingStore;
  /** Cached pages by page index; lines are tracked inside each page. */
  readonly #pages = new Map<number, CachePage>();
  /**
   * The same pages by chunk of CHUNK page indices: a lookup of a page not touched lately costs
   * fewer cache misses than the big Map's. #pages keeps the order iterations see.
   */
  readonly #chunks = new Map<number, Array<CachePage | undefined>>();
  /** Page data comes from slabs of SLAB_PAGES pages, contiguous for the host's prefetcher. */
  #slab = new ArrayBuffer(0);
  #slabUsed = SLAB_PAGES;
  readonly #sparePages: CachePage[] = [];
  /** Bounded caches only: valid lines in replacement order (LRU or FIFO). */
  readonly #order = new Map<number, true>();
  readonly #linesPerPage: number;
  /** A page's worth of dirty bits, all set: markDirty copies it for a whole page. */
  readonly #allDirty: Uint8Array;
  readonly #hazardListeners: Array<(e: HazardEvent) => void> = [];
  readonly #maintListeners: Array<(op: MaintenanceOp, pa: number, len: number) => void> = [];
  readonly #random: () => number;
  #lineCount = 0;
  #seq = 1;

  constructor(memory: BackingStore, options: CacheOptions = {}) {
    checkOptions(memory, options);
    this.#mem = memory;
    this.lineSize = options.lineSize ?? 64;
    if (
      !Number.isInteger(this.lineSize) ||
      this.lineSize < 8 ||
      this.lineSize > 4096 ||
      (this.lineSize & (this.lineSize - 1)) !== 0
    ) {
      throw new RangeError(
        `lineSize must be a power of two from 8 to 4096, got ${options.lineSize}`,
      );
    }
    this.capacityLines = options.capacityLines ?? 0;
    if (!Number.isInteger(this.capacityLines) || this.capacityLines < 0) {
      throw new RangeError(
        `capacityLines must be a non-negative integer (0 = unbounded), got ${options.capacityLines}`,
      );
    }
    this.ways = options.ways ?? this.capacityLines;
    if (
      this.capacityLines > 0 &&
      (!Number.isInteger(this.ways) || this.ways < 1 || this.capacityLines % this.ways !== 0)
    ) {
      throw new RangeError(
        `ways must divide capacityLines (${this.capacityLines}), got ${options.ways}`,
      );
    }
    this.replacement = options.replacement ?? "lru";
    if (this.replacement !== "lru" && this.replacement !== "fifo") {
      throw new RangeError(
        `replacement must be "lru" or "fifo", got ${String(options.replacement)}`,
      );
    }
    this.speculativeFill = options.speculativeFill ?? false;
    this.#random = options.random ?? mulberry32(0x5eed);
    this.#linesPerPage = PAGE / this.lineSize;
    this.#allDirty = new Uint8Array(this.#linesPerPage).fill(1);
  }

  onHazard(fn: (e: HazardEvent) => void): () => void {
    checkListener("onHazard", fn);
    this.#hazardListeners.push(fn);
    return () => this.#hazardListeners.splice(this.#hazardListeners.indexOf(fn), 1);
  }

  /** Calls `fn` for every maintenance operation (the DMA layer logs arch cache operations with it). */
  onMaintenance(fn: (op: MaintenanceOp, pa: number, len: number) => void): () => void {
    checkListener("onMaintenance", fn);
    this.#maintListeners.push(fn);
    return () => this.#maintListeners.splice(this.#maintListeners.indexOf(fn), 1);
  }

  clearHazards(): void {
    this.hazards.length = 0;
  }

  #hazard(e: HazardEvent): void {
    this.hazards.push(e);
    for (const l of this.#hazardListeners) l(e);
  }

  #get(pi: number): CachePage | undefined {
    const hi = Math.floor(pi / CHUNK);
    const c = this.#chunks.get(hi);
    return c === undefined ? undefined : c[pi - hi * CHUNK];
  }

  #set(pi: number, p: CachePage): void {
    this.#pages.set(pi, p);
    const hi = Math.floor(pi / CHUNK);
    let c = this.#chunks.get(hi);
    if (c === undefined) {
      c = new Array<CachePage | undefined>(CHUNK).fill(undefined);
      this.#chunks.set(hi, c);
    }
    c[pi - hi * CHUNK] = p;
  }

  #delete(pi: number): void {
    this.#pages.delete(pi);
    const hi = Math.floor(pi / CHUNK);
    const c = this.#chunks.get(hi);
    if (c !== undefined) c[pi - hi * CHUNK] = undefined;
  }

  #newData(): Uint8Array {
    if (this.#slabUsed === SLAB_PAGES) {
      this.#slab = new ArrayBuffer(SLAB_PAGES * PAGE);
      this.#slabUsed = 0;
    }
    return new Uint8Array(this.#slab, this.#slabUsed++ * PAGE, PAGE);
  }

  #page(pi: number, create: boolean): CachePage | undefined {
    let p = this.#get(pi);
    if (p === undefined && create) {
      p = this.#sparePages.pop();
      if (p === undefined) {
        const n = this.#linesPerPage;
        p = {
          data: this.#newData(),
          valid: new Uint8Array(n),
          dirty: new Uint8Array(n),
          fillSeq: new Float64Array(n),
          devSeq: new Float64Array(n),
          validCount: 0,
          mayBeStale: false,
        };
      }
      this.#set(pi, p);
    }
    return p;
  }

  #dropLine(pi: number, p: CachePage, li: number): void {
    p.valid[li] = 0;
    p.dirty[li] = 0;
    p.devSeq[li] = 0;
    this.#lineCount--;
    if (this.capacityLines > 0) this.#order.delete(pi * this.#linesPerPage + li);
    if (--p.validCount === 0) {
      this.#delete(pi);
      p.mayBeStale = false; // every line's devSeq is 0 again
      this.#sparePages.push(p);
    }
  }

  #writeBack(pi: number, p: CachePage, li: number): void {
    const pa = pi * PAGE + li * this.lineSize;
    if (p.devSeq[li]! > 0) {
      this.#hazard({
        kind: "lost-device-write",
        lineAddress: pa,
        pa,
        len: this.lineSize,
        deviceWriteSeq: p.devSeq[li]!,
        lineFillSeq: p.fillSeq[li]!,
        accessSeq: this.#seq,
        detail: `dirty line ${hex(pa)} written back over data a device wrote (device write #${p.devSeq[li]})`,
      });
    }
    this.#mem.write(pa, p.data, li * this.lineSize, this.lineSize);
    p.dirty[li] = 0;
    p.devSeq[li] = 0;
    this.stats.writebacks++;
  }

  /** Bounded caches: make room in the line's set, writing back a dirty victim. */
  #makeRoom(lineIdx: number): void {
    const sets = this.capacityLines / this.ways;
    const set = lineIdx % sets;
    let inSet = 0;
    let victim = -1;
    for (const k of this.#order.keys()) {
      if (k % sets !== set) continue;
      if (victim < 0) victim = k;
      inSet++;
      if (inSet >= this.ways) break;
    }
    if (inSet < this.ways) return;
    const vpi = Math.floor(victim / this.#linesPerPage);
    const vli = victim % this.#linesPerPage;
    const vp = this.#get(vpi)!;
    if (vp.dirty[vli]) this.#writeBack(vpi, vp, vli);
    // The write-back's hazard listener may have changed the cache, the victim included.
    if (this.#get(vpi) !== vp || vp.valid[vli] === 0) return;
    this.#dropLine(vpi, vp, vli);
    this.stats.evictions++;
  }

  /** Makes line `li` of page `pi` valid (a fill from memory unless `noRead`: a store covers it whole). */
  #fill(pi: number, p: CachePage, li: number, speculative: boolean, noRead: boolean): void {
    if (this.capacityLines > 0) {
      this.#makeRoom(pi * this.#linesPerPage + li);
      // Making room may have dropped this page (its last line evicted, or a hazard listener's
      // invalidate): fill the page that holds pi now. Callers look the page up again after.
      p = this.#page(pi, true)!;
    }
    if (!noRead)
      this.#mem.readInto(pi * PAGE + li * this.lineSize, p.data, li * this.lineSize, this.lineSize);
    p.valid[li] = 1;
    p.dirty[li] = 0;
    p.devSeq[li] = 0;
    p.fillSeq[li] = this.#seq++;
    p.validCount++;
    this.#lineCount++;
    if (this.capacityLines > 0) this.#order.set(pi * this.#linesPerPage + li, true);
    this.stats.fills++;
    if (speculative) this.stats.speculativeFills++;
  }

  #touch(pi: number, li: number): void {
    if (this.capacityLines > 0 && this.replacement === "lru") {
      const k = pi * this.#linesPerPage + li;
      this.#order.delete(k);
      this.#order.set(k, true);
    }
  }

  /** A CPU load through the cache (a miss fills the line). */
  cpuReadInto(
    pa: number,
    dst: Uint8Array,
    dstOffset = 0,
    len = (dst?.length ?? 0) - dstOffset,
  ): void {
    checkBuffer("cpuReadInto", "dst", dst, dstOffset, len);
    checkRange("cpuReadInto", pa, len);
    const ls = this.lineSize;
    let done = 0;
    while (done < len) {
      const a = pa + done;
      // Exact arithmetic: a % PAGE on an address above 2^31 is a slow floating-point remainder.
      const pi = Math.floor(a / PAGE);
      const off = a - pi * PAGE;
      const n = Math.min(len - done, PAGE - off);
      let p = this.#page(pi, true)!;
      const first = Math.floor(off / ls);
      const last = Math.floor((off + n - 1) / ls);
      // An unbounded cache's page with every line valid and none stale: each line is a plain hit.
      const allHits =
        this.capacityLines === 0 && p.validCount === this.#linesPerPage && !p.mayBeStale;
      if (allHits) this.stats.hits += last - first + 1;
      // Bytes of this page before `from` are in dst already.
      let from = off;
      for (let li = allHits ? last + 1 : first; li <= last; li++) {
        if (p.valid[li] === 0) {
          this.stats.misses++;
          this.#fill(pi, p, li, false, false);
          // A bounded cache may have evicted this very page's last line and recycled the page.
          p = this.#page(pi, true)!;
        } else {
          this.stats.hits++;
          this.#touch(pi, li);
          if (p.devSeq[li]! > 0) {
            const la = pi * PAGE + li * ls;
            // The bytes read so far go out first: a hazard listener may change the cache,
            // even drop this page, and the rest of the read then sees what it left.
            const to = Math.min(off + n, (li + 1) * ls);
            dst.set(p.data.subarray(from, to), dstOffset + done + (from - off));
            from = to;
            this.#hazard({
              kind: "stale-read",
              lineAddress: la,
              pa: Math.max(a, la),
              len: Math.min(a + n, la + ls) - Math.max(a, la),
              deviceWriteSeq: p.devSeq[li]!,
              lineFillSeq: p.fillSeq[li]!,
              accessSeq: this.#seq++,
              detail: `CPU read of line ${hex(la)} filled at #${p.fillSeq[li]}, older than device write #${p.devSeq[li]}`,
            });
            p = this.#page(pi, true)!;
          }
        }
      }
      if (from < off + n)
        dst.set(
          n === PAGE && from === 0 ? p.data : p.data.subarray(from, off + n),
          dstOffset + done + (from - off),
        );
      done += n;
    }
  }

  cpuRead(pa: number, len: number): Uint8Array {
    checkRange("cpuRead", pa, len);
    if (len > 2 ** 30)
      throw new RangeError(
        `CpuCache.cpuRead: len must be at most 2^30 (one buffer); got ${len}: read a larger range with cpuReadInto in pieces`,
      );
    const out = new Uint8Array(len);
    this.cpuReadInto(pa, out, 0, len);
    return out;
  }

  /** A CPU store: write-allocate; the lines become dirty and reach memory only at write-back. */
  cpuWrite(pa: number, src: Uint8Array, srcOffset = 0, len = (src?.length ?? 0) - srcOffset): void {
    checkBuffer("cpuWrite", "src", src, srcOffset, len);
    checkRange("cpuWrite", pa, len);
    if (len > 0 && this.#mem.isRam !== undefined && !this.#mem.isRam(pa, len))
      throw new RangeError(`CpuCache.cpuWrite: [${hex(pa)}, +${len}) is not memory`);
    const ls = this.lineSize;
    let done = 0;
    while (done < len) {
      const a = pa + done;
      // Exact arithmetic: a % PAGE on an address above 2^31 is a slow floating-point remainder.
      const pi = Math.floor(a / PAGE);
      const off = a - pi * PAGE;
      const n = Math.min(len - done, PAGE - off);
      let p = this.#page(pi, true)!;
      const first = Math.floor(off / ls);
      const last = Math.floor((off + n - 1) / ls);
      // An unbounded cache's page with every line valid: each line is a plain hit.
      const allHits = this.capacityLines === 0 && p.validCount === this.#linesPerPage;
      if (allHits) this.stats.hits += last - first + 1;
      for (let li = allHits ? last + 1 : first; li <= last; li++) {
        if (p.valid[li] === 0) {
          this.stats.misses++;
          const ls0 = li * ls;
          const whole = off <= ls0 && off + n >= ls0 + ls;
          this.#fill(pi, p, li, false, whole);
          p = this.#page(pi, true)!;
        } else {
          this.stats.hits++;
          this.#touch(pi, li);
        }
      }
      const from = srcOffset + done;
      p.data.set(from === 0 && n === src.length ? src : src.subarray(from, from + n), off);
      this.#markDirty(p.dirty, first, last);
      done += n;
    }
    this.#seq++;
  }

  /**
   * A CPU memcpy through the cache: what cpuReadInto(srcPa, buf) and then
   * cpuWrite(dstPa, buf) do (stats, fills, dirty lines, hazards, errors),
   * without the buffer. len is at most 2^30, as for cpuRead.
   */
  cpuCopy(dstPa: number, srcPa: number, len: number): void {
    checkRange("cpuCopy", srcPa, len);
    checkRange("cpuCopy", dstPa, len);
    if (len > 2 ** 30)
      throw new RangeError(`CpuCache.cpuCopy: len must be at most 2^30 (one buffer), got ${len}`);
    // Copying page to page is exact only when nothing can run, or be evicted, between the read and
    // the write: an unbounded cache, disjoint ranges, a destination that is RAM, no stale source line
    // (whose hazard listener could change the cache). Anything else goes through a buffer.
    if (
      this.capacityLines !== 0 ||
      len === 0 ||
      (srcPa < dstPa + len && dstPa < srcPa + len) ||
      (this.#mem.isRam !== undefined && !this.#mem.isRam(dstPa, len)) ||
      this.#mayBeStale(srcPa, len)
    ) {
      const buf = new Uint8Array(len);
      this.cpuReadInto(srcPa, buf, 0, len);
      this.cpuWrite(dstPa, buf, 0, len);
      return;
    }
    const ls = this.lineSize;
    const lpp = this.#linesPerPage;
    // The read's bookkeeping: hits, and fills for the lines not cached (each line fill is a miss).
    let done = 0;
    while (done < len) {
      const a = srcPa + done;
      // Exact arithmetic: a % PAGE on an address above 2^31 is a slow floating-point remainder.
      const pi = Math.floor(a / PAGE);
      const off = a - pi * PAGE;
      const n = Math.min(len - done, PAGE - off);
      const p = this.#page(pi, true)!;
      const first = Math.floor(off / ls);
      const last = Math.floor((off + n - 1) / ls);
      if (p.validCount === lpp) this.stats.hits += last - first + 1;
      else {
        for (let li = first; li <= last; li++) {
          if (p.valid[li] === 0) {
            this.stats.misses++;
            this.#fill(pi, p, li, false, false);
          } else this.stats.hits++;
        }
      }
      done += n;
    }
    // The write: write-allocate, then the source's cached bytes straight into the destination's lines.
    done = 0;
    while (done < len) {
      const a = dstPa + done;
      const pi = Math.floor(a / PAGE);
      const off = a - pi * PAGE;
      const n = Math.min(len - done, PAGE - off);
      const q = this.#page(pi, true)!;
      const first = Math.floor(off / ls);
      const last = Math.floor((off + n - 1) / ls);
      if (q.validCount === lpp) this.stats.hits += last - first + 1;
      else {
        for (let li = first; li <= last; li++) {
          if (q.valid[li] === 0) {
            this.stats.misses++;
            const ls0 = li * ls;
            this.#fill(pi, q, li, false, off <= ls0 && off + n >= ls0 + ls);
          } else this.stats.hits++;
        }
      }
      for (let k = 0; k < n; ) {
        const sa = srcPa + done + k;
        const spi = Math.floor(sa / PAGE);
        const so = sa - spi * PAGE;
        const m = Math.min(n - k, PAGE - so);
        const sp = this.#get(spi)!;
        q.data.set(m === PAGE ? sp.data : sp.data.subarray(so, so + m), off + k);
        k += m;
      }
      this.#markDirty(q.dirty, first, last);
      done += n;
    }
    this.#seq++;
  }

  /**
   * Lines first..last of a page become dirty. A whole page copies a row of
   * ones (a memcpy); TypedArray fill() is a call into the runtime that costs
   * more than the 64 stores, and a part of a page is a short loop.
   */
  #markDirty(dirty: Uint8Array, first: number, last: number): void {
    if (first === 0 && last === dirty.length - 1) dirty.set(this.#allDirty);
    else for (let li = first; li <= last; li++) dirty[li] = 1;
  }

  /** Whether a cached page under [pa, pa + len) may hold a stale line. */
  #mayBeStale(pa: number, len: number): boolean {
    const last = Math.floor((pa + len - 1) / PAGE);
    for (let pi = Math.floor(pa / PAGE); pi <= last; pi++)
      if (this.#get(pi)?.mayBeStale === true) return true;
    return false;
  }

  /** A load through an uncached alias: straight from memory. */
  cpuReadUncached(
    pa: number,
    dst: Uint8Array,
    dstOffset = 0,
    len = (dst?.length ?? 0) - dstOffset,
  ): void {
    checkBuffer("cpuReadUncached", "dst", dst, dstOffset, len);
    checkRange("cpuReadUncached", pa, len);
    this.#mem.readInto(pa, dst, dstOffset, len);
  }

  /** A store through an uncached alias: straight to memory. */
  cpuWriteUncached(
    pa: number,
    src: Uint8Array,
    srcOffset = 0,
    len = (src?.length ?? 0) - srcOffset,
  ): void {
    checkBuffer("cpuWriteUncached", "src", src, srcOffset, len);
    checkRange("cpuWriteUncached", pa, len);
    this.#mem.write(pa, src, srcOffset, len);
  }

  /** Calls fn for every valid line covering [pa, pa + len). Returns the lines visited. */
  #range(pa: number, len: number, fn: (pi: number, p: CachePage, li: number) => void): number {
    if (len <= 0 || this.#lineCount === 0) return 0;
    const ls = this.lineSize;
    const firstPage = Math.floor(pa / PAGE);
    const lastPage = Math.floor((pa + len - 1) / PAGE);
    let touched = 0;
    const visit = (pi: number, p: CachePage) => {
      const lo = Math.max(pa, pi * PAGE) - pi * PAGE;
      const hi = Math.min(pa + len, (pi + 1) * PAGE) - pi * PAGE;
      const first = Math.floor(lo / ls);
      const last = Math.floor((hi - 1) / ls);
      for (let li = first; li <= last && this.#get(pi) === p; li++) {
        if (p.valid[li] === 1) {
          fn(pi, p, li);
          touched++;
        }
      }
    };
    if (lastPage - firstPage + 1 > this.#pages.size) {
      for (const [pi, p] of [...this.#pages]) if (pi >= firstPage && pi <= lastPage) visit(pi, p);
    } else {
      for (let pi = firstPage; pi <= lastPage; pi++) {
        const p = this.#get(pi);
        if (p !== undefined) visit(pi, p);
      }
    }
    return touched;
  }

  #maint(op: MaintenanceOp, pa: number, len: number): void {
    for (const l of this.#maintListeners) l(op, pa, len);
  }

  /** Writes back the dirty lines of one page in [first, last] as contiguous runs (one memory write per run). */
  #writeBackRange(pi: number, p: CachePage, first: number, last: number): void {
    let li = first;
    while (li <= last) {
      if (p.valid[li] !== 1 || p.dirty[li] !== 1) {
        li++;
        continue;
      }
      let end = li;
      while (end + 1 <= last && p.valid[end + 1] === 1 && p.dirty[end + 1] === 1) end++;
      for (let k = li; k <= end; k++) {
        if (p.devSeq[k]! > 0) this.#writeBack(pi, p, k);
      }
      const ls = this.lineSize;
      this.#mem.write(pi * PAGE + li * ls, p.data, li * ls, (end - li + 1) * ls);
      for (let k = li; k <= end; k++) {
        if (p.dirty[k] === 1) this.stats.writebacks++;
        p.dirty[k] = 0;
      }
      li = end + 1;
    }
  }

  #pageLines(pa: number, len: number, pi: number): [number, number] {
    const lo = Math.max(pa, pi * PAGE) - pi * PAGE;
    const hi = Math.min(pa + len, (pi + 1) * PAGE) - pi * PAGE;
    return [Math.floor(lo / this.lineSize), Math.floor((hi - 1) / this.lineSize)];
  }

  /** Write back dirty lines covering [pa, pa+len); they stay valid. Returns the lines visited. */
  clean(pa: number, len: number): number {
    checkRange("clean", pa, len);
    this.stats.cleanOps++;
    this.#maint("clean", pa, len);
    if (len <= 0 || this.#lineCount === 0) return 0;
    let n = 0;
    const firstPage = Math.floor(pa / PAGE);
    const lastPage = Math.floor((pa + len - 1) / PAGE);
    const pages =
      lastPage - firstPage + 1 > this.#pages.size
        ? [...this.#pages.keys()].filter((k) => k >= firstPage && k <= lastPage)
        : null;
    for (
      let i = 0, pi = pages ? pages[0]! : firstPage;
      pages ? i < pages.length : pi <= lastPage;
      i++, pi = pages ? pages[i]! : pi + 1
    ) {
      const p = this.#get(pi);
      if (p === undefined) continue;
      const [first, last] = this.#pageLines(pa, len, pi);
      for (let li = first; li <= last; li++) if (p.valid[li] === 1) n++;
      this.#writeBackRange(pi, p, first, last);
    }
    this.stats.linesCleaned += n;
    return n;
  }

  /** Drop the lines covering [pa, pa+len) without writing them back: dirty data is lost. */
  invalidate(pa: number, len: number): number {
    checkRange("invalidate", pa, len);
    this.stats.invalidateOps++;
    this.#maint("invalidate", pa, len);
    const n = this.#range(pa, len, (pi, p, li) => this.#dropLine(pi, p, li));
    this.stats.linesInvalidated += n;
    return n;
  }

  /** Write back, then drop. */
  cleanInvalidate(pa: number, len: number): number {
    checkRange("cleanInvalidate", pa, len);
    this.stats.cleanInvalidateOps++;
    this.#maint("clean+invalidate", pa, len);
    if (len <= 0 || this.#lineCount === 0) return 0;
    const firstPage = Math.floor(pa / PAGE);
    const lastPage = Math.floor((pa + len - 1) / PAGE);
    const pages =
      lastPage - firstPage + 1 > this.#pages.size
        ? [...this.#pages.keys()].filter((k) => k >= firstPage && k <= lastPage)
        : null;
    let n = 0;
    for (
      let i = 0, pi = pages ? pages[0]! : firstPage;
      pages ? i < pages.length : pi <= lastPage;
      i++, pi = pages ? pages[i]! : pi + 1
    ) {
      const p = this.#get(pi);
      if (p === undefined) continue;
      const [first, last] = this.#pageLines(pa, len, pi);
      this.#writeBackRange(pi, p, first, last);
      for (let li = first; li <= last; li++) {
        if (p.valid[li] === 1) {
          n++;
          this.#dropLine(pi, p, li);
          if (this.#get(pi) !== p) break;
        }
      }
    }
    this.stats.linesCleaned += n;
    this.stats.linesInvalidated += n;
    return n;
  }

  /** A device read: a coherent device is served dirty data by the cache; a non-coherent one reads memory. */
  deviceRead(
    pa: number,
    dst: Uint8Array,
    dstOffset = 0,
    len = (dst?.length ?? 0) - dstOffset,
    coherent = true,
  ): void {
    checkBuffer("deviceRead", "dst", dst, dstOffset, len);
    checkRange("deviceRead", pa, len);
    checkFlag("deviceRead", "coherent", coherent);
    this.#mem.readInto(pa, dst, dstOffset, len);
    if (!coherent) return;
    const ls = this.lineSize;
    this.#range(pa, len, (pi, p, li) => {
      if (!p.dirty[li]) return;
      const la = pi * PAGE + li * ls;
      const s = Math.max(pa, la);
      const e = Math.min(pa + len, la + ls);
      dst.set(p.data.subarray(s - pi * PAGE, e - pi * PAGE), dstOffset + (s - pa));
    });
  }

  /** A device write: memory is updated; a coherent device also updates cached copies, a non-coherent one leaves them stale. */
  deviceWrite(
    pa: number,
    src: Uint8Array,
    srcOffset = 0,
    len = (src?.length ?? 0) - srcOffset,
    coherent = true,
  ): void {
    checkBuffer("deviceWrite", "src", src, srcOffset, len);
    checkRange("deviceWrite", pa, len);
    checkFlag("deviceWrite", "coherent", coherent);
    const seq = this.#seq++;
    const ls = this.lineSize;
    this.#range(pa, len, (pi, p, li) => {
      if (!coherent) {
        p.devSeq[li] = seq;
        p.mayBeStale = true;
        return;
      }
      const la = pi * PAGE + li * ls;
      const s = Math.max(pa, la);
      const e = Math.min(pa + len, la + ls);
      p.data.set(src.subarray(srcOffset + (s - pa), srcOffset + (e - pa)), s - pi * PAGE);
    });
    this.#mem.write(pa, src, srcOffset, len);
  }

  /** Pull clean copies of the lines covering [pa, pa+len) in, as an out-of-order core may. */
  speculate(pa: number, len: number): number {
    checkRange("speculate", pa, len);
    return this.#speculate(pa, len, 1);
  }

  /** With speculation on, pull each covered line in with probability `p`. */
  maybeSpeculate(pa: number, len: number, p = 0.5): number {
    checkRange("maybeSpeculate", pa, len);
    if (typeof p !== "number" || !(p >= 0 && p <= 1))
      throw new RangeError(
        `CpuCache.maybeSpeculate: p must be a probability from 0 to 1, got ${describe(p)}`,
      );
    if (!this.speculativeFill) return 0;
    return this.#speculate(pa, len, p);
  }

  #speculate(pa: number, len: number, prob: number): number {
    const ls = this.lineSize;
    let n = 0;
    for (let a = pa - (pa % ls); a < pa + len; a += ls) {
      const pi = Math.floor(a / PAGE);
      const li = (a % PAGE) / ls;
      const p = this.#page(pi, true)!;
      if (p.valid[li] === 0 && (prob >= 1 || this.#random() < prob)) {
        this.#fill(pi, p, li, true, false);
        n++;
      } else if (p.validCount === 0) {
        this.#delete(pi);
        this.#sparePages.push(p);
      }
    }
    return n;
  }

  isCached(pa: number): boolean {
    checkRange("isCached", pa, 0);
    const p = this.#get(Math.floor(pa / PAGE));
    return p !== undefined && p.valid[Math.floor((pa % PAGE) / this.lineSize)] === 1;
  }

  isDirty(pa: number): boolean {
    checkRange("isDirty", pa, 0);
    const p = this.#get(Math.floor(pa / PAGE));
    return p !== undefined && p.dirty[Math.floor((pa % PAGE) / this.lineSize)] === 1;
  }

  /** Write back and drop every line (teardown). */
  flushAll(): void {
    for (const [pi, p] of [...this.#pages]) {
      for (let li = 0; li < this.#linesPerPage; li++) {
        if (p.valid[li] !== 1) continue;
        if (p.dirty[li]) this.#writeBack(pi, p, li);
        this.#dropLine(pi, p, li);
      }
    }
  }

  /** The cached lines, for debugging. */
  snapshot(): Array<{ address: number; dirty: boolean; fillSeq: number; staleSince: number }> {
    const out: Array<{ address: number; dirty: boolean; fillSeq: number; staleSince: number }> = [];
    for (const [pi, p] of this.#pages) {
      for (let li = 0; li < this.#linesPerPage; li++) {
        if (p.valid[li] === 1)
          out.push({
            address: pi * PAGE + li * this.lineSize,
            dirty: p.dirty[li] === 1,
            fillSeq: p.fillSeq[li]!,
            staleSince: p.devSeq[li]!,
          });
      }
    }
    return out.sort((a, b) => a.address - b.address);
  }

  get cachedLines(): number {
    return this.#lineCount;
  }
}

function hex(v: number): string {
  return `0x${v.toString(16)}`;
}

/** Renders a bad argument for an error message. */
function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null || typeof v !== "object") return String(v);
  return Array.isArray(v) ? "an array" : `a ${v.constructor?.name ?? "object"}`;
}

const LIMIT = 2 ** 52;

/** Throws unless [pa, pa + len) is a range of simulated physical addresses: a few comparisons. */
function checkRange(fn: string, pa: number, len: number): void {
  if (!(Number.isInteger(pa) && pa >= 0 && pa < LIMIT))
    throw new RangeError(
      `CpuCache.${fn}: pa must be an integer physical address from 0 to 2^52 - 1, got ${describe(pa)}`,
    );
  if (!(Number.isInteger(len) && len >= 0 && pa + len <= LIMIT))
    throw new RangeError(
      `CpuCache.${fn}: len must be a non-negative integer with pa + len <= 2^52, got ${describe(len)}`,
    );
}

/** Throws unless `buf` is a Uint8Array with [off, off + len) inside it. */
function checkBuffer(
  fn: string,
  what: "dst" | "src",
  buf: Uint8Array,
  off: number,
  len: number,
): void {
  if (!(buf instanceof Uint8Array))
    throw new TypeError(`CpuCache.${fn}: ${what} must be a Uint8Array, got ${describe(buf)}`);
  if (!(Number.isInteger(off) && off >= 0 && off <= buf.length))
    throw new RangeError(
      `CpuCache.${fn}: ${what}Offset must be an integer from 0 to ${what}.length (${buf.length}), got ${describe(off)}`,
    );
  if (!(Number.isInteger(len) && len >= 0 && off + len <= buf.length))
    throw new RangeError(
      `CpuCache.${fn}: len must be an integer from 0 to ${buf.length - off} (what ${what} holds past ${what}Offset), got ${describe(len)}`,
    );
}

function checkFlag(fn: string, what: string, v: boolean): void {
  if (typeof v !== "boolean")
    throw new TypeError(`CpuCache.${fn}: ${what} must be true or false, got ${describe(v)}`);
}

function checkListener(fn: string, l: unknown): void {
  if (typeof l !== "function")
    throw new TypeError(`CpuCache.${fn}: the listener must be a function, got ${describe(l)}`);
}

const OPTION_NAMES = new Set([
  "lineSize",
  "capacityLines",
  "ways",
  "replacement",
  "speculativeFill",
  "random",
]);

function checkOptions(memory: BackingStore, options: CacheOptions): void {
  if (
    memory === null ||
    typeof memory !== "object" ||
    typeof memory.readInto !== "function" ||
    typeof memory.write !== "function"
  )
    throw new TypeError(
      `new CpuCache: memory must be a backing store with readInto() and write() (a PhysicalMemory), got ${describe(memory)}`,
    );
  if (options === null || typeof options !== "object" || Array.isArray(options))
    throw new TypeError(`new CpuCache: options must be an object, got ${describe(options)}`);
  for (const k of Object.keys(options))
    if (!OPTION_NAMES.has(k))
      throw new RangeError(
        `new CpuCache: unknown option ${JSON.stringify(k)}; the options are ${[...OPTION_NAMES].join(", ")}`,
      );
  if (options.speculativeFill !== undefined)
    checkFlag("constructor", "options.speculativeFill", options.speculativeFill);
  if (options.random !== undefined && typeof options.random !== "function")
    throw new TypeError(
      `new CpuCache: options.random must be a function returning [0, 1), got ${describe(options.random)}`,
    );
}
