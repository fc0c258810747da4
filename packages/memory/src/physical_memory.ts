// The physical address map: RAM ranges with holes and MMIO windows, with
// sparse byte storage. A page exists once written; an untouched page reads
// as zeros, so a 64 GiB machine costs nothing until it is used.
import { PAGE_SIZE } from "./constants.ts";

export interface MemoryRange {
  readonly start: number;
  readonly size: number;
  /** Exclusive end. */
  readonly end: number;
  readonly kind: "ram" | "mmio";
  readonly name: string;
  readonly owner?: string;
}

export interface MemoryLayout {
  ram: ReadonlyArray<{ start: number; size: number }>;
  mmio?: ReadonlyArray<{ start: number; size: number; name: string; owner?: string }>;
}

/** An access to a physical address that is not RAM. */
export class MemoryAccessError extends RangeError {
  override name = "MemoryAccessError";
}

const LIMIT = 2 ** 52;

function checkRange(what: string, start: number, size: number): void {
  if (!Number.isInteger(start) || start < 0 || start % PAGE_SIZE !== 0) {
    throw new RangeError(`${what}.start must be a page-aligned address, got ${start}`);
  }
  if (!Number.isInteger(size) || size <= 0 || size % PAGE_SIZE !== 0 || start + size > LIMIT) {
    throw new RangeError(
      `${what}.size must be a positive multiple of ${PAGE_SIZE} ending below 2^52, got ${size}`,
    );
  }
}

export class PhysicalMemory {
  #ranges: MemoryRange[] = [];
  /** The RAM ranges alone, by address (RAM is fixed at construction), and the last one isRam hit. */
  #ram: MemoryRange[] = [];
  #lastRam: MemoryRange | null = null;
  readonly #pages = new Map<number, Uint8Array>();

