// The kernel's live-mapping table for leak reports and the test sanitizer:
// one entry per (device, bus address) with the mapping's kind, size,
// direction, physical address and how many times that address is mapped
// now. It is an open-addressing hash table over typed arrays, so a map and
// an unmap allocate nothing (a Map keyed by bus addresses above 2^31 boxes
// each key); devices are numbered in the order of their first mapping.
// Entries list in the order a Map of Maps would give: devices in that order,
// then addresses in insertion order.
//
// In front of the table sits one slot for the newest map. A map moves the
// previous newest into the table and takes the slot; an unmap of the newest
// empties it. The common map-then-unmap pair thus never touches the table,
// and add and remove stay small enough for the JIT to inline into the
// kernel's map and unmap paths.

export type LiveKind = "phys" | "sg" | "coherent" | "noncoherent";

const KINDS: readonly LiveKind[] = ["phys", "sg", "coherent", "noncoherent"];
const EMPTY = -1;
/** 2^-32: a multiply by it is exact, and cheaper than a division by 2^32. */
const TWO_M32 = 2 ** -32;

/** One live entry as liveResources() formats it. */
export interface LiveEntry<D = number> {
  dev: D;
  addr: number;
  kind: LiveKind;
  size: number;
  dir: number;
  phys: number;
  count: number;
}

export class LiveTable<D = number> {
  /** Device numbers, in the order of each device's first mapping; the last one looked up. */
  readonly #devNumber = new Map<D, number>();
  readonly #devs: D[] = [];
  #lastDev: D | undefined = undefined;
  #lastNumber = -1;
  #shift = 32 - 6;
  #mask = 63;
  #used = 0;
  #seqNext = 0;
  #dev = new Int32Array(64).fill(EMPTY);
  #addr = new Float64Array(64);
  #kind = new Uint8Array(64);
  #size = new Float64Array(64);
  #dir = new Float64Array(64);
  #phys = new Float64Array(64);
  #count = new Float64Array(64);
  /** Insertion order: entries list by it. */
  #seq = new Float64Array(64);
  /** The newest map, not yet in the table (dev EMPTY: none); it counts once. */
  #newDev = EMPTY;
  #newAddr = 0;
  #newKind: LiveKind = "phys";
  #newSize = 0;
  #newDir = 0;
  #newPhys = 0;

  get size(): number {
    this.#spill();
    return this.#used;
  }

  /** A map of `addr`: a new entry, or one more count on the live one (whose other fields stay). */
  add(dev: D, addr: number, kind: LiveKind, size: number, dir: number, phys: number): void {
    const n = dev === this.#lastDev ? this.#lastNumber : this.#number(dev, true);
    if (this.#newDev !== -1) this.#spill();
    this.#newDev = n;
    this.#newAddr = addr;
    this.#newKind = kind;
    this.#newSize = size;
    this.#newDir = dir;
    this.#newPhys = phys;
  }

  /** An unmap of `addr`: one count less, the entry gone at zero; an unknown address is ignored. */
  remove(dev: D, addr: number): void {
    const n = dev === this.#lastDev ? this.#lastNumber : this.#number(dev, false);
    if (n < 0) return;
    if (n === this.#newDev && addr === this.#newAddr) {
      // The newest map is the one released, whether or not the table holds the same address too.
      this.#newDev = EMPTY;
      return;
    }
    this.#removeHashed(n, addr);
  }

  /** The device's number; -1 for one that never mapped anything unless `assign`. */
  #number(dev: D, assign: boolean): number {
    if (dev === this.#lastDev) return this.#lastNumber;
    let n = this.#devNumber.get(dev);
    if (n === undefined) {
      if (!assign) return -1;
      n = this.#devs.length;
      this.#devs.push(dev);
      this.#devNumber.set(dev, n);
    }
    this.#lastDev = dev;
    this.#lastNumber = n;
    return n;
  }

  /** The newest map into the table. */
  #spill(): void {
    if (this.#newDev === EMPTY) return;
    const dev = this.#newDev;
    this.#newDev = EMPTY;
    // The slot only ever holds the newest map, so a sequence number taken now keeps the order.
    this.#addHashed(
      dev,
      this.#newAddr,
      this.#newKind,
      this.#newSize,
      this.#newDir,
      this.#newPhys,
      this.#seqNext++,
    );
  }

