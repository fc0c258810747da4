// The IOVA ranges a device holds (first pfn → length in bytes), for leak
// reports. An open-addressing hash table over typed arrays, with the newest
// range in a front slot outside it: recording and forgetting a range
// allocates nothing, where a Map costs ~70 ns a pair (deleted entries pile up
// until it rehashes). Ranges list in the order a Map would give: insertion
// order, a re-recorded live pfn keeping its place.

const EMPTY = -1;
/** 2^-32, so the high word of a pfn is a multiply (exact) rather than a divide. */
const INV_TWO32 = 1 / 4294967296;

export class LiveIovas {
  #shift = 32 - 4;
  #mask = 15;
  /** Ranges in the table (the front one not counted). */
  #used = 0;
  #seqNext = 0;
  /** First pfn of the range in the slot, or EMPTY. */
  #pfn = new Float64Array(16).fill(EMPTY);
  #len = new Float64Array(16);
  /** Insertion order: entries list by it. */
  #seq = new Float64Array(16);
  /**
   * The newest range, kept out of the table (EMPTY: none): it goes into the
   * table only when another range comes, so a map then unmap never hashes.
   */
  #frontPfn = EMPTY;
  #frontLen = 0;
  #frontSeq = 0;

  get size(): number {
    return this.#frontPfn === EMPTY ? this.#used : this.#used + 1;
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
    // The usual case, nothing live: the range takes the front slot (small enough to inline).
    if (this.#frontPfn === EMPTY && this.#used === 0) {
      this.#frontPfn = pfn;
      this.#frontLen = len;
      this.#frontSeq = this.#seqNext++;
    } else this.#setAmong(pfn, len);
  }

  /** set() with other ranges live. */
  #setAmong(pfn: number, len: number): void {
    if (pfn === this.#frontPfn && pfn !== EMPTY) {
      this.#frontLen = len;
      return;
    }
    if (this.#used !== 0) {
      const at = this.#find(pfn);
      if (at >= 0) {
        this.#len[at] = len;
        return;
      }
    }
    if (this.#frontPfn !== EMPTY) this.#insert(this.#frontPfn, this.#frontLen, this.#frontSeq);
    this.#frontPfn = pfn;
    this.#frontLen = len;
    this.#frontSeq = this.#seqNext++;
  }

  /** Puts a range that is not in the table into it (out of line: the second live range onwards). */
  #insert(pfn: number, len: number, seq: number): void {
    if ((this.#used + 1) * 2 > this.#mask + 1) this.#grow();
    const mask = this.#mask;
    let i = this.#home(pfn);
    while (this.#pfn[i] !== EMPTY) i = (i + 1) & mask;
    this.#pfn[i] = pfn;
    this.#len[i] = len;
    this.#seq[i] = seq;
    this.#used++;
  }

  /** Map.delete: forgets the range at `pfn`; false when there is none. */
  delete(pfn: number): boolean {
    if (pfn === this.#frontPfn && pfn !== EMPTY) {
      this.#frontPfn = EMPTY;
      return true;
    }
    return this.#used !== 0 && this.#deleteFromTable(pfn);
  }

  #deleteFromTable(pfn: number): boolean {
    const at = this.#find(pfn);
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
    const out: Array<[number, number, number]> = [];
    for (let i = 0; i < this.#pfn.length; i++)
      if (this.#pfn[i] !== EMPTY) out.push([this.#pfn[i]!, this.#len[i]!, this.#seq[i]!]);
    if (this.#frontPfn !== EMPTY) out.push([this.#frontPfn, this.#frontLen, this.#frontSeq]);
    out.sort((a, b) => a[2] - b[2]);
    return out.map(([pfn, len]) => [pfn, len]);
  }
}
