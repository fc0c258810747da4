#!/usr/bin/env node
// Does the bench's independent mode scale from one worker to two?
//
// On a shared host one run says little: the same worker count moves by 2×
// from one minute to the next. So this runs alternating sets of `-t 1` and
// `-t 2` (same options otherwise) and, in each set, a control: one and two
// worker threads running a pure integer loop, which shows what the host gave
// two threads at that moment. It prints each set's pairs/s and ratios, then
// the median of the ratios and the median two-worker run against the median
// one-worker run, for the bench and for the control.
//
// Usage: pnpm build && node tooling/scripts/scaling.mjs [sets] [bench options ...]
// Default: 5 sets of `-p x86_64-vtd --strict -i 1000000`.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

const CONTROL_STEPS = 300_000_000;

if (!isMainThread) {
  // The control: integer work with no memory traffic, as long as a bench run or so.
  let h = workerData | 0;
  for (let i = 0; i < CONTROL_STEPS; i++) h = Math.imul(h ^ i, 0x9e3779b1) + 1;
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

  const control = async (threads) => {
    const t0 = performance.now();
    await Promise.all(
      Array.from(
        { length: threads },
        (_, i) =>
          new Promise((resolve, reject) => {
            const w = new Worker(fileURLToPath(import.meta.url), { workerData: i });
            w.once("message", resolve);
            w.once("error", reject);
          }),
      ),
    );
    return (threads * CONTROL_STEPS) / ((performance.now() - t0) / 1000);
  };

  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };

  const rows = { bench1: [], bench2: [], control1: [], control2: [] };
  console.log(`bench: ${benchArgs.join(" ")}; ${sets} alternating sets`);
  console.log("set  bench -t 1   bench -t 2   ratio   control ratio");
  for (let s = 1; s <= sets; s++) {
    const b1 = bench(1);
    const b2 = bench(2);
    const c1 = await control(1);
    const c2 = await control(2);
    rows.bench1.push(b1);
    rows.bench2.push(b2);
    rows.control1.push(c1);
    rows.control2.push(c2);
    console.log(
      `${String(s).padStart(3)}  ${Math.round(b1).toString().padStart(10)}   ${Math.round(b2).toString().padStart(10)}   ${(b2 / b1).toFixed(2)}×   ${(c2 / c1).toFixed(2)}×`,
    );
  }
  const ratios = (a, b) => a.map((x, i) => b[i] / x);
  console.log(
    `bench:   median of ratios ${median(ratios(rows.bench1, rows.bench2)).toFixed(2)}×, median -t 2 / median -t 1 ${(median(rows.bench2) / median(rows.bench1)).toFixed(2)}×`,
  );
  console.log(
    `control: median of ratios ${median(ratios(rows.control1, rows.control2)).toFixed(2)}×, median two / median one ${(median(rows.control2) / median(rows.control1)).toFixed(2)}×`,
  );
}
