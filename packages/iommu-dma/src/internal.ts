// Internal helpers shared by the IOVA modules (not re-exported by mod.ts).

/** A bad argument as the messages show it: "4096" (a string) is not 4096, an object is not "[object Object]". */
export function describeArg(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "object" && v !== null) return Array.isArray(v) ? "an array" : "an object";
  return String(v);
}

/**
 * Number.isInteger in a module binding: fewer bytecodes per use than
 * `Number.isInteger(x)`, so the checked entry points stay within V8's
 * inlining budget; TurboFan still compiles it to a truncate and a compare.
 */
export const isInt: (v: unknown) => boolean = Number.isInteger;

/**
 * Keys of the unchecked halves of the hot entry points, for callers inside
 * this package whose arguments are already checked (alloc_iova_fast calling
 * the rcache, the flush queue releasing what queue() checked, iommu-dma
 * allocating and queueing sizes it computed): the public
 * method is the check plus a call of its unchecked half.
 */
export const RCACHE_GET = Symbol("IovaRcache.get, unchecked");
export const RCACHE_INSERT = Symbol("IovaRcache.insert, unchecked");
export const FREE_IOVA_FAST = Symbol("IovaDomain.freeIovaFast, unchecked");
export const ALLOC_IOVA_FAST = Symbol("IovaDomain.allocIovaFast, unchecked");
export const FQ_QUEUE = Symbol("FlushQueue.queue, unchecked");
