// Regenerates the design matrix section of the package README from the model:
// pnpm --filter @dmasim/arch gen:readme
import { readFileSync, writeFileSync } from "node:fs";
import { designMatrix, matrixMarkdown } from "./matrix.ts";

const file = new URL("../README.md", import.meta.url);
const text = readFileSync(file, "utf8");
const begin = "<!-- design-matrix:begin -->";
const end = "<!-- design-matrix:end -->";
const i = text.indexOf(begin);
const j = text.indexOf(end);
if (i < 0 || j < 0) throw new Error("README.md has no design-matrix markers");
const table = matrixMarkdown(designMatrix());
writeFileSync(file, `${text.slice(0, i + begin.length)}\n${table}\n${text.slice(j)}`);
console.log(table);
