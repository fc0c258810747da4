import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/mod.ts", "src/cli.ts", "src/worker.ts"],
  format: ["esm"],
  dts: { entry: "src/mod.ts" },
  clean: true,
  sourcemap: true,
  target: "node20",
  removeNodeProtocol: false,
});
