// A benchmark worker's entry: expose the worker API over comlink.
import { parentPort } from "node:worker_threads";
import { expose } from "comlink";
import { createWorkerApi } from "./api.ts";
import { nodeEndpoint } from "./node_endpoint.ts";

if (parentPort === null) throw new Error("worker.ts must run in a worker thread");
expose(createWorkerApi(), nodeEndpoint(parentPort));