  constructor(layout: MemoryLayout) {
    if (!layout || !Array.isArray(layout.ram) || layout.ram.length === 0) {
      throw new TypeError("PhysicalMemory: layout.ram must list at least one RAM range");
    }
    if (layout.mmio !== undefined && !Array.isArray(layout.mmio))
      throw new TypeError(
        "PhysicalMemory: layout.mmio must be an array of MMIO windows (or left out)",
      );
    layout.ram.forEach((r, i) => {
      checkRange(`layout.ram[${i}]`, r?.start, r?.size);
      this.#insert({
        start: r.start,
        size: r.size,
        end: r.start + r.size,
        kind: "ram",
        name: "System RAM",
      });
    });
    layout.mmio?.forEach((r, i) => {
      this.addMmio(r?.start, r?.size, r?.name, r?.owner, `layout.mmio[${i}]`);
    });
    this.#ram = this.#ranges.filter((r) => r.kind === "ram");
    this.#lastRam = this.#ram[0]!;
  }

  #insert(r: MemoryRange): void {
    for (const o of this.#ranges) {
      if (r.start < o.end && o.start < r.end) {
        throw new RangeError(
          `memory range ${r.name} [${hex(r.start)}, ${hex(r.end)}) overlaps ${o.name} [${hex(o.start)}, ${hex(o.end)})`,
        );
      }
    }
    this.#ranges.push(r);
    this.#ranges.sort((a, b) => a.start - b.start);
  }

  /** Registers an MMIO window (a device BAR, an interrupt controller). */
  addMmio(
    start: number,
    size: number,
    name: string,
    owner?: string,
    what = "addMmio",
  ): MemoryRange {
    checkRange(what, start, size);
    if (typeof name !== "string" || (owner !== undefined && typeof owner !== "string"))
      throw new TypeError(
        `${what}: name (and owner, when given) must be strings, got ${String(name)}`,
      );
    const r: MemoryRange = { start, size, end: start + size, kind: "mmio", name, owner };
    this.#insert(r);
    return r;
  }

  get ranges(): readonly MemoryRange[] {
    return this.#ranges;
  }

  get ramRanges(): readonly MemoryRange[] {
    return this.#ranges.filter((r) => r.kind === "ram");
  }

  get totalRam(): number {
    return this.ramRanges.reduce((s, r) => s + r.size, 0);
  }

  /** The highest RAM address, inclusive. */
  get lastRamByte(): number {
    const ram = this.#ram;
    return ram[ram.length - 1]!.end - 1;
  }

  rangeAt(pa: number): MemoryRange | undefined {
    for (const r of this.#ranges) if (pa >= r.start && pa < r.end) return r;
    return undefined;
  }

  /** Is [pa, pa + size) entirely inside one RAM range? */
  isRam(pa: number, size = 1): boolean {
    // RAM ranges do not overlap, so only the one holding pa can answer; the last one hit usually does.
    const last = this.#lastRam!;
    if (size > 0 && pa >= last.start && pa < last.end) return pa + size <= last.end;
    return this.#isRamSearch(pa, size);
  }

  #isRamSearch(pa: number, size: number): boolean {
    if (!(size > 0)) {
      // An empty (or negative) span may sit at a range's end: the plain scan answers that.
      for (const r of this.#ram) if (pa >= r.start && pa + size <= r.end) return true;
      return false;
    }
    const ram = this.#ram;
    let lo = 0;
    let hi = ram.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = ram[mid]!;
      if (pa < r.start) hi = mid - 1;
      else if (pa >= r.end) lo = mid + 1;
      else {
        this.#lastRam = r;
        return pa + size <= r.end;
      }
    }
    return false;
  }

  #check(pa: number, len: number): void {
    if (
      !Number.isInteger(pa) ||
      !Number.isInteger(len) ||
      len < 0 ||
      !this.isRam(pa, Math.max(len, 1))
    ) {
      const r = this.rangeAt(pa);
      throw new MemoryAccessError(
        `physical access [${hex(pa)}, +${len}) is outside RAM${r ? ` (in ${r.kind} window ${r.name})` : ""}`,
      );
    }
  }

  /** [pa, pa + len) is RAM, for a len already known to be a non-negative integer. */
  #checkPa(pa: number, len: number): void {
    if (!(Number.isInteger(pa) && this.isRam(pa, len > 0 ? len : 1))) this.#check(pa, len);
  }

  /**
   * Copies [pa, pa + len) into dst at dstOffset (no allocation). dst must be
   * a Uint8Array with room for len bytes there.
   */
  readInto(pa: number, dst: Uint8Array, dstOffset = 0, len = dst?.length - dstOffset): void {
    // One inlinable test; what failed is worked out, and thrown, out of line.
    if (!bufferOk(dst, dstOffset, len)) badBuffer("readInto", "dst", dst, dstOffset, len);
    this.#checkPa(pa, len);
    let done = 0;
    while (done < len) {
      const a = pa + done;
      const off = a % PAGE_SIZE;
      const n = Math.min(len - done, PAGE_SIZE - off);
      const page = this.#pages.get((a - off) / PAGE_SIZE);
      if (page === undefined) dst.fill(0, dstOffset + done, dstOffset + done + n);
      else dst.set(page.subarray(off, off + n), dstOffset + done);
      done += n;
    }
  }

  read(pa: number, len: number): Uint8Array {
    if (!Number.isInteger(len) || len < 0 || len > 2 ** 30)
      throw new RangeError(
        `read: len must be an integer from 0 to 2^30 (one buffer), got ${String(len)}`,
      );
    const out = new Uint8Array(len);
    this.readInto(pa, out, 0, len);
    return out;
  }

  /** Copies len bytes of src from srcOffset to [pa, pa + len). */
  write(pa: number, src: Uint8Array, srcOffset = 0, len = src?.length - srcOffset): void {
    if (!bufferOk(src, srcOffset, len)) badBuffer("write", "src", src, srcOffset, len);
    this.#checkPa(pa, len);
    let done = 0;
    while (done < len) {
      const a = pa + done;
      const off = a % PAGE_SIZE;
      const n = Math.min(len - done, PAGE_SIZE - off);
      const pfn = (a - off) / PAGE_SIZE;
      let page = this.#pages.get(pfn);
      if (page === undefined) {
        page = new Uint8Array(PAGE_SIZE);
        this.#pages.set(pfn, page);
      }
      page.set(src.subarray(srcOffset + done, srcOffset + done + n), off);
      done += n;
    }
  }

  fill(pa: number, len: number, byte: number): void {
    checkByte("fill", byte);
    this.#check(pa, len);
    let done = 0;
    while (done < len) {
      const a = pa + done;
      const off = a % PAGE_SIZE;
      const n = Math.min(len - done, PAGE_SIZE - off);
      const pfn = (a - off) / PAGE_SIZE;
      let page = this.#pages.get(pfn);
      if (page === undefined) {
        if (byte === 0) {
          done += n;
          continue;
        }
        page = new Uint8Array(PAGE_SIZE);
        this.#pages.set(pfn, page);
      }
      page.fill(byte, off, off + n);
      done += n;
    }
  }

  /** Overlap-safe copy. */
  copy(dstPa: number, srcPa: number, len: number): void {
    this.write(dstPa, this.read(srcPa, len));
  }

  readU8(pa: number): number {
    this.#check(pa, 1);
    const off = pa % PAGE_SIZE;
    return this.#pages.get((pa - off) / PAGE_SIZE)?.[off] ?? 0;
  }

  writeU8(pa: number, v: number): void {
    checkByte("writeU8", v);
    this.write(pa, Uint8Array.of(v & 0xff));
  }

  /** Pages that hold data, and their bytes. */
  stats(): { pagesMaterialised: number; bytes: number } {
    return { pagesMaterialised: this.#pages.size, bytes: this.#pages.size * PAGE_SIZE };
  }
}

function hex(v: number): string {
  return typeof v === "number" ? `0x${v.toString(16)}` : String(v);
}

/** A bad argument as the messages show it: "4096" (a string) is not 4096. */
function describeArg(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "object" && v !== null)
    return Array.isArray(v) ? "an array" : (v.constructor?.name ?? "an object");
  return String(v);
}

/** A buffer, and an integer range inside it. */
function bufferOk(buf: Uint8Array, offset: number, len: number): boolean {
  return (
    buf instanceof Uint8Array &&
    Number.isInteger(offset) &&
    Number.isInteger(len) &&
    offset >= 0 &&
    len >= 0 &&
    offset + len <= buf.length
  );
}

/** The first failing buffer check of readInto/write, thrown (out of line: the hot functions stay small). */
function badBuffer(fn: string, name: string, buf: unknown, offset: number, len: number): never {
  if (!(buf instanceof Uint8Array))
    throw new TypeError(`${fn}: ${name} must be a Uint8Array, got ${describeArg(buf)}`);
  if (!Number.isInteger(offset) || offset < 0 || offset > buf.length)
    throw new RangeError(
      `${fn}: ${name}Offset must be an integer from 0 to ${name}.length (${buf.length}), got ${describeArg(offset)}`,
    );
  throw new RangeError(
    `${fn}: len must be an integer from 0 to ${name}.length - ${name}Offset (${buf.length - offset}), got ${describeArg(len)}`,
  );
}

function checkByte(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 255)
    throw new RangeError(`${what}: the byte must be an integer from 0 to 255, got ${String(v)}`);
}
