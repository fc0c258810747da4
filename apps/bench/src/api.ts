// What a benchmark worker exposes over comlink. Independent mode: the worker is one
// benchmark thread with its own system. Shared mode: the worker hosts the one system
// whose simulated CPUs are the benchmark threads.
import {
  type Counters,
  calibrateTimer,
  OwnedThread,
  SharedBench,
  type ThreadResult,
  type TimerInfo,
} from "./loop.ts";
import type { BenchOptions } from "./options.ts";

export interface ChunkReply {
  /** false once the thread (or, shared, every thread) has stopped. */
  ok: boolean;
  loops: number;
  error: string | null;
}

/** A fresh API object with its own state (a worker holds one; an in-process shared run makes its own). */
export function createWorkerApi() {
  let owned: OwnedThread | null = null;
  let shared: SharedBench | null = null;
  return {
    /** Builds this worker's system (one CPU) and its thread's buffer. */
    init(o: BenchOptions, thread: number): TimerInfo {
      const timer = calibrateTimer();
      owned = new OwnedThread(o, thread, timer);
      return timer;
    },
    /** Runs up to `n` iterations for at most `ms` milliseconds. */
    chunk(n: number, ms: number): ChunkReply {
      if (owned === null) throw new Error("chunk() before init()");
      const t = owned.thread;
      const ok = t.run(n, performance.now() + ms);
      return { ok, loops: t.result.loops, error: t.result.error };
    },
    finish(): ThreadResult {
      if (owned === null) throw new Error("finish() before init()");
      const r = owned.finish();
      owned = null;
      return r;
    },
    /** Shared mode: one system with one simulated CPU per benchmark thread. */
    initShared(o: BenchOptions): TimerInfo {
      const timer = calibrateTimer();
      shared = new SharedBench(o, timer);
      return timer;
    },
    /** Runs lock-step rounds until every thread has `target` loops, for at most `ms` milliseconds. */
    chunkShared(target: number, ms: number): ChunkReply {
      if (shared === null) throw new Error("chunkShared() before initShared()");
      shared.runRounds(target, performance.now() + ms);
      const error = shared.threads.find((t) => t.result.error !== null)?.result.error ?? null;
      return { ok: !shared.done, loops: shared.loops, error };
    },
    finishShared(): { results: ThreadResult[]; counters: Counters } {
      if (shared === null) throw new Error("finishShared() before initShared()");
      const r = shared.finish();
      shared = null;
      return r;
    },
  };
}

export type WorkerApi = ReturnType<typeof createWorkerApi>;
