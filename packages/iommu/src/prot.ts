// IOMMU protection flags, with the kernel's values (include/linux/iommu.h).
export const IOMMU_READ = 1 << 0;
export const IOMMU_WRITE = 1 << 1;
export const IOMMU_CACHE = 1 << 2;
export const IOMMU_NOEXEC = 1 << 3;
export const IOMMU_MMIO = 1 << 4;
export const IOMMU_PRIV = 1 << 5;

/** errno values the IOMMU core returns (negated). */
export const EINVAL = 22;
export const ENOMEM = 12;
export const EEXIST = 17;
export const ENODEV = 19;
