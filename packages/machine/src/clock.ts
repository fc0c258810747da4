// Simulated time in nanoseconds with timers. advance() runs each due timer at
// its own deadline, in order (equal deadlines in the order they were set), so
// a callback sees now() equal to its deadline.

export interface TimerHandle {
  readonly at: number;
  readonly id: number;
}

interface Timer extends TimerHandle {
  fn: () => void;
}

export class Clock {
  #now = 0;
  #nextId = 1;
  #timers: Timer[] = [];

  now(): number {
    return this.#now;
  }

  setTimer(atNs: number, fn: () => void): TimerHandle {
    if (!Number.isFinite(atNs))
      throw new RangeError(`setTimer: atNs must be a finite time in ns, got ${atNs}`);
    const t: Timer = { at: Math.max(atNs, this.#now), id: this.#nextId++, fn };
    let i = this.#timers.length;
    while (i > 0 && this.#timers[i - 1]!.at > t.at) i--;
    this.#timers.splice(i, 0, t);
    return t;
  }

  clearTimer(handle: unknown): void {
    const i = this.#timers.indexOf(handle as Timer);
    if (i >= 0) this.#timers.splice(i, 1);
  }

  /** Moves time forward by `ns`, firing every timer that falls due on the way. */
  advance(ns: number): void {
    if (!Number.isFinite(ns) || ns < 0)
      throw new RangeError(`advance: ns must be a non-negative number, got ${ns}`);
    this.advanceTo(this.#now + ns);
  }

  advanceTo(t: number): void {
    if (t < this.#now) throw new RangeError(`advanceTo: ${t} is in the past (now ${this.#now})`);
    while (this.#timers.length > 0 && this.#timers[0]!.at <= t) {
      const timer = this.#timers.shift()!;
      this.#now = timer.at;
      timer.fn();
    }
    this.#now = t;
  }

  pendingTimers(): number {
    return this.#timers.length;
  }
}
