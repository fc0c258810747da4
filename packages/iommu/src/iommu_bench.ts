// Benchmarks: pnpm exec tsx --conditions=@dmasim/source src/iommu_bench.ts
import { nsPerOp } from "@dmasim/testing/bench";
import { DOMAIN_DMA } from "./domain.ts";
import { IommuUnit, newTranslateResult } from "./iommu_unit.ts";
import { IotlbGather } from "./iotlb_gather.ts";
import { IOMMU_READ, IOMMU_WRITE } from "./prot.ts";

const unit = new IommuUnit({
  name: "dmar0",
  kind: "vtd",
  pageTable: { format: "vtd", addressWidth: 39 },
});
const d = unit.allocDomain(DOMAIN_DMA);
unit.attachDevice("00:01.0", d);
d.iommuMap(0xfffff000, 0x102400000, 4096, IOMMU_READ | IOMMU_WRITE);
const tr = newTranslateResult();
console.log(
  `IOTLB-hit translate of a 4 KiB access: ${nsPerOp(2_000_000, () => unit.translate("00:01.0", 0xfffff010, true, tr)).toFixed(1)} ns`,
);
d.iommuMap(0xffffe000, 0x102401000, 4096, IOMMU_READ);
const g = new IotlbGather();
console.log(
  `iommuMap + iommuUnmapFast of one 4 KiB page (page tables only): ${nsPerOp(500_000, () => {
    d.iommuMap(0xffff0000, 0x102410000, 4096, IOMMU_READ | IOMMU_WRITE);
    g.reset();
    g.queued = true;
    d.iommuUnmapFast(0xffff0000, 4096, g);
  }).toFixed(1)} ns`,
);
console.log(
  `iommuMapFrames + iommuUnmapFast of one 4 KiB page (by frame number): ${nsPerOp(500_000, () => {
    d.iommuMapFrames(0xffff0, 0x102410, 1, IOMMU_READ | IOMMU_WRITE);
    g.reset();
    g.queued = true;
    d.iommuUnmapFast(0xffff0000, 4096, g);
  }).toFixed(1)} ns`,
);
