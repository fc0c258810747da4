import { assert, assertEquals, assertThrows, test } from "@dmasim/testing";
import fc from "fast-check";
import { DOMAIN_DMA, iommuPgsize } from "./domain.ts";
import { IommuUnit, newTranslateResult } from "./iommu_unit.ts";
import { IotlbGather } from "./iotlb_gather.ts";
import { IOMMU_READ, IOMMU_WRITE } from "./prot.ts";

const vtd = () =>
  new IommuUnit({ name: "dmar0", kind: "vtd", pageTable: { format: "vtd", addressWidth: 39 } });

test("iommuPgsize picks the largest page that alignment and size allow, and stops before a larger page could start", () => {
  const bm = 0x40201000;
  const out = { pgsize: 0, count: 0 };
  iommuPgsize(bm, 0x200000, 0x40200000, 0x400000 + 0x1000, out);
  assertEquals(out, { pgsize: 0x200000, count: 2 });
  iommuPgsize(bm, 0x1000, 0x2000, 0x400000, out);
  assertEquals(out.pgsize, 0x1000, "misaligned physical address: 4 KiB pages");
  iommuPgsize(bm, 0x1ff000, 0x1ff000, 0x201000, out);
  assertEquals(
    out,
    { pgsize: 0x1000, count: 1 },
    "one 4K page to reach the 2 MiB boundary, then a 2 MiB page fits",
  );
});

test("VT-d: a 4 MiB + 4 KiB map uses two 2 MiB superpages and one 4 KiB page; the bitmap is 0x40201000", () => {
  const unit = vtd();
  const d = unit.allocDomain(DOMAIN_DMA);
  assertEquals(d.pgsizeBitmap, 0x40201000);
  assertEquals(d.iommuMap(0x40000000, 0x80000000, 0x401000, IOMMU_READ), 0);
  const tr = newTranslateResult();
  unit.attachDevice("00:01.0", d);
  assert(unit.translate("00:01.0", 0x40300000, false, tr));
  assertEquals(tr.pa, 0x80300000);
  assertEquals(d.iommuUnmap(0x40000000, 0x1000), 0, "a partial unmap never splits a superpage");
  assertEquals(d.iommuUnmap(0x40000000, 0x401000), 0x401000);
});

test("iommuMapFrames of single frames, across leaf tables and back, answers and maps as iommuMap does", () => {
  // Frames in three leaf tables (512 frames each), so the page table's
  // last-table shortcut is taken, left and taken again; unmaps in between.
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.boolean(),
          fc.integer({ min: 0, max: 3 * 512 - 1 }),
          fc.integer({ min: 1, max: 0xfffff }),
          fc.constantFrom(IOMMU_READ, IOMMU_WRITE, IOMMU_READ | IOMMU_WRITE),
        ),
        { maxLength: 60 },
      ),
      (ops) => {
        const f = vtd().allocDomain(DOMAIN_DMA);
        const b = vtd().allocDomain(DOMAIN_DMA);
        const touched = new Set<number>();
        for (const [map, frame, pfn, prot] of ops) {
          const i = 0x7fe00 + frame; // from the last table below 2 GiB into the next ones
          touched.add(i);
          if (map)
            assertEquals(
              f.iommuMapFrames(i, pfn, 1, prot),
              b.iommuMap(i * 4096, pfn * 4096, 4096, prot),
            );
          else assertEquals(f.iommuUnmap(i * 4096, 4096), b.iommuUnmap(i * 4096, 4096));
        }
        for (const i of touched)
          assertEquals(f.iovaToPhys(i * 4096 + 8), b.iovaToPhys(i * 4096 + 8));
      },
    ),
  );
});

