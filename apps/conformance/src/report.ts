// Reports: the summary table (presets as columns), JSON, JUnit XML, Markdown.
import { DISPATCH_DESIGNS } from "@dmasim/dma-core";
import { CATALOGUE } from "./catalogue.ts";
import { PRESET_NAMES } from "./presets.ts";
import type { Cell, Summary } from "./runner.ts";

const SYMBOL = { pass: "✓", fail: "✗", "n/a": "·", xfail: "x" } as const;

/** Per design, per preset: passed/applicable (and xfails), as a table with presets as columns. */
export function summaryTable(cells: Cell[], markdown = false): string {
  const designs = DISPATCH_DESIGNS.filter((d) => cells.some((c) => c.design === d));
  const presets = PRESET_NAMES.filter((p) => cells.some((c) => c.preset === p));
  const rows = designs.map((d) => [
    d,
    ...presets.map((p) => {
      const mine = cells.filter((c) => c.design === d && c.preset === p && c.status !== "n/a");
      const pass = mine.filter((c) => c.status === "pass").length;
      const xf = mine.filter((c) => c.status === "xfail").length;
      const fail = mine.filter((c) => c.status === "fail").length;
      return `${pass}/${mine.length}${xf ? ` (${xf} xfail)` : ""}${fail ? ` ${fail} FAIL` : ""}`;
    }),
  ]);
  const head = ["design", ...presets];
  if (markdown) {
    return [
      `| ${head.join(" | ")} |`,
      `|${head.map(() => "---").join("|")}|`,
      ...rows.map((r) => `| ${r.join(" | ")} |`),
    ].join("\n");
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((x, i) => x.padEnd(widths[i]!)).join("  ");
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export function failuresText(cells: Cell[]): string {
  return cells
    .filter((c) => c.status === "fail")
    .map((c) => `FAIL ${c.clause} [${c.preset}, ${c.design}]: ${c.message}`)
    .join("\n");
}

export function toJson(cells: Cell[], summary: Summary): string {
  return JSON.stringify(
    {
      summary,
      clauses: CATALOGUE.map((c) => ({
        id: c.id,
        title: c.title,
        presets: c.presets,
        source: c.source,
      })),
      cells,
    },
    null,
    2,
  );
}

function xml(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

export function toJunit(cells: Cell[]): string {
  const byDesign = DISPATCH_DESIGNS.map((d) => ({
    d,
    cs: cells.filter((c) => c.design === d && c.status !== "n/a"),
  })).filter((x) => x.cs.length);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="dmasim-conformance" tests="${cells.filter((c) => c.status !== "n/a").length}" failures="${cells.filter((c) => c.status === "fail").length}">`,
  ];
  for (const { d, cs } of byDesign) {
    out.push(
      `  <testsuite name="${d}" tests="${cs.length}" failures="${cs.filter((c) => c.status === "fail").length}" skipped="${cs.filter((c) => c.status === "xfail").length}">`,
    );
    for (const c of cs) {
      const title = CATALOGUE.find((x) => x.id === c.clause)?.title ?? "";
      out.push(`    <testcase classname="${d}.${c.preset}" name="${xml(`${c.clause} ${title}`)}">`);
      if (c.status === "fail") out.push(`      <failure message="${xml(c.message ?? "")}"/>`);
      if (c.status === "xfail")
        out.push(`      <skipped message="${xml(c.message ?? "expected failure")}"/>`);
      out.push("    </testcase>");
    }
    out.push("  </testsuite>");
  }
  out.push("</testsuites>");
  return out.join("\n");
}

export function toMarkdown(cells: Cell[], summary: Summary): string {
  const lines = [
    "# dmasim conformance",
    "",
    `${summary.pass} passed, ${summary.fail} failed, ${summary.xfail} expected failures, ${summary.na} not applicable (${summary.total} cells).`,
    "",
    summaryTable(cells, true),
    "",
    "Legend: passed/applicable cells per design and preset; xfail = the design's kernel predates the clause's behaviour.",
  ];
  const xf = cells.filter((c) => c.status === "xfail");
  if (xf.length)
    lines.push(
      "",
      "## Expected failures",
      "",
      ...xf.map((c) => `- ${c.clause} on ${c.preset} under ${c.design}: ${c.message}`),
    );
  const f = cells.filter((c) => c.status === "fail");
  if (f.length)
    lines.push(
      "",
      "## Failures",
      "",
      ...f.map((c) => `- ${c.clause} on ${c.preset} under ${c.design}: ${c.message}`),
    );
  void SYMBOL;
  return lines.join("\n");
}
