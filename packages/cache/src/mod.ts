/**
 * @module
 * @dmasim/cache: the CPU data cache over physical memory, with maintenance
 * by range, coherent and non-coherent device accesses, and DMA hazards.
 */
export * from "./cpu_cache.ts";
