// The kernel command-line options that change DMA behaviour, parsed and
// validated: iommu.strict, iommu.passthrough, iommu=pt/nopt, iommu.forcedac,
// intel_iommu=on/off, swiotlb=, dma_debug=off, dma_debug_driver=.

export interface DmaCommandLine {
  /** iommu.strict=0|1 (undefined: the Kconfig default). */
  iommuStrict?: boolean;
  /** iommu.passthrough=0|1, iommu=pt (true) / iommu=nopt (false). */
  iommuPassthrough?: boolean;
  /** iommu.forcedac=1 */
  iommuForcedac?: boolean;
  /** intel_iommu=on|off */
  intelIommu?: boolean;
  /** swiotlb=<slots>[,<areas>][,force|noforce], kept as text for the swiotlb parser. */
  swiotlb?: string;
  /** dma_debug=off */
  dmaDebugOff?: boolean;
  /** dma_debug_driver=<name> */
  dmaDebugDriver?: string;
  /** Options given that this model does not interpret (only when parsed with ignoreUnknown). */
  ignored: string[];
}

const KNOWN = [
  "iommu.strict=0|1",
  "iommu.passthrough=0|1",
  "iommu=pt|nopt",
  "iommu.forcedac=0|1",
  "intel_iommu=on|off",
  "swiotlb=<slots>[,<areas>][,force|noforce]",
  "dma_debug=off",
  "dma_debug_driver=<name>",
];

function bool01(key: string, v: string | undefined): boolean {
  if (v === "1" || v === "y" || v === "Y" || v === "on") return true;
  if (v === "0" || v === "n" || v === "N" || v === "off") return false;
  throw new RangeError(`kernel command line: ${key} takes 0 or 1, got ${JSON.stringify(v)}`);
}

/**
 * Parses a kernel command line. Unknown options are an error naming the
 * allowed ones, unless `ignoreUnknown` (a recorded boot's console=, loglevel=
 * and the like), in which case they are listed in `ignored`.
 */
export function parseCommandLine(
  text: string,
  options: { ignoreUnknown?: boolean } = {},
): DmaCommandLine {
  if (typeof text !== "string") throw new TypeError("parseCommandLine: text must be a string");
  if (options === null || typeof options !== "object")
    throw new TypeError(`parseCommandLine: options must be an object, got ${String(options)}`);
  for (const k of Object.keys(options))
    if (k !== "ignoreUnknown")
      throw new RangeError(
        `parseCommandLine: unknown option ${JSON.stringify(k)}; the only option is ignoreUnknown`,
      );
  if (options.ignoreUnknown != null && typeof options.ignoreUnknown !== "boolean")
    throw new TypeError(
      `parseCommandLine: ignoreUnknown must be true or false, got ${String(options.ignoreUnknown)}`,
    );
  const out: DmaCommandLine = { ignored: [] };
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const eq = word.indexOf("=");
    const key = eq < 0 ? word : word.slice(0, eq);
    const value = eq < 0 ? undefined : word.slice(eq + 1);
    switch (key) {
      case "iommu.strict":
        out.iommuStrict = bool01(key, value);
        break;
      case "iommu.passthrough":
        out.iommuPassthrough = bool01(key, value);
        break;
      case "iommu.forcedac":
        out.iommuForcedac = bool01(key, value);
        break;
      case "iommu":
        if (value === "pt") out.iommuPassthrough = true;
        else if (value === "nopt") out.iommuPassthrough = false;
        else
          throw new RangeError(
            `kernel command line: iommu= takes pt or nopt in this model, got ${JSON.stringify(value)}`,
          );
        break;
      case "intel_iommu":
        for (const part of (value ?? "").split(",")) {
          if (part === "on") out.intelIommu = true;
          else if (part === "off") out.intelIommu = false;
          else
            throw new RangeError(
              `kernel command line: intel_iommu= takes on or off, got ${JSON.stringify(part)}`,
            );
        }
        break;
      case "swiotlb":
        if (!value)
          throw new RangeError(
            "kernel command line: swiotlb= needs <slots>[,<areas>][,force|noforce]",
          );
        out.swiotlb = value;
        break;
      case "dma_debug":
        if (value !== "off")
          throw new RangeError(
            `kernel command line: dma_debug= takes off, got ${JSON.stringify(value)}`,
          );
        out.dmaDebugOff = true;
        break;
      case "dma_debug_driver":
        if (!value)
          throw new RangeError("kernel command line: dma_debug_driver= needs a driver name");
        out.dmaDebugDriver = value;
        break;
      default:
        if (options.ignoreUnknown) out.ignored.push(word);
        else
          throw new RangeError(
            `kernel command line: unknown option ${JSON.stringify(word)}; allowed: ${KNOWN.join(", ")}`,
          );
    }
  }
  return out;
}
