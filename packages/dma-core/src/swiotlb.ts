// swiotlb, the software bounce buffer (kernel/dma/swiotlb.c, 6.12): pools of
// 2 KiB slots in 128-slot segments, split into areas; a next-fit slot search
// with the kernel's alignment rules; copies that go through the CPU cache;
// and the release that merges free runs back.
import {
  DMA_ATTR_NO_WARN,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  hex,
  validDirection,
} from "./constants.ts";
import { KernelBug } from "./errors.ts";

export const IO_TLB_SHIFT = 11;
export const IO_TLB_SIZE = 1 << IO_TLB_SHIFT;
export const IO_TLB_SEGSIZE = 128;
export const IO_TLB_DEFAULT_SIZE = 64 * 1024 * 1024;
export const IO_TLB_MIN_SLABS = (1024 * 1024) >> IO_TLB_SHIFT;
const PAGE_SIZE = 4096;
const INVALID = -1;
/** The descending values (WALK_TAIL down to 1) kept after a pool's list for walk-backs to copy. */
const WALK_TAIL = 2 * IO_TLB_SEGSIZE;
/** Shorter walk-backs are cheaper as a loop than as a copyWithin call. */
const WALK_COPY_MIN = 16;

/** x % m for an integer 0 <= x < 2^52, without V8's slow floating-point `%` when m is a positive integer. */
function umod(x: number, m: number): number {
  if (!(Number.isInteger(m) && m > 0)) return x % m;
  const r = x - Math.floor(x / m) * m;
  return r < 0 ? r + m : r >= m ? r - m : r;
}

/** CPU-side byte access by physical address (the CPU cache model). */
export interface CpuAccess {
  cpuReadInto(pa: number, dst: Uint8Array, dstOffset?: number, len?: number): void;
  cpuWrite(pa: number, src: Uint8Array, srcOffset?: number, len?: number): void;
  /** When present: exactly cpuReadInto(srcPa) into a buffer then cpuWrite(dstPa) of it, minus the buffer. */
  cpuCopy?(dstPa: number, srcPa: number, len: number): void;
}

/** What swiotlb needs to know of the device it bounces for. */
export interface SwiotlbDevice {
  name: string;
  minAlignMask: number;
  /** dma_get_seg_boundary() as a number (2^52 - 1 stands for ULONG_MAX). */
  segBoundaryMask: number;
  /** min_not_zero(*dma_mask, bus_dma_limit) as a number: where a transient pool must lie (0 = no limit). */
  dmaLimit?: number;
}

export interface SwiotlbLog {
  warn(code: string, message: string, device?: string, once?: boolean, ratelimited?: boolean): void;
  info(code: string, message: string): void;
}

export interface SwiotlbParam {
  nslabs?: number;
  nareas?: number;
  force?: boolean;
  noforce?: boolean;
}

/** Parses `swiotlb=<slots>[,<areas>][,force|noforce]`. */
export function parseSwiotlbParam(text: string): SwiotlbParam {
  const out: SwiotlbParam = {};
  const parts = text.split(",");
  let i = 0;
  if (parts[i] !== undefined && /^\d+$/.test(parts[i]!)) {
    const n = Number(parts[i++]);
    if (n <= 0) throw new RangeError("swiotlb=: the slot count must be positive");
    out.nslabs = Math.ceil(n / IO_TLB_SEGSIZE) * IO_TLB_SEGSIZE;
    if (parts[i] !== undefined && /^\d+$/.test(parts[i]!)) {
      const a = Number(parts[i++]);
      if (a <= 0) throw new RangeError("swiotlb=: the area count must be positive");
      out.nareas = 2 ** Math.ceil(Math.log2(a));
    }
  }
  if (parts[i] === "force") {
    out.force = true;
    i++;
  } else if (parts[i] === "noforce") {
    out.noforce = true;
    i++;
  }
  if (i !== parts.length) {
    throw new RangeError(`swiotlb=${text}: expected <slots>[,<areas>][,force|noforce]`);
  }
  return out;
}

