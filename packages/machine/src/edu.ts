// QEMU's edu device (hw/misc/edu.c, PCI 1234:11e8) as dma_oracle.c drives it:
// BAR0 registers ident (0x00), DMA source 0x80, destination 0x88, count 0x90
// and command 0x98 (bit 0 start, bit 1 direction: 1 = device buffer to RAM),
// a 4 KiB buffer at device address 0x40000. QEMU moves the data when its
// 100 ms DMA timer fires and then clears the start bit; a transfer whose bus
// address faults completes all the same and moves nothing.
import type { Clock } from "./clock.ts";
import type { DmaEngine } from "./dma_engine.ts";

export const EDU_IDENT = 0x010000ed;
export const EDU_BUF_ADDR = 0x40000;
export const EDU_BUF_SIZE = 4096;
export const EDU_DMA_NS = 100_000_000;

export class EduDevice {
  readonly barPhys: number;
  readonly buffer = new Uint8Array(EDU_BUF_SIZE);
  #src = 0;
  #dst = 0;
  #cnt = 0;
  #cmd = 0;
  readonly #engine: DmaEngine;
  readonly #clock: Clock;

  constructor(barPhys: number, engine: DmaEngine, clock: Clock) {
    this.barPhys = barPhys;
    this.#engine = engine;
    this.#clock = clock;
  }

  get busy(): boolean {
    return (this.#cmd & 1) !== 0;
  }

  readReg(offset: number): number {
    switch (offset) {
      case 0x00:
        return EDU_IDENT;
      case 0x80:
        return this.#src;
      case 0x88:
        return this.#dst;
      case 0x90:
        return this.#cnt;
      case 0x98:
        return this.#cmd;
      default:
        return 0;
    }
  }

  writeReg(offset: number, value: number): void {
    switch (offset) {
      case 0x80:
        if (!this.busy) this.#src = value;
        break;
      case 0x88:
        if (!this.busy) this.#dst = value;
        break;
      case 0x90:
        if (!this.busy) this.#cnt = value;
        break;
      case 0x98:
        if (!this.busy && value & 1) {
          this.#cmd = value;
          this.#clock.setTimer(this.#clock.now() + EDU_DMA_NS, () => this.#transfer());
        }
        break;
      default:
        break;
    }
  }

  /** Starts a transfer (the register sequence dma_oracle.c writes). */
  startDma(src: number, dst: number, count: number, toRam: boolean): void {
    this.writeReg(0x80, src);
    this.writeReg(0x88, dst);
    this.writeReg(0x90, count);
    this.writeReg(0x98, 1 | (toRam ? 2 : 0));
  }

  #inBuffer(addr: number, cnt: number): boolean {
    return addr >= EDU_BUF_ADDR && addr + cnt <= EDU_BUF_ADDR + EDU_BUF_SIZE;
  }

  #transfer(): void {
    const toRam = (this.#cmd & 2) !== 0;
    const cnt = this.#cnt;
    if (toRam) {
      if (this.#inBuffer(this.#src, cnt)) {
        const off = this.#src - EDU_BUF_ADDR;
        this.#engine.write(this.#dst, this.buffer, off, cnt);
      }
    } else if (this.#inBuffer(this.#dst, cnt)) {
      const off = this.#dst - EDU_BUF_ADDR;
      this.#engine.read(this.#src, this.buffer, off, cnt);
    }
    this.#cmd &= ~1;
  }
}
