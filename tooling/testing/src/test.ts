// Deno.test's shapes on vitest: test(name, fn), test(name, options, fn),
// test(def), test(namedFn), test(options, fn); t.step() nested to any depth.
import { test as vitestTest } from "vitest";
import { LeakError, ResourceCollector, type ResourceSource, withCollector } from "./sanitizer.ts";

/** What a test or step function receives. */
export interface TestContext {
  /** The test's or step's own name. */
  readonly name: string;
  /** Where the test was declared (the file, as far as the stack tells). */
  readonly origin: string;
  /** The enclosing context, for steps. */
  readonly parent?: TestContext;
  /** Runs a nested step; resolves to whether it passed and never rejects. */
  step(def: StepDefinition): Promise<boolean>;
  step(name: string, fn: TestFn): Promise<boolean>;
  step(fn: TestFn): Promise<boolean>;
  /** Registers a resource source with this test's sanitizer. */
  track(source: ResourceSource, label?: string): void;
}

export type TestFn = (t: TestContext) => void | Promise<void>;

export interface StepDefinition {
  name: string;
  fn: TestFn;
  ignore?: boolean;
}

export interface TestOptions {
  ignore?: boolean;
  only?: boolean;
  /** Fail the test when a registered source still holds resources at its end (default true). */
  sanitizeResources?: boolean;
  /** How long the test may run, in ms (default: the vitest config's, 30 s); for long property and fuzz runs. */
  timeout?: number;
}

export interface TestDefinition extends TestOptions {
  name: string;
  fn: TestFn;
}

/** Thrown for a failed step; the message starts with the step's full path. */
export class StepError extends Error {
  override name = "StepError";
  constructor(
    readonly path: readonly string[],
    override readonly cause: unknown,
  ) {
    const inner = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`step "${path.join(" > ")}" failed: ${inner}`);
    if (cause instanceof Error && cause.stack)
      this.stack = `${this.name}: ${this.message}\n${cause.stack.split("\n").slice(1).join("\n")}`;
  }
}

class Context implements TestContext {
  readonly failures: StepError[] = [];
  #pending = 0;

  constructor(
    readonly name: string,
    readonly origin: string,
    readonly path: readonly string[],
    readonly collector: ResourceCollector,
    readonly parent?: Context,
  ) {}

  get pending(): number {
    return this.#pending;
  }

  track(source: ResourceSource, label?: string): void {
    this.collector.register(source, label);
  }

  step(a: StepDefinition | string | TestFn, b?: TestFn): Promise<boolean> {
    const def = normaliseStep(a, b);
    if (def.ignore) return Promise.resolve(false);
    const child = new Context(
      def.name,
      this.origin,
      [...this.path, def.name],
      this.collector,
      this,
    );
    this.#pending++;
    return (async () => {
      try {
        await def.fn(child);
        if (child.pending > 0)
          throw new Error("a step returned while its own steps were running: await every t.step()");
        if (child.failures.length > 0) {
          this.failures.push(...child.failures);
          return false;
        }
        return true;
      } catch (e) {
        this.failures.push(...child.failures, new StepError(child.path, e));
        return false;
      } finally {
        this.#pending--;
      }
    })();
  }
}

function normaliseStep(a: StepDefinition | string | TestFn, b?: TestFn): StepDefinition {
  if (typeof a === "string") {
    if (typeof b !== "function") throw new TypeError("t.step(name, fn): fn must be a function");
    return { name: a, fn: b };
  }
  if (typeof a === "function") {
    if (!a.name) throw new TypeError("t.step(fn): fn must be a named function");
    return { name: a.name, fn: a };
  }
  if (!a || typeof a.fn !== "function" || typeof a.name !== "string") {
    throw new TypeError("t.step(def): def needs a string name and a function fn");
  }
  return a;
}

