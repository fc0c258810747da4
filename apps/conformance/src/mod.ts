/**
 * @module
 * @dmasim/conformance: the clause catalogue of the DMA API spec run as a
 * matrix (clause × preset × dispatch design), and oracle replay of recorded
 * Linux kernels.
 */
export { CATALOGUE, type Clause, clauseById } from "./catalogue.ts";
export { ClauseFailure, checkContext } from "./check.ts";
export { recordSetup, replayRecord } from "./oracle.ts";
export { runPool } from "./pool.ts";
export { PRESET_NAMES, PRESETS, type Preset, type PresetName } from "./presets.ts";
export { summaryTable, toJson, toJunit, toMarkdown } from "./report.ts";
export { type Cell, type CellSpec, planCells, runCell, runCells, summarise } from "./runner.ts";
