// Line diff for assertion messages: the longest common subsequence of the two
// inspected values, printed as Deno's std does ("-   actual", "+   expected").
import { inspect } from "node:util";

/** Render a value the way assertion messages show it. */
export function format(value: unknown): string {
  return inspect(value, { depth: 20, sorted: true, breakLength: 80, compact: 3, getters: false });
}

/** A line-based diff of two rendered values, or "" when they render alike. */
export function diff(actual: unknown, expected: unknown): string {
  const a = format(actual).split("\n");
  const b = format(expected).split("\n");
  const n = a.length;
  const m = b.length;
  // lcs[i][j] = length of the LCS of a[i..] and b[j..]
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] =
        a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  let changed = false;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push(`    ${a[i]}`);
      i++;
      j++;
    } else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      // Actual lines first, as Deno prints them.
      out.push(`-   ${a[i]}`);
      i++;
      changed = true;
    } else {
      out.push(`+   ${b[j]}`);
      j++;
      changed = true;
    }
  }
  if (!changed) return "";
  return ["", "    [Diff] Actual / Expected", "", ...out, ""].join("\n");
}
