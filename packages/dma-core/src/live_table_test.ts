// The live-mapping table: the same answers as a Map of Maps (counts, fields, order).
import { assertEquals, test } from "@dmasim/testing";
import { type LiveEntry, type LiveKind, LiveTable } from "./live_table.ts";

/** The reference: the Map of Maps the kernel kept before. */
class ReferenceTable {
  readonly #m = new Map<number, Map<number, Omit<LiveEntry, "dev" | "addr">>>();
  add(dev: number, addr: number, kind: LiveKind, size: number, dir: number, phys: number): void {
    let m = this.#m.get(dev);
    if (m === undefined) this.#m.set(dev, (m = new Map()));
    const e = m.get(addr);
    if (e !== undefined) e.count++;
    else m.set(addr, { kind, size, dir, phys, count: 1 });
  }
  remove(dev: number, addr: number): void {
    const m = this.#m.get(dev);
    const e = m?.get(addr);
    if (e === undefined) return;
    if (--e.count === 0) m!.delete(addr);
  }
  /** Devices in the order of their first mapping (the Map's insertion order), then addresses. */
  entries(): LiveEntry[] {
    const out: LiveEntry[] = [];
    for (const [dev, m] of this.#m) for (const [addr, e] of m) out.push({ dev, addr, ...e });
    return out;
  }
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("live table: duplicate maps count, an unmap takes one, an unknown address is ignored", () => {
  const t = new LiveTable();
  t.add(0, 0x100000000, "phys", 4096, 1, 0x100000000);
  t.add(0, 0x100000000, "sg", 512, 2, 0x5000); // the first entry's fields stay
  t.add(1, 0x100000000, "coherent", 8192, 0, 0x7000);
  t.remove(0, 0x200000000);
  t.remove(2, 0x100000000);
  assertEquals(t.entries(), [
    { dev: 0, addr: 0x100000000, kind: "phys", size: 4096, dir: 1, phys: 0x100000000, count: 2 },
    { dev: 1, addr: 0x100000000, kind: "coherent", size: 8192, dir: 0, phys: 0x7000, count: 1 },
  ]);
  t.remove(0, 0x100000000);
  t.remove(0, 0x100000000);
  t.remove(0, 0x100000000);
  t.remove(1, 0x100000000);
  assertEquals(t.entries(), []);
  assertEquals(t.size, 0);
});

test("live table: devices as objects list in the order of their first mapping; the newest map is found whichever device unmaps in between", () => {
  const a = { name: "a" };
  const b = { name: "b" };
  const t = new LiveTable<{ name: string }>();
  t.add(b, 0x1000, "phys", 4096, 1, 0x1000);
  t.remove(b, 0x1000); // b keeps its place as the first device
  t.add(a, 0x2000, "phys", 4096, 1, 0x2000);
  t.remove(b, 0x2000); // b never mapped 0x2000: ignored, a's newest map stays
  t.add(b, 0x3000, "sg", 512, 2, 0x3000);
  assertEquals(
    t.entries().map((e) => [e.dev.name, e.addr]),
    [
      ["b", 0x3000],
      ["a", 0x2000],
    ],
  );
  t.remove(a, 0x2000);
  t.remove(b, 0x3000);
  assertEquals(t.entries(), []);
  assertEquals(t.size, 0);
});

test("live table: 200k random maps and unmaps over clustered addresses agree with a Map of Maps, order included", () => {
  const rnd = mulberry32(7);
  const t = new LiveTable();
  const r = new ReferenceTable();
  const kinds: LiveKind[] = ["phys", "sg", "coherent", "noncoherent"];
  const live: Array<[number, number]> = [];
  for (let i = 0; i < 200_000; i++) {
    const dev = Math.floor(rnd() * 3);
    // Page-aligned addresses in a few clusters, below and above 2^32, some reused.
    const base = [0, 0xfee00000, 2 ** 32, 2 ** 47][Math.floor(rnd() * 4)]!;
    const addr = base + Math.floor(rnd() * 4096) * 4096 + (rnd() < 0.1 ? 0x80 : 0);
    const op = rnd();
    if (op < 0.45 || live.length === 0) {
      const kind = kinds[Math.floor(rnd() * 4)]!;
      t.add(dev, addr, kind, 4096, i % 3, addr + 1);
      r.add(dev, addr, kind, 4096, i % 3, addr + 1);
      live.push([dev, addr]);
    } else if (op < 0.95) {
      const [d, a] = live.splice(Math.floor(rnd() * live.length), 1)[0]!;
      t.remove(d, a);
      r.remove(d, a);
    } else {
      t.remove(dev, addr);
      r.remove(dev, addr);
    }
    if (i % 20_000 === 0) assertEquals(t.entries(), r.entries(), `after ${i} operations`);
  }
  assertEquals(t.entries(), r.entries());
  for (const [d, a] of live) {
    t.remove(d, a);
    r.remove(d, a);
  }
  assertEquals(t.entries(), []);
  assertEquals(r.entries(), []);
});