test("iommuMapFrames maps as iommuMap of the frames' addresses: small pages, superpages, errors, stale IOTLB marks", () => {
  const viaFrames = vtd();
  const viaBytes = vtd();
  const f = viaFrames.allocDomain(DOMAIN_DMA);
  const b = viaBytes.allocDomain(DOMAIN_DMA);
  viaFrames.attachDevice("00:01.0", f);
  viaBytes.attachDevice("00:01.0", b);
  const tf = newTranslateResult();
  const tb = newTranslateResult();
  // A cached translation first, so that the map marks it stale in both.
  assertEquals(f.iommuMapFrames(0x100, 0x200, 1, IOMMU_READ), 0);
  assertEquals(b.iommuMap(0x100000, 0x200000, 0x1000, IOMMU_READ), 0);
  assert(viaFrames.translate("00:01.0", 0x100010, false, tf));
  assert(viaBytes.translate("00:01.0", 0x100010, false, tb));
  assertEquals(tf, tb);
  const calls: Array<[number, number, number, number]> = [
    [0x300, 0x400, 3, IOMMU_READ | IOMMU_WRITE],
    [0x40000, 0x80000, 0x401, IOMMU_READ], // 2 MiB superpages and a 4 KiB page
    [0x300, 0x500, 1, IOMMU_READ], // already mapped: -EEXIST
    [0x100, 0x600, 1, IOMMU_READ],
    [-1, 0x800, 1, IOMMU_READ],
    [0x700, 0x800, 0, IOMMU_READ],
    [2 ** 40, 0x800, 1, IOMMU_READ],
  ];
  for (const [i, p, n, prot] of calls)
    assertEquals(
      f.iommuMapFrames(i, p, n, prot),
      b.iommuMap(i * 4096, p * 4096, n * 4096, prot),
      `frames ${i.toString(16)} → ${p.toString(16)} × ${n}`,
    );
  // An unknown protection bit throws from both.
  assertThrows(() => f.iommuMapFrames(0x700, 0x800, 1, 1 << 12), RangeError);
  assertThrows(() => b.iommuMap(0x700000, 0x800000, 0x1000, 1 << 12), RangeError);
  assertEquals(viaFrames.iotlb.size, viaBytes.iotlb.size);
  for (const a of [0x100010, 0x300000, 0x302fff, 0x40200000, 0x40400000])
    assertEquals(f.iovaToPhys(a), b.iovaToPhys(a), `iova 0x${a.toString(16)}`);
  // Unmapped without an invalidation (a queued gather), then mapped elsewhere: the cached entry is stale in both.
  for (const d of [f, b]) {
    const g = new IotlbGather();
    g.queued = true;
    assertEquals(d.iommuUnmapFast(0x100000, 0x1000, g), 0x1000);
  }
  assertEquals(f.iommuMapFrames(0x100, 0x900, 1, IOMMU_READ), 0);
  assertEquals(b.iommuMap(0x100000, 0x900000, 0x1000, IOMMU_READ), 0);
  assert(viaFrames.translate("00:01.0", 0x100010, false, tf));
  assert(viaBytes.translate("00:01.0", 0x100010, false, tb));
  assertEquals(tf, tb);
  assertEquals(tf.pa, 0x200010, "the stale IOTLB entry still answers");
  assertEquals(viaFrames.hazards, viaBytes.hazards);
  assertEquals(viaFrames.hazards.length, 1);
});

test("VT-d faults: a write to a read-only or unmapped page is reason 0x05, a read is 0x06, memory untouched", () => {
  const unit = vtd();
  const d = unit.allocDomain(DOMAIN_DMA);
  unit.attachDevice("00:01.0", d);
  d.iommuMap(0xffffe000, 0x102400000, 0x1000, IOMMU_READ);
  const tr = newTranslateResult();
  assertEquals(unit.translate("00:01.0", 0xffffe010, true, tr), false);
  assertEquals(
    tr.fault?.message,
    "DMAR: [DMA Write NO_PASID] Request device [00:01.0] fault addr 0xffffe000 [fault reason 0x05] PTE Write access is not set",
  );
  assertEquals(unit.translate("00:01.0", 0x20000, false, tr), false);
  assertEquals(tr.fault?.code, 0x06);
  assertEquals(unit.faults.length, 2);
});

test("a missing IOTLB invalidation is observable: the device still reaches the old page and a hazard is recorded", () => {
  const unit = vtd();
  const d = unit.allocDomain(DOMAIN_DMA);
  unit.attachDevice("00:01.0", d);
  d.iommuMap(0x1000, 0x5000, 0x1000, IOMMU_READ | IOMMU_WRITE);
  const tr = newTranslateResult();
  assert(unit.translate("00:01.0", 0x1000, true, tr));
  const g = new IotlbGather();
  g.queued = true; // a flush queue will invalidate later
  assertEquals(d.iommuUnmapFast(0x1000, 0x1000, g), 0x1000);
  assert(unit.translate("00:01.0", 0x1000, true, tr), "stale hit succeeds");
  assertEquals(unit.hazards.length, 1);
  d.flushIotlbAll();
  assertEquals(unit.translate("00:01.0", 0x1000, true, tr), false);
});

