/// <reference path="./comlink-node-adapter.d.ts" />
// comlink's Node adapter ships no .d.mts; the ambient module above types it.
export { default as nodeEndpoint } from "comlink/dist/esm/node-adapter.mjs";
