// A run is a matrix: clause × preset × dispatch design. Each cell passes,
// fails, does not apply, or is an expected failure with its reason (the
// design predates the behaviour the clause describes).
import { DESIGNS, DISPATCH_DESIGNS, type DispatchDesign, KernelBuildError } from "@dmasim/dma-core";
import { CATALOGUE, type Clause, clauseById } from "./catalogue.ts";
import { checkContext } from "./check.ts";
import { PRESET_NAMES, type PresetName } from "./presets.ts";

export type CellStatus = "pass" | "fail" | "n/a" | "xfail";

export interface Cell {
  clause: string;
  preset: PresetName;
  design: DispatchDesign;
  status: CellStatus;
  message?: string;
}

export interface CellSpec {
  clause: string;
  preset: PresetName;
  design: DispatchDesign;
}

export interface Filters {
  clauses?: string[];
  presets?: PresetName[];
  designs?: DispatchDesign[];
}

/** Every cell of the matrix the filters select, in a fixed order. */
export function planCells(filters: Filters = {}): CellSpec[] {
  const clauses = CATALOGUE.filter((c) => !filters.clauses || filters.clauses.includes(c.id));
  const presets = filters.presets ?? PRESET_NAMES;
  const designs = filters.designs ?? DISPATCH_DESIGNS;
  const out: CellSpec[] = [];
  for (const c of clauses)
    for (const p of presets)
      for (const d of designs) out.push({ clause: c.id, preset: p, design: d });
  return out;
}

function predates(design: DispatchDesign, clause: Clause): boolean {
  if (clause.since === "phys") return !DESIGNS[design].physOps;
  if (clause.since === "dma-iommu-flag") return !DESIGNS[design].iommuDirectCall;
  return false;
}

/** A known defect of the design that the clause runs into, as the reason of its expected failure. */
function designDefect(design: DispatchDesign, clause: Clause): string | null {
  if (clause.since === "ops-map-page" && DESIGNS[design].wrapperFallsBackToIommu)
    return `${DESIGNS[design].kernel} removed map_page from iommu_dma_ops, but dma_common_alloc_pages still calls it`;
  return null;
}

/** Runs one cell. Deterministic: a cell builds its own systems and shares nothing. */
export function runCell(spec: CellSpec): Cell {
  const clause = clauseById(spec.clause);
  if (!clause) throw new RangeError(`unknown clause ${spec.clause}`);
  if (!clause.presets.includes(spec.preset)) return { ...spec, status: "n/a" };
  const ctx = checkContext(spec.preset, spec.design);
  try {
    clause.check(ctx);
    // A clause that passes must also leave nothing mapped or allocated (C158: every map has its unmap).
    const leaks = ctx.systems.flatMap((s) => s.dma.liveResources());
    if (leaks.length > 0)
      return {
        ...spec,
        status: "fail",
        message: `the check left live resources: ${leaks.join("; ")}`,
      };
    return { ...spec, status: "pass" };
  } catch (e) {
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    // A design that cannot build the preset's configuration cannot serve it: an expected failure with the linker's reason.
    if (e instanceof KernelBuildError)
      return {
        ...spec,
        status: "xfail",
        message: `${spec.design} cannot build this configuration: ${e.message}`,
      };
    const defect = designDefect(spec.design, clause);
    if (defect !== null) return { ...spec, status: "xfail", message: `${defect} (${message})` };
    if (predates(spec.design, clause))
      return {
        ...spec,
        status: "xfail",
        message: `${DESIGNS[spec.design].kernel} predates this behaviour (${message})`,
      };
    return { ...spec, status: "fail", message };
  }
}

export function runCells(specs: CellSpec[]): Cell[] {
  return specs.map(runCell);
}

export interface Summary {
  total: number;
  pass: number;
  fail: number;
  na: number;
  xfail: number;
  /** [preset][status] counts, for the summary table. */
  byPreset: Record<string, Record<CellStatus, number>>;
}

export function summarise(cells: Cell[]): Summary {
  const s: Summary = { total: cells.length, pass: 0, fail: 0, na: 0, xfail: 0, byPreset: {} };
  for (const c of cells) {
    if (c.status === "pass") s.pass++;
    else if (c.status === "fail") s.fail++;
    else if (c.status === "xfail") s.xfail++;
    else s.na++;
    const row = (s.byPreset[c.preset] ??= { pass: 0, fail: 0, "n/a": 0, xfail: 0 });
    row[c.status]++;
  }
  return s;
}
