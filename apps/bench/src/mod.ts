/**
 * @module
 * @dmasim/bench: the kernel's dma_map_benchmark on dmasim — its options,
 * loop and output lines, with threads as comlink workers.
 */
export { BenchThread, buildSystem, type Counters, type ThreadResult } from "./loop.ts";
export { type BenchOptions, DEFAULTS, OptionError, parseOptions } from "./options.ts";
export { type Aggregate, aggregate, extraLines, kernelLines, svgChart } from "./report.ts";
export { run, runIndependent, runShared } from "./runner.ts";
