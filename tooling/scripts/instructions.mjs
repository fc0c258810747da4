#!/usr/bin/env node
// Machine instructions per DMA API map+unmap pair, counted by valgrind.
//
// On a shared host the wall-clock benchmarks move by a factor of two from run
// to run; an instruction count moves by about 3%, so it is the figure to
// compare two trees by. Each scenario runs at two iteration counts with V8 on
// one thread (no concurrent compiler or GC threads to count), and the
// difference per iteration is reported: start-up and JIT warm-up cancel out.
// Instructions are not time (the real cost also depends on cache misses and
// branch prediction), so read the result next to the timed benchmarks.
//
// Usage: pnpm build && node tooling/scripts/instructions.mjs [scenario ...]
// Scenarios: direct, swiotlb, strict, lazy, bench-direct, bench-strict (default: all). Needs valgrind
// (apt-get install valgrind).
import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SCENARIOS = {
  direct: "dma-direct mapSingle + unmapSingle, 4 KiB, coherent, 64-bit mask (q35)",
  swiotlb: "swiotlb bounce mapSingle + unmapSingle, 4 KiB TO_DEVICE, 32-bit mask (q35)",
  strict: "iommu-dma strict mapSingle + unmapSingle, 4 KiB (q35-vtd)",
  lazy: "iommu-dma lazy (flush queue) mapSingle + unmapSingle, 4 KiB (q35-vtd)",
  "bench-direct":
    "the bench's system: dma-direct mapSingle + unmapSingle, 4 KiB BIDIRECTIONAL, 64-bit mask (-p x86_64 -b 64)",
  "bench-strict":
    "the bench's system: strict mapSingle + unmapSingle, 4 KiB BIDIRECTIONAL, 32-bit mask (-p x86_64-vtd --strict)",
};
const LOW = 100_000;
const HIGH = 500_000;

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

async function child(name, n) {
  if (name.startsWith("bench-")) return benchChild(name, n);
  const { createMachine, EDU_NAME } = await pkg("machine");
  const { DmaKernel, DMA_BIT_MASK, DMA_TO_DEVICE } = await pkg("dma-core");
  const iommu = name === "strict" || name === "lazy";
  const m = createMachine(iommu ? "q35-vtd" : "q35", { ramGiB: 6 });
  let iommuDma;
  if (iommu) {
    const { createIommuDma } = await pkg("iommu-dma");
    iommuDma = createIommuDma({
      iommuFor: (d) => m.iommuFor(d.name),
      pciWindows: m.pciHostBridge.windows,
      defaultDomain: name === "strict" ? "dma" : "dma-fq",
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
  const run = (count) => {
    for (let i = 0; i < count; i++) {
      k.unmapSingle(dev, k.mapSingle(dev, va, 4096, DMA_TO_DEVICE), 4096, DMA_TO_DEVICE);
      // Lazy mode: let the 10 ms flush timer run now and then, as time passes in a real system.
      if (name === "lazy" && (i & 255) === 255) m.clock.advance(10_000_000);
    }
  };
  run(n);
}

function count(name, n) {
  const r = spawnSync(
    "valgrind",
    [
      "--tool=cachegrind",
      "--cache-sim=no",
      "--cachegrind-out-file=/dev/null",
      process.execPath,
      "--single-threaded",
      fileURLToPath(import.meta.url),
      "--child",
      name,
      String(n),
    ],
    { encoding: "utf8" },
  );
  const m = /I\s+refs:\s+([\d,]+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`valgrind run of ${name} failed:\n${r.stderr}`);
  return Number(m[1].replaceAll(",", ""));
}

if (process.argv[2] === "--child") {
  await child(process.argv[3], Number(process.argv[4]));
} else {
  try {
    execFileSync("valgrind", ["--version"], { stdio: "ignore" });
  } catch {
    console.error("instructions: valgrind is not installed (apt-get install valgrind)");
    process.exit(2);
  }
  const names = process.argv.slice(2);
  for (const name of names) {
    if (!(name in SCENARIOS)) {
      console.error(
        `instructions: unknown scenario ${JSON.stringify(name)}; known: ${Object.keys(SCENARIOS).join(", ")}`,
      );
      process.exit(2);
    }
  }
  for (const name of names.length > 0 ? names : Object.keys(SCENARIOS)) {
    const per = (count(name, HIGH) - count(name, LOW)) / (HIGH - LOW);
    console.log(`${SCENARIOS[name]}: ${Math.round(per)} instructions per pair`);
  }
}
