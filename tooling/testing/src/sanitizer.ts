// The resource sanitizer: like Deno's, a test fails when it ends with resources
// still open. Here a resource is anything a source says is live (a DMA
// mapping, an allocation, ...). Packages under test never import this
// package: they find the current collector through a global symbol, so that
// production code carries no test dependency.

/** Something that can list what it still holds. */
export interface ResourceSource {
  /** One human-readable line per live resource; empty when all is released. */
  liveResources(): readonly string[];
}

/** The global hook packages use to announce sources built during a test. */
export interface SanitizerHook {
  register(source: ResourceSource, label?: string): void;
}

/** `globalThis[SANITIZER_KEY]` is the hook of the running test, if any. */
export const SANITIZER_KEY: unique symbol = Symbol.for("dmasim.sanitizer") as never;

interface Registered {
  source: ResourceSource;
  label: string;
}

/** Collects the sources registered while one test runs. */
export class ResourceCollector implements SanitizerHook {
  readonly #sources: Registered[] = [];

  register(source: ResourceSource, label = "resource source"): void {
    this.#sources.push({ source, label });
  }

  /** Every line of every source still live, prefixed with the source's label. */
  leaks(): string[] {
    const out: string[] = [];
    for (const { source, label } of this.#sources) {
      for (const line of source.liveResources()) out.push(`${label}: ${line}`);
    }
    return out;
  }
}

type GlobalWithHook = typeof globalThis & { [SANITIZER_KEY]?: SanitizerHook };

/** Installs `collector` as the global hook for the duration of `fn`. */
export async function withCollector<T>(
  collector: ResourceCollector,
  fn: () => Promise<T>,
): Promise<T> {
  const g = globalThis as GlobalWithHook;
  const previous = g[SANITIZER_KEY];
  g[SANITIZER_KEY] = collector;
  try {
    return await fn();
  } finally {
    if (previous === undefined) delete g[SANITIZER_KEY];
    else g[SANITIZER_KEY] = previous;
  }
}

/** Registers a source with the running test's sanitizer; a no-op outside a test. */
export function registerResourceSource(source: ResourceSource, label?: string): void {
  (globalThis as GlobalWithHook)[SANITIZER_KEY]?.register(source, label);
}

/** Thrown at the end of a test that leaked. */
export class LeakError extends Error {
  override name = "LeakError";
  constructor(readonly leaks: readonly string[]) {
    super(
      `Leaking resources: the test ended with ${leaks.length} live resource${leaks.length === 1 ? "" : "s"}:\n${leaks
        .map((l) => `  - ${l}`)
        .join("\n")}\nRelease them before the test ends, or pass { sanitizeResources: false }.`,
    );
  }
}
