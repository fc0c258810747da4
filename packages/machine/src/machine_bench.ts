// Benchmarks: pnpm exec tsx --conditions=@dmasim/source src/machine_bench.ts

import { DOMAIN_DMA, IOMMU_READ, IOMMU_WRITE } from "@dmasim/iommu";
import { nsPerOp } from "@dmasim/testing/bench";
import { createMachine, EDU_NAME } from "./presets.ts";

createMachine("q35", { ramGiB: 1 });
globalThis.gc?.();
const heap0 = process.memoryUsage().heapUsed;
const t0 = performance.now();
const big = createMachine("q35", { ramGiB: 64 });
console.log(
  `64 GiB q35 constructed: ${(performance.now() - t0).toFixed(1)} ms, ${((process.memoryUsage().heapUsed - heap0) / 2 ** 20).toFixed(1)} MB heap`,
);
void big;
const m = createMachine("q35-vtd");
const dev = m.devices.get(EDU_NAME)!;
const dom = dev.iommu!.allocDomain(DOMAIN_DMA);
dev.iommu!.attachDevice(dev.iommuId, dom);
dom.iommuMap(0xfffff000, 0x102400000, 4096, IOMMU_READ | IOMMU_WRITE);
const buf = new Uint8Array(4096);
console.log(
  `device 4 KiB write through VT-d (IOTLB hit, coherent): ${nsPerOp(100000, () => dev.engine.write(0xfffff000, buf)).toFixed(0)} ns`,
);
const plain = createMachine("q35").devices.get(EDU_NAME)!;
console.log(
  `device 4 KiB write without an IOMMU: ${nsPerOp(100000, () => plain.engine.write(0x102400000, buf)).toFixed(0)} ns`,
);
