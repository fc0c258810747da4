// Test fixtures for the IOMMU presets of spec §6: I-C (VT-d, coherent), I-N
// (SMMUv3, non-coherent), I-U (untrusted), in strict or lazy mode.
import {
  DESIGNS,
  type Device,
  type DispatchDesign,
  DMA_BIT_MASK,
  type DmaCoreConfig,
  DmaKernel,
  type SwiotlbSetup,
} from "@dmasim/dma-core";
import type { IommuUnit } from "@dmasim/iommu";
import { createMachine, EDU_NAME, type Machine } from "@dmasim/machine";
import { createIommuDma, type DefaultDomainType } from "./dma_iommu.ts";

export type IommuPreset = "I-C" | "I-N" | "I-U";

export interface IommuFixture {
  machine: Machine;
  kernel: DmaKernel;
  dev: Device;
  unit: IommuUnit;
  engine: Machine["devices"] extends Map<string, infer D>
    ? D extends { engine: infer E }
      ? E
      : never
    : never;
}

export function iommuFixture(
  preset: IommuPreset,
  options: {
    domain?: DefaultDomainType;
    maskBits?: number;
    swiotlb?: SwiotlbSetup | false;
    config?: Partial<DmaCoreConfig>;
    cpus?: number;
    forcedac?: boolean;
    /** The dispatch design (default "phys"); the ops-table designs reach iommu-dma through iommu_dma_ops. */
    design?: DispatchDesign;
  } = {},
): IommuFixture {
  const machine =
    preset === "I-N"
      ? createMachine("arm64-virt-smmuv3", { coherent: false, cpus: options.cpus })
      : createMachine("q35-vtd", { cpus: options.cpus });
  const unit = [...machine.iommus.values()][0]!;
  const kernel = new DmaKernel({
    platform: machine,
    config: { iommuApi: true, iommuDma: true, possibleCpus: options.cpus ?? 1, ...options.config },
    swiotlb: options.swiotlb ?? { enable: true },
    iommuDma: createIommuDma({
      iommuFor: (d) => machine.iommuFor(d.name),
      pciWindows: machine.pciHostBridge.windows,
      defaultDomain: options.domain ?? "dma",
      forcedac: options.forcedac,
    }),
    design: options.design,
    // Before 6.12 IOMMU_DMA selected DMA_OPS: iommu-dma was an ops table.
    ...(options.design && DESIGNS[options.design].iommuOpsTable
      ? {
          config: {
            iommuApi: true,
            iommuDma: true,
            archHasDmaOps: true,
            possibleCpus: options.cpus ?? 1,
            ...options.config,
          },
        }
      : {}),
    name: `fixture ${preset}`,
  });
  const dev = kernel.addDevice({
    name: EDU_NAME,
    pci: true,
    coherent: preset !== "I-N",
    untrusted: preset === "I-U",
    iommuId: machine.devices.get(EDU_NAME)!.iommuId,
  });
  kernel.setMaskAndCoherent(dev, DMA_BIT_MASK(options.maskBits ?? 64));
  const engine = machine.devices.get(EDU_NAME)!.engine;
  return { machine, kernel, dev, unit, engine } as IommuFixture;
}

/** A linear-map buffer at physical `phys` (order from size). */
export function bufferAt(f: IommuFixture, phys: number, size: number): number {
  const order = Math.max(0, Math.ceil(Math.log2(Math.ceil(size / 4096))));
  if (!f.machine.pages.allocPagesAt(phys, order))
    throw new Error(`bufferAt: ${phys.toString(16)} not free`);
  return f.machine.kas.physToVirt(phys);
}

export function freeBuffer(f: IommuFixture, va: number, size: number): void {
  const order = Math.max(0, Math.ceil(Math.log2(Math.ceil(size / 4096))));
  f.machine.pages.freePages(f.machine.kas.virtToPhys(va), order);
}
