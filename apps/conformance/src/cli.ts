#!/usr/bin/env node
// dmasim-conformance: the clause matrix, and oracle replay of Linux records.
import { readdirSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { DISPATCH_DESIGNS, type DispatchDesign } from "@dmasim/dma-core";
import { SingleBar } from "cli-progress";
import { CATALOGUE } from "./catalogue.ts";
import { replayRecord } from "./oracle.ts";
import { runPool } from "./pool.ts";
import { PRESET_NAMES, type PresetName } from "./presets.ts";
import { failuresText, summaryTable, toJson, toJunit, toMarkdown } from "./report.ts";
import { planCells, summarise } from "./runner.ts";

const USAGE = `usage:
  dmasim-conformance [run] [--clause IDS] [--profile PRESETS] [--design DESIGNS] [--workers N]
                     [--json FILE] [--junit FILE] [--markdown FILE] [--oracle DIR]
  dmasim-conformance oracle FILE.json...

  --clause    comma-separated clause ids (e.g. C036,D001)
  --profile   comma-separated presets: ${PRESET_NAMES.join(", ")}
  --design    comma-separated designs: ${DISPATCH_DESIGNS.join(", ")}
  --workers   worker threads (0 = run in this thread; default: available cores)
  --json, --junit, --markdown   write that report to FILE ("-" for stdout)
  --oracle    also replay every *.json record in DIR
exit: 0 every cell as expected (and every oracle field matched), 1 otherwise, 2 bad arguments`;

class UsageError extends Error {}

function list<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
): T[] {
  if (!value) throw new UsageError(`${name} needs a value; allowed: ${allowed.join(", ")}`);
  const items = value.split(",").filter(Boolean);
  for (const v of items)
    if (!allowed.includes(v as T))
      throw new UsageError(
        `${name}: unknown value ${JSON.stringify(v)}; allowed: ${allowed.join(", ")}`,
      );
  return items as T[];
}

interface Args {
  mode: "run" | "oracle";
  clauses?: string[];
  presets?: PresetName[];
  designs?: DispatchDesign[];
  workers: number;
  json?: string;
  junit?: string;
  markdown?: string;
  oracleDir?: string;
  files: string[];
}

export function parseArgs(argv: string[]): Args {
  const a: Args = { mode: "run", workers: Math.max(1, availableParallelism()), files: [] };
  let i = 0;
  if (argv[0] === "run" || argv[0] === "oracle") a.mode = argv[i++] as "run" | "oracle";
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case "--clause":
        a.clauses = list(
          "--clause",
          val(),
          CATALOGUE.map((c) => c.id),
        );
        break;
      case "--profile":
        a.presets = list("--profile", val(), PRESET_NAMES);
        break;
      case "--design":
        a.designs = list("--design", val(), DISPATCH_DESIGNS);
        break;
      case "--workers": {
        const n = Number(val());
        if (!Number.isInteger(n) || n < 0 || n > 64)
          throw new UsageError(`--workers must be an integer from 0 to 64, got ${argv[i]}`);
        a.workers = n;
        break;
      }
      case "--json":
        a.json = val();
        break;
      case "--junit":
        a.junit = val();
        break;
      case "--markdown":
        a.markdown = val();
        break;
      case "--oracle":
        a.oracleDir = val();
        break;
      case "-h":
      case "--help":
        throw new UsageError("");
      default:
        if (a.mode === "oracle" && !arg.startsWith("-")) a.files.push(arg);
        else throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (a.mode === "oracle" && a.files.length === 0)
    throw new UsageError("oracle needs at least one FILE.json");
  return a;
}

function write(target: string, text: string): void {
  if (target === "-") process.stdout.write(`${text}\n`);
  else writeFileSync(target, `${text}\n`);
}

function oracle(files: string[]): boolean {
  let m = 0;
  let t = 0;
  for (const f of files) {
    const r = replayRecord(f);
    m += r.matched;
    t += r.total;
    console.log(`${r.config}: ${r.matched}/${r.total} fields matched`);
    for (const x of r.mismatches)
      console.log(`  ${x.path}: expected ${String(x.expected)}, got ${String(x.actual)}`);
  }
  console.log(`oracle: ${m}/${t} fields matched`);
  return m === t;
}

async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message) console.error(`dmasim-conformance: ${e.message}`);
      console.error(USAGE);
      return e.message ? 2 : 0;
    }
    throw e;
  }
  if (args.mode === "oracle") return oracle(args.files) ? 0 : 1;

  const specs = planCells({ clauses: args.clauses, presets: args.presets, designs: args.designs });
  const tty = process.stdout.isTTY === true && !process.env.CI;
  const bar = tty
    ? new SingleBar({ format: "conformance [{bar}] {value}/{total} cells", hideCursor: true })
    : null;
  bar?.start(specs.length, 0);
  let lastTenth = -1;
  const t0 = performance.now();
  const cells = await runPool(specs, {
    workers: args.workers,
    onProgress: (done, total) => {
      if (bar) bar.update(done);
      else if (Math.floor((done * 10) / total) !== lastTenth) {
        lastTenth = Math.floor((done * 10) / total);
        console.log(`conformance: ${done}/${total} cells`);
      }
    },
  });
  bar?.stop();
  const summary = summarise(cells);
  console.log(summaryTable(cells));
  const fails = failuresText(cells);
  if (fails) console.log(fails);
  console.log(
    `conformance: ${summary.pass} passed, ${summary.fail} failed, ${summary.xfail} expected failures, ${summary.na} not applicable (${CATALOGUE.length} clauses, ${((performance.now() - t0) / 1000).toFixed(1)} s, ${args.workers} workers)`,
  );
  if (args.json) write(args.json, toJson(cells, summary));
  if (args.junit) write(args.junit, toJunit(cells));
  if (args.markdown) write(args.markdown, toMarkdown(cells, summary));
  let ok = summary.fail === 0;
  if (args.oracleDir) {
    const files = readdirSync(args.oracleDir)
      .filter((f) => f.endsWith(".json"))
      .sort()
      .map((f) => join(args.oracleDir!, f));
    ok = oracle(files) && ok;
  }
  return ok ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("/cli.js")) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e instanceof Error ? (e.stack ?? e.message) : e);
      process.exit(1);
    },
  );
}

export { main };
