// The kernel tool's output lines, and dmasim's extras: throughput,
// percentiles, a histogram, per-thread figures, counters; JSON and an SVG chart.

import type { Counters, ThreadResult } from "./loop.ts";
import type { BenchOptions } from "./options.ts";

const DIRECTIONS = ["BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE"] as const;

export interface Aggregate {
  loops: number;
  errors: number;
  /** Kernel-style: mean and standard deviation in whole 100 ns units. */
  avgMap100: number;
  stddevMap100: number;
  avgUnmap100: number;
  stddevUnmap100: number;
  mapNs: number;
  unmapNs: number;
  opsPerSecond: number;
  map: Percentiles;
  unmap: Percentiles;
  histogram: Array<{ upToNs: number; map: number; unmap: number }>;
  counters: Counters;
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

export function aggregate(results: ThreadResult[], counters: Counters): Aggregate {
  let loops = 0;
  let errors = 0;
  let m = 0;
  let msq = 0;
  let u = 0;
  let usq = 0;
  let mNs = 0;
  let uNs = 0;
  let wall = 0;
  const mapS: number[] = [];
  const unmapS: number[] = [];
  for (const r of results) {
    loops += r.loops;
    errors += r.errors;
    m += r.map100;
    msq += r.map100sq;
    u += r.unmap100;
    usq += r.unmap100sq;
    mNs += r.mapNsTotal;
    uNs += r.unmapNsTotal;
    wall = Math.max(wall, r.wallMs);
    mapS.push(...r.mapSamples);
    unmapS.push(...r.unmapSamples);
  }
  mapS.sort((a, b) => a - b);
  unmapS.sort((a, b) => a - b);
  const avgM = loops ? Math.floor(m / loops) : 0;
  const avgU = loops ? Math.floor(u / loops) : 0;
  const buckets = [100, 200, 500, 1000, 2000, 5000, 10000, 50000, Number.POSITIVE_INFINITY];
  const histogram = buckets.map((upToNs, i) => {
    const lo = i === 0 ? 0 : buckets[i - 1]!;
    return {
      upToNs,
      map: mapS.filter((x) => x >= lo && x < upToNs).length,
      unmap: unmapS.filter((x) => x >= lo && x < upToNs).length,
    };
  });
  return {
    loops,
    errors,
    avgMap100: avgM,
    stddevMap100: loops ? intSqrt(Math.floor(msq / loops) - avgM * avgM) : 0,
    avgUnmap100: avgU,
    stddevUnmap100: loops ? intSqrt(Math.floor(usq / loops) - avgU * avgU) : 0,
    mapNs: loops ? mNs / loops : 0,
    unmapNs: loops ? uNs / loops : 0,
    opsPerSecond: wall > 0 ? loops / (wall / 1000) : 0,
    map: {
      p50: pct(mapS, 50),
      p90: pct(mapS, 90),
      p99: pct(mapS, 99),
      max: mapS[mapS.length - 1] ?? 0,
    },
    unmap: {
      p50: pct(unmapS, 50),
      p90: pct(unmapS, 90),
      p99: pct(unmapS, 99),
      max: unmapS[unmapS.length - 1] ?? 0,
    },
    histogram,
    counters,
  };
}

const us = (v100: number) => (v100 / 10).toFixed(1);

/** The three lines tools/dma/dma_map_benchmark prints. */
export function kernelLines(o: BenchOptions, a: Aggregate): string[] {
  return [
    `dma mapping benchmark(${o.mode === 1 ? "SG" : "SINGLE"}): threads:${o.threads} seconds:${o.seconds} node:${o.node} dir:${DIRECTIONS[o.dir]} granule:${o.granule}`,
    `average map latency(us):${us(a.avgMap100)} standard deviation:${us(a.stddevMap100)}`,
    `average unmap latency(us):${us(a.avgUnmap100)} standard deviation:${us(a.stddevUnmap100)}`,
  ];
}

export function extraLines(a: Aggregate, results: ThreadResult[]): string[] {
  const ns = (v: number) => `${Math.round(v)} ns`;
  const c = a.counters;
  const perOp = (v: number) => (a.loops ? (v / a.loops).toFixed(2) : "0");
  const rc = c.rcacheHits + c.rcacheMisses;
  const lines = [
    `dmasim: ${a.loops} map+unmap pairs, ${Math.round(a.opsPerSecond)} pairs/s${a.errors ? `, ${a.errors} map failures` : ""}`,
    `dmasim: map   mean ${ns(a.mapNs)}  p50 ${ns(a.map.p50)}  p90 ${ns(a.map.p90)}  p99 ${ns(a.map.p99)}  max ${ns(a.map.max)}`,
    `dmasim: unmap mean ${ns(a.unmapNs)}  p50 ${ns(a.unmap.p50)}  p90 ${ns(a.unmap.p90)}  p99 ${ns(a.unmap.p99)}  max ${ns(a.unmap.max)}`,
    `dmasim: counters per pair: indirect calls ${perOp(c.indirectCalls)}, IOTLB invalidations ${perOp(c.iotlbInvalidations)}, page-table writes ${perOp(c.pageTableWrites)}, swiotlb bytes copied ${perOp(c.swiotlbBytesCopied)}, rcache hit rate ${rc ? ((100 * c.rcacheHits) / rc).toFixed(1) : "n/a"}%`,
    `dmasim: histogram (ns): ${a.histogram.map((h) => `<${Number.isFinite(h.upToNs) ? h.upToNs : "∞"}:${h.map}/${h.unmap}`).join(" ")}`,
  ];
  if (results.length > 1) {
    for (const r of results) {
      lines.push(
        `dmasim: thread ${r.thread}: ${r.loops} pairs, map ${ns(r.loops ? r.mapNsTotal / r.loops : 0)}, unmap ${ns(r.loops ? r.unmapNsTotal / r.loops : 0)}`,
      );
    }
  }
  return lines;
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
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const parts = [
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
      `<text x="${left + r.mapNs * scale + 4}" y="${y + 11}">${Math.round(r.mapNs)}</text>`,
    );
    parts.push(
      `<rect x="${left}" y="${y + barH}" width="${(r.unmapNs * scale).toFixed(1)}" height="${barH}" fill="#ee854a"/>`,
    );
    parts.push(
      `<text x="${left + r.unmapNs * scale + 4}" y="${y + barH + 11}">${Math.round(r.unmapNs)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}
