// Replays the oracle scenario on the q35 board without an IOMMU and compares
// with what Linux 6.12 returned (../shared/oracle/direct*.json).
import { readFileSync } from "node:fs";
import { createMachine } from "@dmasim/machine";
import { assertEquals, assertGreater, test } from "@dmasim/testing";
import { DmaKernel } from "./kernel.ts";
import { compareOracleRecord, replayOracleScenario } from "./oracle.ts";

const EDU = "0000:00:01.0";

function load(name: string) {
  return JSON.parse(
    readFileSync(new URL(`../../../../shared/oracle/${name}`, import.meta.url), "utf8"),
  );
}

function replayDirect(name: string) {
  const rec = load(name);
  const machine = createMachine("q35", { ramGiB: 6, eduDmaBits: rec.mask_bits });
  const kernel = new DmaKernel({
    platform: machine,
    design: "direct-calls",
    // Debian's 6.12: IOMMU_API and IOMMU_DMA built, no IOMMU on this board.
    config: { iommuApi: true, iommuDma: true, archHasDmaOps: false },
    swiotlb: { start: Number(rec.info.swiotlb_start) },
  });
  const dev = kernel.addDevice({ name: EDU, pci: true, coherent: true });
  const mdev = machine.devices.get(EDU)!;
  const actual = replayOracleScenario({
    kernel,
    dev,
    edu: mdev.edu!,
    maskBits: rec.mask_bits,
    poolPhys: Number(rec.info.pool_phys),
    domain: null,
    pciName: EDU,
  });
  return { rec, actual, kernel };
}

for (const file of ["direct.json", "direct-mask32.json"]) {
  test(`oracle ${file}: every deterministic field matches Linux 6.12`, () => {
    const { rec, actual, kernel } = replayDirect(file);
    const cmp = compareOracleRecord(rec, actual, []);
    const lines = cmp.mismatches.map(
      (m) => `${m.path}: expected ${String(m.expected)}, got ${String(m.actual)}`,
    );
    assertEquals(lines, [], `${cmp.matched}/${cmp.total} fields matched`);
    assertGreater(cmp.total, 400, "the comparison covers the whole record");
    console.log(`oracle ${file}: ${cmp.matched}/${cmp.total} fields matched`);
    assertEquals(kernel.liveResources(), []);
  });
}

test("oracle direct-mask32.json: the 1 MiB bounce fails with the kernel's swiotlb-full line", () => {
  const { rec, kernel } = replayDirect("direct-mask32.json");
  const expected = (rec.kernel.swiotlb as string[]).find((l) =>
    l.includes("swiotlb buffer is full"),
  )!;
  const got = kernel.log.events.find((e) => e.message.includes("swiotlb buffer is full"));
  assertEquals(`dma_oracle ${EDU}: ${got?.message}`, expected);
});
