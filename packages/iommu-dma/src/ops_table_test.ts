// The iommu_dma_ops table of the ops-table designs (up to 6.11): besides the
// streaming entries it carried alloc_pages_op/free_pages (the common page
// helpers) and alloc/free_noncontiguous, so dma_alloc_pages and
// dma_alloc_noncontiguous worked behind an IOMMU before direct calls too.
import {
  DMA_ATTR_ALLOC_SINGLE_PAGES,
  DMA_BIDIRECTIONAL,
  DMA_TO_DEVICE,
  GFP_KERNEL,
  KernelBug,
} from "@dmasim/dma-core";
import { assert, assertEquals, assertExists, assertThrows, test } from "@dmasim/testing";
import { iommuFixture } from "./_fixture_test_helpers.ts";

for (const design of ["ops-indirect", "direct-calls"] as const) {
  test(`C032 ${design}: alloc_noncontiguous with ALLOC_SINGLE_PAGES behind an IOMMU: one IOVA range, vmap-able`, () => {
    const f = iommuFixture("I-C", { design });
    assertEquals(f.dev.dmaIommu, design === "direct-calls");
    const sgt = f.kernel.allocNoncontiguous(
      f.dev,
      16384,
      DMA_BIDIRECTIONAL,
      GFP_KERNEL,
      DMA_ATTR_ALLOC_SINGLE_PAGES,
    );
    assertExists(sgt);
    assertEquals(sgt.nents, 1);
    assertEquals(sgt.sgl[0]!.dmaLength, 16384);
    const va = f.kernel.vmapNoncontiguous(f.dev, 16384, sgt);
    assertExists(va);
    assertEquals(f.machine.kas.regionOf(va), "vmalloc");
    f.kernel.vunmapNoncontiguous(f.dev, va);
    f.kernel.freeNoncontiguous(f.dev, 16384, sgt, DMA_BIDIRECTIONAL);
    assertEquals(f.kernel.liveResources(), []);
  });

  test(`C032 ${design}: dma_alloc_pages behind an IOMMU maps through iommu-dma and frees`, () => {
    const f = iommuFixture("I-C", { design });
    const p = f.kernel.allocPages(f.dev, 8192, DMA_TO_DEVICE, GFP_KERNEL);
    assertExists(p);
    assert(p.handle !== p.pagePhys, "an IOVA, not the physical address");
    f.kernel.freePages(f.dev, 8192, p.pagePhys, p.handle, DMA_TO_DEVICE);
    assertEquals(f.kernel.liveResources(), []);
  });
}

test("C032 static-call-v0: dma_common_alloc_pages calls the ops table's map_page, which the patch removed", () => {
  const f = iommuFixture("I-C", { design: "static-call-v0" });
  assertThrows(() => f.kernel.allocPages(f.dev, 8192, DMA_TO_DEVICE, GFP_KERNEL), KernelBug);
});
