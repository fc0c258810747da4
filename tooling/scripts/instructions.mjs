#!/usr/bin/env node
// Machine instructions per DMA API map+unmap pair, counted by valgrind.
//
// On a shared host the wall-clock benchmarks move by a factor of two from run
// to run; an instruction count moves by about 3%, so it is the figure to
// compare two trees by. Each scenario runs at two iteration counts with V8 on
// one thread (no concurrent compiler or GC threads to count), and the
// difference per iteration is reported: start-up and JIT warm-up cancel out.
// Instructions are not time (the real cost also depends on cache misses and
// branch prediction), so read the result next to the timed benchmarks.
//
// Usage: pnpm build && node tooling/scripts/instructions.mjs [scenario ...]
// Scenarios: direct, swiotlb, strict, lazy, sg, bench-direct, bench-strict (default: all). Needs valgrind
// (apt-get install valgrind).
import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SCENARIOS } from "./pair_scenarios.mjs";

const LOW = 100_000;
const HIGH = 500_000;
const CHILD = fileURLToPath(new URL("./pair_scenarios.mjs", import.meta.url));

function count(name, n) {
  const r = spawnSync(
    "valgrind",
    [
      "--tool=cachegrind",
      "--cache-sim=no",
      "--cachegrind-out-file=/dev/null",
      process.execPath,
      "--single-threaded",
      CHILD,
      name,
      String(n),
    ],
    { encoding: "utf8" },
  );
  const m = /I\s+refs:\s+([\d,]+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`valgrind run of ${name} failed:\n${r.stderr}`);
  return Number(m[1].replaceAll(",", ""));
}

try {
  execFileSync("valgrind", ["--version"], { stdio: "ignore" });
} catch {
  console.error("instructions: valgrind is not installed (apt-get install valgrind)");
  process.exit(2);
}
const names = process.argv.slice(2);
for (const name of names) {
  if (!(name in SCENARIOS)) {
    console.error(
      `instructions: unknown scenario ${JSON.stringify(name)}; known: ${Object.keys(SCENARIOS).join(", ")}`,
    );
    process.exit(2);
  }
}
for (const name of names.length > 0 ? names : Object.keys(SCENARIOS)) {
  const per = (count(name, HIGH) - count(name, LOW)) / (HIGH - LOW);
  console.log(`${SCENARIOS[name]}: ${Math.round(per)} instructions per pair`);
}
