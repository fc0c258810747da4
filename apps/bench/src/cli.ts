#!/usr/bin/env node
// dmasim-bench: the kernel's dma_map_benchmark on dmasim.
import { writeFileSync } from "node:fs";
import { PROFILE_NAMES } from "@dmasim/arch";
import { DISPATCH_DESIGNS } from "@dmasim/dma-core";
import { SingleBar } from "cli-progress";
import { type BenchOptions, OptionError, parseOptions, USAGE } from "./options.ts";
import { aggregate, extraLines, kernelLines, svgChart } from "./report.ts";
import { run } from "./runner.ts";

function variants(o: BenchOptions): Array<{ label: string; o: BenchOptions }> {
  switch (o.compare) {
    case "designs":
      return DISPATCH_DESIGNS.map((d) => ({ label: d, o: { ...o, design: d } }));
    case "profiles":
      return PROFILE_NAMES.filter(
        (p) => !["dummy", "arm64-dummy", "ops-without-map-page"].includes(p),
      ).map((p) => ({ label: p, o: { ...o, profile: p } }));
    case "strict,lazy":
      return [
        { label: "strict", o: { ...o, policy: "strict" } },
        { label: "lazy", o: { ...o, policy: "lazy" } },
      ];
    default:
      return [{ label: `${o.profile}/${o.design}`, o }];
  }
}

export async function main(argv: string[]): Promise<number> {
  let o: BenchOptions;
  try {
    if (argv.includes("-h") || argv.includes("--help")) {
      console.log(USAGE);
      return 0;
    }
    o = parseOptions(argv);
  } catch (e) {
    if (e instanceof OptionError) {
      console.error(`dmasim-bench: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  const stop = { requested: false };
  const onSigint = () => {
    stop.requested = true;
  };
  process.on("SIGINT", onSigint);
  const tty = process.stderr.isTTY === true && !process.env.CI && !o.quiet;
  const rows: Array<{
    label: string;
    mapNs: number;
    unmapNs: number;
    opsPerSecond: number;
    counters: unknown;
    kernel: string[];
  }> = [];
  const json: Record<string, unknown>[] = [];
  try {
    for (const v of variants(o)) {
      if (stop.requested) break;
      const bar = tty
        ? new SingleBar({
            format: `${v.label} [{bar}] {value} pairs`,
            hideCursor: true,
            stream: process.stderr,
          })
        : null;
      const total = v.o.iterations === null ? null : v.o.iterations * v.o.threads;
      bar?.start(total ?? 0, 0);
      let outcome: Awaited<ReturnType<typeof run>>;
      try {
        outcome = await run(v.o, {
          stop,
          onProgress: (loops) => {
            if (bar) {
              if (total === null) bar.setTotal(loops);
              bar.update(loops);
            }
          },
        });
      } catch (e) {
        bar?.stop();
        if (
          o.compare &&
          e instanceof Error &&
          /cannot build|undefined reference|Kconfig/.test(e.message)
        ) {
          console.log(`${v.label}: not built (${e.message})`);
          continue;
        }
        throw e;
      }
      bar?.stop();
      const a = aggregate(outcome.results, outcome.counters);
      const kl = kernelLines(v.o, a);
      if (!o.compare) {
        for (const l of kl) console.log(l);
        for (const l of extraLines(a, outcome.results)) console.log(l);
      }
      if (outcome.interrupted)
        console.log(`dmasim: interrupted; partial results over ${a.loops} pairs`);
      rows.push({
        label: v.label,
        mapNs: a.mapNs,
        unmapNs: a.unmapNs,
        opsPerSecond: a.opsPerSecond,
        counters: a.counters,
        kernel: kl,
      });
      json.push({
        label: v.label,
        options: v.o,
        mapNs: a.mapNs,
        unmapNs: a.unmapNs,
        opsPerSecond: a.opsPerSecond,
        kernel: kl,
        aggregate: a,
        threads: outcome.results.map((r) => ({
          thread: r.thread,
          loops: r.loops,
          errors: r.errors,
          mapNs: r.loops ? r.mapNsTotal / r.loops : 0,
          unmapNs: r.loops ? r.unmapNsTotal / r.loops : 0,
          counters: r.counters,
        })),
        interrupted: outcome.interrupted,
      });
    }
  } catch (e) {
    console.error(`dmasim-bench: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    process.off("SIGINT", onSigint);
  }
  if (o.compare) {
    console.log(
      `${"".padEnd(22)}${"map ns".padStart(10)}${"unmap ns".padStart(10)}${"pairs/s".padStart(12)}   kernel-style map / unmap (us)`,
    );
    for (const r of rows) {
      const k = r.kernel
        .slice(1)
        .map((l) =>
          l.replace(/^average (un)?map latency\(us\):/, "").replace(" standard deviation:", " ±"),
        );
      console.log(
        `${r.label.padEnd(22)}${Math.round(r.mapNs).toString().padStart(10)}${Math.round(r.unmapNs).toString().padStart(10)}${Math.round(r.opsPerSecond).toString().padStart(12)}   ${k.join(" / ")}`,
      );
    }
  }
  if (o.json) {
    const mean = (k: "mapNs" | "unmapNs" | "opsPerSecond") =>
      rows.length ? rows.reduce((s, r) => s + r[k], 0) / rows.length : 0;
    const doc = {
      mapNs: mean("mapNs"),
      unmapNs: mean("unmapNs"),
      opsPerSecond: mean("opsPerSecond"),
      runs: json,
    };
    const text = JSON.stringify(doc, null, 2);
    if (o.json === "-") console.log(text);
    else writeFileSync(o.json, `${text}\n`);
  }
  if (o.svg)
    writeFileSync(
      o.svg,
      svgChart(
        `dma_map_benchmark on dmasim: ${o.compare ?? `${o.profile}/${o.design}`}, granule ${o.granule}`,
        rows,
      ),
    );
  return 0;
}

if (process.argv[1]?.endsWith("/cli.js")) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e instanceof Error ? (e.stack ?? e.message) : e);
      process.exit(1);
    },
  );
}
