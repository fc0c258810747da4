// A small page-granular pool allocator: first fit, order-aligned blocks, as
// the kernel's atomic pools (gen_pool) and per-device declared coherent
// memory (a bitmap with order alignment) hand out memory.
import { PAGE_SIZE } from "./constants.ts";

export class PagePool {
  readonly #used: Uint8Array;
  readonly #sizes = new Map<number, number>();
  #usedPages = 0;

  constructor(
    /** Physical start of the pool. */
    readonly phys: number,
    /** Address the device/CPU sees for the start (device address or kernel va). */
    readonly base: number,
    readonly size: number,
  ) {
    this.#used = new Uint8Array(Math.floor(size / PAGE_SIZE));
  }

  get pages(): number {
    return this.#used.length;
  }

  get usedPages(): number {
    return this.#usedPages;
  }

  /** Allocates `size` bytes aligned to their order; returns the page index or -1. */
  alloc(size: number): number {
    const n = Math.ceil(size / PAGE_SIZE);
    let align = 1;
    while (align < n) align *= 2;
    for (let i = 0; i + n <= this.#used.length; i += align) {
      let free = true;
      for (let j = i; j < i + n; j++) {
        if (this.#used[j]) {
          free = false;
          break;
        }
      }
      if (free) {
        this.#used.fill(1, i, i + n);
        this.#sizes.set(i, n);
        this.#usedPages += n;
        return i;
      }
    }
    return -1;
  }

  /** Frees the block that starts at page `index`; false when no block starts there. */
  free(index: number): boolean {
    const n = this.#sizes.get(index);
    if (n === undefined) return false;
    this.#used.fill(0, index, index + n);
    this.#sizes.delete(index);
    this.#usedPages -= n;
    return true;
  }

  /** Page index of an address relative to `base`, or -1 when outside the pool. */
  indexOf(addr: number): number {
    if (addr < this.base || addr >= this.base + this.size) return -1;
    return Math.floor((addr - this.base) / PAGE_SIZE);
  }

  liveBlocks(): Array<{ index: number; pages: number }> {
    return [...this.#sizes].map(([index, pages]) => ({ index, pages }));
  }
}
