// Benchmarks: pnpm exec tsx --conditions=@dmasim/source src/dma_core_bench.ts

import { createMachine } from "@dmasim/machine";
import { nsPerOp } from "@dmasim/testing/bench";
import { DMA_BIT_MASK, DMA_TO_DEVICE } from "./constants.ts";
import { DmaKernel } from "./kernel.ts";

const m = createMachine("q35", { ramGiB: 6 });
const k = new DmaKernel({
  platform: m,
  config: { iommuDma: false, iommuApi: false },
  swiotlb: { enable: true },
});
const dev = k.addDevice({ name: "0000:00:01.0", pci: true });
k.setMaskAndCoherent(dev, DMA_BIT_MASK(64));
const va = m.kas.physToVirt(0x102400000);
console.log(
  `dma-direct mapSingle + unmapSingle, 4 KiB, coherent, no bounce: ${nsPerOp(1_000_000, () => k.unmapSingle(dev, k.mapSingle(dev, va, 4096, DMA_TO_DEVICE), 4096, DMA_TO_DEVICE)).toFixed(1)} ns/pair`,
);
k.setMask(dev, DMA_BIT_MASK(32));
console.log(
  `swiotlb bounce mapSingle + unmapSingle, 4 KiB (copies 4 KiB in): ${nsPerOp(100_000, () => k.unmapSingle(dev, k.mapSingle(dev, va, 4096, DMA_TO_DEVICE), 4096, DMA_TO_DEVICE)).toFixed(0)} ns/pair`,
);
console.log(
  `swiotlb bounce, 4 KiB BIDIRECTIONAL (copies in and back): ${nsPerOp(100_000, () => k.unmapSingle(dev, k.mapSingle(dev, va, 4096, 0), 4096, 0)).toFixed(0)} ns/pair`,
);