test("Arm LPAE granules give their block sizes: 16K → 16K|32M, 64K → 64K|512M", () => {
  const u16 = new IommuUnit({
    name: "s",
    kind: "smmuv3",
    pageTable: { format: "arm-lpae", granule: 16384 },
  });
  assertEquals(u16.allocDomain(DOMAIN_DMA).pgsizeBitmap, 0x4000 + 0x2000000);
  const u64 = new IommuUnit({
    name: "s",
    kind: "smmuv3",
    pageTable: { format: "arm-lpae", granule: 65536 },
  });
  const d = u64.allocDomain(DOMAIN_DMA);
  assertEquals(d.pgsizeBitmap, 0x10000 + 0x20000000);
  assertEquals(d.iommuMap(0x10000, 0x40010000, 0x20000, IOMMU_READ), 0);
  assertEquals(d.iovaToPhys(0x1fff0), 0x4001fff0);
});

test("property: random map/unmap keeps translate consistent with a reference map when unmaps are synced", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 1, max: 8 }), fc.boolean()),
        { maxLength: 50 },
      ),
      (ops) => {
        const unit = vtd();
        const d = unit.allocDomain(DOMAIN_DMA);
        unit.attachDevice("dev", d);
        const ref = new Map<number, number>();
        const tr = newTranslateResult();
        for (const [page, n, map] of ops) {
          const iova = page * 0x1000;
          const free = Array.from({ length: n }, (_, i) => !ref.has(page + i)).every(Boolean);
          if (map && free) {
            assertEquals(
              d.iommuMap(iova, 0x100000 + iova, n * 0x1000, IOMMU_READ | IOMMU_WRITE),
              0,
            );
            for (let i = 0; i < n; i++) ref.set(page + i, 0x100000 + iova + i * 0x1000);
          } else if (!map && ref.has(page)) {
            d.iommuUnmap(iova, 0x1000);
            ref.delete(page);
          }
          for (let p = 0; p < 72; p++) {
            const ok = unit.translate("dev", p * 0x1000 + 8, false, tr);
            assertEquals(ok ? tr.pa : -1, ref.has(p) ? ref.get(p)! + 8 : -1);
          }
        }
      },
    ),
    { numRuns: 40 },
  );
});

test("C111 the not-yet-synced window: a walk of a page mapped without iommu_sync_map is a hazard until the sync; an unmap ends the window", () => {
  const unit = vtd();
  const d = unit.allocDomain(DOMAIN_DMA);
  unit.attachDevice("00:01.0", d);
  const tr = newTranslateResult();
  const unsynced = () => unit.hazards.filter((h) => h.kind === "unsynced-map").length;
  assertEquals(d.iommuMapNosync(0x10000, 0x80000, 0x2000, IOMMU_READ | IOMMU_WRITE), 0);
  assert(unit.translate("00:01.0", 0x10000, true, tr));
  assertEquals(unsynced(), 1, "the access in the window is flagged");
  assertEquals(d.iommuSyncMap(0x11000, 0x1000), 0);
  assert(unit.translate("00:01.0", 0x11000, false, tr));
  assertEquals(unsynced(), 1, "the synced page is not");
  // Unmapped before its sync: the window closes with the unmap.
  assertEquals(d.iommuMapNosync(0x20000, 0x90000, 0x1000, IOMMU_READ), 0);
  assertEquals(d.iommuUnmap(0x20000, 0x1000), 0x1000);
  assertEquals(d.unsynced.has(0x20000), false);
  assertEquals(d.iommuMap(0x20000, 0xa0000, 0x1000, IOMMU_READ), 0);
  assert(unit.translate("00:01.0", 0x20000, false, tr));
  assertEquals(unsynced(), 1, "a later iommu_map of the same IOVA is synced at once");
});
