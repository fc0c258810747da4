// Bad arguments as the error messages show them (internal, not re-exported).

/** "4096" (a string) is not 4096, and an object is not "[object Object]". */
export function describeArg(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "object" && v !== null) return Array.isArray(v) ? "an array" : "an object";
  return String(v);
}
