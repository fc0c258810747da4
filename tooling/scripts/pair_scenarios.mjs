// The map+unmap pair scenarios that `pnpm instructions` counts and
// `pnpm profile` samples: each builds its system from the packages' dist
// builds and runs `n` pairs. Run as a script (`node pair_scenarios.mjs NAME
// N`), it is the measured child process of both tools.
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const SCENARIOS = {
  direct: "dma-direct mapSingle + unmapSingle, 4 KiB, coherent, 64-bit mask (q35)",
  swiotlb: "swiotlb bounce mapSingle + unmapSingle, 4 KiB TO_DEVICE, 32-bit mask (q35)",
  strict: "iommu-dma strict mapSingle + unmapSingle, 4 KiB (q35-vtd)",
  lazy: "iommu-dma lazy (flush queue) mapSingle + unmapSingle, 4 KiB (q35-vtd)",
  sg: "iommu-dma strict mapSgtable + unmapSgtable, 32 separate 4 KiB pages (q35-vtd)",
  "bench-direct":
    "the bench's system: dma-direct mapSingle + unmapSingle, 4 KiB BIDIRECTIONAL, 64-bit mask (-p x86_64 -b 64)",
  "bench-strict":
    "the bench's system: strict mapSingle + unmapSingle, 4 KiB BIDIRECTIONAL, 32-bit mask (-p x86_64-vtd --strict)",
};

const pkg = (p) => import(pathToFileURL(`${ROOT}packages/${p}/dist/mod.js`).href);

/**
 * The system apps/bench builds (createSystem of @dmasim/arch with the
 * bench's options) and the buffer its thread maps (one page from the page
 * allocator), with the bench's default direction; the loop is the pair alone,
 * as in the bench's untimed cross-check.
 */
async function benchChild(name, n) {
  const { createSystem } = await pkg("arch");
  const strict = name === "bench-strict";
  const s = strict
    ? createSystem("x86_64-vtd", { maskBits: 32, cmdline: "iommu.strict=1" })
    : createSystem("x86_64", { maskBits: 64 });
  const pa = s.machine.pages.allocPages(0);
  const va = s.machine.kas.physToVirt(pa);
  const { dma, dev } = s;
  for (let i = 0; i < n; i++) dma.unmapSingle(dev, dma.mapSingle(dev, va, 4096, 0), 4096, 0);
}

export async function runScenario(name, n) {
  if (name.startsWith("bench-")) return benchChild(name, n);
  const { createMachine, EDU_NAME } = await pkg("machine");
  const { DmaKernel, DMA_BIT_MASK, DMA_TO_DEVICE, SgTable } = await pkg("dma-core");
  const iommu = name === "strict" || name === "lazy" || name === "sg";
  const m = createMachine(iommu ? "q35-vtd" : "q35", { ramGiB: 6 });
  let iommuDma;
  if (iommu) {
    const { createIommuDma } = await pkg("iommu-dma");
    iommuDma = createIommuDma({
      iommuFor: (d) => m.iommuFor(d.name),
      pciWindows: m.pciHostBridge.windows,
      defaultDomain: name === "lazy" ? "dma-fq" : "dma",
    });
  }
  const k = new DmaKernel({
    platform: m,
    config: iommu ? undefined : { iommuDma: false, iommuApi: false },
    swiotlb: { enable: true },
    iommuDma,
  });
  const dev = k.addDevice({ name: EDU_NAME, pci: true, iommuId: "00:01.0" });
  k.setMaskAndCoherent(dev, DMA_BIT_MASK(name === "swiotlb" ? 32 : 64));
  const va = m.kas.physToVirt(0x102400000);
  if (name === "sg") {
    // As iommu-dma's benchmark: every other page, so no two segments merge.
    const sgt = SgTable.fromPhys(
      Array.from({ length: 32 }, (_, i) => ({ phys: 0x102400000 + i * 8192, length: 4096 })),
    );
    for (let i = 0; i < n; i++) {
      k.mapSgtable(dev, sgt, DMA_TO_DEVICE);
      k.unmapSgtable(dev, sgt, DMA_TO_DEVICE);
    }
    return;
  }
  const run = (count) => {
    for (let i = 0; i < count; i++) {
      k.unmapSingle(dev, k.mapSingle(dev, va, 4096, DMA_TO_DEVICE), 4096, DMA_TO_DEVICE);
      // Lazy mode: let the 10 ms flush timer run now and then, as time passes in a real system.
      if (name === "lazy" && (i & 255) === 255) m.clock.advance(10_000_000);
    }
  };
  run(n);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [name, n] = process.argv.slice(2);
  if (!(name in SCENARIOS)) {
    console.error(`pair_scenarios: unknown scenario ${JSON.stringify(name)}`);
    process.exit(2);
  }
  await runScenario(name, Number(n));
}
