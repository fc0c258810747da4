/**
 * @module
 * @dmasim/iommu: the IOMMU as hardware (VT-d and Arm LPAE page tables,
 * IOTLB, translation with permission checks, fault records) and the IOMMU
 * core's domain API (iommu_map with the iommu_pgsize rule, unmap with an
 * IOTLB gather, flush-all).
 */
export * from "./domain.ts";
export * from "./iommu_unit.ts";
export * from "./iotlb.ts";
export * from "./iotlb_gather.ts";
export * from "./page_table.ts";
export * from "./prot.ts";
