import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
  test,
} from "@dmasim/testing";
import { main } from "./cli.ts";
import { DEFAULTS, OptionError, parseOptions } from "./options.ts";
import { aggregate, kernelLines } from "./report.ts";
import { runIndependent, runShared } from "./runner.ts";

test("options: the kernel tool's defaults and ranges; bad values name the option and its range", () => {
  assertEquals(parseOptions([]), DEFAULTS);
  const o = parseOptions([
    "-t",
    "4",
    "-s",
    "5",
    "-b",
    "64",
    "-d",
    "2",
    "-x",
    "1000",
    "-g",
    "8",
    "-m",
    "1",
    "-p",
    "arm64-smmuv3",
    "-D",
    "direct-calls",
    "--lazy",
    "-i",
    "100",
  ]);
  assertEquals(
    [
      o.threads,
      o.seconds,
      o.bits,
      o.dir,
      o.delayNs,
      o.granule,
      o.mode,
      o.profile,
      o.design,
      o.policy,
      o.iterations,
    ],
    [4, 5, 64, 2, 1000, 8, 1, "arm64-smmuv3", "direct-calls", "lazy", 100],
  );
  assertThrows(
    () => parseOptions(["-t", "0"]),
    OptionError,
    '-t (threads) must be an integer from 1 to 1024, got "0"',
  );
  assertThrows(
    () => parseOptions(["-b", "19"]),
    OptionError,
    "-b (DMA mask bits) must be an integer from 20 to 64",
  );
  assertThrows(
    () => parseOptions(["-d", "3"]),
    OptionError,
    "-d (direction) must be an integer from 0 to 2",
  );
  assertThrows(
    () => parseOptions(["-s", "301"]),
    OptionError,
    "-s (seconds) must be an integer from 1 to 300",
  );
  assertThrows(() => parseOptions(["-g"]), OptionError, "got nothing");
  assertThrows(() => parseOptions(["-p", "vax"]), OptionError, "-p (profile) must be one of");
  assertThrows(
    () => parseOptions(["--compare", "moods"]),
    OptionError,
    "--compare must be designs, profiles or strict,lazy",
  );
  assertThrows(() => parseOptions(["--frobnicate"]), OptionError, "unknown option");
});

test("output: the three lines of tools/dma/dma_map_benchmark, microseconds with 0.1 resolution", async () => {
  const o = { ...DEFAULTS, iterations: 50, sharing: "shared" as const };
  const out = await runShared(o);
  const lines = kernelLines(o, aggregate(out.results, out.counters));
  assertEquals(
    lines[0],
    "dma mapping benchmark(SINGLE): threads:1 seconds:20 node:-1 dir:BIDIRECTIONAL granule:1",
  );
  assertMatch(lines[1]!, /^average map latency\(us\):\d+\.\d standard deviation:\d+\.\d$/);
  assertMatch(lines[2]!, /^average unmap latency\(us\):\d+\.\d standard deviation:\d+\.\d$/);
});

test("kernel arithmetic: whole 100 ns units, truncated mean, integer square root of the variance", () => {
  const r = {
    thread: 0,
    loops: 4,
    errors: 0,
    map100: 10,
    map100sq: 30,
    unmap100: 6,
    unmap100sq: 12,
    mapNsTotal: 1000,
    unmapNsTotal: 600,
    mapSamples: [],
    unmapSamples: [],
    wallMs: 1,
    counters: {
      indirectCalls: 0,
      iotlbInvalidations: 0,
      pageTableWrites: 0,
      swiotlbBytesCopied: 0,
      rcacheHits: 0,
      rcacheMisses: 0,
    },
  };
  const a = aggregate([r], r.counters);
  assertEquals([a.avgMap100, a.stddevMap100, a.avgUnmap100, a.stddevUnmap100], [2, 1, 1, 1]);
  assertEquals(kernelLines(DEFAULTS, a)[1], "average map latency(us):0.2 standard deviation:0.1");
});

test("-i runs are deterministic in the model's counters (shared mode, two simulated CPUs)", async () => {
  const o = {
    ...DEFAULTS,
    iterations: 300,
    threads: 2,
    sharing: "shared" as const,
    policy: "strict" as const,
  };
  const a = await runShared(o);
  const b = await runShared(o);
  assertEquals(a.counters, b.counters);
  assertEquals(
    a.results.map((r) => r.loops),
    [300, 300],
  );
  assert(a.counters.iotlbInvalidations >= 600, "strict: one invalidation per unmap");
});

test("the swiotlb profile counts bytes copied: a 32-bit device on x86_64 bounces a 4 KiB buffer in high RAM", async () => {
  const out = await runShared({
    ...DEFAULTS,
    profile: "x86_64",
    iterations: 10,
    sharing: "shared",
  });
  assert(out.counters.swiotlbBytesCopied === 0 || out.counters.swiotlbBytesCopied % 4096 === 0);
});

test("a worker that dies is reported and the run ends with a clear error", async () => {
  const o = { ...DEFAULTS, iterations: 10 };
  await assertRejects(
    () => runIndependent(o, { workerEval: "process.exit(3)" }),
    Error,
    "bench worker 0 exited with code 3",
  );
});

test("bad options exit 2 with the option named", async () => {
  const errs: string[] = [];
  const orig = console.error;
  console.error = (m: string) => void errs.push(String(m));
  try {
    assertEquals(await main(["-t", "2000"]), 2);
  } finally {
    console.error = orig;
  }
  assertStringIncludes(errs[0]!, "-t (threads) must be an integer from 1 to 1024");
});
