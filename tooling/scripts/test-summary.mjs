#!/usr/bin/env node
// Sums every package's vitest JSON report (test-results/vitest.json, written by
// @dmasim/vitest-config) into the one plain line CI reads: "N passed, N failed".
// Exit status: 1 when a test failed or no report exists, else 0.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
let passed = 0;
let failed = 0;
let skipped = 0;
let reports = 0;
for (const group of ["tooling", "packages", "apps"]) {
  const dir = join(root, group);
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir)) {
    const file = join(dir, name, "test-results", "vitest.json");
    if (!existsSync(file)) continue;
    const report = JSON.parse(readFileSync(file, "utf8"));
    reports++;
    passed += report.numPassedTests ?? 0;
    failed += (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0);
    skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
    if (report.numFailedTests > 0)
      console.error(`  ${group}/${name}: ${report.numFailedTests} failed`);
  }
}
console.log(`reports: ${reports} packages`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || reports === 0 ? 1 : 0);
