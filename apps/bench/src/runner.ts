// Runs a benchmark on comlink workers (worker_threads). Independent mode: one worker per
// benchmark thread, each with its own system. Shared mode: one worker hosting the one
// system whose simulated CPUs are the benchmark threads (see SharedBench). The main thread
// only hands out time slices of at most CHUNK_MS, so Ctrl-C, the progress bar and a dying
// worker are noticed within one slice.
import { createRequire } from "node:module";
import { freemem } from "node:os";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { type Remote, releaseProxy, wrap } from "comlink";
import { type ChunkReply, createWorkerApi, type WorkerApi } from "./api.ts";
import {
  addCounters,
  type Counters,
  type ThreadResult,
  type TimerInfo,
  zeroCounters,
} from "./loop.ts";
import { nodeEndpoint } from "./node_endpoint.ts";
import type { BenchOptions } from "./options.ts";

export interface RunHooks {
  /** Pairs done so far over all threads, and ms since the measured phase began. */
  onProgress?(loops: number, elapsedMs: number): void;
  /** Set by the caller (e.g. on Ctrl-C) to stop with partial results. */
  stop?: { requested: boolean };
  /** Worker entry overrides (tests use them to make a worker die). */
  workerUrl?: URL;
  workerEval?: string;
  /** Shared mode: run the one system on this thread instead of in a worker. */
  inProcess?: boolean;
}

export interface RunOutcome {
  results: ThreadResult[];
  counters: Counters;
  interrupted: boolean;
  /** Wall-clock ms of the measured phase (setup excluded), taken on the main thread. */
  wallMs: number;
  /** CPU time the whole process (every worker) used in the measured phase, ms: what the host gave. */
  cpuMs: number;
  timer: TimerInfo;
}

const cpuMsSince = (c: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(c);
  return (d.user + d.system) / 1000;
};

export const CHUNK_MS = 100;

/**
 * A worker's young generation: Node gives a worker a smaller one than the main
 * thread, and the model's short-lived numbers (addresses above 2^31 are heap
 * numbers wherever V8 does not inline a call) then cost a worker about twice
 * the time per pair in scavenges. 16 MiB brings it to the main thread's speed.
 */
const WORKER_LIMITS = { resourceLimits: { maxYoungGenerationSizeMb: 16 } };

function spawn(hooks: RunHooks): Worker {
  if (hooks.workerEval) return new Worker(hooks.workerEval, { eval: true, ...WORKER_LIMITS });
  if (hooks.workerUrl) return new Worker(hooks.workerUrl, WORKER_LIMITS);
  if (import.meta.url.endsWith(".js"))
    return new Worker(new URL("./worker.js", import.meta.url), WORKER_LIMITS);
  // Running from source (vitest, tsx): a bootstrap loads worker.ts through tsx's scoped
  // importer, with the workspace's source condition, so no build is needed. (Node 20 does not
  // apply --import hooks to a worker's entry module.)
  const api = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api")).href.replace(
    /index\.cjs$/,
    "index.mjs",
  );
  const entry = new URL("./worker.ts", import.meta.url).href;
  return new Worker(
    `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)}))`,
    { eval: true, execArgv: ["--conditions=@dmasim/source"], ...WORKER_LIMITS },
  );
}

