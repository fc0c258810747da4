// DMA API constants with the kernel's values (include/linux/dma-direction.h,
// include/linux/dma-mapping.h, include/uapi/asm-generic/errno*.h).

/** enum dma_data_direction */
export const DMA_BIDIRECTIONAL = 0;
export const DMA_TO_DEVICE = 1;
export const DMA_FROM_DEVICE = 2;
export const DMA_NONE = 3;
export type DmaDirection = 0 | 1 | 2 | 3;

export const DIRECTION_NAMES = [
  "DMA_BIDIRECTIONAL",
  "DMA_TO_DEVICE",
  "DMA_FROM_DEVICE",
  "DMA_NONE",
] as const;

/** Names the kernel's DMA-debug prints for a direction. */
export function directionName(dir: number): string {
  return DIRECTION_NAMES[dir] ?? `invalid direction ${dir}`;
}

/** valid_dma_direction(): only 0, 1 and 2 may be passed to map, unmap and sync. */
export function validDirection(dir: number): boolean {
  return dir === 0 || dir === 1 || dir === 2;
}

/** unsigned long attrs bits */
export const DMA_ATTR_WEAK_ORDERING = 1 << 1;
export const DMA_ATTR_WRITE_COMBINE = 1 << 2;
export const DMA_ATTR_NO_KERNEL_MAPPING = 1 << 4;
export const DMA_ATTR_SKIP_CPU_SYNC = 1 << 5;
export const DMA_ATTR_FORCE_CONTIGUOUS = 1 << 6;
export const DMA_ATTR_ALLOC_SINGLE_PAGES = 1 << 7;
export const DMA_ATTR_NO_WARN = 1 << 8;
export const DMA_ATTR_PRIVILEGED = 1 << 9;
export const DMA_ATTR_MMIO = 1 << 10;
/** [new] formerly DMA_ATTR_CPU_CACHE_CLEAN, same bit */
export const DMA_ATTR_DEBUGGING_IGNORE_CACHELINES = 1 << 11;
/** [new] */
export const DMA_ATTR_REQUIRE_COHERENT = 1 << 12;
/** [new] */
export const DMA_ATTR_CC_SHARED = 1 << 13;

/** Every attribute bit the model knows; anything else is refused as invalid input. */
export const DMA_ATTR_ALL =
  DMA_ATTR_WEAK_ORDERING |
  DMA_ATTR_WRITE_COMBINE |
  DMA_ATTR_NO_KERNEL_MAPPING |
  DMA_ATTR_SKIP_CPU_SYNC |
  DMA_ATTR_FORCE_CONTIGUOUS |
  DMA_ATTR_ALLOC_SINGLE_PAGES |
  DMA_ATTR_NO_WARN |
  DMA_ATTR_PRIVILEGED |
  DMA_ATTR_MMIO |
  DMA_ATTR_DEBUGGING_IGNORE_CACHELINES |
  DMA_ATTR_REQUIRE_COHERENT |
  DMA_ATTR_CC_SHARED;

/**
 * DMA_MAPPING_ERROR is the all-ones dma_addr_t. Bus addresses are numbers below
 * 2^52 in the model, so the error value is represented by -1, which no address
 * can equal; `dmaAddrToU64()` gives its exact 64-bit form.
 */
export const DMA_MAPPING_ERROR = -1;

/** The exact 64-bit value of a dma_addr_t (DMA_MAPPING_ERROR → 2^64 − 1). */
export function dmaAddrToU64(addr: number): bigint {
  return addr === DMA_MAPPING_ERROR ? U64_MAX : BigInt(addr);
}

export const U64_MAX = (1n << 64n) - 1n;
/** SIZE_MAX and ULONG_MAX on a 64-bit kernel. */
export const SIZE_MAX = U64_MAX;
export const ULONG_MAX = U64_MAX;

/** Highest simulated address + 1: every model address is below 2^52. */
export const ADDRESS_SPACE_LIMIT = 2 ** 52;
/** A mask that covers the whole simulated address space, as a number. */
export const NO_LIMIT = ADDRESS_SPACE_LIMIT - 1;

/** DMA_BIT_MASK(n): the low n bits set; n = 64 sets all 64. n must be 1..64. */
export function DMA_BIT_MASK(n: number): bigint {
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new RangeError(`DMA_BIT_MASK(n): n must be an integer from 1 to 64, got ${n}`);
  }
  return n === 64 ? U64_MAX : (1n << BigInt(n)) - 1n;
}

/** A 64-bit kernel quantity as the fast number limit the model uses inside (capped below 2^52). */
export function u64ToLimit(v: bigint): number {
  // Number() rounds monotonically and is exact below NO_LIMIT, so the number decides as the bigint would.
  return Math.min(Number(v), NO_LIMIT);
}

/** The kernel's min_not_zero() on 64-bit values. */
export function minNotZero(a: bigint, b: bigint): bigint {
  if (a === 0n) return b;
  if (b === 0n) return a;
  return a < b ? a : b;
}

/** Errno values (positive; functions return them negated, as the kernel does). */
export const EPERM = 1;
export const EIO = 5;
export const ENXIO = 6;
export const ENOMEM = 12;
export const EINVAL = 22;
export const EOPNOTSUPP = 95;
export const EREMOTEIO = 121;

/** gfp_t bits the DMA API looks at (include/linux/gfp_types.h). */
export const GFP_DMA = 0x01;
export const GFP_HIGHMEM = 0x02;
export const GFP_DMA32 = 0x04;
export const GFP_ZONEMASK = GFP_DMA | GFP_HIGHMEM | GFP_DMA32;
/** __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM */
export const GFP_RECLAIM = 0xc00;
/** __GFP_DIRECT_RECLAIM: set when the caller may sleep (gfpflags_allow_blocking). */
export const GFP_DIRECT_RECLAIM = 0x400;
export const GFP_NOWARN = 0x2000;
export const GFP_COMP = 0x40000;
export const GFP_ZERO = 0x100;
export const GFP_KERNEL = GFP_RECLAIM | 0x40 | 0x80;
export const GFP_ATOMIC = 0x20 | 0x800;
export const GFP_NOWAIT = 0x800;

/** The page size of every simulated machine today (4 KiB). */
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;

/** Formats an address the way the kernel's %#llx does. */
export function hex(v: number | bigint): string {
  return `0x${v.toString(16)}`;
}