function roundUpPow2(n: number): number {
  return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n));
}

/**
 * The default pool geometry for a boot: 64 MiB, or swiotlb=; areas = possible
 * CPUs rounded up to a power of two, never smaller than one segment each
 * (a default-sized pool grows to fit them, a given size cuts the areas).
 */
export function swiotlbDefaultGeometry(opts: { possibleCpus: number; param?: string }): {
  nslabs: number;
  nareas: number;
  logLines: string[];
} {
  const p = opts.param ? parseSwiotlbParam(opts.param) : {};
  const logLines: string[] = [];
  let nslabs = p.nslabs ?? IO_TLB_DEFAULT_SIZE >> IO_TLB_SHIFT;
  let nareas = p.nareas ?? roundUpPow2(Math.max(1, opts.possibleCpus));
  if (p.nslabs === undefined) {
    // round_up_default_nslabs(): a default pool grows so every area gets a whole segment.
    if (nslabs < IO_TLB_SEGSIZE * nareas) {
      nslabs = roundUpPow2(IO_TLB_SEGSIZE * nareas);
      logLines.push(`SWIOTLB bounce buffer size roundup to ${(nslabs << IO_TLB_SHIFT) >> 20}MB`);
    }
  } else if (p.nareas === undefined && nslabs < IO_TLB_SEGSIZE * nareas) {
    // setup_io_tlb_npages() with a size but no area count: round the slots up for the areas.
    nslabs = roundUpPow2(IO_TLB_SEGSIZE * nareas);
  }
  // swiotlb_adjust_nareas / limit_nareas: an area holds at least one segment.
  while (nareas > 1 && nslabs / nareas < IO_TLB_SEGSIZE) nareas /= 2;
  logLines.unshift(`software IO TLB: area num ${nareas}.`);
  return { nslabs, nareas, logLines };
}

interface Area {
  index: number;
  used: number;
}

export interface SwiotlbStats {
  nslabs: number;
  used: number;
  hiwater: number;
  transientNslabs: number;
  areas: Array<{ index: number; used: number }>;
}

/**
 * CONFIG_SWIOTLB_DYNAMIC (mem->can_grow): memory for a transient pool, the
 * pool a request gets when every slot of every pool is taken. The pages come
 * without sleeping and below the device's DMA limit, or not at all.
 */
export interface SwiotlbGrow {
  /** The physical address of `bytes` bytes (page-aligned) at or below `limit`, or null. */
  allocPool(bytes: number, limit: number): number | null;
  freePool(pa: number, bytes: number): void;
}

export interface SwiotlbMemOptions {
  start: number;
  nslabs: number;
  nareas?: number;
  force?: boolean;
  cpu: CpuAccess;
  log: SwiotlbLog;
  /** Dynamic swiotlb: transient pools for requests the pools cannot hold. */
  grow?: SwiotlbGrow;
}

/** One io_tlb_pool with its slot array. */
class Pool {
  readonly start: number;
  readonly end: number;
  readonly nslabs: number;
  readonly nareas: number;
  readonly areaNslabs: number;
  readonly list: Int32Array;
  /** list followed by WALK_TAIL, WALK_TAIL - 1, ..., 1 (list is its first nslabs entries). */
  readonly listAll: Int32Array;
  /** Per segment, how many list entries are 0: none before a slot means a walk-back needs no search. */
  readonly zeros: Int32Array;
  readonly origAddr: Float64Array;
  readonly allocSize: Float64Array;
  readonly padSlots: Uint16Array;
  readonly areas: Area[];
  /** A dynamic swiotlb pool made for one request, deleted at its unmap. */
  readonly transient: boolean;
  /** The bytes of memory the pool occupies (whole pages). */
  readonly bytes: number;

