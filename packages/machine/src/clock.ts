// Simulated time in nanoseconds with one-shot timers. advance() runs each due
// timer at its own deadline, in deadline order (equal deadlines in the order
// they were set), so a callback sees now() equal to its deadline; a timer a
// callback sets that falls due before the end of the advance runs in it too.
// Timers sit in a binary min-heap keyed by (deadline, sequence), so setting
// and firing cost O(log n) whatever the number of pending timers.

/** What setTimer() returns; pass it to clearTimer(). */
export interface TimerHandle {
  /** The deadline, in ns of simulated time. */
  readonly at: number;
  readonly id: number;
}

interface Timer extends TimerHandle {
  fn: (() => void) | null;
  /** Heap slot, -1 once fired or cleared. */
  slot: number;
}

/**
 * The structural clock iommu-dma's flush queue (and anything else that
 * schedules work) needs; `Clock` satisfies it.
 */
export interface TimerClock {
  now(): number;
  setTimer(atNs: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
}

function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.id < b.id);
}

export class Clock implements TimerClock {
  #now = 0;
  #nextId = 1;
  readonly #heap: Timer[] = [];
  #running = false;

  /** The current simulated time in ns. */
  now(): number {
    return this.#now;
  }

  /**
   * Calls `fn` when simulated time reaches `atNs`. A deadline in the past is
   * taken as "now": it fires at the next advance (even advance(0)).
   */
  setTimer(atNs: number, fn: () => void): TimerHandle {
    if (typeof atNs !== "number" || !Number.isFinite(atNs))
      throw new RangeError(`setTimer: atNs must be a finite time in ns, got ${String(atNs)}`);
    if (typeof fn !== "function") throw new TypeError("setTimer: fn must be a function");
    const t: Timer = { at: Math.max(atNs, this.#now), id: this.#nextId++, fn, slot: -1 };
    const h = this.#heap;
    h.push(t);
    t.slot = h.length - 1;
    this.#up(t.slot);
    return t;
  }

  /** Cancels a pending timer; a handle that already fired (or is unknown) is ignored. */
  clearTimer(handle: unknown): void {
    if (typeof handle !== "object" || handle === null) return;
    const t = handle as Timer;
    const i = t.slot;
    const h = this.#heap;
    if (typeof i !== "number" || i < 0 || h[i] !== t) return;
    this.#removeAt(i);
  }

  /** Moves time forward by `ns`, firing every timer that falls due on the way. */
  advance(ns: number): void {
    if (typeof ns !== "number" || !Number.isFinite(ns) || ns < 0)
      throw new RangeError(`advance: ns must be a finite number >= 0, got ${String(ns)}`);
    this.advanceTo(this.#now + ns);
  }

  /** Moves time forward to `t` (absolute, ns), firing due timers in order. */
  advanceTo(t: number): void {
    if (typeof t !== "number" || !Number.isFinite(t) || t < this.#now)
      throw new RangeError(
        `advanceTo: t must be a finite time >= now (${this.#now} ns), got ${String(t)}`,
      );
    // A callback that advanced time itself would make the outer loop move
    // time backwards afterwards; callbacks schedule timers instead.
    if (this.#running) throw new Error("Clock: advance called from inside a timer callback");
    this.#running = true;
    try {
      const h = this.#heap;
      while (h.length > 0 && h[0]!.at <= t) {
        const timer = h[0]!;
        this.#removeAt(0);
        this.#now = timer.at;
        const fn = timer.fn!;
        timer.fn = null;
        fn();
      }
      this.#now = t;
    } finally {
      this.#running = false;
    }
  }

  /** How many timers are waiting. */
  pendingTimers(): number {
    return this.#heap.length;
  }

  /** The earliest pending deadline, or null when nothing is scheduled. */
  nextDeadline(): number | null {
    return this.#heap.length > 0 ? this.#heap[0]!.at : null;
  }

  #removeAt(i: number): void {
    const h = this.#heap;
    const gone = h[i]!;
    gone.slot = -1;
    const last = h.pop()!;
    if (i < h.length) {
      h[i] = last;
      last.slot = i;
      this.#down(i);
      this.#up(last.slot);
    }
  }

  #up(i: number): void {
    const h = this.#heap;
    const t = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = h[p]!;
      if (!before(t, pt)) break;
      h[i] = pt;
      pt.slot = i;
      i = p;
    }
    h[i] = t;
    t.slot = i;
  }

  #down(i: number): void {
    const h = this.#heap;
    const n = h.length;
    const t = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(h[r]!, h[l]!) ? r : l;
      const ct = h[c]!;
      if (!before(ct, t)) break;
      h[i] = ct;
      ct.slot = i;
      i = c;
    }
    h[i] = t;
    t.slot = i;
  }
}
