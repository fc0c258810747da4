// Page geometry and exact integer helpers for addresses up to 2^52.
// JavaScript's bitwise operators work on 32 bits, so alignment on physical
// addresses above 2 GiB must use division and remainder.

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
/** The largest buddy block order (MAX_PAGE_ORDER on x86: 4 MiB blocks). */
export const MAX_ORDER = 10;

export function alignDown(x: number, a: number): number {
  return x - (x % a);
}

export function alignUp(x: number, a: number): number {
  const r = x % a;
  return r === 0 ? x : x + (a - r);
}

export function isAligned(x: number, a: number): boolean {
  return x % a === 0;
}

export function isPowerOfTwo(x: number): boolean {
  return Number.isInteger(x) && x > 0 && 2 ** Math.round(Math.log2(x)) === x;
}

/** fls(): the 1-based index of the highest set bit (0 for 0). */
export function fls(x: number): number {
  return !(x > 0) ? 0 : x.toString(2).length;
}

/** ilog2() for positive integers. */
export function ilog2(x: number): number {
  return fls(x) - 1;
}

export function roundUpPowerOfTwo(x: number): number {
  if (x <= 1) return 1;
  const p = 2 ** ilog2(x);
  return p === x ? x : p * 2;
}

/** get_order(): the smallest order whose block of PAGE_SIZE << order holds `size`. */
export function getOrder(size: number): number {
  let order = 0;
  while (PAGE_SIZE * 2 ** order < size) order++;
  return order;
}

export const SZ_4K = 4096;
export const SZ_2M = 2 * 1024 * 1024;
export const SZ_1G = 1024 * 1024 * 1024;
