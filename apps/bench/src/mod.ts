/**
 * @module
 * @dmasim/bench: the kernel's dma_map_benchmark on dmasim — its options,
 * loop and output lines, with threads as comlink workers.
 */
export { type MainIO, main, type Variant, variants } from "./cli.ts";
export {
  BenchThread,
  buildSystem,
  type Counters,
  calibrateTimer,
  OwnedThread,
  SharedBench,
  type ThreadResult,
  type TimerInfo,
} from "./loop.ts";
export { type BenchOptions, DEFAULTS, OptionError, parseOptions, USAGE } from "./options.ts";
export {
  type Aggregate,
  aggregate,
  compareTable,
  extraLines,
  kernelLines,
  svgChart,
} from "./report.ts";
export { type RunHooks, type RunOutcome, run, runIndependent, runShared } from "./runner.ts";
