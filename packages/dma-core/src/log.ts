// The system log: every kernel WARN, pr_warn/dev_warn line, DMA-API debug
// report and IOMMU fault becomes a structured event. Nothing here throws; the
// model goes on after a warning exactly as the kernel does.

export type LogLevel = "warn" | "info" | "debug-report" | "fault" | "hazard";

export interface LogEvent {
  /** Order of the event in this log. */
  readonly seq: number;
  /** Simulated time in nanoseconds. */
  readonly timeNs: number;
  readonly level: LogLevel;
  /** A stable identifier, e.g. "dma-direct-overflow" or "swiotlb-full". */
  readonly code: string;
  /** The kernel's message text (without the dev_* prefix). */
  readonly message: string;
  /** The device the message names, if any. */
  readonly device?: string;
  /** True for WARN/WARN_ON (a backtrace in the kernel), false for plain log lines. */
  readonly backtrace: boolean;
}

export interface LogSinkOptions {
  /** The clock the events are stamped with. */
  now?: () => number;
}

/** Default printk ratelimit: 10 messages per 5 seconds (DEFAULT_RATELIMIT_BURST / _INTERVAL). */
const RATELIMIT_BURST = 10;
const RATELIMIT_INTERVAL_NS = 5e9;

/** The kernel log of one simulated system. */
export class SystemLog {
  readonly events: LogEvent[] = [];
  readonly #once = new Set<string>();
  readonly #rate = new Map<string, { start: number; printed: number; missed: number }>();
  readonly #listeners: Array<(e: LogEvent) => void> = [];
  readonly #now: () => number;
  #seq = 0;

  constructor(options: LogSinkOptions = {}) {
    this.#now = options.now ?? (() => 0);
  }

  /** Calls `fn` for every event from now on; returns a function that stops it. */
  subscribe(fn: (e: LogEvent) => void): () => void {
    this.#listeners.push(fn);
    return () => {
      const i = this.#listeners.indexOf(fn);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  #emit(
    level: LogLevel,
    code: string,
    message: string,
    device: string | undefined,
    backtrace: boolean,
  ): LogEvent {
    const e: LogEvent = {
      seq: this.#seq++,
      timeNs: this.#now(),
      level,
      code,
      message,
      device,
      backtrace,
    };
    this.events.push(e);
    for (const l of this.#listeners) l(e);
    return e;
  }

  /** WARN(): always logged. */
  warn(code: string, message: string, device?: string): LogEvent {
    return this.#emit("warn", code, message, device, true);
  }

  /** WARN_ONCE / dev_WARN_ONCE: once per call site (`code`) per boot. Returns whether it printed. */
  warnOnce(code: string, message: string, device?: string): boolean {
    if (this.#once.has(code)) return false;
    this.#once.add(code);
    this.#emit("warn", code, message, device, true);
    return true;
  }

  /** pr_warn / dev_warn: a line without a backtrace. */
  notice(code: string, message: string, device?: string): LogEvent {
    return this.#emit("info", code, message, device, false);
  }

  /** pr_warn_once / dev_warn_once without a backtrace. */
  noticeOnce(code: string, message: string, device?: string): boolean {
    if (this.#once.has(code)) return false;
    this.#once.add(code);
    this.#emit("info", code, message, device, false);
    return true;
  }

  /** dev_warn_ratelimited: at most 10 lines per 5 s of simulated time per call site. */
  noticeRatelimited(code: string, message: string, device?: string): boolean {
    const now = this.#now();
    let r = this.#rate.get(code);
    if (!r || now - r.start >= RATELIMIT_INTERVAL_NS) {
      r = { start: now, printed: 0, missed: 0 };
      this.#rate.set(code, r);
    }
    if (r.printed >= RATELIMIT_BURST) {
      r.missed++;
      return false;
    }
    r.printed++;
    this.#emit("info", code, message, device, false);
    return true;
  }

  /** A DMA-API debug report (err_printk that was printed). */
  debugReport(code: string, message: string, device?: string): LogEvent {
    return this.#emit("debug-report", code, message, device, true);
  }

  /** An IOMMU fault record as the driver logs it. */
  fault(code: string, message: string, device?: string): LogEvent {
    return this.#emit("fault", code, message, device, false);
  }

  /** A hazard the model detected that the kernel could not see (stale IOTLB, stale cache line...). */
  hazard(code: string, message: string, device?: string): LogEvent {
    return this.#emit("hazard", code, message, device, false);
  }

  /** Events with the given code. */
  withCode(code: string): LogEvent[] {
    return this.events.filter((e) => e.code === code);
  }

  /** Forgets the events (the once/ratelimit state is kept, as a boot's would be). */
  clear(): void {
    this.events.length = 0;
  }
}
