// CONFIG_DMA_API_DEBUG (kernel/dma/debug.c): a shadow record of every live
// mapping and allocation, checked at map, sync, unmap, free and driver unbind.
// DmaKernel owns one instance and calls it at the points mapping.c does; the
// reports go to the system log as "debug-report" events.
import {
  DMA_ATTR_DEBUGGING_IGNORE_CACHELINES,
  DMA_ATTR_MMIO,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  directionName,
  PAGE_SIZE,
} from "./constants.ts";
import type { Device } from "./device.ts";
import { dmaToPhys } from "./direct.ts";
import type { DmaAllocation, DmaPageAllocation } from "./dma_ops.ts";
import type { KernelContext } from "./kernel_context.ts";
import type { SystemLog } from "./log.ts";
import type { Scatterlist } from "./scatterlist.ts";

/** The entry types debug.c prints. Every single, page, phys and resource map is "phy" in the newest code. */
export type DmaDebugType = "single" | "scatter-gather" | "coherent" | "noncoherent" | "phy";

/** Whether dma_mapping_error() was called on a mapping. */
export type DmaDebugMapErr = "not-applicable" | "not-checked" | "checked";

const MAP_ERR_TEXT: Record<DmaDebugMapErr, string> = {
  "not-applicable": "dma map error check not applicable",
  "not-checked": "dma map error not checked",
  checked: "dma map error checked",
};

/** The files of debugfs dma-api/. */
export type DmaDebugFile =
  | "disabled"
  | "error_count"
  | "all_errors"
  | "num_errors"
  | "num_free_entries"
  | "min_free_entries"
  | "nr_total_entries"
  | "driver_filter"
  | "dump";

export const DMA_DEBUG_FILES: readonly DmaDebugFile[] = [
  "disabled",
  "error_count",
  "all_errors",
  "num_errors",
  "num_free_entries",
  "min_free_entries",
  "nr_total_entries",
  "driver_filter",
  "dump",
];

/** One bookkeeping entry as a test or the dump sees it. */
export interface DmaDebugEntryView {
  readonly device: string;
  readonly devAddr: number;
  readonly size: number;
  readonly type: DmaDebugType;
  readonly direction: number;
  readonly sgCallEnts: number;
  readonly sgMappedEnts: number;
  /** The CPU physical address. */
  readonly paddr: number;
  readonly mapErr: DmaDebugMapErr;
  readonly cacheClean: boolean;
  /** Up to 5 simulator call frames, innermost first. */
  readonly stack: readonly string[];
}

/** debugfs dma-api/: the knobs and counters, as camelCase properties and as files. */
export interface DmaDebugFs {
  readonly disabled: boolean;
  readonly errorCount: number;
  /** all_errors: non-zero prints every error. */
  allErrors: number;
  /** num_errors: how many more errors are printed (when all_errors is 0). */
  numErrors: number;
  readonly numFreeEntries: number;
  readonly minFreeEntries: number;
  readonly nrTotalEntries: number;
  /** driver_filter: only this driver's errors are printed ("" = all). */
  driverFilter: string;
  /** The dump file, one line per entry. */
  dump(): string[];
  /** Reads a file as text, as `cat` shows it. */
  read(file: DmaDebugFile): string;
  /** Writes a file as `echo` would. */
  write(file: DmaDebugFile, text: string): void;
}

/** What the debug module uses of its kernel (DmaKernel satisfies it). */
export interface DmaDebugHost extends KernelContext {
  getMaxSegSize(dev: Device): number;
  getSegBoundary(dev: Device): bigint;
  getCacheAlignment(): number;
}

const HASH_SIZE = 16384;
const HASH_FN_SHIFT = 13;
/** Entries per page the pool grows by: PAGE_SIZE / sizeof(struct dma_debug_entry), a 128-byte cache-aligned struct. */
const DYNAMIC_ENTRIES = PAGE_SIZE / 128;
/** The radix tree's three tag bits count the overlaps. */
const MAX_OVERLAP = 7;
const STACK_FRAMES = 5;
const NAME_MAX_LEN = 64;

interface Entry {
  dev: Device;
  devAddr: number;
  size: number;
  type: DmaDebugType;
  direction: number;
  sgCallEnts: number;
  sgMappedEnts: number;
  paddr: number;
  mapErr: DmaDebugMapErr;
  cacheClean: boolean;
  /** Captured at map time; formatted only when a report needs it. */
  trace: Error | null;
}

