// The machinery of the "bad input everywhere" tests: each public function is
// called with one argument at a time replaced by a wrong value (wrong type,
// NaN, negative, fractional, huge, plus per-parameter extras such as an
// unknown device or an address outside memory). A call must end in a clear
// error (not a JavaScript engine error from deep inside the model) or in a
// return value, and afterwards the model must still pass its own check. The
// parameters come from the functions' source, so a new parameter is covered
// the day it is added. Calls that return normally with a non-numeric, NaN or
// fractional argument are reported as "accepted" unless the case lists the
// parameter as lenient (a query that answers false, a label, a flag).

import { appendFileSync } from "node:fs";

/** The wrong values every parameter is tried with. */
export const BAD_VALUES: ReadonlyArray<readonly [string, unknown]> = [
  ["NaN", Number.NaN],
  ["-1", -1],
  ["1.5", 1.5],
  ["2^60", 2 ** 60],
  ["a string", "4096"],
  ["null", null],
  ["undefined", undefined],
  ["an object", {}],
];

/** Values no function should take quietly where a number is expected. */
const NONSENSE = new Set<string>(["NaN", "1.5", "a string", "null", "an object"]);

/** The bad value's own label: "ramGiB = NaN" (an extra naming its field) is "NaN". */
function valueLabel(label: string): string {
  const i = label.lastIndexOf(" = ");
  return i < 0 ? label : label.slice(i + 3);
}

// biome-ignore lint/suspicious/noExplicitAny: any function is tried
type AnyFn = (...a: any[]) => unknown;

function paramList(fn: AnyFn): string {
  const src = fn.toString();
  const open = src.indexOf("(");
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    if ("([{".includes(src[i]!)) depth++;
    else if (")]}".includes(src[i]!) && --depth === 0) return src.slice(open + 1, i);
  }
  return "";
}

function splitTop(list: string): string[] {
  const out: string[] = [];
  let cur = "";
  let depth = 0;
  for (const ch of list) {
    if ("([{".includes(ch)) depth++;
    if (")]}".includes(ch)) depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur);
  return out;
}

/** The parameter names of a function or method, from its source (a destructured one is named "options"). */
export function paramNames(fn: AnyFn): string[] {
  return splitTop(paramList(fn)).map((p) => {
    const n = p.split("=")[0]!.trim();
    return n.startsWith("{") ? "options" : n.replace(/^\.\.\./, "");
  });
}

/** Parameters declared with a default value: undefined there is not a bad argument. */
export function defaultedParams(fn: AnyFn): Set<string> {
  return new Set(
    splitTop(paramList(fn))
      .filter((p) => p.includes("="))
      .map((p) => p.split("=")[0]!.trim()),
  );
}

/** An error that comes from the engine, not from the model's own checks. */
export function isEngineError(e: unknown): boolean {
  if (!(e instanceof Error)) return true;
  return (
    /Cannot read propert|Cannot set propert|is not a function|is not iterable|is not a constructor|Cannot convert|^undefined is not|^null is not|Maximum call stack|Invalid array length|Invalid typed array length|Array buffer allocation failed|Cannot mix BigInt|offset is out of bounds|Start offset|toString\(\) radix/.test(
      e.message,
    ) || e.name === "InternalError"
  );
}

/**
 * Every way to break one field of a plain-data object (a machine description,
 * an options bag): each leaf replaced in turn by each bad value, and each
 * object and array by a wrong type. Returns [path, bad label, mutated copy].
 */
export function fieldMutations(value: object): Array<[string, string, unknown]> {
  const out: Array<[string, string, unknown]> = [];
  const walk = (v: unknown, path: Array<string | number>): void => {
    if (path.length > 0) {
      for (const [label, bad] of BAD_VALUES) {
        if (typeof v === "string" && label === "a string") continue;
        if (typeof v === "object" && v !== null && !Array.isArray(v) && label === "an object")
          continue;
        const copy = structuredClone(value) as Record<string | number, unknown>;
        let o = copy;
        for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
        o[path[path.length - 1]!] = bad;
        out.push([
          path.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join(""),
          label,
          copy,
        ]);
      }
    }
    if (typeof v === "object" && v !== null)
      for (const [k, c] of Object.entries(v)) walk(c, [...path, Array.isArray(v) ? Number(k) : k]);
  };
  walk(value, []);
  return out;
}

/** Is this bad value one that a field or parameter of another type should never take quietly? */
export function isNonsense(label: string): boolean {
  return NONSENSE.has(valueLabel(label));
}

