// What a benchmark worker exposes over comlink: its own system and thread.
import { BenchThread, buildSystem, type ThreadResult } from "./loop.ts";
import type { BenchOptions } from "./options.ts";

let current: BenchThread | null = null;

export const workerApi = {
  /** Builds this worker's system (one CPU) and its thread's buffer. */
  init(o: BenchOptions, thread: number): void {
    current = new BenchThread(buildSystem(o, 1), o, thread, 0);
  },
  /** Runs up to `n` iterations for at most `ms` milliseconds; returns whether the thread can go on. */
  chunk(n: number, ms: number): { ok: boolean; loops: number } {
    if (current === null) throw new Error("chunk() before init()");
    const ok = current.run(n, performance.now() + ms);
    return { ok, loops: current.result.loops };
  },
  finish(): ThreadResult {
    if (current === null) throw new Error("finish() before init()");
    current.snapshotCounters();
    current.release();
    const r = current.result;
    current = null;
    return r;
  },
};

export type WorkerApi = typeof workerApi;