/** The reference an unmap or sync is compared against (one reused object: no allocation per call). */
interface Ref {
  dev: Device;
  devAddr: number;
  size: number;
  type: DmaDebugType;
  direction: number;
  sgCallEnts: number;
  paddr: number;
}

/** %016llx; the only negative value is DMA_MAPPING_ERROR, all ones in a dma_addr_t. */
const a16 = (v: number) => (v < 0 ? "0xffffffffffffffff" : `0x${v.toString(16).padStart(16, "0")}`);
const dirName = directionName;

function sameEntry(a: Ref, b: Entry): boolean {
  return a.dev === b.dev && a.devAddr === b.devAddr;
}

function contains(a: Ref, b: Entry): boolean {
  return a.dev === b.dev && b.devAddr <= a.devAddr && b.devAddr + b.size >= a.devAddr + a.size;
}

function u32(name: string, v: unknown): number {
  const n = typeof v === "boolean" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 2 ** 32 - 1)
    throw new RangeError(`${name} must be an integer from 0 to 2^32-1, got ${String(v)}`);
  return n;
}

/** The DMA-API debug state of one kernel. */
export class DmaDebug implements DmaDebugFs {
  readonly #host: DmaDebugHost;
  readonly #log: SystemLog;
  /** global_disable: set by dma_debug=off; nothing is checked or recorded then. */
  readonly #disabled: boolean;
  readonly #buckets: Array<Entry[] | undefined> = new Array(HASH_SIZE);
  readonly #spare: Entry[] = [];
  /** Active cache lines: the first L1 line of each non-TO_DEVICE entry, with its overlap count. */
  readonly #cachelines = new Map<number, { overlap: number; cacheClean: boolean }>();
  readonly #prealloc: number;
  readonly #l1Shift: number;
  #errorCount = 0;
  #allErrors = 0;
  #numErrors = 1;
  #driverFilter = "";
  #numFree: number;
  #minFree: number;
  #total: number;
  readonly #ref: Ref;

  constructor(host: DmaDebugHost) {
    this.#host = host;
    this.#log = host.log;
    const c = host.config;
    this.#disabled = c.dmaDebugOff;
    const n = c.dmaDebugEntries;
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 24)
      throw new RangeError(`dmaDebugEntries must be an integer from 1 to 2^24, got ${n}`);
    this.#prealloc = n;
    const l1 = c.l1CacheBytes;
    this.#l1Shift = Math.log2(l1);
    if (!Number.isInteger(this.#l1Shift))
      throw new RangeError(`l1CacheBytes must be a power of two, got ${l1}`);
    // A disabled debug never sets up its pool, so the counters read 0.
    this.#total = this.#disabled ? 0 : n;
    this.#numFree = this.#total;
    this.#minFree = this.#total;
    this.#ref = {
      dev: null as unknown as Device,
      devAddr: 0,
      size: 0,
      type: "phy",
      direction: 0,
      sgCallEnts: 0,
      paddr: 0,
    };
    if (this.#disabled)
      this.#log.notice("dma-debug-off", "DMA-API: debugging disabled on kernel command line");
    else {
      this.#log.notice("dma-debug-init", "DMA-API: debugging enabled by kernel config");
      if (c.dmaDebugDriver !== "") this.#setFilter(c.dmaDebugDriver, "dmaDebugDriver");
    }
  }

  // ---------------------------------------------------------------- debugfs

  get disabled(): boolean {
    return this.#disabled;
  }

  get errorCount(): number {
    return this.#errorCount;
  }

  get allErrors(): number {
    return this.#allErrors;
  }

  set allErrors(v: number) {
    this.#allErrors = u32("allErrors", v);
  }

  get numErrors(): number {
    return this.#numErrors;
  }

  set numErrors(v: number) {
    this.#numErrors = u32("numErrors", v);
  }

  get numFreeEntries(): number {
    return this.#numFree;
  }

  get minFreeEntries(): number {
    return this.#minFree;
  }

  get nrTotalEntries(): number {
    return this.#total;
  }

  get driverFilter(): string {
    return this.#driverFilter;
  }

  set driverFilter(name: string) {
    this.#setFilter(name, "driverFilter");
  }

  #setFilter(name: unknown, arg: string): void {
    if (typeof name !== "string" || name.length >= NAME_MAX_LEN || /\s/.test(name))
      throw new RangeError(
        `${arg} must be a driver name of at most ${NAME_MAX_LEN - 1} characters without spaces (or "" for none), got ${JSON.stringify(name)}`,
      );
    this.#driverFilter = name;
    if (name === "")
      this.#log.notice("dma-debug-filter", "DMA-API: switching off dma-debug driver filter");
    else this.#log.notice("dma-debug-filter", `DMA-API: enable driver filter for driver [${name}]`);
  }

