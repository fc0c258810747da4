// Model bugs the whole-model fuzzer (fuzz_test.ts) found, each pinned down
// by the smallest sequence that showed it.
import { DMA_BIDIRECTIONAL, GFP_KERNEL, PAGE_SIZE } from "@dmasim/dma-core";
import { assert, assertEquals, test } from "@dmasim/testing";
import { createSystem } from "./system.ts";

test("x86_64-coco: dma_alloc_pages hands out a decrypted page, so its handle has no encryption bit and the device reaches it", () => {
  const sys = createSystem("x86_64-coco");
  const r = sys.dma.allocPages(sys.dev, PAGE_SIZE, DMA_BIDIRECTIONAL, GFP_KERNEL)!;
  assertEquals(r.handle, r.pagePhys, "phys_to_dma_unencrypted: no C-bit");
  assert(sys.device.write(r.handle, Uint8Array.of(1, 2, 3)));
  sys.dma.syncSingleForCpu(sys.dev, r.handle, PAGE_SIZE, DMA_BIDIRECTIONAL);
  assertEquals([...sys.dma.cpuRead(sys.machine.kas.physToVirt(r.pagePhys), 3)], [1, 2, 3]);
  sys.dma.freePages(sys.dev, PAGE_SIZE, r.pagePhys, r.handle, DMA_BIDIRECTIONAL);
});

test("arm64-smmuv3, non-coherent: iommu-dma's remapped coherent buffer reads as zeros through its uncached view, even over pages a CPU dirtied before", () => {
  const sys = createSystem("arm64-smmuv3");
  assertEquals(sys.dev.dmaCoherent, false);
  // Dirty every free page the next allocation could take, and give them back.
  const pages: number[] = [];
  for (let i = 0; i < 8; i++) {
    const pa = sys.machine.pages.allocPages(0)!;
    sys.dma.cpuWrite(sys.machine.kas.physToVirt(pa), new Uint8Array(PAGE_SIZE).fill(22));
    pages.push(pa);
  }
  for (const pa of pages.reverse()) sys.machine.pages.freePages(pa, 0);
  const a = sys.dma.allocCoherent(sys.dev, 2 * PAGE_SIZE, GFP_KERNEL)!;
  const seen = sys.dma.cpuRead(a.cpuAddr, 2 * PAGE_SIZE);
  assertEquals(
    seen.every((b) => b === 0),
    true,
  );
  assertEquals([...sys.device.readBytes(a.handle, 4)!], [0, 0, 0, 0]);
  sys.dma.freeCoherent(sys.dev, 2 * PAGE_SIZE, a.cpuAddr, a.handle);
});
