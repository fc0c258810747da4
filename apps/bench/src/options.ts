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
  /** -g with a comma-separated list runs each granule in turn (a latency-per-granule table and chart). */
  granules: number[];
  mode: 0 | 1;
  profile: ProfileName;
  design: DispatchDesign;
  policy: "default" | "strict" | "lazy";
  /** Iterations per thread instead of a duration (reproducible runs). */
  iterations: number | null;
  /** Untimed pairs per thread before measuring (JIT warm-up); not counted anywhere. */
  warmup: number;
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
  granules: [1],
  mode: 0,
  profile: "x86_64-vtd",
  design: "phys",
  policy: "default",
  iterations: null,
  warmup: 2000,
  sharing: "independent",
  json: null,
  svg: null,
  compare: null,
  quiet: false,
};

export class OptionError extends Error {
  override name = "OptionError";
}

const shown = (v: string | undefined) => (v === undefined ? "nothing" : JSON.stringify(v));

function int(name: string, v: string | undefined, lo: number, hi: number): number {
  const n = Number(v);
  if (v === undefined || v.trim() === "" || !Number.isInteger(n) || n < lo || n > hi) {
    throw new OptionError(`${name} must be an integer from ${lo} to ${hi}, got ${shown(v)}`);
  }
  return n;
}

export const USAGE = `usage: dmasim-bench [options]
  -t threads      1..1024 (default 1)
  -s seconds      1..300 (default 20)
  -n node         -1..63, NUMA node (-1: none; recorded, the model has one node)
  -b bits         20..64, DMA mask bits (default 32)
  -d direction    0 BIDIRECTIONAL, 1 TO_DEVICE, 2 FROM_DEVICE (default 0)
  -x delay        0..10000000 ns between map and unmap (advances simulated time only)
  -g granule      1..1024 pages per mapping (sg entries with -m 1); a list (1,8,64)
                  runs each in turn
  -m mode         0 single, 1 scatter-gather
  -p profile      ${PROFILE_NAMES.join(", ")} (default x86_64-vtd)
  -D design       ${DISPATCH_DESIGNS.join(", ")} (default phys)
  --strict | --lazy   IOMMU unmap policy (default: the profile's)
  -i iterations   1..100000000 per thread instead of -s
  --warmup N      0..1000000 untimed pairs per thread first, for the JIT (default 2000;
                  capped so a system maps at most 200000 pages warming up)
  --shared        one system whose simulated CPUs are the threads, in one worker
  --independent   one system per thread, each thread a worker (the default)
  --compare X     designs | profiles | strict,lazy: the same workload side by side
  --json FILE     results as JSON ("-" for stdout)
  --svg FILE      a chart of mean latencies (per design, profile, policy or granule)
  -q              no progress bar
  -h, --help      this text`;

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
      case "-g": {
        const g = v();
        const name = "-g (granule pages)";
        o.granules =
          g === undefined
            ? [int(name, g, 1, 1024)]
            : g.split(",").map((x) => int(name, x, 1, 1024));
        if (new Set(o.granules).size !== o.granules.length)
          throw new OptionError(`-g (granule pages) lists a granule twice: ${JSON.stringify(g)}`);
        o.granule = o.granules[0]!;
        break;
      }
      case "-m":
        o.mode = int("-m (mode)", v(), 0, 1) as 0 | 1;
        break;
      case "-i":
        o.iterations = int("-i (iterations)", v(), 1, 100_000_000);
        break;
      case "--warmup":
        o.warmup = int("--warmup (pairs)", v(), 0, 1_000_000);
        break;
      case "-p": {
        const p = v();
        if (!PROFILE_NAMES.includes(p as ProfileName))
          throw new OptionError(
            `-p (profile) must be one of ${PROFILE_NAMES.join(", ")}, got ${shown(p)}`,
          );
        o.profile = p as ProfileName;
        break;
      }
      case "-D": {
        const d = v();
        if (!DISPATCH_DESIGNS.includes(d as DispatchDesign))
          throw new OptionError(
            `-D (design) must be one of ${DISPATCH_DESIGNS.join(", ")}, got ${shown(d)}`,
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
      case "--independent":
        o.sharing = "independent";
        break;
      case "--compare": {
        const c = v();
        if (c !== "designs" && c !== "profiles" && c !== "strict,lazy")
          throw new OptionError(
            `--compare must be designs, profiles or strict,lazy, got ${shown(c)}`,
          );
        o.compare = c;
        break;
      }
      case "--json": {
        const f = v();
        if (f === undefined || f === "" || (f.startsWith("-") && f !== "-"))
          throw new OptionError(`--json needs a file name (or - for stdout), got ${shown(f)}`);
        o.json = f;
        break;
      }
      case "--svg": {
        const f = v();
        if (f === undefined || f === "" || f.startsWith("-"))
          throw new OptionError(`--svg needs a file name, got ${shown(f)}`);
        o.svg = f;
        break;
      }
      case "-q":
        o.quiet = true;
        break;
      default:
        throw new OptionError(`unknown option ${JSON.stringify(a)}`);
    }
  }
  if (o.policy !== "default" && o.compare === "strict,lazy")
    throw new OptionError("--compare strict,lazy runs both policies; drop --strict/--lazy");
  return o;
}