  /** Live entries in hash order (bucket by bucket, oldest first in each). */
  entries(): DmaDebugEntryView[] {
    const out: DmaDebugEntryView[] = [];
    for (let i = 0; i < HASH_SIZE; i++) {
      const b = this.#buckets[i];
      if (b !== undefined) for (const e of b) out.push(this.#view(e));
    }
    return out;
  }

  #view(e: Entry): DmaDebugEntryView {
    return {
      device: e.dev.name,
      devAddr: e.devAddr,
      size: e.size,
      type: e.type,
      direction: e.direction,
      sgCallEnts: e.sgCallEnts,
      sgMappedEnts: e.sgMappedEnts,
      paddr: e.paddr,
      mapErr: e.mapErr,
      cacheClean: e.cacheClean,
      stack: frames(e.trace),
    };
  }

  dump(): string[] {
    const out: string[] = [];
    for (let i = 0; i < HASH_SIZE; i++) {
      const b = this.#buckets[i];
      if (b === undefined) continue;
      for (const e of b) {
        const cln = Math.floor(e.paddr / 2 ** this.#l1Shift);
        out.push(
          `${e.dev.name} ${driverString(e.dev)} ${e.type} idx ${i} P=${a16(e.paddr)} D=${e.devAddr.toString(16)} L=${e.size.toString(16)} cln=${a16(cln)} ${dirName(e.direction)} ${MAP_ERR_TEXT[e.mapErr]}`,
        );
      }
    }
    return out;
  }

  read(file: DmaDebugFile): string {
    switch (file) {
      case "disabled":
        return this.#disabled ? "Y\n" : "N\n";
      case "error_count":
        return `${this.#errorCount}\n`;
      case "all_errors":
        return `${this.#allErrors}\n`;
      case "num_errors":
        return `${this.#numErrors}\n`;
      case "num_free_entries":
        return `${this.#numFree}\n`;
      case "min_free_entries":
        return `${this.#minFree}\n`;
      case "nr_total_entries":
        return `${this.#total}\n`;
      case "driver_filter":
        return `${this.#driverFilter}\n`;
      case "dump":
        return this.dump()
          .map((l) => `${l}\n`)
          .join("");
      default:
        throw new RangeError(
          `debugfs dma-api: unknown file ${JSON.stringify(file)}; files: ${DMA_DEBUG_FILES.join(", ")}`,
        );
    }
  }

  write(file: DmaDebugFile, text: string): void {
    if (typeof text !== "string")
      throw new RangeError(`debugfs dma-api/${file}: text must be a string`);
    const t = text.trim();
    switch (file) {
      case "all_errors":
      case "num_errors": {
        if (!/^\d+$/.test(t))
          throw new RangeError(
            `debugfs dma-api/${file}: ${file} must be an integer from 0 to 2^32-1, got ${JSON.stringify(text)}`,
          );
        const v = u32(file, Number(t));
        if (file === "all_errors") this.#allErrors = v;
        else this.#numErrors = v;
        return;
      }
      case "driver_filter": {
        // The kernel keeps the first word; anything not starting alphanumerically switches the filter off.
        const word = /^[A-Za-z0-9]/.test(t) ? t.slice(0, NAME_MAX_LEN - 1).split(/\s/)[0]! : "";
        this.#setFilter(word, file);
        return;
      }
      default:
        if (DMA_DEBUG_FILES.includes(file))
          throw new RangeError(
            `debugfs dma-api/${file} is read-only (writable: all_errors, num_errors, driver_filter)`,
          );
        throw new RangeError(
          `debugfs dma-api: unknown file ${JSON.stringify(file)}; files: ${DMA_DEBUG_FILES.join(", ")}`,
        );
    }
  }

  // ---------------------------------------------------------------- reporting

  /** err_printk(): counts always; prints within the budget and the driver filter; filtered errors still spend the budget. */
  #err(code: string, dev: Device, entry: Entry | null, text: string): void {
    this.#errorCount++;
    const pass = this.#driverFilter === "" || dev.driverName === this.#driverFilter;
    if (pass && (this.#allErrors !== 0 || this.#numErrors > 0)) {
      let msg = `DMA-API: ${driverString(dev)} ${dev.name}: ${text}`;
      if (entry !== null) {
        const f = frames(entry.trace);
        msg += `\nMapped at:${f.length > 0 ? `\n ${f.join("\n ")}` : ""}`;
      }
      this.#log.debugReport(code, msg, dev.name);
    }
    if (this.#allErrors === 0 && this.#numErrors > 0) this.#numErrors--;
  }

  // ---------------------------------------------------------------- the pool and the hash

  #alloc(): Entry {
    let grew = false;
    if (this.#numFree === 0) {
      // The model's page allocator is not charged for debug entries, so growing cannot fail.
      this.#numFree += DYNAMIC_ENTRIES;
      this.#total += DYNAMIC_ENTRIES;
      grew = true;
    }
    this.#numFree--;
    if (this.#numFree < this.#minFree) this.#minFree = this.#numFree;
    if (grew && this.#total % this.#prealloc < DYNAMIC_ENTRIES) {
      this.#log.notice(
        "dma-debug-pool-grown",
        `DMA-API: dma_debug_entry pool grown to ${this.#total} (${Math.floor(this.#total / this.#prealloc)}00%)`,
      );
    }
    const e = this.#spare.pop();
    if (e !== undefined) return e;
    return {
      dev: null as unknown as Device,
      devAddr: 0,
      size: 0,
      type: "phy",
      direction: 0,
      sgCallEnts: 0,
      sgMappedEnts: 0,
      paddr: 0,
      mapErr: "not-applicable",
      cacheClean: false,
      trace: null,
    };
  }

  #fill(
    e: Entry,
    dev: Device,
    type: DmaDebugType,
    devAddr: number,
    size: number,
    dir: number,
    paddr: number,
  ): void {
    e.dev = dev;
    e.type = type;
    e.devAddr = devAddr;
    e.size = size;
    e.direction = dir;
    e.paddr = paddr;
    e.sgCallEnts = 0;
    e.sgMappedEnts = 0;
    e.mapErr = "not-applicable";
    e.cacheClean = false;
    e.trace = captureTrace();
  }

