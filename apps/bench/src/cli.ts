#!/usr/bin/env node
// dmasim-bench: the kernel's dma_map_benchmark on dmasim.
import { writeFileSync as fsWrite } from "node:fs";
import { PROFILE_NAMES } from "@dmasim/arch";
import { DISPATCH_DESIGNS } from "@dmasim/dma-core";
import { SingleBar } from "cli-progress";
import { type BenchOptions, OptionError, parseOptions, USAGE } from "./options.ts";
import {
  type Aggregate,
  aggregate,
  compareTable,
  extraLines,
  kernelLines,
  type Row,
  svgChart,
} from "./report.ts";
import { type RunHooks, run } from "./runner.ts";

/** Profiles --compare profiles leaves out: they exist to fail (no map_page, dummy ops). */
const NOT_BENCHMARKED = ["dummy", "arm64-dummy", "ops-without-map-page"];

export interface Variant {
  label: string;
  o: BenchOptions;
}

/** The runs a command line asks for: --compare's variants times -g's granules. */
export function variants(o: BenchOptions): Variant[] {
  let base: Variant[];
  switch (o.compare) {
    case "designs":
      base = DISPATCH_DESIGNS.map((d) => ({ label: d, o: { ...o, design: d } }));
      break;
    case "profiles":
      base = PROFILE_NAMES.filter((p) => !NOT_BENCHMARKED.includes(p)).map((p) => ({
        label: p,
        o: { ...o, profile: p },
      }));
      break;
    case "strict,lazy":
      base = [
        { label: "strict", o: { ...o, policy: "strict" } },
        { label: "lazy", o: { ...o, policy: "lazy" } },
      ];
      break;
    default:
      base = [{ label: `${o.profile}/${o.design}`, o }];
  }
  if (o.granules.length === 1) return base;
  return base.flatMap((v) =>
    o.granules.map((g) => ({
      label: o.compare ? `${v.label} g=${g}` : `g=${g}`,
      o: { ...v.o, granule: g, granules: [g] },
    })),
  );
}

export interface MainIO {
  out(line: string): void;
  err(line: string): void;
  /** Progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
  /** Extra runner hooks (tests: a stop flag, in-process shared mode). */
  hooks?: RunHooks;
}

const consoleIO: MainIO = {
  out: (l) => console.log(l),
  err: (l) => console.error(l),
};

interface RunRecord {
  label: string;
  options: BenchOptions;
  kernel: string[];
  mapNs: number;
  unmapNs: number;
  opsPerSecond: number;
  interrupted: boolean;
  error: string | null;
  aggregate: Aggregate | null;
}

/** The --json document: top-level figures over every call of every run, then each run. */
export function jsonDocument(argv: string[], runs: RunRecord[]): Record<string, unknown> {
  let loops = 0;
  let mapNs = 0;
  let unmapNs = 0;
  let wallMs = 0;
  for (const r of runs) {
    if (!r.aggregate) continue;
    loops += r.aggregate.loops;
    mapNs += r.aggregate.mapNs * r.aggregate.loops;
    unmapNs += r.aggregate.unmapNs * r.aggregate.loops;
    wallMs += r.aggregate.wallMs;
  }
  return {
    tool: "dmasim-bench",
    argv,
    mapNs: loops ? mapNs / loops : 0,
    unmapNs: loops ? unmapNs / loops : 0,
    opsPerSecond: wallMs > 0 ? loops / (wallMs / 1000) : 0,
    loops,
    interrupted: runs.some((r) => r.interrupted),
    runs,
  };
}

class OutputError extends Error {}

