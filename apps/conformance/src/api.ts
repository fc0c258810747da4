// What a worker thread exposes over comlink: run a batch of cells.
import { type Cell, type CellSpec, runCells } from "./runner.ts";

export const workerApi = {
  run(specs: CellSpec[]): Cell[] {
    return runCells(specs);
  },
};

export type WorkerApi = typeof workerApi;
