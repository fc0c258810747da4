// struct iommu_iotlb_gather: the range an unmap has to invalidate, widened
// page by page; a disjoint page or a different page size first syncs what was
// gathered. `queued` means a flush queue will invalidate everything later.
import type { IommuDomain } from "./domain.ts";

export class IotlbGather {
  start = Number.POSITIVE_INFINITY;
  end = 0;
  pgsize = 0;
  queued = false;
  /** Page-table pages freed by the unmap, released after the invalidation. */
  freelist = 0;

  /** iommu_iotlb_gather_init(), so one gather can be reused without allocating. */
  reset(): void {
    this.start = Number.POSITIVE_INFINITY;
    this.end = 0;
    this.pgsize = 0;
    this.queued = false;
    this.freelist = 0;
  }

  get empty(): boolean {
    return this.end === 0;
  }

  /** iommu_iotlb_gather_add_range(): just widen. */
  addRange(iova: number, size: number): void {
    const end = iova + size - 1;
    if (iova < this.start) this.start = iova;
    if (end > this.end) this.end = end;
  }

  /** iommu_iotlb_gather_add_page(): sync first if the page is disjoint or of another size. */
  addPage(domain: IommuDomain, iova: number, size: number): void {
    if (
      !this.empty &&
      (this.pgsize !== size || iova + size - 1 < this.start - 1 || iova > this.end + 1)
    ) {
      domain.iotlbSync(this);
    }
    this.pgsize = size;
    this.addRange(iova, size);
  }
}
