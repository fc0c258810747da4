// Runs a benchmark: threads as comlink workers, each with its own system
// (independent), or one system whose simulated CPUs are the threads (shared).
import { Worker } from "node:worker_threads";
import { type Remote, releaseProxy, wrap } from "comlink";
import type { WorkerApi } from "./api.ts";
import { BenchThread, buildSystem, type Counters, type ThreadResult } from "./loop.ts";
import { nodeEndpoint } from "./node_endpoint.ts";
import type { BenchOptions } from "./options.ts";

export interface RunHooks {
  /** Loops done so far, over all threads. */
  onProgress?(loops: number, total: number | null): void;
  /** Set by the caller (e.g. on Ctrl-C) to stop with partial results. */
  stop?: { requested: boolean };
  /** Worker entry override (tests use it to make a worker die). */
  workerUrl?: URL;
  workerEval?: string;
}

export interface RunOutcome {
  results: ThreadResult[];
  counters: Counters;
  interrupted: boolean;
}

const CHUNK_MS = 100;

function sumCounters(results: ThreadResult[]): Counters {
  const c: Counters = {
    indirectCalls: 0,
    iotlbInvalidations: 0,
    pageTableWrites: 0,
    swiotlbBytesCopied: 0,
    rcacheHits: 0,
    rcacheMisses: 0,
  };
  for (const r of results)
    for (const k of Object.keys(c) as Array<keyof Counters>) c[k] += r.counters[k];
  return c;
}

/** Shared mode: one system with one simulated CPU per thread, scheduled round-robin on this host thread. */
export async function runShared(o: BenchOptions, hooks: RunHooks = {}): Promise<RunOutcome> {
  const sys = buildSystem(o, o.threads);
  const threads = Array.from({ length: o.threads }, (_, i) => new BenchThread(sys, o, i, i));
  const deadline =
    o.iterations === null ? performance.now() + o.seconds * 1000 : Number.POSITIVE_INFINITY;
  const target = o.iterations ?? Number.POSITIVE_INFINITY;
  const live = new Set(threads);
  let interrupted = false;
  let lastYield = performance.now();
  while (live.size > 0) {
    if (performance.now() - lastYield > CHUNK_MS) {
      // Let signals and the progress bar run between rounds.
      await new Promise((r) => setImmediate(r));
      lastYield = performance.now();
    }
    if (hooks.stop?.requested) {
      interrupted = true;
      break;
    }
    for (const t of [...live]) {
      const ok = t.run(Math.min(64, target - t.result.loops), deadline);
      if (!ok || t.result.loops >= target || performance.now() >= deadline) live.delete(t);
    }
    hooks.onProgress?.(
      threads.reduce((s, t) => s + t.result.loops, 0),
      o.iterations === null ? null : o.iterations * o.threads,
    );
  }
  // One system: its counters belong to the run as a whole.
  const st = sys.stats();
  const counters: Counters = {
    indirectCalls: st.indirectCalls,
    iotlbInvalidations: st.iotlbInvalidations,
    pageTableWrites: st.pageTableWrites,
    swiotlbBytesCopied: st.swiotlbBytesCopied,
    rcacheHits: st.rcacheHits,
    rcacheMisses: st.rcacheMisses,
  };
  for (const t of threads) t.release();
  return { results: threads.map((t) => t.result), counters, interrupted };
}

function defaultWorkerUrl(): URL {
  return new URL("./worker.js", import.meta.url);
}

/** Independent mode: every thread is a worker with its own system. */
export async function runIndependent(o: BenchOptions, hooks: RunHooks = {}): Promise<RunOutcome> {
  if (!hooks.workerEval && !hooks.workerUrl && !import.meta.url.endsWith(".js")) {
    throw new Error(
      "independent mode runs workers from the built package (dist/); build it first, or use --shared",
    );
  }
  const workers = Array.from({ length: o.threads }, () =>
    hooks.workerEval
      ? new Worker(hooks.workerEval, { eval: true })
      : new Worker(hooks.workerUrl ?? defaultWorkerUrl(), { execArgv: [] }),
  );
  const apis: Array<Remote<WorkerApi>> = workers.map((w) => wrap<WorkerApi>(nodeEndpoint(w)));
  const died = new Promise<never>((_, reject) => {
    workers.forEach((w, i) => {
      w.once("error", (e) => reject(new Error(`bench worker ${i} died: ${e.message}`)));
      w.once("exit", (code) => reject(new Error(`bench worker ${i} exited with code ${code}`)));
    });
  });
  died.catch(() => {});
  const loops = new Array<number>(o.threads).fill(0);
  let interrupted = false;
  try {
    await Promise.race([Promise.all(apis.map((a, i) => a.init(o, i))), died]);
    const deadline =
      o.iterations === null ? performance.now() + o.seconds * 1000 : Number.POSITIVE_INFINITY;
    await Promise.race([
      Promise.all(
        apis.map(async (a, i) => {
          for (;;) {
            if (hooks.stop?.requested) {
              interrupted = true;
              return;
            }
            const left = o.iterations === null ? Number.MAX_SAFE_INTEGER : o.iterations - loops[i]!;
            const ms = Math.min(CHUNK_MS, deadline - performance.now());
            if (left <= 0 || ms <= 0) return;
            const r = await a.chunk(Math.min(left, 5000), ms);
            loops[i] = r.loops;
            hooks.onProgress?.(
              loops.reduce((s, x) => s + x, 0),
              o.iterations === null ? null : o.iterations * o.threads,
            );
            if (!r.ok) return;
          }
        }),
      ),
      died,
    ]);
    const results = await Promise.race([Promise.all(apis.map((a) => a.finish())), died]);
    return { results, counters: sumCounters(results), interrupted };
  } finally {
    for (const a of apis) a[releaseProxy]();
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

export function run(o: BenchOptions, hooks: RunHooks = {}): Promise<RunOutcome> {
  return o.sharing === "shared" ? runShared(o, hooks) : runIndependent(o, hooks);
}
