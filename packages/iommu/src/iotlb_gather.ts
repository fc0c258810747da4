// struct iommu_iotlb_gather: the range an unmap has to invalidate, widened
// page by page; a disjoint page or a different page size first syncs what was
// gathered. `queued` means a flush queue will invalidate everything later.
import { ADD_PAGE, ADD_RANGE, inconsistent, isInt, needInteger, needObject } from "./args.ts";
import { IommuDomain } from "./domain.ts";

export class IotlbGather {
  start = Number.POSITIVE_INFINITY;
  end = 0;
  pgsize = 0;
  queued = false;
  /** Page-table pages freed by the unmap, released after the invalidation. */
  freelist = 0;
  /** The brand isGather tests. */
  readonly #gather = true;

  /**
   * Is `g` an IotlbGather? A private-brand test: one map check once
   * compiled, where an instanceof of an imported class is a generic call.
   */
  static isGather(g: unknown): g is IotlbGather {
    return typeof g === "object" && g !== null && #gather in g;
  }

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
    if (!(isInt(iova) && isInt(size))) badGatherRange("IotlbGather.addRange", iova, size);
    this[ADD_RANGE](iova, size);
  }

  [ADD_RANGE](iova: number, size: number): void {
    const end = iova + size - 1;
    if (iova < this.start) this.start = iova;
    if (end > this.end) this.end = end;
  }

  /** iommu_iotlb_gather_add_page(): sync first if the page is disjoint or of another size. */
  addPage(domain: IommuDomain, iova: number, size: number): void {
    if (!(domain instanceof IommuDomain && isInt(iova) && isInt(size)))
      badAddPage(domain, iova, size);
    this[ADD_PAGE](domain, iova, size);
  }

  [ADD_PAGE](domain: IommuDomain, iova: number, size: number): void {
    if (
      !this.empty &&
      (this.pgsize !== size || iova + size - 1 < this.start - 1 || iova > this.end + 1)
    ) {
      domain.iotlbSync(this);
    }
    this.pgsize = size;
    this[ADD_RANGE](iova, size);
  }
}

function badGatherRange(fn: string, iova: unknown, size: unknown): never {
  needInteger(fn, "iova", iova, "an IOVA");
  needInteger(fn, "size", size, "a size in bytes");
  inconsistent(fn);
}

function badAddPage(domain: unknown, iova: unknown, size: unknown): never {
  const fn = "IotlbGather.addPage";
  needObject(fn, "domain", domain, domain instanceof IommuDomain, "an IommuDomain");
  badGatherRange(fn, iova, size);
}
