#!/usr/bin/env node
// Where a map+unmap pair's time goes: the optimised JS functions of one
// scenario (the pair scenarios of `pnpm instructions`), sampled by Linux perf.
//
// V8 folds small callees into their callers, so a name here is a unit of
// optimised code: the function and everything the JIT inlined into it. A
// pair that shows a dozen units makes about a dozen real calls; a unit's
// share times the pair's time is what that call and its inlined callees cost.
// The samples of start-up and compilation are left out of the shares.
//
// Usage: pnpm build && node tooling/scripts/profile.mjs SCENARIO [pairs]
// Needs perf (apt-get install linux-perf) and perf_event_paranoid ≤ 2.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SCENARIOS } from "./pair_scenarios.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CHILD = fileURLToPath(new URL("./pair_scenarios.mjs", import.meta.url));
const [name, pairsArg] = process.argv.slice(2);
if (!(name in SCENARIOS)) {
  console.error(
    `profile: give a scenario: ${Object.keys(SCENARIOS).join(", ")}; got ${JSON.stringify(name)}`,
  );
  process.exit(2);
}
const pairs = pairsArg === undefined ? 3_000_000 : Number(pairsArg);
if (!(Number.isInteger(pairs) && pairs >= 10_000 && pairs <= 100_000_000)) {
  console.error(`profile: pairs must be an integer from 10000 to 100000000, got ${pairsArg}`);
  process.exit(2);
}
try {
  execFileSync("perf", ["--version"], { stdio: "ignore" });
} catch {
  console.error("profile: perf is not installed (apt-get install linux-perf)");
  process.exit(2);
}

/** A method with a computed key (V8 names it after its class) is named by its source line. */
const sources = new Map();
function nameAt(fn, where) {
  const m = /^file:\/\/(.+):(\d+):\d+$/.exec(where);
  if (!m) return fn || "(anonymous)";
  if (!sources.has(m[1])) sources.set(m[1], readFileSync(m[1], "utf8").split("\n"));
  const head = /^\s*(\[\w+\])\(/.exec(sources.get(m[1])[Number(m[2]) - 1] ?? "");
  return head ? `${fn}${head[1]}` : fn || "(anonymous)";
}

const dir = mkdtempSync(join(tmpdir(), "dmasim-profile-"));
try {
  const data = join(dir, "perf.data");
  const rec = spawnSync(
    "perf",
    [
      "record",
      "-e",
      "cpu-clock",
      "-F",
      "5000",
      "-o",
      data,
      process.execPath,
      "--single-threaded",
      "--perf-basic-prof",
      CHILD,
      name,
      String(pairs),
    ],
    { encoding: "utf8", cwd: dir },
  );
  if (rec.status !== 0) throw new Error(`perf record failed:\n${rec.stderr}`);
  const rep = execFileSync(
    "perf",
    ["report", "-i", data, "--stdio", "--sort", "symbol", "--percent-limit", "0"],
    { encoding: "utf8", maxBuffer: 256 << 20, stdio: ["ignore", "pipe", "ignore"] },
  );
  // Lines look like "  12.34%  [.] JS:*#mapIn file:///…/dist/mod.js:5348:9".
  const units = [];
  let total = 0;
  for (const line of rep.split("\n")) {
    const m = /^\s*([\d.]+)%\s+\[\.\]\s+JS:\*(\S*)\s+(\S+)/.exec(line);
    if (!m) continue;
    const share = Number(m[1]);
    total += share;
    units.push({ share, fn: nameAt(m[2], m[3]), where: m[3].replace(`file://${ROOT}`, "") });
  }
  if (units.length === 0) throw new Error("profile: no optimised JS in the samples");
  console.log(`${SCENARIOS[name]}, ${pairs} pairs: optimised code, share of its samples`);
  for (const u of units.filter((x) => (100 * x.share) / total >= 0.5))
    console.log(
      `${((100 * u.share) / total).toFixed(1).padStart(5)}%  ${u.fn.padEnd(28)} ${u.where}`,
    );
  console.log(
    `(${units.length} units; optimised code is ${total.toFixed(0)}% of all samples, the rest start-up, compilation and GC)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
