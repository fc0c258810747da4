// Benchmarks: pnpm exec tsx --conditions=@dmasim/source src/cache_bench.ts
import { nsPerOp } from "@dmasim/testing/bench";
import { CpuCache } from "./cpu_cache.ts";

const bytes = new Uint8Array(1 << 24);
const mem = {
  readInto: (pa: number, dst: Uint8Array, off = 0, len = dst.length - off) =>
    dst.set(bytes.subarray(pa, pa + len), off),
  write: (pa: number, src: Uint8Array, off = 0, len = src.length - off) =>
    bytes.set(src.subarray(off, off + len), pa),
};
const c = new CpuCache(mem);
const buf = new Uint8Array(4096).fill(1);
console.log(
  `4 KiB CPU write through the cache (hits): ${nsPerOp(100000, () => c.cpuWrite(0x10000, buf)).toFixed(0)} ns`,
);
console.log(
  `4 KiB CPU read (hits): ${nsPerOp(100000, () => c.cpuReadInto(0x10000, buf)).toFixed(0)} ns`,
);
console.log(
  `4 KiB clean (dirty lines): ${nsPerOp(50000, () => {
    c.cpuWrite(0x20000, buf);
    c.clean(0x20000, 4096);
  }).toFixed(0)} ns per write+clean`,
);
console.log(
  `4 KiB non-coherent device write: ${nsPerOp(100000, () => c.deviceWrite(0x30000, buf, 0, 4096, false)).toFixed(0)} ns`,
);
let pa = 0;
console.log(
  `4 KiB CPU write, cold lines (miss + fill): ${nsPerOp(2000, () => {
    c.cpuWrite(0x100000 + ((pa += 4096) % 0x800000), buf);
  }).toFixed(0)} ns`,
);
