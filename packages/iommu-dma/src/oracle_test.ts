// Replays the oracle scenario on q35 with VT-d in strict mode and compares
// with what Linux 6.12 returned (../shared/oracle/iommu-strict.json).
import { readFileSync } from "node:fs";
import { compareOracleRecord, DmaKernel, replayOracleScenario } from "@dmasim/dma-core";
import { createMachine } from "@dmasim/machine";
import { assertEquals, assertGreater, test } from "@dmasim/testing";
import { createIommuDma } from "./dma_iommu.ts";

const EDU = "0000:00:01.0";

function load(name: string) {
  return JSON.parse(
    readFileSync(new URL(`../../../../shared/oracle/${name}`, import.meta.url), "utf8"),
  );
}

test("oracle iommu-strict.json: every deterministic field matches Linux 6.12 (VT-d, strict)", () => {
  const rec = load("iommu-strict.json");
  const machine = createMachine("q35-vtd", { ramGiB: 6, eduDmaBits: rec.mask_bits });
  const unit = [...machine.iommus.values()][0]!;
  const kernel = new DmaKernel({
    platform: machine,
    design: "direct-calls",
    config: { iommuApi: true, iommuDma: true },
    swiotlb: { start: Number(rec.info.swiotlb_start) },
    iommuDma: createIommuDma({
      iommuFor: () => unit,
      pciWindows: machine.pciHostBridge.windows,
      defaultDomain: "dma",
    }),
  });
  const dev = kernel.addDevice({ name: EDU, pci: true, coherent: true });
  const domain = unit.domainOf(dev.iommuId)!;
  const actual = replayOracleScenario({
    kernel,
    dev,
    edu: machine.devices.get(EDU)!.edu!,
    maskBits: rec.mask_bits,
    poolPhys: Number(rec.info.pool_phys),
    domain: {
      name: "dma",
      type: domain.type,
      pgsizeBitmap: domain.pgsizeBitmap,
      iovaToPhys: (i) => domain.iovaToPhys(i),
    },
    pciName: EDU,
  });
  const faults = unit.faults.map((f) => ({ address: f.iova, access: f.access, reason: f.code }));
  const cmp = compareOracleRecord(rec, actual, faults);
  const lines = cmp.mismatches.map(
    (m) => `${m.path}: expected ${String(m.expected)}, got ${String(m.actual)}`,
  );
  assertEquals(lines, [], `${cmp.matched}/${cmp.total} fields matched`);
  assertGreater(cmp.total, 600, "the comparison covers the whole record");
  console.log(`oracle iommu-strict.json: ${cmp.matched}/${cmp.total} fields matched`);
  assertEquals(kernel.liveResources(), []);
});
