import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
  test,
} from "@dmasim/testing";
import { type MainIO, main, variants } from "./cli.ts";
import { batchSize, newResult, type ThreadResult, zeroCounters } from "./loop.ts";
import { type BenchOptions, DEFAULTS, OptionError, parseOptions } from "./options.ts";
import { aggregate, compareTable, kernelLines, svgChart } from "./report.ts";
import { checkWorkerMemory, runIndependent, runShared } from "./runner.ts";

const quick = (o: Partial<BenchOptions>): BenchOptions => ({ ...DEFAULTS, warmup: 20, ...o });

/** Runs the CLI with its output captured; shared runs stay on this thread. */
async function cli(
  argv: string[],
  hooks: MainIO["hooks"] = {},
): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    out: (l) => void out.push(l),
    err: (l) => void err.push(l),
    progress: false,
    hooks: { inProcess: true, ...hooks },
  });
  return { code, out, err };
}

/** A small XML well-formedness check: every tag closes in order, attributes are quoted, text is escaped. */
function assertWellFormedXml(xml: string): void {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, "");
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  for (let m = re.exec(body); m !== null; m = re.exec(body)) {
    if (m[6]) throw new Error(`stray "<" at ${m.index}: ${body.slice(m.index, m.index + 40)}`);
    if (m[5] !== undefined) {
      assert(!/&(?!amp;|lt;|gt;|quot;|#\d+;)/.test(m[5]), `unescaped & in ${m[5]}`);
      continue;
    }
    const [, close, name, , self] = m;
    if (self) continue;
    if (close) assertEquals(stack.pop(), name, `</${name}> closes the wrong element`);
    else stack.push(name!);
  }
  assertEquals(stack, [], "unclosed elements");
}

test("options: the kernel tool's defaults and ranges; bad values name the option and its range", () => {
  const d = parseOptions([]);
  assertEquals(d, DEFAULTS);
  assertEquals(
    [d.threads, d.seconds, d.node, d.bits, d.dir, d.delayNs, d.granule, d.mode],
    [1, 20, -1, 32, 0, 0, 1, 0],
  );
  const o = parseOptions(
    "-t 4 -s 5 -n 0 -b 64 -d 2 -x 1000 -g 8 -m 1 -p arm64-smmuv3 -D direct-calls --lazy -i 100 --shared --warmup 0".split(
      " ",
    ),
  );
  assertEquals(
    [
      o.threads,
      o.seconds,
      o.node,
      o.bits,
      o.dir,
      o.delayNs,
      o.granule,
      o.mode,
      o.profile,
      o.design,
      o.policy,
      o.iterations,
      o.sharing,
      o.warmup,
    ],
    [4, 5, 0, 64, 2, 1000, 8, 1, "arm64-smmuv3", "direct-calls", "lazy", 100, "shared", 0],
  );
  assertEquals(parseOptions(["-g", "1,8,64"]).granules, [1, 8, 64]);
  const bad: Array<[string[], string]> = [
    [["-t", "0"], '-t (threads) must be an integer from 1 to 1024, got "0"'],
    [["-t", "1025"], "-t (threads) must be an integer from 1 to 1024"],
    [["-t", "2.5"], "-t (threads) must be an integer from 1 to 1024"],
    [["-s", "0"], "-s (seconds) must be an integer from 1 to 300"],
    [["-s", "301"], "-s (seconds) must be an integer from 1 to 300"],
    [["-b", "19"], "-b (DMA mask bits) must be an integer from 20 to 64"],
    [["-b", "65"], "-b (DMA mask bits) must be an integer from 20 to 64"],
    [["-d", "3"], "-d (direction) must be an integer from 0 to 2"],
    [["-x", "10000001"], "-x (delay ns) must be an integer from 0 to 10000000"],
    [["-g", "0"], "-g (granule pages) must be an integer from 1 to 1024"],
    [["-g", "1,2000"], '-g (granule pages) must be an integer from 1 to 1024, got "2000"'],
    [["-g", "4,4"], "-g (granule pages) lists a granule twice"],
    [["-g"], "-g (granule pages) must be an integer from 1 to 1024, got nothing"],
    [["-m", "2"], "-m (mode) must be an integer from 0 to 1"],
    [["-n", "x"], "-n (node) must be an integer from -1 to 63"],
    [["-i", "0"], "-i (iterations) must be an integer from 1 to 100000000"],
    [
      ["-p", "vax"],
      '-p (profile) must be one of x86_64-vtd, x86_64, x86_64-coco, x86_64-gart, arm64-smmuv3, arm64, arm32-legacy, arm32, powerpc64-tce, dummy, arm64-dummy, ops-without-map-page, got "vax"',
    ],
    [["-D"], "-D (design) must be one of ops-indirect"],
    [["--compare", "moods"], "--compare must be designs, profiles or strict,lazy"],
    [["--json"], "--json needs a file name (or - for stdout), got nothing"],
    [["--svg", "-q"], '--svg needs a file name, got "-q"'],
    [["--compare", "strict,lazy", "--strict"], "--compare strict,lazy runs both policies"],
    [["--frobnicate"], 'unknown option "--frobnicate"'],
  ];
  for (const [argv, msg] of bad) assertThrows(() => parseOptions(argv), OptionError, msg);
});

test("bad options: exit 2, the option and its range on stderr, nothing run", async () => {
  const r = await cli(["-t", "2000"]);
  assertEquals(r.code, 2);
  assertEquals(r.out, []);
  assertStringIncludes(r.err[0]!, "dmasim-bench: -t (threads) must be an integer from 1 to 1024");
  assertStringIncludes(r.err[1]!, "usage: dmasim-bench");
});

test("output: the kernel tool's three lines, microseconds with 0.1 resolution", async () => {
  const r = await cli(["-i", "50", "--shared", "-q"]);
  assertEquals(r.code, 0);
  assertEquals(
    r.out[0],
    "dma mapping benchmark(SINGLE_MODE): threads:1 seconds:1 node:-1 dir:BIDIRECTIONAL granule:1",
  );
  assertMatch(r.out[1]!, /^average map latency\(us\):\d+\.\d standard deviation:\d+\.\d$/);
  assertMatch(r.out[2]!, /^average unmap latency\(us\):\d+\.\d standard deviation:\d+\.\d$/);
  assertMatch(
    r.out[3]!,
    /^dmasim: x86_64-vtd\/phys, shared mode, -i 50 per thread: 50 map\+unmap pairs/,
  );
  assert(r.out.some((l) => l.startsWith("dmasim: counters per pair: IOTLB invalidations")));
  assert(r.out.some((l) => l.startsWith("dmasim: histogram (ns, map/unmap): <100:")));
  assert(r.out.some((l) => /^dmasim: timer performance\.now\(\): \d+ ns a reading/.test(l)));
  const sg = await cli("-i 20 --shared -m 1 -g 4 -d 2 -t 2 -n 0".split(" "));
  assertEquals(
    sg.out[0],
    "dma mapping benchmark(SG_MODE): threads:2 seconds:1 node:0 dir:FROM_DEVICE granule:4",
  );
  assert(sg.out.some((l) => l.startsWith("dmasim: thread 1: 20 pairs, map ")));
});

test("kernel arithmetic: whole 100 ns units, truncated mean, integer square root of the variance", () => {
  const r: ThreadResult = {
    ...newResult(0, { costNs: 0, resolutionNs: 0 }),
    loops: 4,
    map100: 10,
    map100sq: 30,
    unmap100: 6,
    unmap100sq: 12,
    mapNsTotal: 1000,
    unmapNsTotal: 600,
    wallMs: 1,
  };
  const a = aggregate({ results: [r], counters: zeroCounters(), wallMs: 2 });
  // avg 10/4 = 2; variance 30/4 - 4 = 3, int_sqrt 1; unmap avg 1, variance 3 - 1 = 2, int_sqrt 1.
  assertEquals([a.avgMap100, a.stddevMap100, a.avgUnmap100, a.stddevUnmap100], [2, 1, 1, 1]);
  assertEquals([a.mapNs, a.unmapNs, a.opsPerSecond], [250, 150, 2000]);
  const o = { ...DEFAULTS, iterations: 4 };
  assertEquals(kernelLines(o, a), [
    "dma mapping benchmark(SINGLE_MODE): threads:1 seconds:1 node:-1 dir:BIDIRECTIONAL granule:1",
    "average map latency(us):0.2 standard deviation:0.1",
    "average unmap latency(us):0.1 standard deviation:0.1",
  ]);
  assertEquals(kernelLines(DEFAULTS, a)[0]!.includes("seconds:20"), true);
});

test("-i runs are deterministic in the model's counters: shared mode, strict and lazy", async () => {
  for (const policy of ["strict", "lazy"] as const) {
    const o = quick({ iterations: 300, threads: 2, sharing: "shared", policy });
    const a = await runShared(o, { inProcess: true });
    const b = await runShared(o, { inProcess: true });
    assertEquals(a.counters, b.counters, policy);
    assertEquals(
      a.results.map((r) => r.loops),
      [300, 300],
    );
    assertEquals(a.counters.pageTableWrites, 600, `${policy}: one PTE written per map`);
    if (policy === "strict") assertEquals(a.counters.iotlbInvalidations, 600);
    else assert(a.counters.iotlbInvalidations < 600, "lazy: the flush queue batches invalidations");
  }
});

test("-i runs are deterministic in the model's counters: independent mode, two workers", async () => {
  const o = quick({ iterations: 200, threads: 2, policy: "lazy", delayNs: 50_000 });
  const a = await runIndependent(o);
  const b = await runIndependent(o);
  assertEquals(a.counters, b.counters);
  assertEquals(
    a.results.map((r) => [r.thread, r.loops, r.counters.pageTableWrites]),
    [
      [0, 200, 200],
      [1, 200, 200],
    ],
  );
  // 200 pairs 50 us apart: the 10 ms flush-queue timer fires in simulated time.
  assert(a.counters.iotlbInvalidations > 0);
});

test("the counters: swiotlb bounces a 4 KiB buffer above a 32-bit mask; sg mode writes a PTE per entry", async () => {
  const bounce = await runShared(quick({ profile: "x86_64", iterations: 10, sharing: "shared" }), {
    inProcess: true,
  });
  // BIDIRECTIONAL: copied in at map, back out at unmap.
  assertEquals(bounce.counters.swiotlbBytesCopied, 10 * 2 * 4096);
  const direct = await runShared(
    quick({ profile: "x86_64", bits: 64, iterations: 10, sharing: "shared" }),
    { inProcess: true },
  );
  assertEquals(direct.counters.swiotlbBytesCopied, 0);
  const sg = await runShared(
    quick({ mode: 1, granule: 8, iterations: 10, sharing: "shared", policy: "strict" }),
    { inProcess: true },
  );
  assertEquals(sg.counters.pageTableWrites, 10 * 8);
});

test("a worker that dies is reported and the run ends with a clear error", async () => {
  const o = quick({ iterations: 10 });
  await assertRejects(
    () => runIndependent(o, { workerEval: "process.exit(3)" }),
    Error,
    "bench worker 0 exited with code 3",
  );
  await assertRejects(
    () => runIndependent({ ...o, threads: 2 }, { workerEval: "throw new Error('out of cheese')" }),
    Error,
    "died: out of cheese",
  );
  await assertRejects(
    () =>
      runShared(
        { ...o, sharing: "shared" },
        { workerEval: "setTimeout(() => process.exit(7), 50)" },
      ),
    Error,
    "bench worker 0 exited with code 7",
  );
  const r = await cli(["-i", "10"], { workerEval: "process.exit(3)", inProcess: false });
  assertEquals(r.code, 1);
  assertEquals(r.err, ["dmasim-bench: bench worker 0 exited with code 3"]);
});

test("a failing map stops the run with the kernel's message and exit 1; in a table it is a row", async () => {
  const r = await cli(["-p", "dummy", "-i", "10", "--shared"]);
  assertEquals(r.code, 1);
  assertStringIncludes(r.err.join("\n"), "thread 0: dma_map_single failed on 0000:00:01.0");
  const t = await cli("-p powerpc64-tce -i 20 --shared --compare designs".split(" "));
  assertEquals(t.code, 0);
  const rows = new Map(t.out.slice(1).map((l) => [l.split(/\s+/)[0]!, l]));
  assertMatch(
    rows.get("static-call-v0")!,
    /not run: KernelBuildError: ld: kernel\/dma\/mapping\.o/,
  );
  assertMatch(
    rows.get("static-call-v0-misread")!,
    /no pairs: thread 0: dma_map_single failed on 0000:00:01\.0/,
  );
  assertMatch(rows.get("phys")!, /^phys\s+\d+\s+\d+/);
});

test("Ctrl-C (the stop flag) ends a 300 s run with the partial results, exit 130", async () => {
  const stop = { requested: false };
  const r = await cli(["-s", "300", "--shared", "-t", "2", "--json", "-"], {
    stop,
    onProgress: (loops) => {
      if (loops > 0) stop.requested = true;
    },
  });
  assertEquals(r.code, 130);
  const doc = JSON.parse(r.out.join("\n"));
  assertEquals(doc.interrupted, true);
  assert(doc.loops > 0);
  assertStringIncludes(r.err.join("\n"), "interrupted; partial results over");
  assertMatch(r.err[0]!, /^dma mapping benchmark\(SINGLE_MODE\): threads:2 seconds:300 /);
});

test("--json: mapNs, unmapNs and opsPerSecond at the top level, beside every run's details", async () => {
  const r = await cli(["-i", "100", "--shared", "-t", "2", "--strict", "--json", "-"]);
  assertEquals(r.code, 0);
  const doc = JSON.parse(r.out.join("\n"));
  for (const k of ["mapNs", "unmapNs", "opsPerSecond"]) {
    assertEquals(typeof doc[k], "number", k);
    assert(doc[k] > 0, k);
  }
  assertEquals(doc.loops, 200);
  assertEquals(doc.runs.length, 1);
  const run = doc.runs[0];
  assertEquals(doc.mapNs, run.mapNs);
  assertEquals(run.kernel.length, 3);
  assertEquals(run.aggregate.counters.iotlbInvalidations, 200);
  assertEquals(run.aggregate.perThread.length, 2);
  assertEquals(run.aggregate.histogram.length, 9);
  assertEquals(run.options.policy, "strict");
  // the human-readable lines went to stderr
  assertStringIncludes(r.err[0]!, "dma mapping benchmark(SINGLE_MODE)");
  const bad = await cli(["-i", "10", "--shared", "--json", "/nonexistent-dir/r.json"]);
  assertEquals(bad.code, 1);
  assertMatch(bad.err.at(-1)!, /^dmasim-bench: cannot write \/nonexistent-dir\/r\.json: ENOENT/);
});

test("--compare strict,lazy and -g lists print one table; --svg writes a well-formed chart", async () => {
  const svg = join(tmpdir(), `dmasim-bench-${process.pid}.svg`);
  try {
    const r = await cli(["-i", "100", "--shared", "--compare", "strict,lazy", "--svg", svg]);
    assertEquals(r.code, 0);
    assertMatch(r.out[0]!, /^\s+map ns\s+unmap ns\s+map p50\s+unmap p50\s+pairs\/s\s+kernel-style/);
    assertMatch(
      r.out[1]!,
      /^strict\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\.\d ± \d+\.\d \/ \d+\.\d ± \d+\.\d$/,
    );
    assertMatch(r.out[2]!, /^lazy\s+\d+/);
    assertEquals(r.out.length, 3);
    const text = readFileSync(svg, "utf8");
    assertWellFormedXml(text);
    assertStringIncludes(text, ">strict</text>");
    assertStringIncludes(text, ">lazy</text>");
    const g = await cli(["-i", "20", "--shared", "-g", "1,16"]);
    assertEquals(
      g.out.map((l) => l.split(/\s+/)[0]),
      ["", "g=1", "g=16"],
    );
  } finally {
    rmSync(svg, { force: true });
  }
  assertWellFormedXml(svgChart('a <"b"> & c', [{ label: "x&y", mapNs: 1, unmapNs: 2 }]));
  assertEquals(
    variants(parseOptions(["--compare", "designs", "-g", "1,4"])).map((v) => v.label),
    [
      "ops-indirect g=1",
      "ops-indirect g=4",
      "static-call-v0 g=1",
      "static-call-v0 g=4",
      "static-call-v0-misread g=1",
      "static-call-v0-misread g=4",
      "direct-calls g=1",
      "direct-calls g=4",
      "phys g=1",
      "phys g=4",
    ],
  );
  assertEquals(
    compareTable([
      {
        label: "x",
        mapNs: 0,
        unmapNs: 0,
        mapP50: 0,
        unmapP50: 0,
        opsPerSecond: 0,
        kernel: [],
        note: "not run: KernelBuildError: ld",
      },
    ])[1],
    "x           not run: KernelBuildError: ld",
  );
});

test("independent mode refuses more workers than the host's memory holds, before starting any", () => {
  checkWorkerMemory(64, 8 * 2 ** 30);
  assertThrows(
    () => checkWorkerMemory(1024, 8 * 2 ** 30),
    Error,
    "independent mode: 1024 workers need about 24.0 GiB (24 MiB each) and this host has 8.0 GiB free; use fewer threads, or --shared",
  );
});

test("the untimed cross-check's batches last about 2 ms: 2000 pairs at least, 100000 at most", () => {
  assertEquals(batchSize(80), 25000, "dma-direct-fast pairs: batches long enough for the JIT");
  assertEquals(batchSize(600), 3334);
  assertEquals(batchSize(5000), 2000, "slow pairs (sg): the minimum");
  assertEquals(batchSize(1), 100000, "the cap");
  assertEquals(batchSize(0), 2000, "no timed pairs to go by");
  assertEquals(batchSize(Number.NaN), 2000);
});
