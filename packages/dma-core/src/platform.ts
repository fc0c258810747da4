// What the DMA layer needs from the board it runs on. The machine package's
// Machine satisfies this structurally; dma-core names only the capabilities it
// uses, so it talks to its neighbour layer and to nothing below it.

/** RAM layout queries. */
export interface PlatformMemory {
  isRam(pa: number, size?: number): boolean;
  /** Highest RAM address (inclusive). */
  readonly lastRamByte: number;
  readonly ramRanges: ReadonlyArray<{ start: number; size: number }>;
  /** Every RAM range and MMIO window, sorted by start. */
  readonly ranges: ReadonlyArray<{ start: number; end: number }>;
}

/** The page allocator (zones: 0 = DMA, 1 = DMA32, 2 = NORMAL). */
export interface PlatformPages {
  allocPages(order: number, highestZone?: number): number | null;
  allocPagesAt(pa: number, order: number): boolean;
  freePages(pa: number, order: number): void;
}

/** The kernel's address space (linear map, vmalloc, stacks, kernel image). */
export interface PlatformKernelSpace {
  virtToPhys(va: number): number;
  physToVirt(pa: number): number;
  isLinear(va: number): boolean;
  translate(va: number): number;
  /** A linear-map address's physical address, -1 for any other (cheaper than translate + isLinear). */
  linearToPhys(va: number): number;
  regionOf(va: number): string;
  kmalloc(size: number, highestZone?: number): number | null;
  kfree(va: number): void;
  ksize(va: number): number;
  vmalloc(size: number): number | null;
  vfree(va: number): void;
  vmap(pagesPhys: number[]): number;
  vunmap(va: number): void;
  /** The vmapped-stack address mapping physical `pa`, or -1 (DMA-API debug's stack check). */
  stackAddressOf?(pa: number): number;
  /** Where the kernel image's text and rodata are mapped, if the board has one. */
  readonly kernelImage?: { textStart: number; textEnd: number; rodataEnd: number } | null;
}

/** The CPU data cache (CPU accesses by physical address, maintenance by range). */
export interface PlatformCache {
  readonly lineSize: number;
  cpuReadInto(pa: number, dst: Uint8Array, dstOffset?: number, len?: number): void;
  cpuWrite(pa: number, src: Uint8Array, srcOffset?: number, len?: number): void;
  cpuReadUncached(pa: number, dst: Uint8Array, dstOffset?: number, len?: number): void;
  cpuWriteUncached(pa: number, src: Uint8Array, srcOffset?: number, len?: number): void;
  /** When present: a CPU memcpy, exactly cpuReadInto(srcPa) into a buffer then cpuWrite(dstPa) of it. */
  cpuCopy?(dstPa: number, srcPa: number, len: number): void;
  clean(pa: number, len: number): unknown;
  invalidate(pa: number, len: number): unknown;
  cleanInvalidate(pa: number, len: number): unknown;
}

/** The simulated clock. */
export interface PlatformClock {
  now(): number;
  advance(ns: number): void;
  setTimer(atNs: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
}

/** Everything dma-core uses of a board. */
export interface DmaPlatform {
  readonly memory: PlatformMemory;
  readonly pages: PlatformPages;
  readonly kas: PlatformKernelSpace;
  readonly cache: PlatformCache;
  readonly clock: PlatformClock;
  /** Number of simulated CPUs. */
  readonly cpus: number;
}