  #home(dev: number, addr: number): number {
    const lo = addr >>> 0;
    const hi = (addr * TWO_M32) >>> 0;
    const h = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b) ^ Math.imul(dev, 0xc2b2ae35), 0x9e3779b1);
    return h >>> this.#shift;
  }

  #find(dev: number, addr: number): number {
    const devs = this.#dev;
    const addrs = this.#addr;
    let i = this.#home(dev, addr);
    for (;;) {
      const d = devs[i]!;
      if (d === EMPTY) return -1;
      if (d === dev && addrs[i] === addr) return i;
      i = (i + 1) & this.#mask;
    }
  }

  #addHashed(
    dev: number,
    addr: number,
    kind: LiveKind,
    size: number,
    dir: number,
    phys: number,
    seq: number,
  ): void {
    const at = this.#find(dev, addr);
    if (at >= 0) {
      this.#count[at]!++;
      return;
    }
    if ((this.#used + 1) * 2 > this.#mask + 1) this.#grow();
    let i = this.#home(dev, addr);
    while (this.#dev[i] !== EMPTY) i = (i + 1) & this.#mask;
    this.#dev[i] = dev;
    this.#addr[i] = addr;
    this.#kind[i] = kind === "phys" ? 0 : kind === "sg" ? 1 : kind === "coherent" ? 2 : 3;
    this.#size[i] = size;
    this.#dir[i] = dir;
    this.#phys[i] = phys;
    this.#count[i] = 1;
    this.#seq[i] = seq;
    this.#used++;
  }

  #removeHashed(dev: number, addr: number): void {
    const at = this.#find(dev, addr);
    if (at < 0) return;
    if (--this.#count[at]! > 0) return;
    this.#used--;
    // Backward-shift deletion: later members of the probe run move into the hole.
    const mask = this.#mask;
    let hole = at;
    let j = at;
    for (;;) {
      j = (j + 1) & mask;
      const d = this.#dev[j]!;
      if (d === EMPTY) break;
      const home = this.#home(d, this.#addr[j]!);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      if (hole <= j ? home > hole && home <= j : home > hole || home <= j) continue;
      this.#moveSlot(j, hole);
      hole = j;
    }
    this.#dev[hole] = EMPTY;
  }

  #moveSlot(from: number, to: number): void {
    this.#dev[to] = this.#dev[from]!;
    this.#addr[to] = this.#addr[from]!;
    this.#kind[to] = this.#kind[from]!;
    this.#size[to] = this.#size[from]!;
    this.#dir[to] = this.#dir[from]!;
    this.#phys[to] = this.#phys[from]!;
    this.#count[to] = this.#count[from]!;
    this.#seq[to] = this.#seq[from]!;
  }

  #grow(): void {
    const oldDev = this.#dev;
    const oldAddr = this.#addr;
    const oldKind = this.#kind;
    const oldSize = this.#size;
    const oldDir = this.#dir;
    const oldPhys = this.#phys;
    const oldCount = this.#count;
    const oldSeq = this.#seq;
    const cap = (this.#mask + 1) * 2;
    this.#mask = cap - 1;
    this.#shift--;
    this.#dev = new Int32Array(cap).fill(EMPTY);
    this.#addr = new Float64Array(cap);
    this.#kind = new Uint8Array(cap);
    this.#size = new Float64Array(cap);
    this.#dir = new Float64Array(cap);
    this.#phys = new Float64Array(cap);
    this.#count = new Float64Array(cap);
    this.#seq = new Float64Array(cap);
    for (let k = 0; k < oldDev.length; k++) {
      const d = oldDev[k]!;
      if (d === EMPTY) continue;
      let i = this.#home(d, oldAddr[k]!);
      while (this.#dev[i] !== EMPTY) i = (i + 1) & this.#mask;
      this.#dev[i] = d;
      this.#addr[i] = oldAddr[k]!;
      this.#kind[i] = oldKind[k]!;
      this.#size[i] = oldSize[k]!;
      this.#dir[i] = oldDir[k]!;
      this.#phys[i] = oldPhys[k]!;
      this.#count[i] = oldCount[k]!;
      this.#seq[i] = oldSeq[k]!;
    }
  }

  /** The live entries, devices in the order of their first mapping, then in the order they were made. */
  entries(): LiveEntry<D>[] {
    this.#spill();
    const idx: number[] = [];
    for (let i = 0; i <= this.#mask; i++) if (this.#dev[i] !== EMPTY) idx.push(i);
    idx.sort((a, b) => this.#dev[a]! - this.#dev[b]! || this.#seq[a]! - this.#seq[b]!);
    return idx.map((i) => ({
      dev: this.#devs[this.#dev[i]!]!,
      addr: this.#addr[i]!,
      kind: KINDS[this.#kind[i]!]!,
      size: this.#size[i]!,
      dir: this.#dir[i]!,
      phys: this.#phys[i]!,
      count: this.#count[i]!,
    }));
  }
}
