// The options of the kernel's tools/dma/dma_map_benchmark, with its ranges,
// plus dmasim's: profile, design, strict/lazy, iterations, outputs, compare.
import { PROFILE_NAMES, type ProfileName } from "@dmasim/arch";
import { DISPATCH_DESIGNS, type DispatchDesign } from "@dmasim/dma-core";

export interface BenchOptions {
  threads: number;
  seconds: number;
  node: number;
  bits: number;
  dir: 0 | 1 | 2;
  delayNs: number;
  granule: number;
  mode: 0 | 1;
  profile: ProfileName;
  design: DispatchDesign;
  policy: "default" | "strict" | "lazy";
  /** Iterations per thread instead of a duration (reproducible runs). */
  iterations: number | null;
  /** independent: one system per worker; shared: one system whose simulated CPUs are the threads. */
  sharing: "independent" | "shared";
  json: string | null;
  svg: string | null;
  compare: "designs" | "profiles" | "strict,lazy" | null;
  quiet: boolean;
}

export const DEFAULTS: BenchOptions = {
  threads: 1,
  seconds: 20,
  node: -1,
  bits: 32,
  dir: 0,
  delayNs: 0,
  granule: 1,
  mode: 0,
  profile: "x86_64-vtd",
  design: "phys",
  policy: "default",
  iterations: null,
  sharing: "independent",
  json: null,
  svg: null,
  compare: null,
  quiet: false,
};

export class OptionError extends Error {
  override name = "OptionError";
}

function int(name: string, v: string | undefined, lo: number, hi: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < lo || n > hi) {
    throw new OptionError(
      `${name} must be an integer from ${lo} to ${hi}, got ${v === undefined ? "nothing" : JSON.stringify(v)}`,
    );
  }
  return n;
}

export const USAGE = `usage: dmasim-bench [options]
  -t threads      1..1024 (default 1)
  -s seconds      1..300 (default 20)
  -n node         -1..63, NUMA node (-1: none; recorded, the model has one node)
  -b bits         20..64, DMA mask bits (default 32)
  -d direction    0 BIDIRECTIONAL, 1 TO_DEVICE, 2 FROM_DEVICE (default 0)
  -x delay        0..10000000 ns between map and unmap (simulated time)
  -g granule      1..1024 pages per mapping (sg entries with -m 1)
  -m mode         0 single, 1 scatter-gather
  -p profile      ${PROFILE_NAMES.join(", ")} (default x86_64-vtd)
  -D design       ${DISPATCH_DESIGNS.join(", ")} (default phys)
  --strict | --lazy   IOMMU unmap policy (default: the profile's)
  -i iterations   1..100000000 per thread instead of -s
  --shared        one system whose CPUs are the threads (default: one system per worker)
  --compare X     designs | profiles | strict,lazy: the same workload side by side
  --json FILE     results as JSON ("-" for stdout)
  --svg FILE      a chart of mean latencies
  -q              no progress bar`;

export function parseOptions(argv: string[]): BenchOptions {
  const o: BenchOptions = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = () => argv[++i];
    switch (a) {
      case "-t":
        o.threads = int("-t (threads)", v(), 1, 1024);
        break;
      case "-s":
        o.seconds = int("-s (seconds)", v(), 1, 300);
        break;
      case "-n":
        o.node = int("-n (node)", v(), -1, 63);
        break;
      case "-b":
        o.bits = int("-b (DMA mask bits)", v(), 20, 64);
        break;
      case "-d":
        o.dir = int("-d (direction)", v(), 0, 2) as 0 | 1 | 2;
        break;
      case "-x":
        o.delayNs = int("-x (delay ns)", v(), 0, 10_000_000);
        break;
      case "-g":
        o.granule = int("-g (granule pages)", v(), 1, 1024);
        break;
      case "-m":
        o.mode = int("-m (mode)", v(), 0, 1) as 0 | 1;
        break;
      case "-i":
        o.iterations = int("-i (iterations)", v(), 1, 100_000_000);
        break;
      case "-p": {
        const p = v();
        if (!PROFILE_NAMES.includes(p as ProfileName))
          throw new OptionError(
            `-p (profile) must be one of ${PROFILE_NAMES.join(", ")}, got ${JSON.stringify(p)}`,
          );
        o.profile = p as ProfileName;
        break;
      }
      case "-D": {
        const d = v();
        if (!DISPATCH_DESIGNS.includes(d as DispatchDesign))
          throw new OptionError(
            `-D (design) must be one of ${DISPATCH_DESIGNS.join(", ")}, got ${JSON.stringify(d)}`,
          );
        o.design = d as DispatchDesign;
        break;
      }
      case "--strict":
        o.policy = "strict";
        break;
      case "--lazy":
        o.policy = "lazy";
        break;
      case "--shared":
        o.sharing = "shared";
        break;
      case "--compare": {
        const c = v();
        if (c !== "designs" && c !== "profiles" && c !== "strict,lazy")
          throw new OptionError(
            `--compare must be designs, profiles or strict,lazy, got ${JSON.stringify(c)}`,
          );
        o.compare = c;
        break;
      }
      case "--json":
        o.json = v() ?? null;
        if (o.json === null) throw new OptionError("--json needs a file name (or -)");
        break;
      case "--svg":
        o.svg = v() ?? null;
        if (o.svg === null) throw new OptionError("--svg needs a file name");
        break;
      case "-q":
        o.quiet = true;
        break;
      default:
        throw new OptionError(`unknown option ${JSON.stringify(a)}`);
    }
  }
  return o;
}