/** Starts `n` workers and runs `body`; any promise passed through `guard` rejects as soon as a worker dies. */
async function withWorkers<T>(
  n: number,
  hooks: RunHooks,
  body: (apis: Array<Remote<WorkerApi>>, guard: <U>(p: Promise<U>) => Promise<U>) => Promise<T>,
): Promise<T> {
  const workers: Worker[] = [];
  const apis: Array<Remote<WorkerApi>> = [];
  let onDeath: (e: Error) => void = () => {};
  const died = new Promise<never>((_, reject) => {
    onDeath = reject;
  });
  died.catch(() => {});
  let finished = false;
  try {
    for (let i = 0; i < n; i++) {
      const w = spawn(hooks);
      w.once("error", (e) => onDeath(new Error(`bench worker ${i} died: ${e.message}`)));
      w.once("exit", (code) => {
        if (!finished) onDeath(new Error(`bench worker ${i} exited with code ${code}`));
      });
      workers.push(w);
      apis.push(wrap<WorkerApi>(nodeEndpoint(w)));
    }
    const guard = <U>(p: Promise<U>) => Promise.race([p, died]);
    return await body(apis, guard);
  } finally {
    finished = true;
    for (const a of apis) a[releaseProxy]();
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Resident memory one independent-mode worker takes (V8 isolate, the model, its system), measured with -t 64. */
export const WORKER_BYTES = 24 * 2 ** 20;

/** Refuses a worker count this host cannot hold, before any worker starts (rather than be killed by the OOM killer). */
export function checkWorkerMemory(threads: number, freeBytes = freemem()): void {
  const need = threads * WORKER_BYTES;
  if (need > 0.75 * freeBytes) {
    const gib = (b: number) => (b / 2 ** 30).toFixed(1);
    throw new Error(
      `independent mode: ${threads} workers need about ${gib(need)} GiB (${WORKER_BYTES / 2 ** 20} MiB each) and this host has ${gib(freeBytes)} GiB free; use fewer threads, or --shared (one system with ${threads} simulated CPUs)`,
    );
  }
}

/** Independent mode: every benchmark thread is a worker with its own system. */
export async function runIndependent(o: BenchOptions, hooks: RunHooks = {}): Promise<RunOutcome> {
  checkWorkerMemory(o.threads);
  return withWorkers(o.threads, hooks, async (apis, guard) => {
    const timers = await guard(Promise.all(apis.map((a, i) => a.init(o, i))));
    const loops = new Array<number>(o.threads).fill(0);
    let interrupted = false;
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const deadline = o.iterations === null ? start + o.seconds * 1000 : Number.POSITIVE_INFINITY;
    await guard(
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
            let r: ChunkReply;
            try {
              r = await a.chunk(left, ms);
            } catch (e) {
              throw new Error(`bench thread ${i}: ${e instanceof Error ? e.message : String(e)}`);
            }
            loops[i] = r.loops;
            hooks.onProgress?.(
              loops.reduce((s, x) => s + x, 0),
              performance.now() - start,
            );
            if (!r.ok) return;
          }
        }),
      ),
    );
    const wallMs = performance.now() - start;
    const cpuMs = cpuMsSince(cpu0);
    const results = await guard(Promise.all(apis.map((a) => a.finish())));
    const counters = zeroCounters();
    for (const r of results) addCounters(counters, r.counters);
    return { results, counters, interrupted, wallMs, cpuMs, timer: timers[0]! };
  });
}

type SharedApi = Pick<WorkerApi, "initShared" | "chunkShared" | "finishShared">;
type Promised<T> = {
  [K in keyof T]: T[K] extends (...a: infer A) => infer R
    ? (...a: A) => Promise<Awaited<R>>
    : never;
};

async function drive(
  o: BenchOptions,
  hooks: RunHooks,
  api: Promised<SharedApi>,
  guard: <U>(p: Promise<U>) => Promise<U>,
): Promise<RunOutcome> {
  const timer = await guard(api.initShared(o));
  const target = o.iterations ?? Number.POSITIVE_INFINITY;
  let interrupted = false;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const deadline = o.iterations === null ? start + o.seconds * 1000 : Number.POSITIVE_INFINITY;
  for (;;) {
    if (hooks.stop?.requested) {
      interrupted = true;
      break;
    }
    const ms = Math.min(CHUNK_MS, deadline - performance.now());
    if (ms <= 0) break;
    const r = await guard(api.chunkShared(target, ms));
    hooks.onProgress?.(r.loops, performance.now() - start);
    if (!r.ok) break;
  }
  const wallMs = performance.now() - start;
  const cpuMs = cpuMsSince(cpu0);
  const { results, counters } = await guard(api.finishShared());
  return { results, counters, interrupted, wallMs, cpuMs, timer };
}

/** Shared mode: one system, its simulated CPUs the benchmark threads, in one worker (or in-process). */
export async function runShared(o: BenchOptions, hooks: RunHooks = {}): Promise<RunOutcome> {
  if (hooks.inProcess) {
    const api = createWorkerApi();
    const local: Promised<SharedApi> = {
      initShared: async (x) => api.initShared(x),
      chunkShared: async (t, ms) => {
        const r = api.chunkShared(t, ms);
        // Let signals, timers and the progress bar run between slices.
        await new Promise((res) => setImmediate(res));
        return r;
      },
      finishShared: async () => api.finishShared(),
    };
    return drive(o, hooks, local, (p) => p);
  }
  return withWorkers(1, hooks, (apis, guard) => drive(o, hooks, apis[0]!, guard));
}

export function run(o: BenchOptions, hooks: RunHooks = {}): Promise<RunOutcome> {
  return o.sharing === "shared" ? runShared(o, hooks) : runIndependent(o, hooks);
}