  constructor(start: number, nslabs: number, nareas: number, transient = false) {
    this.start = start;
    this.transient = transient;
    this.bytes = Math.ceil((nslabs * IO_TLB_SIZE) / PAGE_SIZE) * PAGE_SIZE;
    this.nslabs = nslabs;
    this.end = start + nslabs * IO_TLB_SIZE;
    this.nareas = nareas;
    this.areaNslabs = nslabs / nareas;
    this.listAll = new Int32Array(nslabs + WALK_TAIL);
    this.list = this.listAll.subarray(0, nslabs);
    for (let t = 0; t < WALK_TAIL; t++) this.listAll[nslabs + t] = WALK_TAIL - t;
    this.zeros = new Int32Array(Math.ceil(nslabs / IO_TLB_SEGSIZE));
    this.origAddr = new Float64Array(nslabs).fill(INVALID);
    this.allocSize = new Float64Array(nslabs);
    this.padSlots = new Uint16Array(nslabs);
    // A free run never passes the end of its slot set, nor the end of a (short, transient) pool.
    for (let i = 0; i < nslabs; i++)
      this.list[i] = Math.min(IO_TLB_SEGSIZE - (i % IO_TLB_SEGSIZE), nslabs - i);
    this.areas = Array.from({ length: nareas }, () => ({ index: 0, used: 0 }));
  }
}

/**
 * The free slots before slot s, back to its segment's start or a slot in use, count up from
 * count + 1 (the slot just before s) as the run from s grows. `clear`: the caller knows no slot
 * before s in the segment is in use, so the values are one descending copy from the list's tail.
 */
function walkBack(pool: Pool, s: number, count: number, clear: boolean): void {
  const list = pool.list;
  const segStart = s - (s % IO_TLB_SEGSIZE);
  const len = s - segStart;
  if (clear && len >= WALK_COPY_MIN && count + len <= WALK_TAIL) {
    const end = pool.nslabs + WALK_TAIL - count;
    pool.listAll.copyWithin(segStart, end - len, end);
    return;
  }
  for (let i = s - 1; i >= segStart && list[i] !== 0; i--) list[i] = ++count;
}

/** An io_tlb_mem: the default pool (and, with dynamic swiotlb, transient ones). */
export class SwiotlbMem {
  readonly force: boolean;
  readonly #pool: Pool;
  readonly #cpu: CpuAccess;
  readonly #log: SwiotlbLog;
  readonly #grow: SwiotlbGrow | null;
  /** The transient pools alive now (the kernel's per-device dma_io_tlb_pools list). */
  readonly #transient: Pool[] = [];
  #transientNslabs = 0;
  #used = 0;
  #hiwater = 0;
  readonly #buf = new Uint8Array(IO_TLB_SEGSIZE * IO_TLB_SIZE);
  readonly #pageBuf = new Uint8Array(PAGE_SIZE);

