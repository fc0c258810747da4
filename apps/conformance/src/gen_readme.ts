// Regenerates the summary table in README.md by running the full matrix:
// pnpm --filter @dmasim/conformance gen:readme
import { readFileSync, writeFileSync } from "node:fs";
import { CATALOGUE } from "./catalogue.ts";
import { summaryTable } from "./report.ts";
import { planCells, runCells, summarise } from "./runner.ts";

const cells = runCells(planCells());
const s = summarise(cells);
const text = `${summaryTable(cells, true)}\n\n${CATALOGUE.length} clauses; ${s.pass} cells passed, ${s.fail} failed, ${s.xfail} expected failures, ${s.na} not applicable.`;
const file = new URL("../README.md", import.meta.url);
const readme = readFileSync(file, "utf8");
const begin = "<!-- summary:begin -->";
const end = "<!-- summary:end -->";
const i = readme.indexOf(begin);
const j = readme.indexOf(end);
if (i < 0 || j < 0) throw new Error("README.md has no summary markers");
writeFileSync(file, `${readme.slice(0, i + begin.length)}\n${text}\n${readme.slice(j)}`);
console.log(text);
