// A device's DMA engine: it emits bus addresses (truncated to the device's own
// address width, as QEMU's edu ANDs them with its dma_mask property), which
// the IOMMU translates when one is attached, and reads or writes memory,
// snooping the CPU cache when the device is coherent. A fault never throws
// and never touches memory.
import type { CpuCache } from "@dmasim/cache";
import type { FaultRecord, IommuUnit, TranslateResult } from "@dmasim/iommu";
import type { PhysicalMemory } from "@dmasim/memory";

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
  transactions: number;
  faults: number;
  errors: number;
}

const SEG_MAX = 64;

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
  lastFault: FaultRecord | null = null;
  lastError: string | null = null;
  readonly #mem: PhysicalMemory;
  readonly #cache: CpuCache;
  readonly #iommu: IommuUnit | null;
  readonly #tr: TranslateResult = { pa: 0, pageSize: 0, prot: 0, fault: null };
  readonly #segPa = new Float64Array(SEG_MAX);
  readonly #segLen = new Float64Array(SEG_MAX);
  readonly #listeners: DmaAccessListener[] = [];
  readonly #modulus: number;

  constructor(
    device: string,
    iommuId: string,
    coherent: boolean,
    addressBits: number,
    memory: PhysicalMemory,
    cache: CpuCache,
    iommu: IommuUnit | null,
  ) {
    this.device = device;
    this.iommuId = iommuId;
    this.coherent = coherent;
    this.addressBits = addressBits;
    this.#mem = memory;
    this.#cache = cache;
    this.#iommu = iommu;
    this.#modulus = addressBits >= 52 ? 0 : 2 ** addressBits;
  }

  /** Calls `fn` for every successful device access (an ownership checker observes with it). */
  onAccess(fn: DmaAccessListener): () => void {
    this.#listeners.push(fn);
    return () => this.#listeners.splice(this.#listeners.indexOf(fn), 1);
  }

  /** Resolves [bus, bus+len) to physical segments; false on a fault or a bus error. */
  #resolve(bus: number, len: number, isWrite: boolean): number {
    if (this.#modulus !== 0) bus %= this.#modulus;
    let n = 0;
    let done = 0;
    while (done < len) {
      const a = bus + done;
      let pa: number;
      let span: number;
      if (this.#iommu !== null) {
        if (!this.#iommu.translate(this.iommuId, a, isWrite, this.#tr)) {
          this.lastFault = this.#tr.fault;
          this.stats.faults++;
          return -1;
        }
        pa = this.#tr.pa;
        span = Math.min(len - done, this.#tr.pageSize - (a % this.#tr.pageSize));
      } else {
        pa = a;
        span = len - done;
      }
      if (!this.#mem.isRam(pa, span)) {
        this.lastError = `${this.device}: ${isWrite ? "write" : "read"} of ${hex(pa)}+${span} hits no RAM (unassigned access)`;
        this.stats.errors++;
        return -1;
      }
      if (n > 0 && this.#segPa[n - 1]! + this.#segLen[n - 1]! === pa) this.#segLen[n - 1]! += span;
      else {
        if (n === SEG_MAX) return this.#resolveSlow();
        this.#segPa[n] = pa;
        this.#segLen[n] = span;
        n++;
      }
      done += span;
    }
    return n;
  }

  #resolveSlow(): number {
    this.lastError = `${this.device}: transfer spans more than ${SEG_MAX} discontiguous pages`;
    this.stats.errors++;
    return -1;
  }

  /** The device reads [bus, bus+len) into dst. */
  read(bus: number, dst: Uint8Array, dstOffset = 0, len = dst.length - dstOffset): boolean {
    this.stats.transactions++;
    const n = this.#resolve(bus, len, false);
    if (n < 0) return false;
    let off = dstOffset;
    for (let i = 0; i < n; i++) {
      const l = this.#segLen[i]!;
      this.#cache.deviceRead(this.#segPa[i]!, dst, off, l, this.coherent);
      if (this.#listeners.length)
        for (const f of this.#listeners) f(this.device, "read", bus, this.#segPa[i]!, l);
      off += l;
    }
    this.stats.bytesRead += len;
    return true;
  }

  /** The device writes src to [bus, bus+len). */
  write(bus: number, src: Uint8Array, srcOffset = 0, len = src.length - srcOffset): boolean {
    this.stats.transactions++;
    const n = this.#resolve(bus, len, true);
    if (n < 0) return false;
    let off = srcOffset;
    for (let i = 0; i < n; i++) {
      const l = this.#segLen[i]!;
      this.#cache.deviceWrite(this.#segPa[i]!, src, off, l, this.coherent);
      if (this.#listeners.length)
        for (const f of this.#listeners) f(this.device, "write", bus, this.#segPa[i]!, l);
      off += l;
    }
    this.stats.bytesWritten += len;
    return true;
  }

  /** Convenience: the bytes read, or null on a fault. */
  readBytes(bus: number, len: number): Uint8Array | null {
    const out = new Uint8Array(len);
    return this.read(bus, out, 0, len) ? out : null;
  }
}

function hex(v: number): string {
  return `0x${v.toString(16)}`;
}
