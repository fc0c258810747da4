// Oracle mode: rebuild the recorded machine and kernel configuration from a
// Linux record (../shared/oracle/README.md), replay dma_oracle.c's scenario
// through the public API, and count the deterministic fields that match.
import { readFileSync } from "node:fs";
import { createSystem } from "@dmasim/arch";
import { compareOracleRecord, type OracleComparison, replayOracleScenario } from "@dmasim/dma-core";

export interface OracleFileResult extends OracleComparison {
  file: string;
  config: string;
}

interface OracleJson {
  config?: string;
  cmdline: string;
  qemu_args: string;
  mask_bits: number;
  info: Record<string, string | number>;
  cases: Record<string, Array<Record<string, string | number>>>;
  sg: Parameters<typeof compareOracleRecord>[0]["sg"];
  kernel?: { faults?: Array<{ line: string }> };
}

/** The machine and configuration a record was made with. */
export function recordSetup(rec: OracleJson) {
  const q = rec.qemu_args ?? "";
  const mem = q.match(/-m\s+(\d+)([GM])/);
  const ramGiB = mem ? Number(mem[1]) / (mem[2] === "M" ? 1024 : 1) : 6;
  const iommu = /-device\s+intel-iommu/.test(q) && !/intel_iommu=off/.test(rec.cmdline);
  const cachingMode = /caching-mode=on/.test(q);
  return { ramGiB, iommu, cachingMode };
}

export function replayRecord(file: string): OracleFileResult {
  const rec = JSON.parse(readFileSync(file, "utf8")) as OracleJson;
  if (typeof rec.mask_bits !== "number" || !rec.cases || !rec.info) {
    throw new RangeError(`${file}: not an oracle record (needs mask_bits, info, cases)`);
  }
  const { ramGiB, iommu, cachingMode } = recordSetup(rec);
  const sys = createSystem(iommu ? "x86_64-vtd" : "x86_64", {
    design: "direct-calls",
    ramGiB,
    cachingMode,
    cmdline: rec.cmdline,
    ignoreUnknownCmdline: true,
    maskBits: rec.mask_bits,
    swiotlbStart: rec.info.swiotlb_start !== undefined ? Number(rec.info.swiotlb_start) : undefined,
  });
  const mdev = sys.machine.devices.get(sys.dev.name)!;
  const unit = mdev.iommu;
  const dom = unit?.domainOf(sys.dev.iommuId);
  const domain =
    dom && unit
      ? {
          name: sys.defaultDomain === "none" ? "none" : sys.defaultDomain,
          type: dom.type,
          pgsizeBitmap: dom.pgsizeBitmap,
          iovaToPhys: (i: number) => dom.iovaToPhys(i),
        }
      : null;
  const actual = replayOracleScenario({
    kernel: sys.dma,
    dev: sys.dev,
    edu: mdev.edu!,
    maskBits: rec.mask_bits,
    poolPhys: Number(rec.info.pool_phys),
    domain,
    pciName: sys.dev.name,
  });
  const faults = (unit?.faults ?? []).map((f) => ({
    address: f.iova,
    access: f.access,
    reason: f.code,
  }));
  return { file, config: rec.config ?? file, ...compareOracleRecord(rec, actual, faults) };
}