function writeFileSync(file: string, text: string): void {
  try {
    fsWrite(file, text);
  } catch (e) {
    throw new OutputError(`cannot write ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export async function main(argv: string[], io: MainIO = consoleIO): Promise<number> {
  let o: BenchOptions;
  if (argv.includes("-h") || argv.includes("--help")) {
    io.out(USAGE);
    return 0;
  }
  try {
    o = parseOptions(argv);
  } catch (e) {
    if (e instanceof OptionError) {
      io.err(`dmasim-bench: ${e.message}`);
      io.err(USAGE);
      return 2;
    }
    throw e;
  }
  // With --json -, stdout carries the JSON alone; the text goes to stderr.
  const say = o.json === "-" ? io.err : io.out;
  const stop = io.hooks?.stop ?? { requested: false };
  let sigints = 0;
  const onSigint = () => {
    sigints++;
    if (sigints > 1) process.exit(130);
    stop.requested = true;
    io.err("dmasim-bench: interrupted; finishing with the partial results (Ctrl-C again to quit)");
  };
  process.on("SIGINT", onSigint);
  const tty =
    io.progress ??
    (process.stderr.isTTY === true && !process.env.CI && !o.quiet && io === consoleIO);
  const vs = variants(o);
  const table = vs.length > 1;
  const records: RunRecord[] = [];
  const rows: Row[] = [];
  let failed = false;
  try {
    for (const v of vs) {
      if (stop.requested) break;
      const total = v.o.iterations === null ? v.o.seconds * 1000 : v.o.iterations * v.o.threads;
      const bar = tty
        ? new SingleBar({
            format: `${v.label} [{bar}] {percentage}% | {pairs} pairs`,
            hideCursor: true,
            stream: process.stderr,
            clearOnComplete: true,
          })
        : null;
      bar?.start(total, 0, { pairs: 0 });
      let outcome: Awaited<ReturnType<typeof run>>;
      try {
        outcome = await run(v.o, {
          ...io.hooks,
          stop,
          onProgress: (loops, ms) => {
            bar?.update(v.o.iterations === null ? Math.min(ms, total) : loops, { pairs: loops });
            io.hooks?.onProgress?.(loops, ms);
          },
        });
      } catch (e) {
        bar?.stop();
        const msg = e instanceof Error ? e.message : String(e);
        // A variant this configuration cannot build or boot is a row of the table, not the end.
        if (table && e instanceof Error && /KernelBuildError|KernelBug/.test(e.name)) {
          rows.push({
            label: v.label,
            mapNs: 0,
            unmapNs: 0,
            mapP50: 0,
            unmapP50: 0,
            opsPerSecond: 0,
            kernel: [],
            note: `not run: ${e.name}: ${msg.split("\n")[0]!.slice(0, 110)}`,
          });
          records.push({
            label: v.label,
            options: v.o,
            kernel: [],
            mapNs: 0,
            unmapNs: 0,
            opsPerSecond: 0,
            interrupted: false,
            error: `${e.name}: ${msg}`,
            aggregate: null,
          });
          continue;
        }
        throw e;
      }
      bar?.stop();
      const a = aggregate(outcome, v.o.sharing);
      const kl = kernelLines(v.o, a);
      if (!table) {
        for (const l of kl) say(l);
        for (const l of extraLines(v.o, a)) say(l);
      }
      if (outcome.interrupted)
        say(`dmasim: ${v.label}: interrupted; partial results over ${a.loops} pairs`);
      const error = a.errors.length
        ? a.errors.map((x) => `thread ${x.thread}: ${x.error}`).join("; ")
        : null;
      if (error) {
        // In a table a variant whose map fails is a row with its reason; alone it is the run's failure.
        if (!table) failed = true;
        io.err(`dmasim-bench: ${v.label}: ${error}`);
      }
      rows.push({
        label: v.label,
        ...(error && a.loops === 0 ? { note: `no pairs: ${error}` } : {}),
        mapNs: a.mapNs,
        unmapNs: a.unmapNs,
        mapP50: a.map.p50,
        unmapP50: a.unmap.p50,
        opsPerSecond: a.opsPerSecond,
        kernel: kl,
      });
      records.push({
        label: v.label,
        options: v.o,
        kernel: kl,
        mapNs: a.mapNs,
        unmapNs: a.unmapNs,
        opsPerSecond: a.opsPerSecond,
        interrupted: outcome.interrupted,
        error,
        aggregate: a,
      });
    }
  } catch (e) {
    io.err(`dmasim-bench: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    process.off("SIGINT", onSigint);
  }
  if (table) for (const l of compareTable(rows)) say(l);
  try {
    if (o.json) {
      const text = JSON.stringify(jsonDocument(argv, records), null, 2);
      if (o.json === "-") io.out(text);
      else writeFileSync(o.json, `${text}\n`);
    }
    if (o.svg) {
      const what = o.compare
        ? `--compare ${o.compare}`
        : o.granules.length > 1
          ? `${o.profile}/${o.design}, per granule`
          : `${o.profile}/${o.design}`;
      const g = o.granules.length > 1 ? "" : `, granule ${o.granule}`;
      writeFileSync(
        o.svg,
        `${svgChart(
          `dma_map_benchmark on dmasim: ${what}${g}, ${o.mode === 1 ? "sg" : "single"}, ${o.threads} thread(s)`,
          rows.filter((r) => r.note === undefined),
        )}\n`,
      );
    }
  } catch (e) {
    if (!(e instanceof OutputError)) throw e;
    io.err(`dmasim-bench: ${e.message}`);
    return 1;
  }
  if (failed) return 1;
  return stop.requested ? 130 : 0;
}

if (process.argv[1]?.endsWith("/cli.js") || process.argv[1]?.endsWith("/dmasim-bench")) {
  // `dmasim-bench | head -3`: a closed pipe ends the run quietly.
  for (const s of [process.stdout, process.stderr])
    s.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") process.exit(0);
      throw e;
    });
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e instanceof Error ? (e.stack ?? e.message) : e);
      process.exit(1);
    },
  );
}
