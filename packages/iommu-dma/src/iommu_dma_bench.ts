// Benchmarks: pnpm exec tsx --conditions=@dmasim/source src/iommu_dma_bench.ts
import { DMA_BIT_MASK, DMA_TO_DEVICE, DmaKernel, SgTable } from "@dmasim/dma-core";
import { createMachine, EDU_NAME } from "@dmasim/machine";
import { nsPerOp } from "@dmasim/testing/bench";
import { createIommuDma, type DefaultDomainType, type IommuDma } from "./dma_iommu.ts";
import { IovaDomain } from "./iova.ts";

function system(domain: DefaultDomainType) {
  const m = createMachine("q35-vtd", { ramGiB: 6 });
  const factory = createIommuDma({
    iommuFor: (d) => m.iommuFor(d.name),
    pciWindows: m.pciHostBridge.windows,
    defaultDomain: domain,
  });
  let dma: IommuDma | null = null;
  const k = new DmaKernel({
    platform: m,
    swiotlb: { enable: true },
    // keep the entry points the kernel gets, to time them without dma-core in front
    iommuDma: (kernel) => (dma = factory(kernel) as IommuDma),
  });
  const dev = k.addDevice({ name: EDU_NAME, pci: true, iommuId: "00:01.0" });
  k.setMaskAndCoherent(dev, DMA_BIT_MASK(64));
  return { m, k, dev, dma: dma! as IommuDma };
}

for (const domain of ["dma", "dma-fq"] as const) {
  const { m, k, dev } = system(domain);
  const va = m.kas.physToVirt(0x102400000);
  let n = 0;
  const ns = nsPerOp(160_000, () => {
    k.unmapSingle(dev, k.mapSingle(dev, va, 4096, DMA_TO_DEVICE), 4096, DMA_TO_DEVICE);
    // lazy: let the 10 ms flush timer run now and then, as time passes in a real system
    if (domain === "dma-fq" && ++n % 200 === 0) m.clock.advance(10_000_000);
  });
  console.log(
    `${domain === "dma" ? "strict" : "lazy  "} 4 KiB mapSingle + unmapSingle (rcache warm): ${ns.toFixed(1)} ns/pair`,
  );
}
// iommu-dma's own share: its entry points called directly, without dma-core's checks and bookkeeping.
for (const domain of ["dma", "dma-fq"] as const) {
  const { m, dev, dma } = system(domain);
  const phys = 0x102400000;
  let n = 0;
  const ns = nsPerOp(160_000, () => {
    dma.unmapPhys(dev, dma.mapPhys(dev, phys, 4096, DMA_TO_DEVICE, 0), 4096, DMA_TO_DEVICE, 0);
    if (domain === "dma-fq" && ++n % 200 === 0) m.clock.advance(10_000_000);
  });
  console.log(
    `${domain === "dma" ? "strict" : "lazy  "} 4 KiB iommu-dma mapPhys + unmapPhys alone: ${ns.toFixed(1)} ns/pair`,
  );
}
{
  const { k, dev } = system("dma");
  const sgt = SgTable.fromPhys(
    Array.from({ length: 32 }, (_, i) => ({ phys: 0x102400000 + i * 8192, length: 4096 })),
  );
  const ns = nsPerOp(16_000, () => {
    k.mapSgtable(dev, sgt, DMA_TO_DEVICE);
    k.unmapSgtable(dev, sgt, DMA_TO_DEVICE);
  });
  console.log(`strict mapSgtable + unmapSgtable of 32 pages: ${ns.toFixed(0)} ns/pair`);
}
{
  const d = new IovaDomain(4096, 1);
  console.log(
    `IOVA allocIovaFast + freeIovaFast, 1 page, warm rcache: ${nsPerOp(1_000_000, () => d.freeIovaFast(d.allocIovaFast(1, 0xfffff, false), 1)).toFixed(1)} ns/pair`,
  );
  const live = Array.from({ length: 10000 }, () => d.allocIova(1, 0xfffff, true)!);
  console.log(
    `IOVA tree allocIova + free with 10000 live nodes: ${nsPerOp(20_000, () => d.freeIovaNode(d.allocIova(3, 0xfffff, true)!)).toFixed(0)} ns/pair`,
  );
  void live;
}
