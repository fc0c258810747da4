/**
 * @module
 * @dmasim/machine: boards for dmasim — RAM layout, PCI host bridge windows,
 * IOMMU units, CPUs with their cache, devices with DMA engines (QEMU's edu
 * among them) and a simulated clock; presets q35-vtd, q35, arm64-virt-smmuv3.
 */
export * from "./clock.ts";
export * from "./dma_engine.ts";
export * from "./edu.ts";
export * from "./machine.ts";
export * from "./presets.ts";
