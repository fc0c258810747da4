// The kernel tool's output lines, and dmasim's extras: throughput,
// percentiles, a histogram, per-thread figures, counters; JSON and an SVG chart.

import type { Counters, ThreadResult, TimerInfo } from "./loop.ts";
import type { BenchOptions } from "./options.ts";

const DIRECTIONS = ["BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE"] as const;

export interface Aggregate {
  loops: number;
  /** Threads that stopped early, and why (a failed map). */
  errors: Array<{ thread: number; error: string }>;
  /** Kernel-style: mean and standard deviation in whole 100 ns units. */
  avgMap100: number;
  stddevMap100: number;
  avgUnmap100: number;
  stddevUnmap100: number;
  /** Mean ns per call over all threads (performance.now() windows, timer cost not subtracted). */
  mapNs: number;
  unmapNs: number;
  /** Pairs per wall-clock second of the measured phase, over all threads. */
  opsPerSecond: number;
  /** 1e9 / (mapNs + unmapNs): what the DMA API path alone would sustain on one thread. */
  pathPairsPerSecond: number;
  /** Wall-clock ms of the measured phase. */
  wallMs: number;
  /** Host CPU time used per wall-clock time in the measured phase (1.0 = one core busy), or null. */
  cpuCores: number | null;
  /** Share of the threads' loop time spent inside the timed map and unmap windows. */
  timedShare: number;
  timer: TimerInfo;
  /** The cross-check: ns per map+unmap pair in untimed batches after the run (mean over threads), or null. */
  batchPairNs: number | null;
  map: Percentiles;
  unmap: Percentiles;
  histogram: Array<{ upToNs: number | null; map: number; unmap: number }>;
  counters: Counters;
  perThread: Array<{
    thread: number;
    loops: number;
    mapNs: number;
    unmapNs: number;
    opsPerSecond: number;
    counters: Counters;
    error: string | null;
  }>;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** int_sqrt64() */
function intSqrt(v: number): number {
  return v <= 0 ? 0 : Math.floor(Math.sqrt(v));
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const BUCKETS = [100, 200, 500, 1000, 2000, 5000, 10000, 50000, Number.POSITIVE_INFINITY];

export interface AggregateInput {
  results: ThreadResult[];
  counters: Counters;
  /** Main-thread wall clock of the measured phase; the longest thread's loop time otherwise. */
  wallMs?: number;
  cpuMs?: number;
  timer?: TimerInfo;
}

export function aggregate(
  out: AggregateInput,
  sharing: BenchOptions["sharing"] = "independent",
): Aggregate {
  const { results, counters } = out;
  let loops = 0;
  let m = 0;
  let msq = 0;
  let u = 0;
  let usq = 0;
  let mNs = 0;
  let uNs = 0;
  let threadWall = 0;
  let longest = 0;
  const mapS: number[] = [];
  const unmapS: number[] = [];
  for (const r of results) {
    loops += r.loops;
    m += r.map100;
    msq += r.map100sq;
    u += r.unmap100;
    usq += r.unmap100sq;
    mNs += r.mapNsTotal;
    uNs += r.unmapNsTotal;
    threadWall += r.wallMs;
    longest = Math.max(longest, r.wallMs);
    for (const x of r.mapSamples) mapS.push(x);
    for (const x of r.unmapSamples) unmapS.push(x);
  }
  mapS.sort((a, b) => a - b);
  unmapS.sort((a, b) => a - b);
  const wallMs = out.wallMs ?? longest;
  // Shared mode: the threads took turns on one host thread, so their loop time is the one wall.
  const loopMs = sharing === "shared" ? longest : threadWall;
  const avgM = loops ? Math.floor(m / loops) : 0;
  const avgU = loops ? Math.floor(u / loops) : 0;
  const mapNs = loops ? mNs / loops : 0;
  const unmapNs = loops ? uNs / loops : 0;
  const histogram = BUCKETS.map((upTo, i) => {
    const lo = i === 0 ? 0 : BUCKETS[i - 1]!;
    let hm = 0;
    let hu = 0;
    for (const x of mapS) if (x >= lo && x < upTo) hm++;
    for (const x of unmapS) if (x >= lo && x < upTo) hu++;
    return { upToNs: Number.isFinite(upTo) ? upTo : null, map: hm, unmap: hu };
  });
  const percentiles = (s: number[]): Percentiles => ({
    p50: pct(s, 50),
    p90: pct(s, 90),
    p99: pct(s, 99),
    max: s[s.length - 1] ?? 0,
  });
  return {
    loops,
    errors: results
      .filter((r) => r.error !== null)
      .map((r) => ({ thread: r.thread, error: r.error! })),
    avgMap100: avgM,
    stddevMap100: loops ? intSqrt(Math.floor(msq / loops) - avgM * avgM) : 0,
    avgUnmap100: avgU,
    stddevUnmap100: loops ? intSqrt(Math.floor(usq / loops) - avgU * avgU) : 0,
    mapNs,
    unmapNs,
    opsPerSecond: wallMs > 0 ? loops / (wallMs / 1000) : 0,
    pathPairsPerSecond: mapNs + unmapNs > 0 ? 1e9 / (mapNs + unmapNs) : 0,
    wallMs,
    cpuCores: out.cpuMs !== undefined && wallMs > 0 ? out.cpuMs / wallMs : null,
    timedShare: loopMs > 0 ? (mNs + uNs) / (loopMs * 1e6) : 0,
    timer: out.timer ?? results[0]?.timer ?? { costNs: 0, resolutionNs: 0 },
    batchPairNs: (() => {
      const b = results
        .map((r) => r.batchPairNs)
        .filter((x): x is number => x !== null && Number.isFinite(x));
      return b.length ? b.reduce((x, y) => x + y, 0) / b.length : null;
    })(),
    map: percentiles(mapS),
    unmap: percentiles(unmapS),
    histogram,
    counters,
    perThread: results.map((r) => ({
      thread: r.thread,
      loops: r.loops,
      mapNs: r.loops ? r.mapNsTotal / r.loops : 0,
      unmapNs: r.loops ? r.unmapNsTotal / r.loops : 0,
      opsPerSecond: r.wallMs > 0 ? r.loops / (r.wallMs / 1000) : 0,
      counters: r.counters,
      error: r.error,
    })),
  };
}

const us = (v100: number) => (v100 / 10).toFixed(1);

/** The seconds the kernel header shows: -s, or with -i the measured duration rounded up. */
export function headerSeconds(o: BenchOptions, a: Aggregate): number {
  return o.iterations === null ? o.seconds : Math.max(1, Math.ceil(a.wallMs / 1000));
}

/** The three lines tools/dma/dma_map_benchmark prints. */
export function kernelLines(o: BenchOptions, a: Aggregate): string[] {
  return [
    `dma mapping benchmark(${o.mode === 1 ? "SG_MODE" : "SINGLE_MODE"}): threads:${o.threads} seconds:${headerSeconds(o, a)} node:${o.node} dir:${DIRECTIONS[o.dir]} granule:${o.granule}`,
    `average map latency(us):${us(a.avgMap100)} standard deviation:${us(a.stddevMap100)}`,
    `average unmap latency(us):${us(a.avgUnmap100)} standard deviation:${us(a.stddevUnmap100)}`,
  ];
}

export function extraLines(o: BenchOptions, a: Aggregate): string[] {
  const ns = (v: number) => `${Math.round(v)} ns`;
  const c = a.counters;
  const perPair = (v: number) => (a.loops ? (v / a.loops).toFixed(2) : "0");
  const rc = c.rcacheHits + c.rcacheMisses;
  const s = (a.wallMs / 1000).toFixed(3);
  const lines = [
    `dmasim: ${o.profile}/${o.design}, ${o.sharing} mode, ${o.iterations === null ? `${o.seconds} s` : `-i ${o.iterations} per thread`}: ${a.loops} map+unmap pairs in ${s} s, ${Math.round(a.opsPerSecond)} pairs/s wall-clock (buffer fill and timer included) on ${a.cpuCores === null ? "?" : a.cpuCores.toFixed(2)} host cores; the timed calls alone: ${Math.round(a.pathPairsPerSecond)} pairs/s`,
    `dmasim: map   mean ${ns(a.mapNs)}  p50 ${ns(a.map.p50)}  p90 ${ns(a.map.p90)}  p99 ${ns(a.map.p99)}  max ${ns(a.map.max)}`,
    `dmasim: unmap mean ${ns(a.unmapNs)}  p50 ${ns(a.unmap.p50)}  p90 ${ns(a.unmap.p90)}  p99 ${ns(a.unmap.p99)}  max ${ns(a.unmap.max)}`,
    `dmasim: timer performance.now(): ${a.timer.costNs.toFixed(0)} ns a reading, resolution ${a.timer.resolutionNs.toFixed(0)} ns (each timed call carries about one reading; not subtracted); timed calls are ${(100 * a.timedShare).toFixed(0)}% of the loop's time; cross-check: map+unmap in untimed batches (best of 10) ${a.batchPairNs === null ? "n/a" : ns(a.batchPairNs)} vs map+unmap mean ${ns(a.mapNs + a.unmapNs)}, p50 sum ${ns(a.map.p50 + a.unmap.p50)}`,
    `dmasim: counters per pair: IOTLB invalidations ${perPair(c.iotlbInvalidations)}, page-table writes ${perPair(c.pageTableWrites)}, swiotlb bytes copied ${perPair(c.swiotlbBytesCopied)}, rcache hit rate ${rc ? `${((100 * c.rcacheHits) / rc).toFixed(1)}%` : "n/a"}, indirect calls ${perPair(c.indirectCalls)} (${a.loops ? (c.indirectCalls / (2 * a.loops)).toFixed(2) : "0"} per DMA API call)`,
    `dmasim: histogram (ns, map/unmap): ${a.histogram.map((h) => `<${h.upToNs ?? "∞"}:${h.map}/${h.unmap}`).join(" ")}`,
  ];
  if (a.perThread.length > 1) {
    for (const t of a.perThread) {
      lines.push(
        `dmasim: thread ${t.thread}: ${t.loops} pairs, map ${ns(t.mapNs)}, unmap ${ns(t.unmapNs)}${o.sharing === "independent" ? `, ${Math.round(t.opsPerSecond)} pairs/s` : ""}`,
      );
    }
  }
  for (const e of a.errors) lines.push(`dmasim: thread ${e.thread} stopped: ${e.error}`);
  return lines;
}

export interface Row {
  label: string;
  mapNs: number;
  unmapNs: number;
  mapP50: number;
  unmapP50: number;
  opsPerSecond: number;
  kernel: string[];
  /** A variant that did not run (cannot be built, or its map fails): why. */
  note?: string;
}

/** One table for --compare (and -g lists): a row per variant. */
export function compareTable(rows: Row[]): string[] {
  const w = Math.max(12, ...rows.map((r) => r.label.length + 2));
  const out = [
    `${"".padEnd(w)}${"map ns".padStart(10)}${"unmap ns".padStart(10)}${"map p50".padStart(10)}${"unmap p50".padStart(11)}${"pairs/s".padStart(10)}   kernel-style map / unmap (us ± sd)`,
  ];
  for (const r of rows) {
    if (r.note !== undefined) {
      out.push(`${r.label.padEnd(w)}${r.note}`);
      continue;
    }
    const k = r.kernel
      .slice(1)
      .map((l) =>
        l.replace(/^average (un)?map latency\(us\):/, "").replace(" standard deviation:", " ± "),
      );
    out.push(
      `${r.label.padEnd(w)}${[r.mapNs, r.unmapNs, r.mapP50].map((x) => Math.round(x).toString().padStart(10)).join("")}${Math.round(r.unmapP50).toString().padStart(11)}${Math.round(r.opsPerSecond).toString().padStart(10)}   ${k.length ? k.join(" / ") : "-"}`,
    );
  }
  return out;
}

/** A bar chart of mean map and unmap latency per row (a design, a profile, a policy...). */
export function svgChart(
  title: string,
  rows: Array<{ label: string; mapNs: number; unmapNs: number }>,
): string {
  const w = 720;
  const barH = 14;
  const rowH = 2 * barH + 14;
  const left = 190;
  const h = 60 + rows.length * rowH;
  const max = Math.max(1, ...rows.flatMap((r) => [r.mapNs, r.unmapNs]));
  const scale = (w - left - 90) / max;
  const esc = (s: string) =>
    s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  const parts = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<rect x="${left}" y="30" width="10" height="10" fill="#4878d0"/><text x="${left + 14}" y="39">map</text>`,
    `<rect x="${left + 60}" y="30" width="10" height="10" fill="#ee854a"/><text x="${left + 74}" y="39">unmap (mean ns)</text>`,
  ];
  rows.forEach((r, i) => {
    const y = 50 + i * rowH;
    parts.push(`<text x="10" y="${y + barH + 4}">${esc(r.label)}</text>`);
    parts.push(
      `<rect x="${left}" y="${y}" width="${(r.mapNs * scale).toFixed(1)}" height="${barH}" fill="#4878d0"/>`,
    );
    parts.push(
      `<text x="${(left + r.mapNs * scale + 4).toFixed(1)}" y="${y + 11}">${Math.round(r.mapNs)}</text>`,
    );
    parts.push(
      `<rect x="${left}" y="${y + barH}" width="${(r.unmapNs * scale).toFixed(1)}" height="${barH}" fill="#ee854a"/>`,
    );
    parts.push(
      `<text x="${(left + r.unmapNs * scale + 4).toFixed(1)}" y="${y + barH + 11}">${Math.round(r.unmapNs)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}
