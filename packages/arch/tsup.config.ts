import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/mod.ts"],
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "node20",
  removeNodeProtocol: false,
});
