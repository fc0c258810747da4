// The kernel's benchmark loop (kernel/dma/map_benchmark.c) on a simulated
// system: one buffer of `granule` pages per thread (in sg mode `granule`
// separate pages, one sg entry each); dirty it unless the direction is
// FROM_DEVICE; time the map; the transfer delay; time the unmap. Latencies are
// kept in whole 100 ns units, as the kernel accumulates them, and at full
// resolution for dmasim's mean and percentiles.
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

export const COUNTER_NAMES: ReadonlyArray<keyof Counters> = [
  "indirectCalls",
  "iotlbInvalidations",
  "pageTableWrites",
  "swiotlbBytesCopied",
  "rcacheHits",
  "rcacheMisses",
];

export function zeroCounters(): Counters {
  return {
    indirectCalls: 0,
    iotlbInvalidations: 0,
    pageTableWrites: 0,
    swiotlbBytesCopied: 0,
    rcacheHits: 0,
    rcacheMisses: 0,
  };
}

export function addCounters(into: Counters, c: Counters, sign = 1): Counters {
  for (const k of COUNTER_NAMES) into[k] += sign * c[k];
  return into;
}

/** The model's counters now (the subset the benchmark reports). */
export function readCounters(sys: DmaSystem): Counters {
  const st = sys.stats();
  return {
    indirectCalls: st.indirectCalls,
    iotlbInvalidations: st.iotlbInvalidations,
    pageTableWrites: st.pageTableWrites,
    swiotlbBytesCopied: st.swiotlbBytesCopied,
    rcacheHits: st.rcacheHits,
    rcacheMisses: st.rcacheMisses,
  };
}

/** What performance.now() costs and resolves on this host, measured back to back. */
export interface TimerInfo {
  /** Mean cost of one reading (ns): what one timed window carries on top of the call it times. */
  costNs: number;
  /** Smallest non-zero difference seen between two readings (ns). */
  resolutionNs: number;
}

export function calibrateTimer(batches = 40, perBatch = 1000): TimerInfo {
  // The cheapest of several batches: a batch the host preempted says nothing about the timer.
  let best = Number.POSITIVE_INFINITY;
  let min = Number.POSITIVE_INFINITY;
  for (let b = 0; b < batches; b++) {
    let prev = performance.now();
    const t0 = prev;
    for (let i = 0; i < perBatch; i++) {
      const t = performance.now();
      const d = t - prev;
      if (d > 0 && d < min) min = d;
      prev = t;
    }
    best = Math.min(best, ((prev - t0) * 1e6) / perBatch);
  }
  return { costNs: best, resolutionNs: Number.isFinite(min) ? min * 1e6 : 0 };
}

export interface ThreadResult {
  thread: number;
  loops: number;
  /** Why the thread stopped early (a failed map, as the kernel's pr_err), or null. */
  error: string | null;
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
  /** Host time spent in this thread's loop (ms), fills and timers included. */
  wallMs: number;
  /** The model's counters over the loop (deltas); zero in shared mode, where they belong to the one system. */
  counters: Counters;
  timer: TimerInfo;
  /** ns per map+unmap pair in untimed batches after the run (the timing cross-check), or null. */
  batchPairNs: number | null;
}

export const SAMPLE_CAP = 20000;
/** Fewest pairs per batch of the untimed cross-check (ten batches, the cheapest counts). */
const BATCH = 2000;
/**
 * Host time a cross-check batch aims at. A batch of 2000 dma-direct pairs
 * lasts about 0.2 ms, too short for its own loop to be optimised: the first
 * cross-check of a run measured 340–440 ns per pair where the same loop,
 * warm, took 110–220 ns. So the batch grows until it lasts about this long.
 */
const BATCH_NS = 2e6;

/** Pairs per cross-check batch for a thread whose timed pairs took `pairNs` each. */
export function batchSize(pairNs: number): number {
  return pairNs > 0 ? Math.max(BATCH, Math.min(100_000, Math.ceil(BATCH_NS / pairNs))) : BATCH;
}

