// The kernel's virtual address space as the DMA layer sees it: the linear
// map (virt_to_phys / phys_to_virt), kmalloc with the architecture's minimum
// alignment, vmalloc and vmap (virtually contiguous, physically not), vmapped
// stacks and the kernel image. The DMA API must refuse the non-linear kinds.
import { alignUp, getOrder, PAGE_SIZE } from "./constants.ts";
import { type PageAllocator, Zone } from "./page_allocator.ts";
import type { PhysicalMemory } from "./physical_memory.ts";

/** va = LINEAR_MAP_BASE + pa for every RAM address. */
export const LINEAR_MAP_BASE = 2 ** 50;
const MIN_ALIGNS = [8, 16, 32, 64, 128, 256];
export const VMALLOC_BASE = 2 ** 50 + 2 ** 48;
export const VMALLOC_SIZE = 2 ** 46;
export const STACK_BASE = 2 ** 50 + 2 ** 49;
export const KERNEL_IMAGE_BASE = 2 ** 50 + 2 ** 49 + 2 ** 48;

export type KernelRegion = "linear" | "vmalloc" | "stack" | "text" | "rodata" | "unmapped";

/** The kmalloc size classes (mm/slab_common.c kmalloc caches). */
const KMALLOC_CLASSES = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];

/** The size class kmalloc serves `size` from, given ARCH_KMALLOC_MINALIGN. */
export function kmallocSizeClass(size: number, minAlign = 8): number {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`kmallocSizeClass: size must be a positive integer, got ${size}`);
  if (!MIN_ALIGNS.includes(minAlign))
    throw new RangeError(
      `kmallocSizeClass: minAlign must be one of ${MIN_ALIGNS.join(", ")}; got ${String(minAlign)}`,
    );
  for (const c of KMALLOC_CLASSES) {
    if (c < minAlign) continue;
    if ((c === 96 && minAlign > 32) || (c === 192 && minAlign > 64)) continue;
    if (c >= size) return c;
  }
  return alignUp(size, PAGE_SIZE);
}

interface VArea {
  base: number;
  pages: number[];
  kind: "vmalloc" | "vmap" | "stack";
}

export interface KernelAddressSpaceOptions {
  /** ARCH_KMALLOC_MINALIGN: 8 on x86; 128 on arm64 without unaligned-kmalloc bouncing. */
  kmallocMinAlign?: number;
  /** The kernel image's physical placement; its pages are taken from the allocator. */
  kernelImage?: { phys: number; textSize: number; rodataSize: number };
}

export class KernelAddressSpace {
  readonly kmallocMinAlign: number;
  readonly #mem: PhysicalMemory;
  readonly #pages: PageAllocator;
  /** Slab pages per size class: free object addresses. */
  readonly #slabFree = new Map<number, number[]>();
  readonly #objects = new Map<number, { size: number; cls: number }>();
  readonly #bigAllocs = new Map<number, { size: number; order: number }>();
  readonly #vareas = new Map<number, VArea>();
  #nextVmalloc = VMALLOC_BASE;
  #nextStack = STACK_BASE;
  #image: { phys: number; textEnd: number; rodataEnd: number } | null = null;

  constructor(
    memory: PhysicalMemory,
    pages: PageAllocator,
    options: KernelAddressSpaceOptions = {},
  ) {
    if (typeof memory?.isRam !== "function")
      throw new TypeError(
        `new KernelAddressSpace: memory must be a PhysicalMemory, got ${String(memory)}`,
      );
    if (typeof pages?.allocPages !== "function")
      throw new TypeError(
        `new KernelAddressSpace: pages must be a PageAllocator, got ${String(pages)}`,
      );
    if (options === null || typeof options !== "object")
      throw new TypeError(
        `new KernelAddressSpace: options must be an object, got ${String(options)}`,
      );
    this.#mem = memory;
    this.#pages = pages;
    this.kmallocMinAlign = options.kmallocMinAlign ?? 8;
    if (![8, 16, 32, 64, 128, 256].includes(this.kmallocMinAlign)) {
      throw new RangeError(
        `kmallocMinAlign must be one of 8, 16, 32, 64, 128, 256; got ${options.kmallocMinAlign}`,
      );
    }
    if (options.kernelImage) this.placeKernelImage(options.kernelImage);
  }