/** One public function under test. */
export interface BadInputCase<S> {
  /** "CpuCache.clean", "createMachine". */
  name: string;
  /** The function; it is called with `this` = target(state). */
  fn: (s: S) => AnyFn;
  target?: (s: S) => unknown;
  /** Good values for some parameters, by name (the suite's `good` answers the rest). */
  good?: Record<string, (s: S) => unknown>;
  /** More bad values for a parameter, by name. */
  extra?: Record<string, ReadonlyArray<readonly [string, unknown]>>;
  /** Parameters that may take nonsense without an error (labels, flags, queries that answer false), or "name:label" for one bad value. */
  lenient?: readonly string[];
  /** "name:label" bad values not to try (a known defect that would take the run's whole time budget). */
  skip?: readonly string[];
  /** Releases what a call that succeeded in spite of its argument made. */
  undo?: (s: S, args: unknown[], result: unknown) => void;
}

/**
 * The case for the method `name` of the object `obj(state)`, named "Class.name", called with
 * that object as `this`. `extra` holds the suite's own bad values by parameter name; the
 * case's `more.extra` adds to them (and wins for a name both give).
 */
export function methodCase<S, T extends object>(
  cls: string,
  obj: (s: S) => T,
  name: keyof T & string,
  extra: Record<string, ReadonlyArray<readonly [string, unknown]>> = {},
  more: Partial<BadInputCase<S>> = {},
): BadInputCase<S> {
  return {
    name: `${cls}.${name}`,
    fn: (s) => obj(s)[name] as never,
    target: obj,
    ...more,
    extra: { ...extra, ...more.extra },
  };
}

export interface BadInputSuite<S> {
  /** A fresh model. */
  setup: () => S;
  /** A good value for a parameter by name. */
  good: (s: S, name: string) => unknown;
  /** Throws when the model is broken or holds leftovers (`what` names the call). */
  check: (s: S, what: string) => void;
  cases: ReadonlyArray<BadInputCase<S>>;
}

export interface BadInputReport {
  tried: number;
  engine: string[];
  corrupted: string[];
  accepted: string[];
  summary: string;
}

/** Runs every case with each of its arguments in turn replaced by each bad value. */
export function runBadInput<S>(suite: BadInputSuite<S>): BadInputReport {
  let tried = 0;
  const engine: string[] = [];
  const corrupted: string[] = [];
  const accepted: string[] = [];
  /** DMASIM_BAD_INPUT_SLOW=<ms> names each call that takes longer. */
  const slow = Number(process.env.DMASIM_BAD_INPUT_SLOW ?? 0);
  for (const c of suite.cases) {
    let s = suite.setup();
    const f = c.fn(s);
    if (typeof f !== "function") throw new TypeError(`${c.name} is not a function`);
    const names = paramNames(f);
    const optional = defaultedParams(f);
    for (let pos = 0; pos < names.length; pos++) {
      const name = names[pos]!;
      const bads = [...BAD_VALUES, ...(c.extra?.[name] ?? [])];
      for (const [label, bad] of bads) {
        if (bad === undefined && optional.has(name)) continue;
        if (c.skip?.includes(`${name}:${label}`)) continue;
        const fn = c.fn(s);
        const args = names.map((n, i) =>
          i === pos ? bad : (c.good?.[n] ?? ((st: S) => suite.good(st, n)))(s),
        );
        tried++;
        const call = `${c.name}(${names.join(", ")}) with ${name} = ${label}`;
        const t0 = slow ? performance.now() : 0;
        try {
          const r = fn.apply(c.target ? c.target(s) : undefined, args);
          if (
            NONSENSE.has(valueLabel(label)) &&
            !c.lenient?.includes(name) &&
            !c.lenient?.includes(`${name}:${label}`)
          )
            accepted.push(call);
          c.undo?.(s, args, r);
        } catch (e) {
          if (isEngineError(e)) engine.push(`${call}: ${(e as Error)?.message ?? String(e)}`);
        }
        if (slow && performance.now() - t0 > slow)
          console.log(`slow: ${call}: ${Math.round(performance.now() - t0)} ms`);
        try {
          suite.check(s, call);
        } catch (e) {
          corrupted.push(`${call} left the model broken: ${(e as Error).message}`);
          s = suite.setup();
        }
      }
    }
  }
  const dump = process.env.DMASIM_BAD_INPUT_DUMP;
  if (dump)
    appendFileSync(
      dump,
      [...engine, ...corrupted, ...accepted.map((a) => `accepted: ${a}`), ""].join("\n"),
    );
  return {
    tried,
    engine,
    corrupted,
    accepted,
    summary: `bad input: ${tried} calls with one bad argument, ${engine.length} engine errors, ${corrupted.length} left the model unusable, ${accepted.length} accepted nonsense`,
  };
}
