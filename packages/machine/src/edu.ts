// QEMU's edu device (hw/misc/edu.c, PCI 1234:11e8), the device dma_oracle.c
// drives. BAR0 registers: ident (0x00), liveness check (0x04), factorial
// (0x08), status (0x20), interrupt status/raise/ack (0x24/0x60/0x64), and the
// DMA engine: source 0x80, destination 0x88, count 0x90, command 0x98 (bit 0
// start, bit 1 direction: 1 = device buffer to RAM, bit 2 interrupt when
// done). The DMA buffer is 4 KiB at device address 0x40000. QEMU moves the
// data when a 100 ms virtual-clock timer fires and then clears the start bit;
// the RAM side goes through the device's DMA engine, so a faulting bus
// address completes "successfully" and moves nothing, as the oracle's
// edu_wild case shows (rc 0, a DMAR fault logged).
import type { Clock } from "./clock.ts";
import type { DmaEngine } from "./dma_engine.ts";

/** Register offsets in BAR0. */
export const EDU_REG_IDENT = 0x00;
export const EDU_REG_LIVENESS = 0x04;
export const EDU_REG_FACTORIAL = 0x08;
export const EDU_REG_STATUS = 0x20;
export const EDU_REG_IRQ_STATUS = 0x24;
export const EDU_REG_IRQ_RAISE = 0x60;
export const EDU_REG_IRQ_ACK = 0x64;
export const EDU_REG_DMA_SRC = 0x80;
export const EDU_REG_DMA_DST = 0x88;
export const EDU_REG_DMA_COUNT = 0x90;
export const EDU_REG_DMA_CMD = 0x98;
/** DMA command bits. */
export const EDU_DMA_RUN = 0x1;
export const EDU_DMA_TO_RAM = 0x2;
export const EDU_DMA_IRQ = 0x4;
/** Status register bits: factorial computing, raise an interrupt when it is done. */
export const EDU_STATUS_COMPUTING = 0x01;
export const EDU_STATUS_IRQFACT = 0x80;
/** Interrupt status bits the device raises itself. */
export const EDU_FACT_IRQ = 0x00000001;
export const EDU_DMA_IRQ_BIT = 0x00000100;

/** The identification register: version 1.0 and the 0xed signature. */
export const EDU_IDENT = 0x010000ed;
export const EDU_BUF_ADDR = 0x40000;
export const EDU_BUF_SIZE = 4096;
/** QEMU arms the DMA timer 100 ms (virtual clock, millisecond scale) ahead. */
export const EDU_DMA_NS = 100_000_000;
/** BAR0 size. */
export const EDU_BAR_SIZE = 2 ** 20;

const MS = 1_000_000;
const TWO_32 = 2 ** 32;
const TWO_64 = 2 ** 64;

/** The outcome of the last DMA transfer the device ran. */
export interface EduTransfer {
  toRam: boolean;
  /** Bus address on the RAM side, after the device's dma_mask. */
  bus: number;
  count: number;
  /** The bytes moved: false after an IOMMU fault, a bus error or a range outside the buffer. */
  ok: boolean;
  /** When the transfer ran, ns. */
  at: number;
}

export class EduDevice {
  /** Physical address of BAR0. */
  readonly barPhys: number;
  /** The device's 4 KiB DMA buffer (device address 0x40000). */
  readonly buffer = new Uint8Array(EDU_BUF_SIZE);
  /** Transfers the device refused because they do not fit its buffer (QEMU logs a guest error). */
  readonly guestErrors: string[] = [];
  lastTransfer: EduTransfer | null = null;
  #src = 0;
  #dst = 0;
  #cnt = 0;
  #cmd = 0;
  #addr4 = 0;
  #fact = 0;
  #status = 0;
  #irqStatus = 0;
  #timer: unknown = null;
  readonly #engine: DmaEngine;
  readonly #clock: Clock;
  readonly #irqListeners: Array<(status: number) => void> = [];

  constructor(barPhys: number, engine: DmaEngine, clock: Clock) {
    if (
      !Number.isInteger(barPhys) ||
      barPhys < 0 ||
      barPhys >= 2 ** 52 ||
      barPhys % EDU_BAR_SIZE !== 0
    )
      throw new RangeError(
        `new EduDevice: barPhys must be a 1 MiB-aligned physical address below 2^52, got ${String(barPhys)}`,
      );
    if (typeof engine?.read !== "function" || typeof engine.write !== "function")
      throw new TypeError("new EduDevice: engine must be the device's DmaEngine");
    if (typeof clock?.now !== "function" || typeof clock.setTimer !== "function")
      throw new TypeError("new EduDevice: clock must be the machine's Clock");
    this.barPhys = barPhys;
    this.#engine = engine;
    this.#clock = clock;
  }

