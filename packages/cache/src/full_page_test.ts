// Whole-page accesses to fully cached pages: counted as hits line by line, stale lines still reported.
import { assertEquals, test } from "@dmasim/testing";
import { type BackingStore, CpuCache } from "./cpu_cache.ts";

function ram(size = 1 << 16): BackingStore {
  const bytes = new Uint8Array(size);
  return {
    readInto: (pa, dst, off = 0, len = dst.length - off) =>
      dst.set(bytes.subarray(pa, pa + len), off),
    write: (pa, src, off = 0, len = src.length - off) =>
      bytes.set(src.subarray(off, off + len), pa),
  };
}

test("full pages: hits per line, a non-coherent device write still makes a stale read, a recycled page starts clean", () => {
  const c = new CpuCache(ram());
  const page = new Uint8Array(4096).fill(1);
  c.cpuWrite(0x2000, page); // 64 misses, whole lines: no memory read
  c.cpuWrite(0x2000, page); // 64 hits
  const out = new Uint8Array(4096);
  c.cpuReadInto(0x2000, out); // 64 hits
  assertEquals([c.stats.misses, c.stats.hits], [64, 128]);
  assertEquals(out[4095], 1);
  c.deviceWrite(0x2040, Uint8Array.of(9, 9), 0, 2, false); // line 1 goes stale
  c.cpuReadInto(0x2000, out);
  assertEquals(
    c.hazards.map((h) => [h.kind, h.lineAddress, h.pa, h.len]),
    [["stale-read", 0x2040, 0x2000 + 64, 64]],
  );
  assertEquals(out[0x40], 1, "the CPU read the stale cached copy");
  assertEquals(c.stats.hits, 192);
  c.invalidate(0x2000, 4096); // every line dropped: the page is recycled
  c.cpuWrite(0x3000, page); // the recycled page, filled whole again
  c.cpuReadInto(0x3000, out);
  assertEquals(c.hazards.length, 1, "no stale line carried over into the recycled page");
  assertEquals([c.stats.misses, c.stats.hits], [128, 256]);
  // A part of a buffer, and a read across two pages.
  c.cpuWrite(0x3800, page, 100, 2048);
  const two = new Uint8Array(8192);
  c.cpuReadInto(0x2000, two);
  assertEquals([two[0x1000 + 0x800], two[0]], [1, 0]);
});