export function newResult(thread: number, timer: TimerInfo): ThreadResult {
  return {
    thread,
    loops: 0,
    error: null,
    map100: 0,
    map100sq: 0,
    unmap100: 0,
    unmap100sq: 0,
    mapNsTotal: 0,
    unmapNsTotal: 0,
    mapSamples: [],
    unmapSamples: [],
    wallMs: 0,
    counters: zeroCounters(),
    timer,
    batchPairNs: null,
  };
}

/** Pages one system maps at most during the warm-up: --warmup is capped so a warm-up stays short. */
const WARMUP_PAGES = 200_000;

/** The warm-up pairs per thread: --warmup, capped by WARMUP_PAGES for the system (a function of the options only). */
export function warmupPairs(o: BenchOptions, threadsPerSystem: number): number {
  if (o.warmup === 0) return 0;
  return Math.min(
    o.warmup,
    Math.max(10, Math.floor(WARMUP_PAGES / (o.granule * threadsPerSystem))),
  );
}

export function buildSystem(o: BenchOptions, cpus: number): DmaSystem {
  const cmdline =
    o.policy === "strict" ? "iommu.strict=1" : o.policy === "lazy" ? "iommu.strict=0" : undefined;
  return createSystem(o.profile, { design: o.design, maskBits: o.bits, cmdline, cpus });
}

/** One benchmark thread: its buffer (or sg pages) on a system, and its CPU there. */
export class BenchThread {
  result: ThreadResult;
  readonly #sys: DmaSystem;
  readonly #o: BenchOptions;
  readonly #cpu: number;
  readonly #size: number;
  /** Single mode: one block; sg mode: one page per entry. */
  readonly #pages: Array<{ pa: number; va: number; order: number }> = [];
  readonly #sgt: SgTable | null;
  /** The 0x66 pattern the kernel memsets, allocated once (the memset itself is not timed). */
  readonly #pattern: Uint8Array;
  #dma = 0;
  #mapNs = 0;
  #sampleSeen = 0;
  #rng = 0x1234567;