  /** The DMA engine the device moves RAM-side bytes with. */
  get engine(): DmaEngine {
    return this.#engine;
  }

  /** A DMA transfer is pending (the command's start bit is set). */
  get busy(): boolean {
    return (this.#cmd & EDU_DMA_RUN) !== 0;
  }

  /** The interrupt line: asserted while any interrupt status bit is set. */
  get irqAsserted(): boolean {
    return this.#irqStatus !== 0;
  }

  /** Calls `fn(irqStatus)` whenever the device raises an interrupt. */
  onInterrupt(fn: (status: number) => void): () => void {
    if (typeof fn !== "function") throw new TypeError("onInterrupt: listener must be a function");
    this.#irqListeners.push(fn);
    return () => {
      const i = this.#irqListeners.indexOf(fn);
      if (i >= 0) this.#irqListeners.splice(i, 1);
    };
  }

  /**
   * An MMIO read of BAR0 at `offset`. Like QEMU, registers below 0x80 answer
   * 4-byte reads only and the DMA registers 4- or 8-byte reads; anything else
   * reads all ones (as 0xffffffff for a 4-byte read, 2^64 - 1 rounded for 8).
   */
  readReg(offset: number, size: 4 | 8 = offset >= 0x80 ? 8 : 4): number {
    checkOffset("readReg", offset);
    checkSize("readReg", size);
    const ones = size === 4 ? 0xffffffff : TWO_64 - 1;
    if (offset < 0x80 ? size !== 4 : size !== 4 && size !== 8) return ones;
    let v: number;
    switch (offset) {
      case EDU_REG_IDENT:
        v = EDU_IDENT;
        break;
      case EDU_REG_LIVENESS:
        v = this.#addr4;
        break;
      case EDU_REG_FACTORIAL:
        v = this.#fact;
        break;
      case EDU_REG_STATUS:
        v = this.#status;
        break;
      case EDU_REG_IRQ_STATUS:
        v = this.#irqStatus;
        break;
      case EDU_REG_DMA_SRC:
        v = this.#src;
        break;
      case EDU_REG_DMA_DST:
        v = this.#dst;
        break;
      case EDU_REG_DMA_COUNT:
        v = this.#cnt;
        break;
      case EDU_REG_DMA_CMD:
        v = this.#cmd;
        break;
      default:
        return ones;
    }
    return size === 4 ? v % TWO_32 : v;
  }

  /** An MMIO write of BAR0 at `offset` (value: an unsigned integer below 2^64). */
  writeReg(offset: number, value: number, size: 4 | 8 = offset >= 0x80 ? 8 : 4): void {
    checkOffset("writeReg", offset);
    checkSize("writeReg", size);
    if (!Number.isInteger(value) || value < 0 || value >= TWO_64)
      throw new RangeError(`writeReg: value must be an integer in [0, 2^64), got ${value}`);
    if (offset < 0x80 ? size !== 4 : size !== 4 && size !== 8) return;
    // A 4-byte access carries only the low half (the upper one reads as zero).
    const v = size === 4 ? value % TWO_32 : value;
    switch (offset) {
      case EDU_REG_LIVENESS:
        this.#addr4 = 0xffffffff - v; // ~v in 32 bits
        break;
      case EDU_REG_FACTORIAL:
        if (this.#status & EDU_STATUS_COMPUTING) break;
        this.#fact = v;
        this.#status |= EDU_STATUS_COMPUTING;
        this.#computeFactorial();
        break;
      case EDU_REG_STATUS:
        // Only the "interrupt after factorial" bit is writable.
        if (v & EDU_STATUS_IRQFACT) this.#status |= EDU_STATUS_IRQFACT;
        else this.#status &= ~EDU_STATUS_IRQFACT;
        break;
      case EDU_REG_IRQ_RAISE:
        this.#raiseIrq(v);
        break;
      case EDU_REG_IRQ_ACK:
        this.#irqStatus = (this.#irqStatus & ~v) >>> 0;
        break;
      // The DMA registers are frozen while a transfer is pending.
      case EDU_REG_DMA_SRC:
        if (!this.busy) this.#src = v;
        break;
      case EDU_REG_DMA_DST:
        if (!this.busy) this.#dst = v;
        break;
      case EDU_REG_DMA_COUNT:
        if (!this.busy) this.#cnt = v;
        break;
      case EDU_REG_DMA_CMD:
        // A command without the start bit is ignored, as is one while busy.
        if (!(v & EDU_DMA_RUN) || this.busy) break;
        this.#cmd = v;
        this.#armTimer();
        break;
      default:
        break;
    }
  }

  /** The register sequence dma_oracle.c's edu_dma() writes. */
  startDma(src: number, dst: number, count: number, toRam: boolean, irq = false): void {
    if (typeof toRam !== "boolean" || typeof irq !== "boolean")
      throw new TypeError(
        `startDma: toRam and irq must be true or false, got ${String(toRam)}, ${String(irq)}`,
      );
    this.writeReg(EDU_REG_DMA_SRC, src);
    this.writeReg(EDU_REG_DMA_DST, dst);
    this.writeReg(EDU_REG_DMA_COUNT, count);
    this.writeReg(
      EDU_REG_DMA_CMD,
      EDU_DMA_RUN | (toRam ? EDU_DMA_TO_RAM : 0) | (irq ? EDU_DMA_IRQ : 0),
    );
  }

  #armTimer(): void {
    // QEMU's timer has millisecond scale: the deadline is the current
    // virtual time in whole ms plus 100.
    const c = this.#clock;
    const at = (Math.floor(c.now() / MS) + 100) * MS;
    if (this.#timer !== null) c.clearTimer(this.#timer);
    this.#timer = c.setTimer(at, () => this.#dmaTimer());
  }

  #computeFactorial(): void {
    // QEMU computes n! in 32-bit arithmetic on a worker thread; the model
    // finishes at once. From 34! on the product holds 2^32 and wraps to 0.
    const n = this.#fact;
    let r = 1;
    if (n >= 34) r = 0;
    else for (let i = n; i > 0; i--) r = Math.imul(r, i) >>> 0;
    this.#fact = r;
    this.#status &= ~EDU_STATUS_COMPUTING;
    if (this.#status & EDU_STATUS_IRQFACT) this.#raiseIrq(EDU_FACT_IRQ);
  }

  #raiseIrq(bits: number): void {
    this.#irqStatus = (this.#irqStatus | bits) >>> 0;
    for (const l of this.#irqListeners.slice()) l(this.#irqStatus);
  }

  #dmaTimer(): void {
    this.#timer = null;
    if (!this.busy) return;
    const toRam = (this.#cmd & EDU_DMA_TO_RAM) !== 0;
    const cnt = this.#cnt;
    // The buffer side is a device address inside [0x40000, 0x41000).
    const bufAddr = toRam ? this.#src : this.#dst;
    const ramAddr = toRam ? this.#dst : this.#src;
    const at = this.#clock.now();
    const bits = this.#engine.addressBits;
    const bus = bits >= 64 ? ramAddr : ramAddr % 2 ** bits;
    if (
      bufAddr < EDU_BUF_ADDR ||
      cnt > EDU_BUF_SIZE ||
      bufAddr + cnt > EDU_BUF_ADDR + EDU_BUF_SIZE
    ) {
      this.guestErrors.push(
        `EDU: DMA range 0x${bufAddr.toString(16)}+${cnt} out of bounds (0x40000-0x40fff)`,
      );
      this.lastTransfer = { toRam, bus, count: cnt, ok: false, at };
    } else {
      const off = bufAddr - EDU_BUF_ADDR;
      // The engine applies dma_mask to the bus address and goes through the IOMMU.
      const ok = toRam
        ? this.#engine.write(ramAddr, this.buffer, off, cnt)
        : this.#engine.read(ramAddr, this.buffer, off, cnt);
      this.lastTransfer = { toRam, bus, count: cnt, ok, at };
    }
    this.#cmd -= EDU_DMA_RUN; // clear the start bit without truncating a wide value
    if (this.#cmd & EDU_DMA_IRQ) this.#raiseIrq(EDU_DMA_IRQ_BIT);
  }
}

function checkOffset(what: string, offset: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset >= EDU_BAR_SIZE)
    throw new RangeError(`${what}: offset must be an integer in [0, 0x100000), got ${offset}`);
}

/** MMIO accesses are 1, 2, 4 or 8 bytes wide (the edu device answers 4 and 8). */
function checkSize(what: string, size: number): void {
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8)
    throw new RangeError(`${what}: size must be 1, 2, 4 or 8 bytes, got ${String(size)}`);
}
