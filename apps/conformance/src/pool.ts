// Runs cells on worker threads (comlink). Cells are split into batches in a
// fixed order and reassembled by index, so the results are the same whatever
// the number of workers. A worker that dies ends the run with an error.
import { Worker } from "node:worker_threads";
import { releaseProxy, wrap } from "comlink";
import type { WorkerApi } from "./api.ts";
import { nodeEndpoint } from "./node_endpoint.ts";
import { type Cell, type CellSpec, runCells } from "./runner.ts";

export interface PoolOptions {
  workers: number;
  /** Called after each batch with the cells done so far. */
  onProgress?(done: number, total: number): void;
  /** Cells per batch (smaller batches give finer progress). */
  batch?: number;
}

function workerUrl(): URL {
  // From dist (node): dist/worker.js beside this module. Sources need tsx's loader, which only the CLI in dist avoids.
  return new URL("./worker.js", import.meta.url);
}

export async function runPool(specs: CellSpec[], options: PoolOptions): Promise<Cell[]> {
  const total = specs.length;
  const batch = options.batch ?? 24;
  if (options.workers <= 0 || !import.meta.url.endsWith(".js")) {
    const out: Cell[] = [];
    for (let i = 0; i < total; i += batch) {
      out.push(...runCells(specs.slice(i, i + batch)));
      options.onProgress?.(out.length, total);
    }
    return out;
  }
  const results: Cell[][] = [];
  const batches: CellSpec[][] = [];
  for (let i = 0; i < total; i += batch) batches.push(specs.slice(i, i + batch));
  let next = 0;
  let done = 0;
  const workers = Array.from(
    { length: Math.min(options.workers, batches.length) },
    () => new Worker(workerUrl(), { execArgv: [] }),
  );
  try {
    await Promise.all(
      workers.map(async (w) => {
        const api = wrap<WorkerApi>(nodeEndpoint(w));
        const died = new Promise<never>((_, reject) => {
          w.once("error", (e) => reject(new Error(`conformance worker died: ${e.message}`)));
          w.once("exit", (code) =>
            reject(new Error(`conformance worker exited with code ${code}`)),
          );
        });
        died.catch(() => {});
        try {
          while (next < batches.length) {
            const i = next++;
            results[i] = await Promise.race([api.run(batches[i]!), died]);
            done += batches[i]!.length;
            options.onProgress?.(done, total);
          }
        } finally {
          api[releaseProxy]();
        }
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results.flat();
}
