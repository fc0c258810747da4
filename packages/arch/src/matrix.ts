// designMatrix(): the table of ../shared/spec/iommu-dma.md §A.4, computed by
// running the model — a streaming map, a map_sg and an unmap on every profile
// case under every dispatch design — never written down.
import {
  DISPATCH_DESIGNS,
  type DispatchDesign,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  KernelBug,
  KernelBuildError,
  SgTable,
} from "@dmasim/dma-core";
import type { ProfileName } from "./profiles.ts";
import { createSystem, type SystemOptions } from "./system.ts";

/** What a cell shows: the kind of bus address or the failure. */
export type CellKind = "IOVA" | "bus(phys)" | "bus(swiotlb)" | "ERR" | "oops" | "link error";

export interface MatrixCell {
  single: CellKind;
  sg: CellKind;
  /** The unmap completed (false: it oopsed). */
  unmapOk: boolean;
  /** Indirect calls through an ops table for the map + unmap. */
  indirectCalls: number;
  detail: string;
}

export interface MatrixRow {
  case: string;
  profile: ProfileName;
  options: SystemOptions;
  cells: Record<DispatchDesign, MatrixCell>;
}

/** The rows of §A.4, as profile + options. */
export const MATRIX_CASES: ReadonlyArray<{
  case: string;
  profile: ProfileName;
  options: SystemOptions;
}> = [
  { case: "x86-64, intel-iommu, DMA/DMA-FQ domain", profile: "x86_64-vtd", options: {} },
  {
    case: "x86-64, identity/passthrough domain",
    profile: "x86_64-vtd",
    options: { cmdline: "iommu=pt" },
  },
  { case: "arm64, SMMUv3, DMA domain", profile: "arm64-smmuv3", options: {} },
  { case: "arm32 with own ops (arm_dma_ops)", profile: "arm32-legacy", options: {} },
  {
    case: "powerpc, dma_iommu_ops, bypass active",
    profile: "powerpc64-tce",
    options: { maskBits: 64 },
  },
  {
    case: "powerpc, dma_iommu_ops, no bypass",
    profile: "powerpc64-tce",
    options: { maskBits: 32 },
  },
  { case: "arch ops lacking map_page (synthetic)", profile: "ops-without-map-page", options: {} },
  { case: "no ops at all, no IOMMU", profile: "x86_64", options: {} },
  { case: "dma_dummy_ops, ARCH_HAS_DMA_OPS=y", profile: "dummy", options: {} },
  { case: "dma_dummy_ops on arm64 without Xen", profile: "arm64-dummy", options: {} },
];

const BUF = 0x10000000; // 256 MiB: RAM on every board, reachable by a 32-bit mask

/** Where the bus address lands decides its kind: through a translating domain it is an IOVA. */
function kindOf(sys: ReturnType<typeof createSystem>, dma: number, phys: number): CellKind {
  if (dma === DMA_MAPPING_ERROR) return "ERR";
  const unit = sys.machine.devices.get(sys.dev.name)?.iommu ?? null;
  const domain = unit?.domainOf(sys.dev.iommuId);
  if (
    domain?.isPaging &&
    !(
      unit?.aperture &&
      (dma < unit.aperture.start || dma >= unit.aperture.start + unit.aperture.size)
    )
  ) {
    return domain.iovaToPhys(dma) !== 0 && dma !== phys
      ? "IOVA"
      : dma === phys
        ? "bus(phys)"
        : "IOVA";
  }
  if (sys.dma.swiotlb?.isSwiotlbBuffer(dma)) return "bus(swiotlb)";
  return dma === phys ? "bus(phys)" : "IOVA";
}

/** Runs one cell. */
export function runCell(
  profile: ProfileName,
  options: SystemOptions,
  design: DispatchDesign,
): MatrixCell {
  let sys: ReturnType<typeof createSystem>;
  try {
    sys = createSystem(profile, { ...options, design });
  } catch (e) {
    if (e instanceof KernelBuildError)
      return {
        single: "link error",
        sg: "link error",
        unmapOk: false,
        indirectCalls: 0,
        detail: e.message,
      };
    throw e;
  }
  const ram = sys.machine.memory.ramRanges[0]!;
  const phys = ram.start + BUF;
  const before = sys.dma.stats.indirectCalls;
  let single: CellKind;
  let unmapOk = true;
  let detail = "";
  try {
    const dma = sys.dma.mapPhys(sys.dev, phys, 4096, DMA_TO_DEVICE);
    single = kindOf(sys, dma, phys);
    detail = dma === DMA_MAPPING_ERROR ? "DMA_MAPPING_ERROR" : `0x${dma.toString(16)}`;
    if (dma !== DMA_MAPPING_ERROR) {
      try {
        sys.dma.unmapPhys(sys.dev, dma, 4096, DMA_TO_DEVICE);
      } catch (e) {
        if (!(e instanceof KernelBug)) throw e;
        unmapOk = false;
      }
    }
  } catch (e) {
    if (!(e instanceof KernelBug)) throw e;
    single = "oops";
    detail = e.message;
  }
  const indirectCalls = sys.dma.stats.indirectCalls - before;
  let sg: CellKind;
  try {
    const t = SgTable.fromPhys([{ phys, length: 4096 }]);
    const rc = sys.dma.mapSgtable(sys.dev, t, DMA_TO_DEVICE);
    sg = rc < 0 || t.nents === 0 ? "ERR" : kindOf(sys, t.sgl[0]!.dmaAddress, phys);
    if (rc === 0 && t.nents > 0) {
      try {
        sys.dma.unmapSgtable(sys.dev, t, DMA_TO_DEVICE);
      } catch (e) {
        if (!(e instanceof KernelBug)) throw e;
        unmapOk = false;
      }
    }
  } catch (e) {
    if (!(e instanceof KernelBug)) throw e;
    sg = "oops";
  }
  return { single, sg, unmapOk, indirectCalls, detail };
}

/** The whole table: every case of §A.4 under every design. */
export function designMatrix(designs: readonly DispatchDesign[] = DISPATCH_DESIGNS): MatrixRow[] {
  return MATRIX_CASES.map((c) => ({
    ...c,
    cells: Object.fromEntries(designs.map((d) => [d, runCell(c.profile, c.options, d)])) as Record<
      DispatchDesign,
      MatrixCell
    >,
  }));
}

/** The matrix as a Markdown table (single-page map results). */
export function matrixMarkdown(
  rows: MatrixRow[],
  designs: readonly DispatchDesign[] = DISPATCH_DESIGNS,
): string {
  const head = `| case | ${designs.join(" | ")} |\n|---|${designs.map(() => "---").join("|")}|`;
  const body = rows
    .map((r) => `| ${r.case} | ${designs.map((d) => r.cells[d].single).join(" | ")} |`)
    .join("\n");
  return `${head}\n${body}`;
}
