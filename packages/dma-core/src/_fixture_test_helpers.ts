// Test fixtures: the configuration presets of spec §6 on real simulated
// machines (no stand-ins): D-C, D-C0, D-N, D-F and OPS.
import { createMachine, type Machine } from "@dmasim/machine";
import { ARM64_CACHE_HOOKS } from "./arch_hooks.ts";
import type { DmaCoreConfig } from "./config.ts";
import { DMA_BIT_MASK } from "./constants.ts";
import type { Device } from "./device.ts";
import type { DmaMapOps } from "./dma_ops.ts";
import { DmaKernel, type SwiotlbSetup } from "./kernel.ts";

export type Preset = "D-C" | "D-C0" | "D-N" | "D-F" | "OPS";

export interface Fixture {
  machine: Machine;
  kernel: DmaKernel;
  dev: Device;
  /** The device's DMA engine on the machine. */
  engine: Machine["devices"] extends Map<string, infer D>
    ? D extends { engine: infer E }
      ? E
      : never
    : never;
}

export interface FixtureOptions {
  maskBits?: number;
  config?: Partial<DmaCoreConfig>;
  swiotlb?: SwiotlbSetup | false;
  ops?: DmaMapOps;
  ramGiB?: number;
  design?: "ops-indirect" | "static-call-v0" | "static-call-v0-misread" | "direct-calls" | "phys";
}

const EDU = "0000:00:01.0";

/** A q35 board (no IOMMU) with the edu device set up as the preset asks. */
export function fixture(preset: Preset, options: FixtureOptions = {}): Fixture {
  const machine = createMachine("q35", {
    ramGiB: options.ramGiB ?? 6,
    eduCoherent: preset !== "D-N",
  });
  const config: Partial<DmaCoreConfig> = {
    iommuApi: false,
    iommuDma: false,
    archHasDmaOps: preset === "OPS",
    dmaDirectRemap: preset === "D-N",
    ...options.config,
  };
  const swiotlb: SwiotlbSetup | false =
    options.swiotlb ??
    (preset === "D-C0"
      ? false
      : preset === "D-F"
        ? { enable: true, force: true }
        : { enable: true });
  const kernel = new DmaKernel({
    platform: machine,
    config,
    swiotlb,
    arch: ARM64_CACHE_HOOKS,
    design: options.design ?? "phys",
    name: `fixture ${preset}`,
  });
  const dev = kernel.addDevice({ name: EDU, pci: true, coherent: preset !== "D-N" });
  if (preset === "OPS") kernel.setDmaOps(dev, options.ops ?? { name: "empty_ops" });
  if (options.maskBits !== undefined)
    kernel.setMaskAndCoherent(dev, DMA_BIT_MASK(options.maskBits));
  const engine = machine.devices.get(EDU)!.engine;
  return { machine, kernel, dev, engine } as Fixture;
}

/** Allocates `size` bytes of RAM at or above `minPhys` and returns its kernel virtual address. */
export function bufferAt(f: Fixture, phys: number, size: number): number {
  const order = Math.max(0, Math.ceil(Math.log2(Math.ceil(size / 4096))));
  if (!f.machine.pages.allocPagesAt(phys, order))
    throw new Error(`bufferAt: ${phys.toString(16)} not free`);
  return f.machine.kas.physToVirt(phys);
}

export function freeBuffer(f: Fixture, va: number, size: number): void {
  const order = Math.max(0, Math.ceil(Math.log2(Math.ceil(size / 4096))));
  f.machine.pages.freePages(f.machine.kas.virtToPhys(va), order);
}
