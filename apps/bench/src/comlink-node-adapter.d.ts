declare module "comlink/dist/esm/node-adapter.mjs" {
  export type { NodeEndpoint } from "comlink/dist/esm/node-adapter";
  export { default } from "comlink/dist/esm/node-adapter";
}
