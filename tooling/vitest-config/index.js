// Shared vitest configuration for every dmasim package.
// Written as plain ESM: vitest's config loader cannot import a .ts file from
// another workspace package (ERR_UNKNOWN_FILE_EXTENSION).
import { defineConfig, mergeConfig } from "vitest/config";

const SOURCE = "@dmasim/source";

/** The base config: Deno-style `*_test.ts` beside the code, sources resolved through `@dmasim/source`. */
export const base = defineConfig({
  // Vite >= 6 replaces its default conditions when these are set, and the
  // node environment reads ssr.resolve.conditions, so both are set with the
  // defaults repeated after ours.
  resolve: { conditions: [SOURCE, "module", "browser", "development|production"] },
  ssr: { resolve: { conditions: [SOURCE, "module", "node", "development|production"] } },
  test: {
    include: ["src/**/*_test.ts"],
    environment: "node",
    testTimeout: 30_000,
    reporters: ["default", "json"],
    // .ci/run sums these reports into its closing "N passed, N failed" line.
    outputFile: { json: "test-results/vitest.json" },
  },
});

/** Merge package-specific options into the base. */
export function config(overrides = {}) {
  return mergeConfig(base, overrides);
}