function originOf(): string {
  const line = new Error().stack?.split("\n").find((l) => l.includes("_test.ts"));
  const m = line?.match(/\(?((?:file:\/\/)?[^()\s]+_test\.ts)/);
  return m?.[1] ?? "unknown";
}

/** The outcome of one test run, without vitest: used by `test()` and by the harness's own tests. */
export interface TestOutcome {
  passed: boolean;
  /** The error vitest reports: one failure directly, several as an AggregateError. */
  error?: Error;
}

/** Runs a test definition to completion and reports its outcome. */
export async function runTest(def: TestDefinition, origin = "unknown"): Promise<TestOutcome> {
  const collector = new ResourceCollector();
  const ctx = new Context(def.name, origin, [def.name], collector);
  const errors: Error[] = [];
  await withCollector(collector, async () => {
    try {
      await def.fn(ctx);
      if (ctx.pending > 0)
        errors.push(
          new Error(`test "${def.name}" returned while steps were running: await every t.step()`),
        );
    } catch (e) {
      errors.push(e instanceof Error ? e : new Error(String(e)));
    }
  });
  errors.unshift(...ctx.failures);
  if (def.sanitizeResources !== false) {
    const leaks = collector.leaks();
    if (leaks.length > 0) errors.push(new LeakError(leaks));
  }
  if (errors.length === 0) return { passed: true };
  if (errors.length === 1) return { passed: false, error: errors[0]! };
  return {
    passed: false,
    error: new AggregateError(
      errors,
      `${errors.length} failures:\n${errors.map((e) => `  - ${e.message.split("\n")[0]}`).join("\n")}`,
    ),
  };
}

function normaliseTest(a: unknown, b?: unknown, c?: unknown): TestDefinition {
  if (typeof a === "string") {
    if (typeof b === "function") return { name: a, fn: b as TestFn };
    if (typeof c === "function") return { ...(b as TestOptions), name: a, fn: c as TestFn };
    throw new TypeError("test(name, fn) or test(name, options, fn): fn must be a function");
  }
  if (typeof a === "function") {
    if (!a.name) throw new TypeError("test(fn): fn must be a named function");
    return { name: a.name, fn: a as TestFn };
  }
  if (a && typeof a === "object") {
    const opts = a as Partial<TestDefinition>;
    if (typeof b === "function") {
      const fn = b as TestFn;
      const name = opts.name ?? fn.name;
      if (!name)
        throw new TypeError("test(options, fn): a name is needed, in options or as fn's name");
      return { ...opts, name, fn };
    }
    if (typeof opts.fn === "function" && typeof opts.name === "string")
      return opts as TestDefinition;
  }
  throw new TypeError(
    "test(): expected (def), (name, fn), (fn), (name, options, fn) or (options, fn)",
  );
}

function register(def: TestDefinition, origin: string): void {
  const body = async () => {
    const outcome = await runTest(def, origin);
    if (!outcome.passed) throw outcome.error;
  };
  if (def.timeout !== undefined && (!Number.isFinite(def.timeout) || def.timeout <= 0))
    throw new RangeError(`test(): timeout must be a positive number of ms, got ${def.timeout}`);
  if (def.ignore) vitestTest.skip(def.name, body, def.timeout);
  else if (def.only) vitestTest.only(def.name, body, def.timeout);
  else vitestTest(def.name, body, def.timeout);
}

export interface DenoTest {
  (def: TestDefinition): void;
  (name: string, fn: TestFn): void;
  (fn: TestFn): void;
  (name: string, options: TestOptions, fn: TestFn): void;
  (options: TestOptions & { name?: string }, fn: TestFn): void;
  ignore: DenoTest;
  only: DenoTest;
}

function make(extra: TestOptions): DenoTest {
  const f = ((a: unknown, b?: unknown, c?: unknown) => {
    register({ ...normaliseTest(a, b, c), ...extra }, originOf());
  }) as DenoTest;
  return f;
}

/** Declares a test, in any of Deno.test's shapes. */
export const test: DenoTest = make({});
test.ignore = make({ ignore: true });
test.only = make({ only: true });
test.ignore.ignore = test.ignore;
test.ignore.only = test.only;
test.only.ignore = test.ignore;
test.only.only = test.only;
