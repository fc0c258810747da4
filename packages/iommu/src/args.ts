// Argument checks for the hot paths. A hot function tests its arguments in
// one small inlinable expression (Number.isInteger, a range, a mask) and, only
// when that fails, calls one of these out-of-line functions, which find the
// first bad argument and throw an error naming the function, the argument,
// what it takes and what it got. Nothing here runs on a good call.
import {
  IOMMU_CACHE,
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
} from "./prot.ts";

/** Every IOMMU_* protection bit the model knows; `(prot & PROT_ALL) === prot` is the whole check. */
export const PROT_ALL =
  IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE | IOMMU_NOEXEC | IOMMU_MMIO | IOMMU_PRIV;

/**
 * Number.isInteger, held in a module binding: a call of it is a few bytes of
 * bytecode less than `Number.isInteger(x)` (a global and a property load), so
 * the hot functions stay under V8's inlining budget; TurboFan still sees the
 * builtin and compiles it to a truncate and a compare.
 */
export const isInt: (v: unknown) => boolean = Number.isInteger;

// The unchecked halves of the hot methods, keyed by symbols this module does
// not export from the package: the package's own callers, which have checked
// (or computed) the arguments already, skip the second check, which would
// cost a few ns and, worse, push the call tree over V8's inlining budget.
export const MAP_PAGES: unique symbol = Symbol("IoPageTable.mapPages, unchecked");
export const MAP_LEAVES: unique symbol = Symbol(
  "IoPageTable.mapPages of smallest pages by frame number",
);
export const UNMAP_LEAF: unique symbol = Symbol("IoPageTable.unmapLeaf, unchecked");
export const ADD_RANGE: unique symbol = Symbol("IotlbGather.addRange, unchecked");
export const ADD_PAGE: unique symbol = Symbol("IotlbGather.addPage, unchecked");
export const OWNER_MARK_STALE: unique symbol = Symbol("IommuUnit.markStale, unchecked");
export const OWNER_INVALIDATE_RANGE: unique symbol = Symbol("IommuUnit.invalidateRange, unchecked");
export const OWNER_INVALIDATE_DOMAIN: unique symbol = Symbol(
  "IommuUnit.invalidateDomain, unchecked",
);
export const TLB_MARK_STALE: unique symbol = Symbol("Iotlb.markStale, unchecked");
export const TLB_INVALIDATE_RANGE: unique symbol = Symbol("Iotlb.invalidateRange, unchecked");

/** Renders a bad argument for an error message. */
export function describeArg(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null || typeof v !== "object") return String(v);
  return Array.isArray(v) ? "an array" : `a ${v.constructor?.name ?? "object"}`;
}

/** Throws unless `v` is an integer (`what` says which, e.g. "an IOVA"). */
export function needInteger(fn: string, name: string, v: unknown, what: string): void {
  if (typeof v !== "number")
    throw new TypeError(`${fn}: ${name} must be ${what} (an integer), got ${describeArg(v)}`);
  if (!Number.isInteger(v))
    throw new RangeError(`${fn}: ${name} must be ${what} (an integer), got ${describeArg(v)}`);
}

/** Throws unless `v` is an integer in [lo, hi). */
export function needIntegerIn(
  fn: string,
  name: string,
  v: unknown,
  lo: number,
  hi: number,
  what: string,
): void {
  if (typeof v !== "number")
    throw new TypeError(
      `${fn}: ${name} must be ${what}, an integer from ${lo} below ${hi}, got ${describeArg(v)}`,
    );
  if (!(Number.isInteger(v) && v >= lo && v < hi))
    throw new RangeError(
      `${fn}: ${name} must be ${what}, an integer from ${lo} below ${hi}, got ${describeArg(v)}`,
    );
}

/** Throws unless `v` is a combination of IOMMU_* protection bits. */
export function needProt(fn: string, name: string, v: unknown): void {
  if (typeof v !== "number")
    throw new TypeError(
      `${fn}: ${name} must be IOMMU_READ/WRITE/CACHE/NOEXEC/MMIO/PRIV bits (0 to 0x3f), got ${describeArg(v)}`,
    );
  if ((v & PROT_ALL) !== v)
    throw new RangeError(
      `${fn}: ${name} must be IOMMU_READ/WRITE/CACHE/NOEXEC/MMIO/PRIV bits (0 to 0x3f), got ${describeArg(v)}`,
    );
}

/** Throws unless `ok` (the caller's test of `v`). */
export function needObject(fn: string, name: string, v: unknown, ok: boolean, what: string): void {
  if (!ok) throw new TypeError(`${fn}: ${name} must be ${what}, got ${describeArg(v)}`);
}

/** The end of an out-of-line thrower whose caller's test failed but whose own checks all passed. */
export function inconsistent(fn: string): never {
  throw new Error(`${fn}: the argument check failed, but no argument is wrong`);
}
