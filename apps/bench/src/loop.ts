// The kernel's benchmark loop (kernel/dma/map_benchmark.c) on a simulated
// system: one buffer of `granule` pages per thread; dirty it unless the
// direction is FROM_DEVICE; time the map; the transfer delay; time the unmap.
// Latencies are kept in whole 100 ns units, as the kernel accumulates them,
// and at full resolution for dmasim's percentiles.
import { createSystem, type DmaSystem } from "@dmasim/arch";
import { DMA_FROM_DEVICE, DMA_MAPPING_ERROR, PAGE_SIZE, SgTable } from "@dmasim/dma-core";
import type { BenchOptions } from "./options.ts";

export interface Counters {
  indirectCalls: number;
  iotlbInvalidations: number;
  pageTableWrites: number;
  swiotlbBytesCopied: number;
  rcacheHits: number;
  rcacheMisses: number;
}

export interface ThreadResult {
  thread: number;
  loops: number;
  errors: number;
  /** Sums in 100 ns units (the kernel's accounting). */
  map100: number;
  map100sq: number;
  unmap100: number;
  unmap100sq: number;
  /** Exact totals in ns. */
  mapNsTotal: number;
  unmapNsTotal: number;
  /** Up to SAMPLE_CAP latencies (ns) for percentiles. */
  mapSamples: number[];
  unmapSamples: number[];
  wallMs: number;
  counters: Counters;
}

export const SAMPLE_CAP = 20000;

export function newResult(thread: number): ThreadResult {
  return {
    thread,
    loops: 0,
    errors: 0,
    map100: 0,
    map100sq: 0,
    unmap100: 0,
    unmap100sq: 0,
    mapNsTotal: 0,
    unmapNsTotal: 0,
    mapSamples: [],
    unmapSamples: [],
    wallMs: 0,
    counters: {
      indirectCalls: 0,
      iotlbInvalidations: 0,
      pageTableWrites: 0,
      swiotlbBytesCopied: 0,
      rcacheHits: 0,
      rcacheMisses: 0,
    },
  };
}

export function buildSystem(o: BenchOptions, cpus: number): DmaSystem {
  const cmdline =
    o.policy === "strict" ? "iommu.strict=1" : o.policy === "lazy" ? "iommu.strict=0" : undefined;
  return createSystem(o.profile, { design: o.design, maskBits: o.bits, cmdline, cpus });
}

/** One thread's state: its buffer (and sg table) on a system, and its CPU there. */
export class BenchThread {
  readonly result: ThreadResult;
  readonly #sys: DmaSystem;
  readonly #o: BenchOptions;
  readonly #cpu: number;
  readonly #buf: number;
  readonly #pa: number;
  readonly #order: number;
  readonly #size: number;
  readonly #sgt: SgTable | null;
  #sampleSeen = 0;
  #rng = 0x1234567;

  constructor(sys: DmaSystem, o: BenchOptions, thread: number, cpu: number) {
    this.#sys = sys;
    this.#o = o;
    this.#cpu = cpu;
    this.result = newResult(thread);
    this.#size = o.granule * PAGE_SIZE;
    this.#order = Math.ceil(Math.log2(o.granule));
    const pa = sys.machine.pages.allocPages(this.#order);
    if (pa === null)
      throw new RangeError(`thread ${thread}: no memory for a ${this.#size}-byte buffer`);
    this.#pa = pa;
    this.#buf = sys.machine.kas.physToVirt(pa);
    this.#sgt =
      o.mode === 1
        ? SgTable.fromPhys(
            Array.from({ length: o.granule }, (_, i) => ({
              phys: pa + i * PAGE_SIZE,
              length: PAGE_SIZE,
            })),
          )
        : null;
  }

  #sample(list: number[], ns: number): void {
    // Reservoir sampling with a fixed seed: bounded memory, the same picks for the same run.
    if (list.length < SAMPLE_CAP) list.push(ns);
    else {
      this.#rng = (this.#rng * 1103515245 + 12345) % 2147483648;
      const j = this.#rng % this.#sampleSeen;
      if (j < SAMPLE_CAP) list[j] = ns;
    }
  }

  /** Runs `n` iterations, or until `deadline` (performance.now() ms). Returns false after a map failure. */
  run(n: number, deadline = Number.POSITIVE_INFINITY): boolean {
    const s = this.#sys;
    const o = this.#o;
    const dev = s.dev;
    const r = this.result;
    s.dma.cpu = this.#cpu;
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      if ((i & 63) === 0 && performance.now() >= deadline) break;
      if (o.dir !== DMA_FROM_DEVICE) s.dma.cpuFill(this.#buf, this.#size, 0x66);
      const t0 = performance.now();
      let dma = 0;
      if (this.#sgt) {
        if (s.dma.mapSgtable(dev, this.#sgt, o.dir) !== 0) dma = DMA_MAPPING_ERROR;
      } else dma = s.dma.mapSingle(dev, this.#buf, this.#size, o.dir);
      const t1 = performance.now();
      if (dma === DMA_MAPPING_ERROR) {
        r.errors++;
        return false;
      }
      // ndelay(): the transfer takes simulated time; so does the map itself.
      s.clock.advance(o.delayNs + Math.round((t1 - t0) * 1e6));
      const t2 = performance.now();
      if (this.#sgt) s.dma.unmapSgtable(dev, this.#sgt, o.dir);
      else s.dma.unmapSingle(dev, dma, this.#size, o.dir);
      const t3 = performance.now();
      const mapNs = (t1 - t0) * 1e6;
      const unmapNs = (t3 - t2) * 1e6;
      const m = Math.floor(mapNs / 100);
      const u = Math.floor(unmapNs / 100);
      r.map100 += m;
      r.map100sq += m * m;
      r.unmap100 += u;
      r.unmap100sq += u * u;
      r.mapNsTotal += mapNs;
      r.unmapNsTotal += unmapNs;
      r.loops++;
      this.#sampleSeen++;
      this.#sample(r.mapSamples, mapNs);
      this.#sample(r.unmapSamples, unmapNs);
    }
    r.wallMs += performance.now() - start;
    return true;
  }

  /** Copies the system's counters into the result (for a system one thread owns). */
  snapshotCounters(): void {
    const st = this.#sys.stats();
    this.result.counters = {
      indirectCalls: st.indirectCalls,
      iotlbInvalidations: st.iotlbInvalidations,
      pageTableWrites: st.pageTableWrites,
      swiotlbBytesCopied: st.swiotlbBytesCopied,
      rcacheHits: st.rcacheHits,
      rcacheMisses: st.rcacheMisses,
    };
  }

  release(): void {
    this.#sys.machine.pages.freePages(this.#pa, this.#order);
  }
}
