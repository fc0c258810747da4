#!/usr/bin/env node
// Does the bench's independent mode scale from one worker to two?
//
// On a shared host one run says little: the same worker count moves by 2×
// from one minute to the next. So this runs alternating sets of `-t 1` and
// `-t 2` (same options otherwise) and, in each set, two controls with one and
// two worker threads: a pure integer loop, which lives in registers, and a
// memory loop (random updates of a 4 MiB array, one small object allocated per
// step), which meets the other tenants of the host in its caches and memory
// as the model does. It prints each set's pairs/s and ratios, then the median
// of the ratios and the median two-worker run against the median one-worker
// run, for the bench and for each control.
//
// Usage: pnpm build && node tooling/scripts/scaling.mjs [sets] [bench options ...]
// Default: 5 sets of `-p x86_64-vtd --strict -i 1000000`.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

/** Steps of each control per thread: about as long as a bench run. */
const STEPS = { alu: 300_000_000, mem: 30_000_000 };

if (!isMainThread) {
  let h = workerData.seed | 0;
  if (workerData.kind === "alu") {
    for (let i = 0; i < STEPS.alu; i++) h = Math.imul(h ^ i, 0x9e3779b1) + 1;
  } else {
    const a = new Float64Array(1 << 19);
    const ring = new Array(1024).fill(null);
    for (let i = 0; i < STEPS.mem; i++) {
      h = Math.imul(h ^ i, 0x9e3779b1) + 1;
      const j = (h >>> 13) & ((1 << 19) - 1);
      a[j] += 1;
      ring[i & 1023] = { x: a[j] * 1.5 };
    }
    h ^= ring[h & 1023]?.x ?? 0;
  }
  parentPort.postMessage(h);
} else {
  const ROOT = fileURLToPath(new URL("../../", import.meta.url));
  const args = process.argv.slice(2);
  const sets = /^\d+$/.test(args[0] ?? "") ? Number(args.shift()) : 5;
  if (!(sets >= 1 && sets <= 100)) {
    console.error(`scaling: sets must be an integer from 1 to 100, got ${sets}`);
    process.exit(2);
  }
  const benchArgs = args.length > 0 ? args : ["-p", "x86_64-vtd", "--strict", "-i", "1000000"];
  if (benchArgs.some((a) => a === "-t" || a === "--json")) {
    console.error("scaling: -t and --json are set by this script; give the other options");
    process.exit(2);
  }

  const bench = (threads) => {
    const out = execFileSync(
      process.execPath,
      [`${ROOT}apps/bench/dist/cli.js`, "-q", ...benchArgs, "-t", String(threads), "--json", "-"],
      { encoding: "utf8", maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "ignore"] },
    );
    return JSON.parse(out).opsPerSecond;
  };

  const control = async (kind, threads) => {
    const t0 = performance.now();
    await Promise.all(
      Array.from(
        { length: threads },
        (_, i) =>
          new Promise((resolve, reject) => {
            const w = new Worker(fileURLToPath(import.meta.url), { workerData: { kind, seed: i } });
            w.once("message", resolve);
            w.once("error", reject);
          }),
      ),
    );
    return (threads * STEPS[kind]) / ((performance.now() - t0) / 1000);
  };

  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };

  const rows = { bench: [[], []], alu: [[], []], mem: [[], []] };
  const ratios = ([one, two]) => one.map((x, i) => two[i] / x);
  console.log(`bench: ${benchArgs.join(" ")}; ${sets} alternating sets`);
  console.log("set  bench -t 1   bench -t 2   ratio   integer control   memory control");
  for (let s = 1; s <= sets; s++) {
    const b = [bench(1), bench(2)];
    const c = [await control("alu", 1), await control("alu", 2)];
    const m = [await control("mem", 1), await control("mem", 2)];
    for (const [name, v] of [
      ["bench", b],
      ["alu", c],
      ["mem", m],
    ]) {
      rows[name][0].push(v[0]);
      rows[name][1].push(v[1]);
    }
    console.log(
      `${String(s).padStart(3)}  ${Math.round(b[0]).toString().padStart(10)}   ${Math.round(b[1]).toString().padStart(10)}   ${(b[1] / b[0]).toFixed(2)}×   ${(c[1] / c[0]).toFixed(2)}×             ${(m[1] / m[0]).toFixed(2)}×`,
    );
  }
  for (const [name, label] of [
    ["bench", "bench"],
    ["alu", "integer control"],
    ["mem", "memory control"],
  ]) {
    const [one, two] = rows[name];
    console.log(
      `${label}: median of ratios ${median(ratios(rows[name])).toFixed(2)}×, median two / median one ${(median(two) / median(one)).toFixed(2)}×`,
    );
  }
}
