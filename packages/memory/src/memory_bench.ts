// Benchmarks: pnpm exec tsx --conditions=@dmasim/source src/memory_bench.ts
import { nsPerOp } from "@dmasim/testing/bench";
import { PageAllocator } from "./page_allocator.ts";
import { PhysicalMemory } from "./physical_memory.ts";

globalThis.gc?.();
const heap0 = process.memoryUsage().heapUsed;
const t0 = performance.now();
const mem = new PhysicalMemory({
  ram: [
    { start: 0, size: 2 ** 31 },
    { start: 2 ** 32, size: 62 * 2 ** 30 },
  ],
});
const pages = new PageAllocator(mem);
const ms = performance.now() - t0;
const heapMB = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
console.log(
  `64 GiB memory + page allocator constructed: ${ms.toFixed(1)} ms, ${heapMB.toFixed(1)} MB heap`,
);
const buf = new Uint8Array(4096);
console.log(`4 KiB write: ${nsPerOp(200000, () => mem.write(0x100000, buf)).toFixed(0)} ns`);
console.log(`4 KiB readInto: ${nsPerOp(200000, () => mem.readInto(0x100000, buf)).toFixed(0)} ns`);
console.log(
  `allocPages(0) + freePages pair: ${nsPerOp(100000, () => pages.freePages(pages.allocPages(0)!, 0)).toFixed(0)} ns`,
);
