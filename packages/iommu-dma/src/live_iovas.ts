// The IOVA ranges a device holds (first pfn → length in bytes), for leak
// reports. An open-addressing hash table over typed arrays: recording and
// forgetting a range allocates nothing, where a Map costs ~70 ns a pair
// (deleted entries pile up until it rehashes). Ranges list in the order a Map
// would give: insertion order, a re-recorded live pfn keeping its place.

const EMPTY = -1;
/** 2^-32, so the high word of a pfn is a multiply (exact) rather than a divide. */
const INV_TWO32 = 1 / 4294967296;

export class LiveIovas {
  #shift = 32 - 4;
  #mask = 15;
  #used = 0;
  #seqNext = 0;
  /** First pfn of the range in the slot, or EMPTY. */
  #pfn = new Float64Array(16).fill(EMPTY);
  #len = new Float64Array(16);
  /** Insertion order: entries list by it. */
  #seq = new Float64Array(16);
  /** Slot of the latest set: the usual delete is of the range mapped last, found without hashing. */
  #lastSlot = 0;

  get size(): number {
    return this.#used;
  }

  #home(pfn: number): number {
    const lo = pfn >>> 0;
    const hi = (pfn * INV_TWO32) >>> 0;
    return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> this.#shift;
  }

  #find(pfn: number): number {
    const pfns = this.#pfn;
    const mask = this.#mask;
    let i = this.#home(pfn);
    for (;;) {
      const p = pfns[i]!;
      if (p === EMPTY) return -1;
      if (p === pfn) return i;
      i = (i + 1) & mask;
    }
  }

  /** Map.set: a new range goes last; a live pfn gets the new length and keeps its place. */
  set(pfn: number, len: number): void {
    // One probe finds the pfn or the empty slot a new range takes.
    const pfns = this.#pfn;
    const mask = this.#mask;
    let i = this.#home(pfn);
    for (;;) {
      const p = pfns[i]!;
      if (p === pfn) {
        this.#len[i] = len;
        return;
      }
      if (p === EMPTY) break;
      i = (i + 1) & mask;
    }
    if ((this.#used + 1) * 2 > mask + 1) i = this.#growFor(pfn);
    this.#pfn[i] = pfn;
    this.#len[i] = len;
    this.#seq[i] = this.#seqNext++;
    this.#used++;
    this.#lastSlot = i;
  }

  /** Map.delete: forgets the range at `pfn`; false when there is none. */
  delete(pfn: number): boolean {
    let at = this.#lastSlot;
    if (!(pfn >= 0 && this.#pfn[at] === pfn)) at = this.#find(pfn);
    if (at < 0) return false;
    this.#used--;
    const pfns = this.#pfn;
    // Usually the slot after it is empty and nothing moves.
    if (pfns[(at + 1) & this.#mask] === EMPTY) pfns[at] = EMPTY;
    else this.#shiftInto(at);
    return true;
  }

  /** Backward-shift deletion: later members of the probe run move into the hole at `at`. */
  #shiftInto(at: number): void {
    const mask = this.#mask;
    const pfns = this.#pfn;
    let hole = at;
    let j = at;
    for (;;) {
      j = (j + 1) & mask;
      const p = pfns[j]!;
      if (p === EMPTY) break;
      const home = this.#home(p);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      if (hole <= j ? home > hole && home <= j : home > hole || home <= j) continue;
      pfns[hole] = p;
      this.#len[hole] = this.#len[j]!;
      this.#seq[hole] = this.#seq[j]!;
      hole = j;
    }
    pfns[hole] = EMPTY;
  }

  /** Doubles the table; returns the empty slot `pfn` then takes. */
  #growFor(pfn: number): number {
    this.#grow();
    let i = this.#home(pfn);
    while (this.#pfn[i] !== EMPTY) i = (i + 1) & this.#mask;
    return i;
  }

  #grow(): void {
    const oldPfn = this.#pfn;
    const oldLen = this.#len;
    const oldSeq = this.#seq;
    const slots = oldPfn.length * 2;
    this.#pfn = new Float64Array(slots).fill(EMPTY);
    this.#len = new Float64Array(slots);
    this.#seq = new Float64Array(slots);
    this.#mask = slots - 1;
    this.#shift = 32 - Math.log2(slots);
    for (let k = 0; k < oldPfn.length; k++) {
      const p = oldPfn[k]!;
      if (p === EMPTY) continue;
      let i = this.#home(p);
      while (this.#pfn[i] !== EMPTY) i = (i + 1) & this.#mask;
      this.#pfn[i] = p;
      this.#len[i] = oldLen[k]!;
      this.#seq[i] = oldSeq[k]!;
    }
  }

  /** [pfn, length] pairs in insertion order (what iterating the Map gave). */
  entries(): Array<[number, number]> {
    const at: number[] = [];
    for (let i = 0; i < this.#pfn.length; i++) if (this.#pfn[i] !== EMPTY) at.push(i);
    at.sort((a, b) => this.#seq[a]! - this.#seq[b]!);
    return at.map((i) => [this.#pfn[i]!, this.#len[i]!]);
  }
}