  constructor(options: SwiotlbMemOptions) {
    const { start, nslabs } = options;
    const nareas = options.nareas ?? 1;
    if (!Number.isInteger(start) || start < 0 || start % PAGE_SIZE !== 0)
      throw new RangeError(`swiotlb start must be page-aligned, got ${start}`);
    if (!Number.isInteger(nslabs) || nslabs < IO_TLB_SEGSIZE || nslabs % IO_TLB_SEGSIZE !== 0) {
      throw new RangeError(
        `swiotlb nslabs must be a positive multiple of ${IO_TLB_SEGSIZE}, got ${nslabs}`,
      );
    }
    if (
      !Number.isInteger(nareas) ||
      nareas < 1 ||
      (nareas & (nareas - 1)) !== 0 ||
      nslabs / nareas < IO_TLB_SEGSIZE
    ) {
      throw new RangeError(
        `swiotlb nareas must be a power of two with at least ${IO_TLB_SEGSIZE} slots per area, got ${nareas}`,
      );
    }
    this.#pool = new Pool(start, nslabs, nareas);
    this.force = options.force ?? false;
    this.#cpu = options.cpu;
    this.#log = options.log;
    this.#grow = options.grow ?? null;
    const mb = (nslabs * IO_TLB_SIZE) >> 20;
    this.#log.info(
      "swiotlb-mapped",
      `software IO TLB: mapped [mem 0x${start.toString(16).padStart(16, "0")}-0x${this.#pool.end.toString(16).padStart(16, "0")}] (${mb}MB)`,
    );
  }

  get start(): number {
    return this.#pool.start;
  }

  get end(): number {
    return this.#pool.end;
  }

  isSwiotlbBuffer(pa: number): boolean {
    if (pa >= this.#pool.start && pa < this.#pool.end) return true;
    return this.#transient.length > 0 && this.#poolOf(pa) !== null;
  }

  /** swiotlb_find_pool(): the pool holding `pa`, the default one first. */
  #poolOf(pa: number): Pool | null {
    const d = this.#pool;
    if (pa >= d.start && pa < d.end) return d;
    for (const p of this.#transient) if (pa >= p.start && pa < p.end) return p;
    return null;
  }

  /** swiotlb_max_mapping_size() */
  maxMappingSize(minAlignMask: number): number {
    const min = minAlignMask ? Math.ceil((minAlignMask + 1) / IO_TLB_SIZE) * IO_TLB_SIZE : 0;
    return IO_TLB_SIZE * IO_TLB_SEGSIZE - min;
  }

  /** swiotlb_search_pool_area(): next fit from the area's index; -1 when nothing fits. */
  #searchArea(
    dev: SwiotlbDevice,
    pool: Pool,
    areaIndex: number,
    origAddr: number,
    allocSize: number,
    allocAlignMask: number,
  ): number {
    const area = pool.areas[areaIndex]!;
    // The pool's DMA address, masked with the segment boundary (the model's pools are not offset).
    const boundary = dev.segBoundaryMask >= 2 ** 52 - 1 ? 0 : dev.segBoundaryMask + 1;
    const tblDma = boundary === 0 ? pool.start : umod(pool.start, boundary);
    const maxSlots = boundary === 0 ? 2 ** 41 : boundary / IO_TLB_SIZE;
    let iotlbAlignMask = dev.minAlignMask;
    const nslots = Math.ceil(allocSize / IO_TLB_SIZE);
    // Slot address alignment: allocations of a page or more without other constraints stay page aligned.
    if (allocAlignMask === 0 && iotlbAlignMask === 0 && allocSize >= PAGE_SIZE)
      allocAlignMask = PAGE_SIZE - 1;
    allocAlignMask |= IO_TLB_SIZE - 1;
    iotlbAlignMask &= ~allocAlignMask;
    const stride = Math.max(1, (Math.max(allocAlignMask, iotlbAlignMask) >> IO_TLB_SHIFT) + 1);
    if (nslots > pool.areaNslabs - area.used) return -1;
    const slotBase = areaIndex * pool.areaNslabs;
    let index = area.index;
    const tblSlots = Math.floor(tblDma / IO_TLB_SIZE);
    for (let checked = 0; checked < pool.areaNslabs; ) {
      const slotIndex = slotBase + index;
      const tlbAddr = tblDma + slotIndex * IO_TLB_SIZE;
      if (
        umod(tlbAddr, allocAlignMask + 1) !== 0 ||
        (origAddr && (tlbAddr & iotlbAlignMask) !== (origAddr & iotlbAlignMask))
      ) {
        index = (index + 1) % pool.areaNslabs;
        checked++;
        continue;
      }
      // iommu_is_span_boundary(): the run must not cross the device's segment boundary.
      const offset = umod(tblSlots + slotIndex, maxSlots);
      if (offset + nslots <= maxSlots && pool.list[slotIndex]! >= nslots) {
        // swiotlb_align_offset(dev, 0, orig): the in-slot part of the preserved low bits.
        const alignOffset = origAddr & dev.minAlignMask & (IO_TLB_SIZE - 1);
        const list = pool.list;
        const seg = Math.floor(slotIndex / IO_TLB_SEGSIZE);
        for (let i = slotIndex; i < slotIndex + nslots; i++) {
          if (i < pool.nslabs && list[i] !== 0) pool.zeros[Math.floor(i / IO_TLB_SEGSIZE)]!++;
          list[i] = 0;
          pool.allocSize[i] = allocSize - (alignOffset + (i - slotIndex) * IO_TLB_SIZE);
        }
        // The free slots before the run, back to the segment's start, count up to it. When the
        // segment's only zeros are the run's, every slot before it is free.
        const segEnd = Math.min((seg + 1) * IO_TLB_SEGSIZE, pool.nslabs);
        const runZeros = Math.min(slotIndex + nslots, segEnd) - slotIndex;
        walkBack(pool, slotIndex, 0, pool.zeros[seg] === runZeros);
        area.index = (index + nslots) % pool.areaNslabs;
        area.used += nslots;
        this.#used += nslots;
        if (this.#used > this.#hiwater) this.#hiwater = this.#used;
        return slotIndex;
      }
      index = (index + stride) % pool.areaNslabs;
      checked += stride;
    }
    return -1;
  }

  /** swiotlb_tbl_map_single(): the bounce address, or -1. Copies the original in whatever the direction. */
  tblMapSingle(
    dev: SwiotlbDevice,
    origAddr: number,
    mappingSize: number,
    allocAlignMask: number,
    dir: number,
    attrs: number,
    cpu = 0,
  ): number {
    if (allocAlignMask > PAGE_SIZE - 1) {
      this.#log.warn(
        `swiotlb-align:${dev.name}`,
        "Alloc alignment may prevent fulfilling requests with max mapping_size",
        dev.name,
        true,
      );
    }
    let offset = origAddr & dev.minAlignMask & (allocAlignMask | (IO_TLB_SIZE - 1));
    const align = allocAlignMask + 1;
    const size = Math.ceil((mappingSize + offset) / align) * align;
    let index = -1;
    let pool = this.#pool;
    if (size <= IO_TLB_SEGSIZE * IO_TLB_SIZE) {
      const start = cpu & (pool.nareas - 1);
      for (let i = 0; i < pool.nareas && index < 0; i++) {
        index = this.#searchArea(
          dev,
          pool,
          (start + i) % pool.nareas,
          origAddr,
          size,
          allocAlignMask,
        );
      }
      // Every pool is full: with dynamic swiotlb the request gets a transient pool of its own.
      if (index < 0 && this.#grow !== null) {
        const t = this.#transientPool(dev, size);
        if (t !== null) {
          index = this.#searchArea(dev, t, 0, origAddr, size, allocAlignMask);
          if (index < 0) this.#grow.freePool(t.start, t.bytes);
          else {
            this.#transient.push(t);
            this.#transientNslabs += t.nslabs;
            pool = t;
          }
        }
      }
    }
    if (index < 0) {
      if (!(attrs & DMA_ATTR_NO_WARN)) {
        this.#log.warn(
          "swiotlb-full",
          `swiotlb buffer is full (sz: ${size} bytes), total ${this.#pool.nslabs} (slots), used ${this.#used} (slots)`,
          dev.name,
          false,
          true,
        );
      }
      return -1;
    }
    const pad = offset >> IO_TLB_SHIFT;
    offset &= IO_TLB_SIZE - 1;
    index += pad;
    pool.padSlots[index] = pad;
    const nreal = Math.ceil(size / IO_TLB_SIZE) - pad;
    // slot_addr(orig, i): the original address that corresponds to each slot.
    for (let i = 0; i < nreal; i++) pool.origAddr[index + i] = origAddr + i * IO_TLB_SIZE;
    const tlb = pool.start + index * IO_TLB_SIZE + offset;
    // CVE-2022-0854: the slot is seeded from the original for every direction, SKIP_CPU_SYNC or not.
    this.#bounce(tlb, mappingSize, DMA_TO_DEVICE, dev);
    this.#checkDir(dir, "swiotlb_tbl_map_single");
    return tlb;
  }

  /**
   * swiotlb_alloc_pool() for one request (swiotlb_find_slots): exactly the
   * slots it needs, one area, memory below the device's limit; null when the
   * pages cannot be had without sleeping.
   */
  #transientPool(dev: SwiotlbDevice, size: number): Pool | null {
    const nslabs = Math.ceil(size / IO_TLB_SIZE);
    const bytes = Math.ceil((nslabs * IO_TLB_SIZE) / PAGE_SIZE) * PAGE_SIZE;
    const pa = this.#grow!.allocPool(bytes, dev.dmaLimit ?? 0);
    return pa === null ? null : new Pool(pa, nslabs, 1, true);
  }

  /** swiotlb_bounce(): copies between the original and the slot, through the CPU, truncated to the allocation. */
  #bounce(tlb: number, size: number, dir: number, dev: SwiotlbDevice): void {
    const pool = this.#poolOf(tlb);
    if (pool === null) return;
    const index = Math.floor((tlb - pool.start) / IO_TLB_SIZE);
    let origAddr = pool.origAddr[index]!;
    if (origAddr === INVALID) return;
    let allocSize = pool.allocSize[index]!;
    // May be negative inside the first "offset" bytes of a later slot, as in the kernel.
    // (The pool starts on a page, so tlb's offset in its slot is its offset from the slot's start.)
    const tlbOffset =
      tlb - pool.start - index * IO_TLB_SIZE - (origAddr & dev.minAlignMask & (IO_TLB_SIZE - 1));
    origAddr += tlbOffset;
    allocSize -= tlbOffset;
    let len = size;
    if (len > allocSize) {
      this.#log.warn(
        `swiotlb-overflow-detected:${dev.name}`,
        `Buffer overflow detected. Allocation size: ${allocSize}. Mapping size: ${size}.`,
        dev.name,
        true,
      );
      len = allocSize;
    }
    const cpu = this.#cpu;
    // A copy inside the cache model saves a pass through a buffer; a negative length or address
    // keeps the buffered path, whose read reports it.
    if (cpu.cpuCopy !== undefined && len > 0 && origAddr >= 0) {
      if (dir === DMA_TO_DEVICE) cpu.cpuCopy(tlb, origAddr, len);
      else cpu.cpuCopy(origAddr, tlb, len);
      return;
    }
    // A whole-page bounce uses a page-sized buffer: the cache copies it without a subarray view.
    const buf =
      len === PAGE_SIZE ? this.#pageBuf : len <= this.#buf.length ? this.#buf : new Uint8Array(len);
    if (dir === DMA_TO_DEVICE) {
      this.#cpu.cpuReadInto(origAddr, buf, 0, len);
      this.#cpu.cpuWrite(tlb, buf, 0, len);
    } else {
      this.#cpu.cpuReadInto(tlb, buf, 0, len);
      this.#cpu.cpuWrite(origAddr, buf, 0, len);
    }
  }

  #checkDir(dir: number, fn: string): void {
    if (!validDirection(dir))
      throw new KernelBug("dma-invalid-direction", `${fn}: invalid DMA direction ${dir}`);
  }

  /** swiotlb_tbl_unmap_single(): copy back unless SKIP_CPU_SYNC or TO_DEVICE, then release. */
  tblUnmapSingle(
    dev: SwiotlbDevice,
    tlbAddr: number,
    mappingSize: number,
    dir: number,
    attrs: number,
  ): void {
    this.#checkDir(dir, "swiotlb_tbl_unmap_single");
    if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) && (dir === DMA_FROM_DEVICE || dir === 0)) {
      this.#bounce(tlbAddr, mappingSize, DMA_FROM_DEVICE, dev);
    }
    this.#release(dev, tlbAddr);
  }

  /** swiotlb_release_slots(): free the run and merge it with its free neighbours in the segment. */
  #release(dev: SwiotlbDevice, tlbAddr: number): void {
    const pool = this.#poolOf(tlbAddr);
    if (pool === null) return;
    if (pool.transient) {
      // swiotlb_del_transient(): the whole pool goes, its memory back to the page allocator.
      this.#transient.splice(this.#transient.indexOf(pool), 1);
      this.#transientNslabs -= pool.nslabs;
      this.#used -= pool.nslabs;
      this.#grow!.freePool(pool.start, pool.bytes);
      return;
    }
    const offset = tlbAddr & dev.minAlignMask & (IO_TLB_SIZE - 1);
    let index = Math.floor((tlbAddr - offset - pool.start) / IO_TLB_SIZE);
    index -= pool.padSlots[index]!;
    const nslots = Math.ceil((pool.allocSize[index]! + offset) / IO_TLB_SIZE);
    const area = pool.areas[Math.floor(index / pool.areaNslabs)]!;
    const segEnd = Math.ceil((index + 1) / IO_TLB_SEGSIZE) * IO_TLB_SEGSIZE;
    const list = pool.list;
    let count = index + nslots < segEnd ? list[index + nslots]! : 0;
    for (let i = index + nslots - 1; i >= index; i--) {
      if (i >= 0 && i < pool.nslabs && list[i] === 0) pool.zeros[Math.floor(i / IO_TLB_SEGSIZE)]!--;
      list[i] = ++count;
      pool.origAddr[i] = INVALID;
      pool.allocSize[i] = 0;
      pool.padSlots[i] = 0;
    }
    walkBack(
      pool,
      index,
      count,
      index >= 0 && pool.zeros[Math.floor(index / IO_TLB_SEGSIZE)] === 0,
    );
    area.used -= nslots;
    this.#used -= nslots;
  }

  /** swiotlb_sync_single_for_device(): original → slot for TO_DEVICE and BIDIRECTIONAL. */
  syncSingleForDevice(dev: SwiotlbDevice, tlbAddr: number, size: number, dir: number): void {
    this.#checkDir(dir, "swiotlb_sync_single_for_device");
    if (dir === DMA_TO_DEVICE || dir === 0) this.#bounce(tlbAddr, size, DMA_TO_DEVICE, dev);
  }

  /** swiotlb_sync_single_for_cpu(): slot → original for FROM_DEVICE and BIDIRECTIONAL. */
  syncSingleForCpu(dev: SwiotlbDevice, tlbAddr: number, size: number, dir: number): void {
    this.#checkDir(dir, "swiotlb_sync_single_for_cpu");
    if (dir === DMA_FROM_DEVICE || dir === 0) this.#bounce(tlbAddr, size, DMA_FROM_DEVICE, dev);
  }

  stats(): SwiotlbStats {
    return {
      nslabs: this.#pool.nslabs,
      used: this.#used,
      hiwater: this.#hiwater,
      transientNslabs: this.#transientNslabs,
      areas: this.#pool.areas.map((a) => ({ index: a.index, used: a.used })),
    };
  }

  resetHiwater(): void {
    this.#hiwater = this.#used;
  }

  /** True when every slot is free and every free-run counter is back at its initial value. */
  isPristine(): boolean {
    const pool = this.#pool;
    for (let i = 0; i < pool.nslabs; i++)
      if (pool.list[i] !== IO_TLB_SEGSIZE - (i % IO_TLB_SEGSIZE)) return false;
    return this.#used === 0 && this.#transient.length === 0;
  }

  /** The live bounce buffers, for leak reports. */
  liveBounces(): string[] {
    const out: string[] = [];
    for (const pool of [this.#pool, ...this.#transient]) {
      const where = pool.transient ? " (transient pool)" : "";
      for (let i = 0; i < pool.nslabs; i++) {
        const o = pool.origAddr[i]!;
        if (
          o !== INVALID &&
          (i === 0 ||
            pool.origAddr[i - 1] === INVALID ||
            pool.allocSize[i - 1] !== pool.allocSize[i]! + IO_TLB_SIZE)
        ) {
          out.push(
            `slot ${hex(pool.start + i * IO_TLB_SIZE)} for ${hex(o)} (${pool.allocSize[i]} bytes)${where}`,
          );
        }
      }
    }
    return out;
  }
}