  constructor(sys: DmaSystem, o: BenchOptions, thread: number, cpu: number, timer: TimerInfo) {
    this.#sys = sys;
    this.#o = o;
    this.#cpu = cpu;
    this.result = newResult(thread, timer);
    this.#size = o.granule * PAGE_SIZE;
    const alloc = (order: number) => {
      const pa = sys.machine.pages.allocPages(order);
      if (pa === null) {
        this.release();
        throw new RangeError(
          `thread ${thread}: no memory for ${o.mode === 1 ? `page ${this.#pages.length} of ${o.granule}` : `a ${this.#size}-byte buffer`}`,
        );
      }
      this.#pages.push({ pa, va: sys.machine.kas.physToVirt(pa), order });
    };
    if (o.mode === 1) {
      // dma_sg_map_benchmark_prepare(): __get_free_page() per entry, sg_set_buf(sg, buf[i], PAGE_SIZE).
      for (let i = 0; i < o.granule; i++) alloc(0);
      this.#sgt = SgTable.fromPhys(this.#pages.map((p) => ({ phys: p.pa, length: PAGE_SIZE })));
      this.#pattern = new Uint8Array(PAGE_SIZE).fill(0x66);
    } else {
      // alloc_pages_exact(granule * PAGE_SIZE): the buddy order that holds it.
      alloc(Math.ceil(Math.log2(o.granule)));
      this.#sgt = null;
      this.#pattern = new Uint8Array(this.#size).fill(0x66);
    }
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

  /** initialize_data(), then the timed map. Returns false (and records why) if the map failed. */
  map(): boolean {
    const s = this.#sys;
    const o = this.#o;
    s.dma.cpu = this.#cpu;
    if (o.dir !== DMA_FROM_DEVICE) {
      if (this.#sgt) for (const p of this.#pages) s.dma.cpuWrite(p.va, this.#pattern);
      else s.dma.cpuWrite(this.#pages[0]!.va, this.#pattern);
    }
    let failed: boolean;
    const t0 = performance.now();
    if (this.#sgt) failed = s.dma.mapSgtable(s.dev, this.#sgt, o.dir) !== 0;
    else
      failed =
        (this.#dma = s.dma.mapSingle(s.dev, this.#pages[0]!.va, this.#size, o.dir)) ===
        DMA_MAPPING_ERROR;
    const t1 = performance.now();
    if (failed) {
      this.result.error = `${this.#sgt ? "dma_map_sg" : "dma_map_single"} failed on ${s.dev.name}`;
      return false;
    }
    this.#mapNs = (t1 - t0) * 1e6;
    return true;
  }

  /** The timed unmap of what map() mapped, and the accounting of the pair. */
  unmap(): void {
    const s = this.#sys;
    const o = this.#o;
    const r = this.result;
    s.dma.cpu = this.#cpu;
    const t2 = performance.now();
    if (this.#sgt) s.dma.unmapSgtable(s.dev, this.#sgt, o.dir);
    else s.dma.unmapSingle(s.dev, this.#dma, this.#size, o.dir);
    const t3 = performance.now();
    const mapNs = this.#mapNs;
    const unmapNs = (t3 - t2) * 1e6;
    // div64_ul(delta, 100): whole 100 ns units, truncated.
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

  /**
   * The kernel thread's loop for a system this thread owns: up to `n` iterations, or until
   * `deadline` (performance.now() ms). ndelay(-x) advances the simulated clock by the delay only,
   * so a run's model state is a function of its options and iteration count. Returns false after
   * a failed map.
   */
  run(n: number, deadline = Number.POSITIVE_INFINITY): boolean {
    const clock = this.#sys.clock;
    const delay = this.#o.delayNs;
    const start = performance.now();
    let ok = true;
    for (let i = 0; i < n; i++) {
      if ((i & 63) === 0 && i > 0 && performance.now() >= deadline) break;
      if (!this.map()) {
        ok = false;
        break;
      }
      if (delay > 0) clock.advance(delay);
      this.unmap();
    }
    this.result.wallMs += performance.now() - start;
    return ok;
  }

  /**
   * The honesty check for per-call timing: map+unmap pairs with no timer around them, timed in
   * ten batches of `n` (no memset in between) after one untimed batch that lets the JIT compile
   * this loop. The cheapest batch counts, since the host may preempt any one of them. Returns ns
   * per pair, or NaN if a map failed.
   */
  batchPairNs(n: number): number {
    const s = this.#sys;
    const o = this.#o;
    const dev = s.dev;
    const va = this.#pages[0]!.va;
    s.dma.cpu = this.#cpu;
    let best = Number.POSITIVE_INFINITY;
    for (let b = -1; b < 10; b++) {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        if (this.#sgt) {
          if (s.dma.mapSgtable(dev, this.#sgt, o.dir) !== 0) return Number.NaN;
          if (o.delayNs > 0) s.clock.advance(o.delayNs);
          s.dma.unmapSgtable(dev, this.#sgt, o.dir);
        } else {
          const d = s.dma.mapSingle(dev, va, this.#size, o.dir);
          if (d === DMA_MAPPING_ERROR) return Number.NaN;
          if (o.delayNs > 0) s.clock.advance(o.delayNs);
          s.dma.unmapSingle(dev, d, this.#size, o.dir);
        }
      }
      if (b >= 0) best = Math.min(best, ((performance.now() - t0) * 1e6) / n);
    }
    return best;
  }

  /**
   * Untimed, uncounted iterations so the JIT has compiled the path before measuring. A map that
   * fails here fails again on the measured phase's first iteration, which reports it.
   */
  warmup(n: number): void {
    if (n <= 0) return;
    this.run(n);
    this.result = newResult(this.result.thread, this.result.timer);
    this.#sampleSeen = 0;
    this.#rng = 0x1234567;
  }

  release(): void {
    for (const p of this.#pages.splice(0)) this.#sys.machine.pages.freePages(p.pa, p.order);
  }
}

/** Independent mode: a thread that owns its system (one simulated CPU). */
export class OwnedThread {
  readonly thread: BenchThread;
  readonly #sys: DmaSystem;
  readonly #base: Counters;

  constructor(o: BenchOptions, index: number, timer: TimerInfo) {
    this.#sys = buildSystem(o, 1);
    this.thread = new BenchThread(this.#sys, o, index, 0, timer);
    this.thread.warmup(warmupPairs(o, 1));
    this.#base = readCounters(this.#sys);
  }

  finish(): ThreadResult {
    const r = this.thread.result;
    r.counters = addCounters(readCounters(this.#sys), this.#base, -1);
    // After the counters: the cross-check runs on the hot, measured path.
    if (r.loops > 0)
      r.batchPairNs = this.thread.batchPairNs(batchSize((r.mapNsTotal + r.unmapNsTotal) / r.loops));
    this.thread.release();
    return r;
  }
}

/**
 * Shared mode: one system whose simulated CPUs are the benchmark threads, all on one host
 * thread. The threads run in lock-step rounds: every live thread maps (CPU i on simulated CPU
 * i, its own rcache magazines and flush queue), the simulated clock advances by the -x delay
 * once (the CPUs' delays overlap, as they would in parallel), then every thread unmaps. Each DMA
 * API call runs to completion before the next starts, as if the whole layer sat under one
 * global lock; a call's measured latency does not include waiting for its turn.
 */
export class SharedBench {
  readonly threads: BenchThread[];
  readonly sys: DmaSystem;
  readonly #o: BenchOptions;
  readonly #base: Counters;
  #live: Set<BenchThread>;
  wallMs = 0;

  constructor(o: BenchOptions, timer: TimerInfo) {
    this.#o = o;
    this.sys = buildSystem(o, o.threads);
    this.threads = [];
    try {
      for (let i = 0; i < o.threads; i++)
        this.threads.push(new BenchThread(this.sys, o, i, i, timer));
    } catch (e) {
      for (const t of this.threads) t.release();
      throw e;
    }
    this.#live = new Set(this.threads);
    const warm = warmupPairs(o, o.threads);
    if (warm > 0) {
      // A thread whose map fails here fails again in the first measured round, which reports it.
      this.runRounds(warm, Number.POSITIVE_INFINITY);
      for (const t of this.threads) t.result = newResult(t.result.thread, timer);
      this.#live = new Set(this.threads);
      this.wallMs = 0;
    }
    this.#base = readCounters(this.sys);
  }

  get done(): boolean {
    return this.#live.size === 0;
  }

  get loops(): number {
    let n = 0;
    for (const t of this.threads) n += t.result.loops;
    return n;
  }

  /** Runs rounds until every thread has `target` loops, or `deadline` passes. */
  runRounds(target: number, deadline: number): void {
    const start = performance.now();
    const delay = this.#o.delayNs;
    const mapped: BenchThread[] = [];
    // Look at the clock every round when rounds are long (many threads), every 16 otherwise.
    const every = this.#live.size >= 16 ? 0 : 15;
    for (let round = 0; this.#live.size > 0; round++) {
      if ((round & every) === 0 && round > 0 && performance.now() >= deadline) break;
      mapped.length = 0;
      for (const t of this.#live) {
        if (t.result.loops >= target) this.#live.delete(t);
        else if (t.map()) mapped.push(t);
        else this.#live.delete(t);
      }
      if (mapped.length === 0) break;
      if (delay > 0) this.sys.clock.advance(delay);
      for (const t of mapped) t.unmap();
    }
    for (const t of this.#live) if (t.result.loops >= target) this.#live.delete(t);
    const ms = performance.now() - start;
    this.wallMs += ms;
    for (const t of this.threads) t.result.wallMs = this.wallMs;
  }

  counters(): Counters {
    return addCounters(readCounters(this.sys), this.#base, -1);
  }

  finish(): { results: ThreadResult[]; counters: Counters } {
    const counters = this.counters();
    // After the counters: the cross-check runs on the hot, measured path, on CPU 0.
    if (this.loops > 0) {
      const r0 = this.threads[0]!.result;
      const batch = this.threads[0]!.batchPairNs(
        batchSize((r0.mapNsTotal + r0.unmapNsTotal) / Math.max(1, r0.loops)),
      );
      for (const t of this.threads) t.result.batchPairNs = batch;
    }
    for (const t of this.threads) t.release();
    return { results: this.threads.map((t) => t.result), counters };
  }
}
