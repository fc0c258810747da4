/**
 * @module
 * @dmasim/arch: what an architecture brings — its dma_map_ops (PowerPC TCE
 * with bypass, legacy 32-bit Arm, the x86 GART, dummy ops, a synthetic table
 * without map_page), its cache maintenance, its Kconfig and command-line
 * defaults — and createSystem(), the one place where a whole simulated
 * system is wired; designMatrix() runs every dispatch design on every case.
 */
export * from "./arm_dma_ops.ts";
export * from "./cmdline.ts";
export * from "./dummy_ops.ts";
export * from "./gart_ops.ts";
export * from "./kconfig.ts";
export * from "./matrix.ts";
export * from "./ownership.ts";
export * from "./profiles.ts";
export * from "./system.ts";
export * from "./tce_ops.ts";