  /** Places the kernel image (once): its pages leave the allocator, its text and rodata get the image mapping. */
  placeKernelImage(img: { phys: number; textSize: number; rodataSize: number }): void {
    if (this.#image) throw new RangeError("placeKernelImage: the kernel image is placed already");
    if (
      img === null ||
      typeof img !== "object" ||
      !Number.isInteger(img.phys) ||
      img.phys < 0 ||
      img.phys % PAGE_SIZE !== 0 ||
      !Number.isInteger(img.textSize) ||
      !Number.isInteger(img.rodataSize) ||
      img.textSize < 0 ||
      img.rodataSize < 0 ||
      img.textSize + img.rodataSize === 0 ||
      img.phys + img.textSize + img.rodataSize > 2 ** 52
    )
      throw new RangeError(
        "placeKernelImage: img must be { phys, textSize, rodataSize } with a page-aligned phys and non-negative integer sizes, not both 0",
      );
    const size = alignUp(img.textSize + img.rodataSize, PAGE_SIZE);
    for (let pa = img.phys; pa < img.phys + size; pa += PAGE_SIZE) {
      if (!this.#pages.allocPagesAt(pa, 0))
        throw new RangeError(`kernelImage: page ${hex(pa)} is not free RAM`);
    }
    this.#image = {
      phys: img.phys,
      textEnd: img.phys + img.textSize,
      rodataEnd: img.phys + img.textSize + img.rodataSize,
    };
  }

  isLinear(va: number): boolean {
    return va >= LINEAR_MAP_BASE && va < VMALLOC_BASE && this.#mem.isRam(va - LINEAR_MAP_BASE);
  }

  /** __pa(): only for linear-map addresses. */
  virtToPhys(va: number): number {
    if (!this.isLinear(va))
      throw new RangeError(`virtToPhys: ${hex(va)} is not a linear-map address`);
    return va - LINEAR_MAP_BASE;
  }

  /** __va() */
  physToVirt(pa: number): number {
    if (!Number.isInteger(pa) || !this.#mem.isRam(pa))
      throw new RangeError(`physToVirt: ${hex(pa)} is not RAM`);
    return LINEAR_MAP_BASE + pa;
  }

  #varea(va: number): VArea | undefined {
    for (const a of this.#vareas.values()) {
      if (va >= a.base && va < a.base + a.pages.length * PAGE_SIZE) return a;
    }
    return undefined;
  }

  /** A linear-map address's physical address; -1 for any other address (the DMA map fast path). */
  linearToPhys(va: number): number {
    return va >= LINEAR_MAP_BASE && va < VMALLOC_BASE && this.#mem.isRam(va - LINEAR_MAP_BASE)
      ? va - LINEAR_MAP_BASE
      : -1;
  }

  /** Any mapped kernel address to its physical address; -1 when unmapped. */
  translate(va: number): number {
    if (va >= LINEAR_MAP_BASE && va < VMALLOC_BASE)
      return this.#mem.isRam(va - LINEAR_MAP_BASE) ? va - LINEAR_MAP_BASE : -1;
    return this.#translateOther(va);
  }

  #translateOther(va: number): number {
    if (
      this.#image &&
      va >= KERNEL_IMAGE_BASE &&
      va < KERNEL_IMAGE_BASE + (this.#image.rodataEnd - this.#image.phys)
    ) {
      return this.#image.phys + (va - KERNEL_IMAGE_BASE);
    }
    const a = this.#varea(va);
    if (!a) return -1;
    const off = va - a.base;
    return a.pages[Math.floor(off / PAGE_SIZE)]! + (off % PAGE_SIZE);
  }

  regionOf(va: number): KernelRegion {
    if (this.#image) {
      const pa =
        va >= KERNEL_IMAGE_BASE
          ? this.#image.phys + (va - KERNEL_IMAGE_BASE)
          : va - LINEAR_MAP_BASE;
      if (pa >= this.#image.phys && pa < this.#image.textEnd) return "text";
      if (pa >= this.#image.textEnd && pa < this.#image.rodataEnd) return "rodata";
    }
    if (this.isLinear(va)) return "linear";
    const a = this.#varea(va);
    if (a) return a.kind === "stack" ? "stack" : "vmalloc";
    return "unmapped";
  }

  isKernelTextOrRodata(va: number): boolean {
    const r = this.regionOf(va);
    return r === "text" || r === "rodata";
  }

  /** The kernel image's text and rodata, in the image mapping. */
  get kernelImage(): { textStart: number; textEnd: number; rodataEnd: number } | null {
    if (!this.#image) return null;
    return {
      textStart: KERNEL_IMAGE_BASE,
      textEnd: KERNEL_IMAGE_BASE + (this.#image.textEnd - this.#image.phys),
      rodataEnd: KERNEL_IMAGE_BASE + (this.#image.rodataEnd - this.#image.phys),
    };
  }

  // ---- kmalloc

  /** kmalloc(): a linear-map address, aligned to its size class (≥ the minimum alignment); null when out of memory. */
  kmalloc(size: number, highestZone: number = Zone.NORMAL): number | null {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`kmalloc: size must be a positive integer, got ${size}`);
    if (highestZone !== Zone.DMA && highestZone !== Zone.DMA32 && highestZone !== Zone.NORMAL)
      throw new RangeError(
        `kmalloc: highestZone must be Zone.DMA (0), Zone.DMA32 (1) or Zone.NORMAL (2), got ${String(highestZone)}`,
      );
    const cls = kmallocSizeClass(size, this.kmallocMinAlign);
    if (cls > 8192) {
      const order = getOrder(size);
      const pa = this.#pages.allocPages(order, highestZone);
      if (pa === null) return null;
      const va = LINEAR_MAP_BASE + pa;
      this.#bigAllocs.set(va, { size, order });
      return va;
    }
    const key = cls * 4 + highestZone;
    let free = this.#slabFree.get(key);
    if (!free || free.length === 0) {
      const slabOrder = cls > PAGE_SIZE ? getOrder(cls) : 0;
      const pa = this.#pages.allocPages(slabOrder, highestZone);
      if (pa === null) return null;
      free = free ?? [];
      const bytes = PAGE_SIZE * 2 ** slabOrder;
      // The kmalloc-96/192 caches align objects to the minimum alignment, the others to their size.
      for (let off = bytes - cls; off >= 0; off -= cls) free.push(LINEAR_MAP_BASE + pa + off);
      this.#slabFree.set(key, free);
    }
    const va = free.pop()!;
    this.#objects.set(va, { size, cls: key });
    return va;
  }

  kfree(va: number): void {
    const o = this.#objects.get(va);
    if (o) {
      this.#objects.delete(va);
      this.#slabFree.get(o.cls)!.push(va);
      return;
    }
    const b = this.#bigAllocs.get(va);
    if (b) {
      this.#bigAllocs.delete(va);
      this.#pages.freePages(va - LINEAR_MAP_BASE, b.order);
      return;
    }
    throw new RangeError(`kfree: ${hex(va)} was not returned by kmalloc (or is freed already)`);
  }

  /** ksize(): the usable size of a kmalloc object. */
  ksize(va: number): number {
    const o = this.#objects.get(va);
    if (o) return Math.floor(o.cls / 4);
    const b = this.#bigAllocs.get(va);
    if (b) return PAGE_SIZE * 2 ** b.order;
    throw new RangeError(`ksize: ${hex(va)} is not a kmalloc object`);
  }

  // ---- vmalloc, vmap, stacks

  #newArea(pages: number[], kind: VArea["kind"]): number {
    const span = (pages.length + 1) * PAGE_SIZE; // one guard page after each area
    let base: number;
    if (kind === "stack") {
      base = this.#nextStack;
      this.#nextStack += span;
    } else {
      base = this.#nextVmalloc;
      this.#nextVmalloc += span;
      if (this.#nextVmalloc > VMALLOC_BASE + VMALLOC_SIZE)
        throw new RangeError("vmalloc space exhausted");
    }
    this.#vareas.set(base, { base, pages, kind });
    return base;
  }

  /** vmalloc(): order-0 pages, virtually contiguous; null when out of memory. */
  vmalloc(size: number): number | null {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`vmalloc: size must be a positive integer, got ${size}`);
    const n = Math.ceil(size / PAGE_SIZE);
    const pages: number[] = [];
    for (let i = 0; i < n; i++) {
      const pa = this.#pages.allocPages(0);
      if (pa === null) {
        for (const p of pages) this.#pages.freePages(p, 0);
        return null;
      }
      pages.push(pa);
    }
    return this.#newArea(pages, "vmalloc");
  }

  vfree(va: number): void {
    const a = this.#vareas.get(va);
    if (a?.kind !== "vmalloc") throw new RangeError(`vfree: ${hex(va)} is not a vmalloc area`);
    this.#vareas.delete(va);
    for (const p of a.pages) this.#pages.freePages(p, 0);
  }

  /** vmap(): maps existing pages contiguously; the pages stay owned by the caller. */
  vmap(pagesPhys: number[]): number {
    if (!Array.isArray(pagesPhys) || pagesPhys.length === 0)
      throw new RangeError("vmap: pagesPhys must be a non-empty array");
    for (const p of pagesPhys)
      if (!Number.isInteger(p) || !this.#mem.isRam(p, PAGE_SIZE) || p % PAGE_SIZE !== 0)
        throw new RangeError(`vmap: ${hex(p)} is not a RAM page`);
    return this.#newArea([...pagesPhys], "vmap");
  }

  vunmap(va: number): void {
    const a = this.#vareas.get(va);
    if (a?.kind !== "vmap") throw new RangeError(`vunmap: ${hex(va)} is not a vmap area`);
    this.#vareas.delete(va);
  }

  /** A vmapped kernel stack (CONFIG_VMAP_STACK). */
  allocStack(size = 16384): number {
    if (!Number.isInteger(size) || size < 1 || size > 2 ** 30)
      throw new RangeError(
        `allocStack: size must be an integer from 1 to 2^30, got ${String(size)}`,
      );
    const n = Math.ceil(size / PAGE_SIZE);
    const pages: number[] = [];
    for (let i = 0; i < n; i++) {
      const pa = this.#pages.allocPages(0);
      if (pa === null) {
        for (const p of pages) this.#pages.freePages(p, 0);
        throw new RangeError("allocStack: out of memory");
      }
      pages.push(pa);
    }
    return this.#newArea(pages, "stack");
  }

  /** The vmapped-stack address that maps physical `pa`, or -1 (DMA-API debug looks stacks up by page). */
  stackAddressOf(pa: number): number {
    const off = pa % PAGE_SIZE;
    for (const a of this.#vareas.values()) {
      if (a.kind !== "stack") continue;
      const i = a.pages.indexOf(pa - off);
      if (i >= 0) return a.base + i * PAGE_SIZE + off;
    }
    return -1;
  }

  freeStack(va: number): void {
    const a = this.#vareas.get(va);
    if (a?.kind !== "stack") throw new RangeError(`freeStack: ${hex(va)} is not a stack`);
    this.#vareas.delete(va);
    for (const p of a.pages) this.#pages.freePages(p, 0);
  }

  /** kmalloc objects, vmalloc areas and stacks still live. */
  liveAllocations(): string[] {
    const out: string[] = [];
    for (const [va, o] of this.#objects) out.push(`kmalloc ${hex(va)} size=${o.size}`);
    for (const [va, b] of this.#bigAllocs) out.push(`kmalloc ${hex(va)} size=${b.size}`);
    for (const a of this.#vareas.values())
      out.push(`${a.kind} ${hex(a.base)} pages=${a.pages.length}`);
    return out;
  }
}

function hex(v: number): string {
  return typeof v === "number" ? `0x${v.toString(16)}` : String(v);
}
