// A device's DMA engine. It emits bus addresses truncated to the device's own
// address width (QEMU's edu ANDs each address it emits with its dma_mask
// property), the IOMMU covering the device translates them page by page, and
// the bytes then move to or from RAM, snooping the CPU cache when the device
// is coherent. Every page is translated and checked before any byte moves, so
// a fault (recorded by the IOMMU unit) or a bus error never half-completes a
// transaction and never throws.
import type { CpuCache } from "@dmasim/cache";
import type { FaultRecord, IommuUnit, TranslateResult } from "@dmasim/iommu";
import type { PhysicalMemory } from "@dmasim/memory";

/** Observes every device access that reached memory (one call per physically contiguous piece). */
export type DmaAccessListener = (
  device: string,
  kind: "read" | "write",
  bus: number,
  pa: number,
  len: number,
) => void;

export interface DmaEngineStats {
  bytesRead: number;
  bytesWritten: number;
  /** Transactions attempted (successful or not). */
  transactions: number;
  /** Transactions the IOMMU refused. */
  faults: number;
  /** Transactions that reached no RAM (unassigned address). */
  errors: number;
}

export interface DmaEngineOptions {
  /** dev_name() of the device. */
  device: string;
  /** Requester id / stream id the IOMMU knows it by. */
  iommuId: string;
  /** Snoops the CPU cache. */
  coherent: boolean;
  /** The device's own address width, 1..64. */
  addressBits: number;
  memory: PhysicalMemory;
  cache: CpuCache;
  /** The unit translating for it, or null for a device addressing RAM directly. */
  iommu: IommuUnit | null;
}

const TWO_64 = 2 ** 64;

export class DmaEngine {
  readonly device: string;
  readonly iommuId: string;
  readonly coherent: boolean;
  readonly addressBits: number;
  readonly stats: DmaEngineStats = {
    bytesRead: 0,
    bytesWritten: 0,
    transactions: 0,
    faults: 0,
    errors: 0,
  };
  /** The IOMMU's record of the last refused transaction. */
  lastFault: FaultRecord | null = null;
  /** Why the last failed non-IOMMU transaction failed (an unassigned access). */
  lastError: string | null = null;
  readonly #mem: PhysicalMemory;
  readonly #cache: CpuCache;
  readonly #iommu: IommuUnit | null;
  readonly #tr: TranslateResult = { pa: 0, pageSize: 0, prot: 0, fault: null };
  // Resolved pieces of the current transaction; they grow (rarely) and are reused.
  #segBus = new Float64Array(16);
  #segPa = new Float64Array(16);
  #segLen = new Float64Array(16);
  readonly #listeners: DmaAccessListener[] = [];
  /** 2^addressBits, or 0 for a 64-bit device (nothing to truncate). */
  readonly #modulus: number;

  constructor(options: DmaEngineOptions) {
    if (options === null || typeof options !== "object")
      throw new TypeError(`new DmaEngine: options must be an object, got ${String(options)}`);
    if (
      typeof options.memory?.isRam !== "function" ||
      typeof options.cache?.deviceRead !== "function" ||
      (options.iommu !== null && typeof options.iommu?.translate !== "function")
    )
      throw new TypeError(
        "new DmaEngine: options.memory must be a PhysicalMemory, options.cache a CpuCache and options.iommu an IommuUnit or null",
      );
    if (typeof options.coherent !== "boolean")
      throw new TypeError(
        `new DmaEngine: options.coherent must be true or false, got ${String(options.coherent)}`,
      );
    const bits = options.addressBits;
    if (!Number.isInteger(bits) || bits < 1 || bits > 64)
      throw new RangeError(`DmaEngine: addressBits must be an integer 1..64, got ${bits}`);
    this.device = options.device;
    this.iommuId = options.iommuId;
    this.coherent = options.coherent;
    this.addressBits = bits;
    this.#mem = options.memory;
    this.#cache = options.cache;
    this.#iommu = options.iommu;
    this.#modulus = bits >= 64 ? 0 : 2 ** bits;
  }

  /** The IOMMU unit in front of this device, or null. */
  get iommu(): IommuUnit | null {
    return this.#iommu;
  }