  #free(e: Entry): void {
    this.#cachelineRemove(e);
    e.dev = null as unknown as Device;
    e.trace = null;
    this.#spare.push(e);
    this.#numFree++;
  }

  #bucket(devAddr: number): number {
    return ((Math.floor(devAddr / 2 ** HASH_FN_SHIFT) % HASH_SIZE) + HASH_SIZE) % HASH_SIZE;
  }

  /** add_dma_entry(): hash it, then track its first cache line. */
  #add(e: Entry, attrs: number): void {
    const i = this.#bucket(e.devAddr);
    let b = this.#buckets[i];
    if (b === undefined) this.#buckets[i] = b = [];
    b.push(e);
    e.cacheClean = (attrs & DMA_ATTR_DEBUGGING_IGNORE_CACHELINES) !== 0;
    if (e.direction === DMA_TO_DEVICE) return; // the CPU cannot read stale data the device never wrote
    const cln = Math.floor(e.paddr / 2 ** this.#l1Shift);
    const line = this.#cachelines.get(cln);
    if (line === undefined) {
      this.#cachelines.set(cln, { overlap: 0, cacheClean: e.cacheClean });
      return;
    }
    // The counter saturates at 7; the eighth overlap only warns, once per boot.
    if (line.overlap < MAX_OVERLAP) line.overlap++;
    else if (!e.cacheClean)
      this.#log.warnOnce(
        "dma-debug-cacheline-overlap-limit",
        `DMA-API: exceeded ${MAX_OVERLAP} overlapping mappings of cacheline ${a16(cln)}`,
        e.dev.name,
      );
    const c = this.#host.config;
    if (
      (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0 &&
      !(e.cacheClean && line.cacheClean) &&
      this.#host.getCacheAlignment() >= c.l1CacheBytes &&
      !(c.dmaBounceUnalignedKmalloc && this.#host.swiotlbFor(e.dev) !== null)
    ) {
      this.#err(
        "dma-debug-cacheline-eexist",
        e.dev,
        e,
        "cacheline tracking EEXIST, overlapping mappings aren't supported",
      );
    }
  }

  #cachelineRemove(e: Entry): void {
    if (e.direction === DMA_TO_DEVICE) return;
    const cln = Math.floor(e.paddr / 2 ** this.#l1Shift);
    const line = this.#cachelines.get(cln);
    if (line === undefined) return;
    if (line.overlap === 0) this.#cachelines.delete(cln);
    else line.overlap--;
  }

  /** __hash_bucket_find(): the best fit by size, type, direction and sg count; several imperfect matches find nothing. */
  #find(bucket: Entry[] | undefined, ref: Ref, match: (a: Ref, b: Entry) => boolean): Entry | null {
    if (bucket === undefined) return null;
    let best: Entry | null = null;
    let matches = 0;
    let lastLvl = -1;
    for (let i = 0; i < bucket.length; i++) {
      const e = bucket[i]!;
      if (!match(ref, e)) continue;
      matches++;
      const lvl =
        (e.size === ref.size ? 1 : 0) +
        (e.type === ref.type ? 1 : 0) +
        (e.direction === ref.direction ? 1 : 0) +
        (e.sgCallEnts === ref.sgCallEnts ? 1 : 0);
      if (lvl === 4) return e;
      if (lvl > lastLvl) {
        lastLvl = lvl;
        best = e;
      }
    }
    return matches === 1 ? best : null;
  }

  /** bucket_find_contain(): the entry containing the range, walking back one bucket at a time. */
  #findContaining(ref: Ref): Entry | null {
    const start = Math.floor(ref.devAddr / 2 ** HASH_FN_SHIFT);
    const limit = Math.min(HASH_SIZE, start + 1);
    for (let k = 0; k < limit; k++) {
      const e = this.#find(this.#buckets[(start - k) % HASH_SIZE], ref, contains);
      if (e !== null) return e;
    }
    return null;
  }

  #setRef(
    dev: Device,
    type: DmaDebugType,
    devAddr: number,
    size: number,
    dir: number,
    sgCallEnts: number,
    paddr: number,
  ): Ref {
    const r = this.#ref;
    r.dev = dev;
    r.type = type;
    r.devAddr = devAddr;
    r.size = size;
    r.direction = dir;
    r.sgCallEnts = sgCallEnts;
    r.paddr = paddr;
    return r;
  }

  // ---------------------------------------------------------------- checks

  /** check_unmap(): every mismatch is reported, then the entry goes. */
  #checkUnmap(ref: Ref): void {
    const i = this.#bucket(ref.devAddr);
    const e = this.#find(this.#buckets[i], ref, sameEntry);
    const dev = ref.dev;
    if (e === null) {
      if (ref.devAddr === DMA_MAPPING_ERROR)
        this.#err(
          "dma-debug-unmap-invalid",
          dev,
          null,
          "device driver tries to free an invalid DMA memory address",
        );
      else
        this.#err(
          "dma-debug-unmap-not-allocated",
          dev,
          null,
          `device driver tries to free DMA memory it has not allocated [device address=${a16(ref.devAddr)}] [size=${ref.size} bytes]`,
        );
      return;
    }
    const at = `[device address=${a16(ref.devAddr)}] [size=${ref.size} bytes]`;
    if (ref.size !== e.size)
      this.#err(
        "dma-debug-unmap-size",
        dev,
        e,
        `device driver frees DMA memory with different size [device address=${a16(ref.devAddr)}] [map size=${e.size} bytes] [unmap size=${ref.size} bytes]`,
      );
    if (ref.type !== e.type)
      this.#err(
        "dma-debug-unmap-function",
        dev,
        e,
        `device driver frees DMA memory with wrong function ${at} [mapped as ${e.type}] [unmapped as ${ref.type}]`,
      );
    else if ((e.type === "coherent" || e.type === "noncoherent") && ref.paddr !== e.paddr)
      this.#err(
        "dma-debug-unmap-cpu-address",
        dev,
        e,
        `device driver frees DMA memory with different CPU address ${at} [cpu alloc address=${a16(e.paddr)}] [cpu free address=${a16(ref.paddr)}]`,
      );
    if (ref.sgCallEnts !== 0 && ref.type === "scatter-gather" && ref.sgCallEnts !== e.sgCallEnts)
      this.#err(
        "dma-debug-unmap-sg-count",
        dev,
        e,
        `device driver frees DMA sg list with different entry count [map count=${e.sgCallEnts}] [unmap count=${ref.sgCallEnts}]`,
      );
    if (ref.direction !== e.direction)
      this.#err(
        "dma-debug-unmap-direction",
        dev,
        e,
        `device driver frees DMA memory with different direction ${at} [mapped with ${dirName(e.direction)}] [unmapped with ${dirName(ref.direction)}]`,
      );
    if (e.mapErr === "not-checked")
      this.#err(
        "dma-debug-unmap-map-error",
        dev,
        e,
        `device driver failed to check map error ${at} [mapped as ${e.type}]`,
      );
    const b = this.#buckets[i]!;
    b.splice(b.indexOf(e), 1);
    this.#free(e);
  }

  /** check_sync(): the containing entry, then direction and sg count. */
  #checkSync(ref: Ref, toCpu: boolean): void {
    const dev = ref.dev;
    const e = this.#findContaining(ref);
    if (e === null) {
      this.#err(
        "dma-debug-sync-not-allocated",
        dev,
        null,
        `device driver tries to sync DMA memory it has not allocated [device address=${a16(ref.devAddr)}] [size=${ref.size} bytes]`,
      );
      return;
    }
    // Kept as the kernel has it, though a containing entry is never smaller than the sync.
    if (ref.size > e.size)
      this.#err(
        "dma-debug-sync-outside",
        dev,
        e,
        `device driver syncs DMA memory outside allocated range [device address=${a16(e.devAddr)}] [allocation size=${e.size} bytes] [sync offset+size=${ref.devAddr - e.devAddr + ref.size}]`,
      );
    if (e.direction !== DMA_BIDIRECTIONAL) {
      const at = `[device address=${a16(ref.devAddr)}] [size=${ref.size} bytes] [mapped with ${dirName(e.direction)}] [synced with ${dirName(ref.direction)}]`;
      if (ref.direction !== e.direction)
        this.#err(
          "dma-debug-sync-direction",
          dev,
          e,
          `device driver syncs DMA memory with different direction ${at}`,
        );
      if (toCpu && e.direction !== DMA_FROM_DEVICE && ref.direction !== DMA_TO_DEVICE)
        this.#err(
          "dma-debug-sync-read-only",
          dev,
          e,
          `device driver syncs device read-only DMA memory for cpu ${at}`,
        );
      if (!toCpu && e.direction !== DMA_TO_DEVICE && ref.direction !== DMA_FROM_DEVICE)
        this.#err(
          "dma-debug-sync-write-only",
          dev,
          e,
          `device driver syncs device write-only DMA memory to device ${at}`,
        );
    }
    if (ref.sgCallEnts !== 0 && ref.type === "scatter-gather" && ref.sgCallEnts !== e.sgCallEnts)
      this.#err(
        "dma-debug-sync-sg-count",
        dev,
        e,
        `device driver syncs DMA sg list with different entry count [map count=${e.sgCallEnts}] [sync count=${ref.sgCallEnts}]`,
      );
  }

  /** check_for_stack(): the page belongs to a (vmapped) kernel stack. */
  #checkStack(dev: Device, phys: number): void {
    const kas = this.#host.platform.kas;
    if (kas.stackAddressOf === undefined) return;
    const va = kas.stackAddressOf(phys);
    if (va >= 0)
      this.#err(
        "dma-debug-map-stack",
        dev,
        null,
        `device driver maps memory from stack [probable addr=0x${va.toString(16)}]`,
      );
  }

  /** check_for_illegal_area(): the range overlaps the kernel's text or rodata. */
  #checkIllegalArea(dev: Device, phys: number, len: number): void {
    const kas = this.#host.platform.kas;
    const img = kas.kernelImage;
    if (!img) return;
    const base = kas.translate(img.textStart);
    const end = base + (img.rodataEnd - img.textStart);
    if (phys < end && phys + len > base)
      this.#err(
        "dma-debug-map-text",
        dev,
        null,
        `device driver maps memory from kernel text or rodata [addr=0x${kas.physToVirt(phys).toString(16)}] [len=${len}]`,
      );
  }

  /** check_sg_segment(): the CPU length against max_seg_size, the DMA range against the boundary mask. */
  #checkSgSegment(dev: Device, s: Scatterlist): void {
    const max = this.#host.getMaxSegSize(dev);
    if (s.length > max)
      this.#err(
        "dma-debug-sg-max-seg",
        dev,
        null,
        `mapping sg segment longer than device claims to support [len=${s.length}] [max=${max}]`,
      );
    const boundary = this.#host.getSegBoundary(dev);
    if (boundary >= 2n ** 52n) return; // no simulated address reaches past it
    const span = Number(boundary) + 1;
    const start = s.dmaAddress;
    const end = start + s.dmaLength - 1;
    if (Math.floor(start / span) !== Math.floor(end / span))
      this.#err(
        "dma-debug-sg-boundary",
        dev,
        null,
        `mapping sg segment across boundary [start=${a16(start)}] [end=${a16(end)}] [boundary=${a16(Number(boundary))}]`,
      );
  }

  // ---------------------------------------------------------------- hooks (mapping.c's debug_dma_* calls)

  /** debug_dma_map_single(): the pointer must be a linear-map address. */
  mapSingle(dev: Device, cpuAddr: number, size: number): void {
    const region = this.#host.platform.kas.regionOf(cpuAddr);
    // Image addresses count as valid, as virt_addr_valid() has them on x86-64.
    if (region !== "linear" && region !== "text" && region !== "rodata")
      this.#err(
        "dma-debug-map-invalid-area",
        dev,
        null,
        `device driver maps memory from invalid area [addr=0x${cpuAddr.toString(16)}] [len=${size}]`,
      );
    if (region === "vmalloc")
      this.#err(
        "dma-debug-map-vmalloc",
        dev,
        null,
        `device driver maps memory from vmalloc area [addr=0x${cpuAddr.toString(16)}] [len=${size}]`,
      );
  }

  /** debug_dma_map_phys(): record a successful single, page, phys or resource map. */
  mapPhys(dev: Device, phys: number, size: number, dir: number, addr: number, attrs: number): void {
    if (addr === DMA_MAPPING_ERROR) return;
    const e = this.#alloc();
    this.#fill(e, dev, "phy", addr, size, dir, phys);
    e.mapErr = "not-checked";
    if ((attrs & DMA_ATTR_MMIO) === 0) {
      this.#checkStack(dev, phys);
      if (this.#host.platform.memory.isRam(phys)) this.#checkIllegalArea(dev, phys, size);
    } else if (this.#host.platform.memory.isRam(phys))
      this.#err(
        "dma-debug-map-resource-ram",
        dev,
        e,
        `dma_map_resource called for RAM address ${a16(phys)}`,
      );
    this.#add(e, attrs);
  }

  /** debug_dma_map_sg(): every passed entry is checked for stack and text; only the `ents` mapped ones are recorded. */
  mapSg(
    dev: Device,
    sgl: readonly Scatterlist[],
    nents: number,
    ents: number,
    dir: number,
    attrs: number,
  ): void {
    const mem = this.#host.platform.memory;
    for (let i = 0; i < nents; i++) {
      const s = sgl[i]!;
      this.#checkStack(dev, s.phys);
      if (mem.isRam(s.phys)) this.#checkIllegalArea(dev, s.phys, s.length);
    }
    for (let i = 0; i < ents; i++) {
      const s = sgl[i]!;
      const e = this.#alloc();
      this.#fill(e, dev, "scatter-gather", s.dmaAddress, s.dmaLength, dir, s.phys);
      e.sgCallEnts = nents;
      e.sgMappedEnts = ents;
      this.#checkSgSegment(dev, s);
      this.#add(e, attrs);
    }
  }

  /** The number of mapped entries of the list whose first entry `ref` names (0 when unknown). */
  #mappedEnts(ref: Ref): number {
    const e = this.#find(this.#buckets[this.#bucket(ref.devAddr)], ref, sameEntry);
    return e === null ? 0 : e.sgMappedEnts;
  }

  /** debug_dma_unmap_phys() */
  unmapPhys(dev: Device, addr: number, size: number, dir: number): void {
    this.#checkUnmap(this.#setRef(dev, "phy", addr, size, dir, 0, 0));
  }

  /** debug_dma_unmap_sg(): the first `mapped` entries, as recorded at map time. */
  unmapSg(dev: Device, sgl: readonly Scatterlist[], nents: number, dir: number): void {
    let mapped = 0;
    for (let i = 0; i < nents; i++) {
      const s = sgl[i]!;
      const ref = this.#setRef(
        dev,
        "scatter-gather",
        s.dmaAddress,
        s.dmaLength,
        dir,
        nents,
        s.phys,
      );
      if (i === 0) mapped = this.#mappedEnts(ref);
      if (i >= mapped) break;
      this.#checkUnmap(ref);
    }
  }

  /** debug_dma_sync_single_for_cpu / _for_device */
  syncSingle(dev: Device, addr: number, size: number, dir: number, toCpu: boolean): void {
    this.#checkSync(this.#setRef(dev, "phy", addr, size, dir, 0, 0), toCpu);
  }

  /** debug_dma_sync_sg_for_cpu / _for_device */
  syncSg(
    dev: Device,
    sgl: readonly Scatterlist[],
    nents: number,
    dir: number,
    toCpu: boolean,
  ): void {
    let mapped = 0;
    for (let i = 0; i < nents; i++) {
      const s = sgl[i]!;
      const ref = this.#setRef(
        dev,
        "scatter-gather",
        s.dmaAddress,
        s.dmaLength,
        dir,
        nents,
        s.phys,
      );
      if (i === 0) mapped = this.#mappedEnts(ref);
      if (i >= mapped) break;
      this.#checkSync(ref, toCpu);
    }
  }

  /** The physical address behind a coherent CPU address, or -1 for one debug does not track (a cookie, a bad pointer). */
  #cpuPhys(dev: Device, cpuAddr: number, handle: number): number {
    const kas = this.#host.platform.kas;
    const region = kas.regionOf(cpuAddr);
    if (region === "linear" || region === "vmalloc") return kas.translate(cpuAddr);
    // dma-direct's uncached remap is a vmalloc-area mapping of the allocation's pages.
    if (this.#host.isRemapped(cpuAddr)) return dmaToPhys(this.#host, dev, handle);
    return -1;
  }

  /** debug_dma_alloc_coherent(): linear-map and vmalloc CPU addresses only. */
  allocCoherent(dev: Device, size: number, a: DmaAllocation | null, attrs: number): void {
    if (a === null) return;
    const pa = this.#cpuPhys(dev, a.cpuAddr, a.handle);
    if (pa < 0) return;
    const e = this.#alloc();
    this.#fill(e, dev, "coherent", a.handle, size, DMA_BIDIRECTIONAL, pa);
    this.#add(e, attrs);
  }

  /** debug_dma_free_coherent() */
  freeCoherent(dev: Device, size: number, cpuAddr: number, handle: number): void {
    const pa = this.#cpuPhys(dev, cpuAddr, handle);
    if (pa < 0) return;
    this.#checkUnmap(this.#setRef(dev, "coherent", handle, size, DMA_BIDIRECTIONAL, 0, pa));
  }

  /** debug_dma_alloc_pages() */
  allocPages(dev: Device, size: number, dir: number, p: DmaPageAllocation | null): void {
    if (p === null) return;
    const e = this.#alloc();
    this.#fill(e, dev, "noncoherent", p.handle, size, dir, p.pagePhys);
    this.#add(e, 0);
  }

  /** debug_dma_free_pages() */
  freePages(dev: Device, size: number, pagePhys: number, handle: number, dir: number): void {
    this.#checkUnmap(this.#setRef(dev, "noncoherent", handle, size, dir, 0, pagePhys));
  }

  /** debug_dma_mapping_error(): the first unchecked exact match becomes checked. */
  mappingError(dev: Device, addr: number): void {
    const b = this.#buckets[this.#bucket(addr)];
    if (b === undefined) return;
    for (const e of b) {
      if (e.dev === dev && e.devAddr === addr && e.mapErr === "not-checked") {
        e.mapErr = "checked";
        return;
      }
    }
  }

  /** The BUS_NOTIFY_UNBOUND_DRIVER notifier: anything left for the device is a leak. */
  unbind(dev: Device): void {
    let count = 0;
    let last: Entry | null = null;
    for (let i = 0; i < HASH_SIZE; i++) {
      const b = this.#buckets[i];
      if (b === undefined) continue;
      for (const e of b)
        if (e.dev === dev) {
          count++;
          last = e;
        }
    }
    if (last === null) return;
    this.#err(
      "dma-debug-unbind-pending",
      dev,
      last,
      `device driver has pending DMA allocations while released from device [count=${count}]\nOne of leaked entries details: [device address=${a16(last.devAddr)}] [size=${last.size} bytes] [mapped with ${dirName(last.direction)}] [mapped as ${last.type}]`,
    );
  }
}

/** dev_driver_string(): the bound driver, else the bus. */
function driverString(dev: Device): string {
  return dev.driverName ?? (dev.pci ? "pci" : "platform");
}

/** A cheap capture: V8 formats the frames only if a report reads them. */
function captureTrace(): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 9;
  const e = new Error("mapped at");
  Error.stackTraceLimit = limit;
  return e;
}

/** The simulator call names of a captured trace, innermost first, without the debug module's own frames. */
function frames(trace: Error | null): string[] {
  if (trace === null || typeof trace.stack !== "string") return [];
  const out: string[] = [];
  for (const line of trace.stack.split("\n")) {
    const m = /^\s*at (?:async )?(\S+) \(/.exec(line);
    if (m === null) continue;
    const name = m[1]!;
    if (name.startsWith("DmaDebug.") || name === "captureTrace") continue;
    out.push(name);
    if (out.length === STACK_FRAMES) break;
  }
  return out;
}
