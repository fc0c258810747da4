/**
 * @module
 * @dmasim/memory: the physical address map with sparse RAM, the zoned buddy
 * page allocator, and the kernel's virtual address space (linear map,
 * kmalloc, vmalloc/vmap, stacks, kernel image).
 */
export * from "./constants.ts";
export * from "./kernel_address_space.ts";
export * from "./page_allocator.ts";
export * from "./physical_memory.ts";