  /** Calls `fn` for every piece of every successful device access; returns an unsubscribe function. */
  onAccess(fn: DmaAccessListener): () => void {
    if (typeof fn !== "function") throw new TypeError("onAccess: listener must be a function");
    this.#listeners.push(fn);
    return () => {
      const i = this.#listeners.indexOf(fn);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  /** Emitted address: the device's address lines keep only the low addressBits. */
  #emit(bus: number): number {
    // fmod is exact on doubles, so this is `bus & mask` without 32-bit bitwise ops.
    return this.#modulus === 0 ? bus : bus % this.#modulus;
  }

  #grow(): void {
    const n = this.#segPa.length * 2;
    const b = new Float64Array(n);
    const p = new Float64Array(n);
    const l = new Float64Array(n);
    b.set(this.#segBus);
    p.set(this.#segPa);
    l.set(this.#segLen);
    this.#segBus = b;
    this.#segPa = p;
    this.#segLen = l;
  }

  /**
   * Resolves [bus, bus+len) to physically contiguous pieces: the number of
   * pieces, or -1 after recording a fault or a bus error.
   */
  #resolve(bus: number, len: number, isWrite: boolean): number {
    const iommu = this.#iommu;
    let n = 0;
    let done = 0;
    while (done < len) {
      const a = bus + done;
      let pa: number;
      let span: number;
      if (iommu !== null) {
        const tr = this.#tr;
        if (!iommu.translate(this.iommuId, a, isWrite, tr)) {
          this.lastFault = tr.fault;
          this.stats.faults++;
          return -1;
        }
        pa = tr.pa;
        // The translation holds to the end of its IOMMU page.
        span = Math.min(len - done, tr.pageSize - (a % tr.pageSize));
      } else {
        pa = a;
        span = len - done;
      }
      if (!this.#mem.isRam(pa, span)) {
        this.lastError = `${this.device}: DMA ${isWrite ? "write" : "read"} of ${hex(pa)}+${span} reaches no RAM (unassigned access)`;
        this.stats.errors++;
        return -1;
      }
      if (n > 0 && this.#segPa[n - 1]! + this.#segLen[n - 1]! === pa) this.#segLen[n - 1]! += span;
      else {
        if (n === this.#segPa.length) this.#grow();
        this.#segBus[n] = a;
        this.#segPa[n] = pa;
        this.#segLen[n] = span;
        n++;
      }
      done += span;
    }
    return n;
  }

  #checkArgs(what: string, bus: number, buf: Uint8Array, off: number, len: number): void {
    if (!(buf instanceof Uint8Array)) throw new TypeError(`${what}: buffer must be a Uint8Array`);
    if (!Number.isInteger(bus) || bus < 0 || bus >= TWO_64)
      throw new RangeError(`${what}: bus must be an integer address in [0, 2^64), got ${bus}`);
    if (!Number.isInteger(off) || off < 0 || !Number.isInteger(len) || len < 0)
      throw new RangeError(
        `${what}: offset and len must be non-negative integers, got ${off}, ${len}`,
      );
    if (off + len > buf.length)
      throw new RangeError(
        `${what}: offset ${off} + len ${len} exceeds the buffer's ${buf.length} bytes`,
      );
  }

  /** The device reads [bus, bus+len) into dst. False (nothing read) on a fault or bus error. */
  read(bus: number, dst: Uint8Array, dstOffset = 0, len = (dst?.length ?? 0) - dstOffset): boolean {
    this.#checkArgs("DmaEngine.read", bus, dst, dstOffset, len);
    this.stats.transactions++;
    const start = this.#emit(bus);
    const n = this.#resolve(start, len, false);
    if (n < 0) return false;
    let off = dstOffset;
    const notify = this.#listeners.length > 0;
    for (let i = 0; i < n; i++) {
      const l = this.#segLen[i]!;
      this.#cache.deviceRead(this.#segPa[i]!, dst, off, l, this.coherent);
      off += l;
    }
    if (notify) this.#notify("read", n);
    this.stats.bytesRead += len;
    return true;
  }

  /** The device writes src to [bus, bus+len). False (memory untouched) on a fault or bus error. */
  write(
    bus: number,
    src: Uint8Array,
    srcOffset = 0,
    len = (src?.length ?? 0) - srcOffset,
  ): boolean {
    this.#checkArgs("DmaEngine.write", bus, src, srcOffset, len);
    this.stats.transactions++;
    const start = this.#emit(bus);
    const n = this.#resolve(start, len, true);
    if (n < 0) return false;
    let off = srcOffset;
    for (let i = 0; i < n; i++) {
      const l = this.#segLen[i]!;
      this.#cache.deviceWrite(this.#segPa[i]!, src, off, l, this.coherent);
      off += l;
    }
    if (this.#listeners.length > 0) this.#notify("write", n);
    this.stats.bytesWritten += len;
    return true;
  }

  #notify(kind: "read" | "write", n: number): void {
    // Copy first: a listener may unsubscribe while being called.
    const ls = this.#listeners.slice();
    for (let i = 0; i < n; i++) {
      const b = this.#segBus[i]!;
      const p = this.#segPa[i]!;
      const l = this.#segLen[i]!;
      for (const f of ls) f(this.device, kind, b, p, l);
    }
  }

  /** Convenience: the bytes the device reads, or null on a fault or bus error. */
  readBytes(bus: number, len: number): Uint8Array | null {
    if (!Number.isInteger(len) || len < 0 || len > 2 ** 30)
      throw new RangeError(
        `readBytes: len must be an integer from 0 to 2^30 (one buffer), got ${len}`,
      );
    const out = new Uint8Array(len);
    return this.read(bus, out, 0, len) ? out : null;
  }
}

function hex(v: number): string {
  return `0x${v.toString(16)}`;
}
