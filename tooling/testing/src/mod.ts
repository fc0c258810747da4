/**
 * @module
 * The dmasim test harness: Deno's `test()` and `t.step()` on top of vitest,
 * the assertions of Deno's `@std/assert` with the same names and argument
 * order, and a resource sanitizer that fails a test which ends with live
 * DMA mappings or allocations.
 */

export { format as formatValue } from "./_diff.ts";
export * from "./assert.ts";
export {
  BAD_VALUES,
  type BadInputCase,
  type BadInputReport,
  type BadInputSuite,
  defaultedParams,
  fieldMutations,
  isEngineError,
  isNonsense,
  methodCase,
  paramNames,
  runBadInput,
} from "./bad_input.ts";
export {
  LeakError,
  ResourceCollector,
  type ResourceSource,
  registerResourceSource,
  SANITIZER_KEY,
  type SanitizerHook,
} from "./sanitizer.ts";
export {
  type DenoTest,
  runTest,
  type StepDefinition,
  StepError,
  type TestContext,
  type TestDefinition,
  type TestFn,
  type TestOptions,
  type TestOutcome,
  test,
} from "./test.ts";
