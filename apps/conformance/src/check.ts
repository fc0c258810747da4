// What a clause check can use: a system of its preset (built per check, so
// checks never share state), and small assertion helpers that name the clause.
import { createSystem, type DmaSystem, type SystemOptions } from "@dmasim/arch";
import type { DispatchDesign } from "@dmasim/dma-core";
import { PRESETS, type PresetName } from "./presets.ts";

/** A clause's expectation did not hold. */
export class ClauseFailure extends Error {
  override name = "ClauseFailure";
}

export function expect(cond: unknown, message: string): asserts cond {
  if (!cond) throw new ClauseFailure(message);
}

const show = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x));

export function eq<T>(actual: T, expected: T, message: string): void {
  const a = show(actual);
  const e = show(expected);
  if (a !== e) throw new ClauseFailure(`${message}: expected ${e}, got ${a}`);
}

export interface CheckContext {
  design: DispatchDesign;
  preset: PresetName;
  /** A fresh system of this preset under this design, with extra options. */
  make(options?: SystemOptions): DmaSystem;
  /** Every system this check built (the runner checks they end with nothing live). */
  readonly systems: DmaSystem[];
}

export function checkContext(preset: PresetName, design: DispatchDesign): CheckContext {
  const p = PRESETS[preset];
  const systems: DmaSystem[] = [];
  return {
    design,
    preset,
    systems,
    make: (options = {}) => {
      const sys = createSystem(p.profile, {
        ...p.options,
        ...options,
        config: { ...p.options.config, ...options.config },
        cmdline: [p.options.cmdline, options.cmdline].filter(Boolean).join(" ") || undefined,
        design,
      });
      systems.push(sys);
      return sys;
    },
  };
}

/** A page of RAM above 4 GiB on the system's board, as a kernel virtual address. */
export function highPage(sys: DmaSystem, order = 0): { va: number; pa: number } {
  const last = sys.machine.memory.lastRamByte + 1;
  const pa = last - 2 ** 30; // 1 GiB below the end of RAM: above 4 GiB on every board with RAM there
  if (!sys.machine.pages.allocPagesAt(pa, order))
    throw new ClauseFailure(`could not take RAM at 0x${pa.toString(16)}`);
  return { va: sys.machine.kas.physToVirt(pa), pa };
}

/** A page of RAM below 4 GiB. */
export function lowPage(sys: DmaSystem, order = 0): { va: number; pa: number } {
  const pa = sys.machine.memory.ramRanges[0]!.start + 0x10000000;
  if (!sys.machine.pages.allocPagesAt(pa, order))
    throw new ClauseFailure(`could not take RAM at 0x${pa.toString(16)}`);
  return { va: sys.machine.kas.physToVirt(pa), pa };
}
