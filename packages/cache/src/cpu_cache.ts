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

interface Line {
  data: Uint8Array;
  dirty: boolean;
  fillSeq: number;
  /** Last non-coherent device write to this line's memory after the fill (0 = none). */
  devWriteSeq: number;
}

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
  /** Lines by line index (pa / lineSize); Map order is the LRU/FIFO order. */
  readonly #lines = new Map<number, Line>();
  /** Device writes to memory of lines not cached now: nothing to track (a later fill reads them). */
  readonly #spare: Uint8Array[] = [];
  readonly #hazardListeners: Array<(e: HazardEvent) => void> = [];
  readonly #maintListeners: Array<(op: MaintenanceOp, pa: number, len: number) => void> = [];
  readonly #random: () => number;
  #seq = 1;

  constructor(memory: BackingStore, options: CacheOptions = {}) {
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
  }

  onHazard(fn: (e: HazardEvent) => void): () => void {
    this.#hazardListeners.push(fn);
    return () => this.#hazardListeners.splice(this.#hazardListeners.indexOf(fn), 1);
  }

  /** Calls `fn` for every maintenance operation (the DMA layer logs arch cache operations with it). */
  onMaintenance(fn: (op: MaintenanceOp, pa: number, len: number) => void): () => void {
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

  #set(idx: number): number {
    return this.capacityLines > 0 ? idx % (this.capacityLines / this.ways) : 0;
  }

  /** Makes room in the line's set; a dirty victim is written back. */
  #makeRoom(idx: number): void {
    if (this.capacityLines === 0) return;
    const set = this.#set(idx);
    let inSet = 0;
    let victim = -1;
    for (const k of this.#lines.keys()) {
      if (this.#set(k) !== set) continue;
      if (victim < 0) victim = k;
      inSet++;
    }
    if (inSet < this.ways) return;
    this.#evict(victim);
  }

  #evict(idx: number): void {
    const line = this.#lines.get(idx)!;
    if (line.dirty) this.#writeBack(idx, line);
    this.#lines.delete(idx);
    this.#spare.push(line.data);
    this.stats.evictions++;
  }

  #writeBack(idx: number, line: Line): void {
    if (line.devWriteSeq > 0) {
      this.#hazard({
        kind: "lost-device-write",
        lineAddress: idx * this.lineSize,
        pa: idx * this.lineSize,
        len: this.lineSize,
        deviceWriteSeq: line.devWriteSeq,
        lineFillSeq: line.fillSeq,
        accessSeq: this.#seq,
        detail: `dirty line ${hex(idx * this.lineSize)} written back over data a device wrote (device write #${line.devWriteSeq})`,
      });
    }
    this.#mem.write(idx * this.lineSize, line.data, 0, this.lineSize);
    line.dirty = false;
    line.devWriteSeq = 0;
    this.stats.writebacks++;
  }

  #fill(idx: number, speculative: boolean): Line {
    this.#makeRoom(idx);
    const data = this.#spare.pop() ?? new Uint8Array(this.lineSize);
    this.#mem.readInto(idx * this.lineSize, data, 0, this.lineSize);
    const line: Line = { data, dirty: false, fillSeq: this.#seq++, devWriteSeq: 0 };
    this.#lines.set(idx, line);
    this.stats.fills++;
    if (speculative) this.stats.speculativeFills++;
    return line;
  }

  #lookup(idx: number): Line {
    let line = this.#lines.get(idx);
    if (line === undefined) {
      this.stats.misses++;
      line = this.#fill(idx, false);
    } else {
      this.stats.hits++;
      if (this.replacement === "lru" && this.capacityLines > 0) {
        this.#lines.delete(idx);
        this.#lines.set(idx, line);
      }
    }
    return line;
  }

  /** A CPU load through the cache (write-allocate, so a miss fills the line). */
  cpuReadInto(pa: number, dst: Uint8Array, dstOffset = 0, len = dst.length - dstOffset): void {
    const ls = this.lineSize;
    let done = 0;
    while (done < len) {
      const a = pa + done;
      const off = a % ls;
      const n = Math.min(len - done, ls - off);
      const idx = (a - off) / ls;
      const line = this.#lookup(idx);
      if (line.devWriteSeq > 0) {
        this.#hazard({
          kind: "stale-read",
          lineAddress: idx * ls,
          pa: a,
          len: n,
          deviceWriteSeq: line.devWriteSeq,
          lineFillSeq: line.fillSeq,
          accessSeq: this.#seq++,
          detail: `CPU read ${hex(a)}+${n} from a line filled at #${line.fillSeq}, older than device write #${line.devWriteSeq}`,
        });
      }
      dst.set(line.data.subarray(off, off + n), dstOffset + done);
      done += n;
    }
  }

  cpuRead(pa: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.cpuReadInto(pa, out, 0, len);
    return out;
  }

  /** A CPU store: the line becomes dirty; memory is updated only at write-back. */
  cpuWrite(pa: number, src: Uint8Array, srcOffset = 0, len = src.length - srcOffset): void {
    const ls = this.lineSize;
    let done = 0;
    while (done < len) {
      const a = pa + done;
      const off = a % ls;
      const n = Math.min(len - done, ls - off);
      const idx = (a - off) / ls;
      const line = this.#lookup(idx);
      line.data.set(src.subarray(srcOffset + done, srcOffset + done + n), off);
      line.dirty = true;
      done += n;
    }
    this.#seq++;
  }

  /** A load through an uncached alias: straight from memory. */
  cpuReadUncached(pa: number, dst: Uint8Array, dstOffset = 0, len = dst.length - dstOffset): void {
    this.#mem.readInto(pa, dst, dstOffset, len);
  }

  /** A store through an uncached alias: straight to memory. */
  cpuWriteUncached(pa: number, src: Uint8Array, srcOffset = 0, len = src.length - srcOffset): void {
    this.#mem.write(pa, src, srcOffset, len);
  }

  #range(pa: number, len: number, fn: (idx: number, line: Line) => void): number {
    if (len <= 0) return 0;
    const ls = this.lineSize;
    const first = Math.floor(pa / ls);
    const last = Math.floor((pa + len - 1) / ls);
    let touched = 0;
    if (last - first + 1 > this.#lines.size) {
      for (const [idx, line] of [...this.#lines]) {
        if (idx >= first && idx <= last) {
          fn(idx, line);
          touched++;
        }
      }
    } else {
      for (let idx = first; idx <= last; idx++) {
        const line = this.#lines.get(idx);
        if (line !== undefined) {
          fn(idx, line);
          touched++;
        }
      }
    }
    return touched;
  }

  #maint(op: MaintenanceOp, pa: number, len: number): void {
    for (const l of this.#maintListeners) l(op, pa, len);
  }

  /** Write back dirty lines covering [pa, pa+len); they stay valid. Returns the lines touched. */
  clean(pa: number, len: number): number {
    this.stats.cleanOps++;
    this.#maint("clean", pa, len);
    const n = this.#range(pa, len, (idx, line) => {
      if (line.dirty) this.#writeBack(idx, line);
    });
    this.stats.linesCleaned += n;
    return n;
  }

  /** Drop the lines covering [pa, pa+len) without writing them back: dirty data is lost. */
  invalidate(pa: number, len: number): number {
    this.stats.invalidateOps++;
    this.#maint("invalidate", pa, len);
    const n = this.#range(pa, len, (idx, line) => {
      this.#lines.delete(idx);
      this.#spare.push(line.data);
    });
    this.stats.linesInvalidated += n;
    return n;
  }

  /** Write back, then drop. */
  cleanInvalidate(pa: number, len: number): number {
    this.stats.cleanInvalidateOps++;
    this.#maint("clean+invalidate", pa, len);
    const n = this.#range(pa, len, (idx, line) => {
      if (line.dirty) this.#writeBack(idx, line);
      this.#lines.delete(idx);
      this.#spare.push(line.data);
    });
    this.stats.linesCleaned += n;
    this.stats.linesInvalidated += n;
    return n;
  }

  /** A device read: a coherent device is served dirty data by the cache; a non-coherent one reads memory. */
  deviceRead(
    pa: number,
    dst: Uint8Array,
    dstOffset = 0,
    len = dst.length - dstOffset,
    coherent = true,
  ): void {
    this.#mem.readInto(pa, dst, dstOffset, len);
    if (!coherent) return;
    this.#range(pa, len, (idx, line) => {
      if (!line.dirty) return;
      const ls = this.lineSize;
      const lineStart = idx * ls;
      const s = Math.max(pa, lineStart);
      const e = Math.min(pa + len, lineStart + ls);
      dst.set(line.data.subarray(s - lineStart, e - lineStart), dstOffset + (s - pa));
    });
  }

  /** A device write: memory is updated; a coherent device also updates cached copies, a non-coherent one leaves them stale. */
  deviceWrite(
    pa: number,
    src: Uint8Array,
    srcOffset = 0,
    len = src.length - srcOffset,
    coherent = true,
  ): void {
    const seq = this.#seq++;
    this.#range(pa, len, (idx, line) => {
      const ls = this.lineSize;
      const lineStart = idx * ls;
      const s = Math.max(pa, lineStart);
      const e = Math.min(pa + len, lineStart + ls);
      if (coherent)
        line.data.set(src.subarray(srcOffset + (s - pa), srcOffset + (e - pa)), s - lineStart);
      else line.devWriteSeq = seq;
    });
    this.#mem.write(pa, src, srcOffset, len);
  }

  /** Pull clean copies of the lines covering [pa, pa+len) in, as an out-of-order core may. */
  speculate(pa: number, len: number): number {
    const ls = this.lineSize;
    let n = 0;
    for (let idx = Math.floor(pa / ls); idx <= Math.floor((pa + len - 1) / ls); idx++) {
      if (!this.#lines.has(idx)) {
        this.#fill(idx, true);
        n++;
      }
    }
    return n;
  }

  /** With speculation on, pull each covered line in with probability `p`. */
  maybeSpeculate(pa: number, len: number, p = 0.5): number {
    if (!this.speculativeFill) return 0;
    const ls = this.lineSize;
    let n = 0;
    for (let idx = Math.floor(pa / ls); idx <= Math.floor((pa + len - 1) / ls); idx++) {
      if (!this.#lines.has(idx) && this.#random() < p) {
        this.#fill(idx, true);
        n++;
      }
    }
    return n;
  }

  isCached(pa: number): boolean {
    return this.#lines.has(Math.floor(pa / this.lineSize));
  }

  isDirty(pa: number): boolean {
    return this.#lines.get(Math.floor(pa / this.lineSize))?.dirty ?? false;
  }

  /** Write back and drop every line (teardown). */
  flushAll(): void {
    for (const [idx, line] of [...this.#lines]) {
      if (line.dirty) this.#writeBack(idx, line);
      this.#lines.delete(idx);
      this.#spare.push(line.data);
    }
  }

  /** The cached lines, for debugging. */
  snapshot(): Array<{ address: number; dirty: boolean; fillSeq: number; staleSince: number }> {
    return [...this.#lines].map(([idx, l]) => ({
      address: idx * this.lineSize,
      dirty: l.dirty,
      fillSeq: l.fillSeq,
      staleSince: l.devWriteSeq,
    }));
  }

  get cachedLines(): number {
    return this.#lines.size;
  }
}

function hex(v: number): string {
  return `0x${v.toString(16)}`;
}
