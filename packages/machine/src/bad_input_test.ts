// Bad input everywhere, for the board: every public function of the machine
// package (Machine and its description, the presets and their options, a
// device's DmaEngine, the Clock, the edu device) is called with one argument
// replaced by a wrong value (wrong type, NaN, negative, fractional, huge, an
// unknown device or preset, a bus address outside memory). A description or
// an options bag is also tried with each of its fields broken in turn. Each
// call must end in a clear error or a return value, and afterwards the board
// must still run a device transfer, its clock and its caches.
import {
  assert,
  assertEquals,
  type BadInputCase,
  fieldMutations,
  isEngineError,
  isNonsense,
  methodCase,
  runBadInput,
  test,
} from "@dmasim/testing";
import { Clock } from "./clock.ts";
import { DmaEngine } from "./dma_engine.ts";
import { EDU_BUF_ADDR, EDU_REG_DMA_COUNT, EduDevice } from "./edu.ts";
import { Machine, type MachineDescription, validateMachineDescription } from "./machine.ts";
import {
  arm64VirtDescription,
  createMachine,
  EDU_NAME,
  q35Description,
  q35LowMemSize,
} from "./presets.ts";

interface State {
  m: Machine;
  clock: Clock;
  engine: DmaEngine;
  edu: EduDevice;
}

function setup(): State {
  const m = createMachine("q35", { ramGiB: 1 });
  const d = m.device(EDU_NAME);
  return { m, clock: m.clock, engine: d.engine, edu: d.edu! };
}

const RAM_BUS = 0x200000;

function good(s: State, name: string): unknown {
  switch (name) {
    case "desc":
      return q35Description({ ramGiB: 1 });
    case "preset":
      return "q35";
    case "options":
      return { ramGiB: 1 };
    case "name":
      return EDU_NAME;
    case "ramBytes":
      return 2 ** 30;
    case "fn":
      return () => {};
    case "bus":
      return RAM_BUS;
    case "dst":
    case "src":
      return new Uint8Array(64);
    case "dstOffset":
    case "srcOffset":
      return 0;
    case "len":
      return 64;
    case "atNs":
      return s.clock.now() + 1000;
    case "handle":
      return s.clock.setTimer(s.clock.now() + 5, () => {});
    case "ns":
      return 10;
    case "t":
      return s.clock.now() + 10;
    case "offset":
      return EDU_REG_DMA_COUNT;
    case "value":
      return 16;
    case "size":
      return 8;
    case "barPhys":
      return 0xfea00000;
    case "engine":
      return s.engine;
    case "clock":
      return s.clock;
    default:
      throw new Error(`no good value for ${name}`);
  }
}

const BUS: ReadonlyArray<readonly [string, unknown]> = [
  ["a bus address outside memory", 2 ** 40],
  ["2^64", 2 ** 64],
  ["Infinity", Number.POSITIVE_INFINITY],
];

/** A method's case, with this suite's bad values by parameter name. */
function method<T extends object>(
  cls: string,
  obj: (s: State) => T,
  name: keyof T & string,
  more: Partial<BadInputCase<State>> = {},
): BadInputCase<State> {
  return methodCase(cls, obj, name, { bus: BUS, len: BUS, dstOffset: BUS, srcOffset: BUS }, more);
}

const engine = (s: State) => s.engine as unknown as Record<string, unknown>;
const clock = (s: State) => s.clock as unknown as Record<string, unknown>;
const edu = (s: State) => s.edu as unknown as Record<string, unknown>;
const machine = (s: State) => s.m as unknown as Record<string, unknown>;

const CASES: BadInputCase<State>[] = [
  {
    name: "new Machine",
    fn: () => (desc: MachineDescription) => new Machine(desc),
    extra: { desc: [["an empty description", { name: "x", ram: [], devices: [] }]] },
  },
  { name: "validateMachineDescription", fn: () => validateMachineDescription },
  {
    name: "createMachine",
    fn: () => createMachine,
    extra: {
      preset: [
        ["an unknown preset", "q35-amd"],
        ["a preset in capitals", "Q35"],
      ],
      options: [
        ["ramGiB NaN", { ramGiB: Number.NaN }],
        ["ramGiB 0", { ramGiB: 0 }],
        ["cpus 0", { cpus: 0 }],
        ["cpus 1.5", { cpus: 1.5 }],
        ["eduDmaBits 65", { eduDmaBits: 65 }],
        ["eduDmaBits NaN", { eduDmaBits: Number.NaN }],
        ['eduCoherent "yes"', { eduCoherent: "yes" }],
        ['cachingMode "yes"', { cachingMode: "yes" }],
        ["iotlbEntries -1", { iotlbEntries: -1 }],
        ["iotlbEntries NaN", { iotlbEntries: Number.NaN }],
        ["granule 8192", { granule: 8192 }],
        ["kmallocMinAlign 3", { kmallocMinAlign: 3 }],
        ['coherent "no"', { coherent: "no" }],
        ["cache lineSize 3", { cache: { lineSize: 3 } }],
        ["cache null", { cache: null }],
        ["an unknown option", { ramGb: 2 }],
      ],
    },
    lenient: ["options:an object"],
  },
  { name: "q35Description", fn: () => q35Description, lenient: ["options:an object"] },
  {
    name: "arm64VirtDescription",
    fn: () => arm64VirtDescription,
    lenient: ["options:an object"],
  },
  { name: "q35LowMemSize", fn: () => q35LowMemSize },
  method("Machine", machine, "iommuFor", {
    lenient: ["name:a string"],
    extra: { name: [["an unknown device", "0000:00:1f.0"]] },
  }),
  method("Machine", machine, "device", {
    extra: { name: [["an unknown device", "0000:00:1f.0"]] },
  }),
  {
    name: "new DmaEngine",
    fn: (s) => (options: unknown) => {
      const e = new DmaEngine(options as never);
      // The engine it made must work, or the constructor should have refused.
      e.read(RAM_BUS, new Uint8Array(8));
      void s;
      return e;
    },
    good: {
      options: (s) => ({
        device: "dev",
        iommuId: "00:02.0",
        coherent: true,
        addressBits: 64,
        memory: s.m.memory,
        cache: s.m.cache,
        iommu: null,
      }),
    },
    extra: {
      options: [
        ["addressBits 0", { addressBits: 0 }],
        ["no memory", { device: "d", iommuId: "i", coherent: true, addressBits: 64 }],
      ],
    },
  },
  method("DmaEngine", engine, "onAccess", { undo: (_s, _a, off) => (off as () => void)() }),
  method("DmaEngine", engine, "read"),
  method("DmaEngine", engine, "write"),
  method("DmaEngine", engine, "readBytes"),
  method("Clock", clock, "setTimer", {
    lenient: ["atNs:1.5"],
    undo: (s, _a, h) => s.clock.clearTimer(h),
  }),
  method("Clock", clock, "clearTimer", {
    lenient: ["handle"],
    undo: (s) => s.clock.advance(1000),
  }),
  method("Clock", clock, "advance", { lenient: ["ns:1.5"] }),
  method("Clock", clock, "advanceTo", { lenient: ["t:1.5"] }),
  method("Clock", clock, "pendingTimers"),
  method("Clock", clock, "nextDeadline"),
  {
    name: "new EduDevice",
    fn: () => (barPhys: number, engine: DmaEngine, clock: Clock) => {
      const d = new EduDevice(barPhys, engine, clock);
      // The device it made must run a DMA transfer, or the constructor should have refused.
      d.startDma(RAM_BUS, EDU_BUF_ADDR, 16, false);
      clock.advance(200_000_000);
      return d;
    },
    extra: { engine: [["a clock", new Clock()]], clock: [["an engine-less object", { now: 1 }]] },
  },
  method("EduDevice", edu, "onInterrupt", { undo: (_s, _a, off) => (off as () => void)() }),
  method("EduDevice", edu, "readReg", { extra: { size: [["size 2", 2]] } }),
  method("EduDevice", edu, "writeReg", {
    extra: { size: [["size 2", 2]], value: [["2^64", 2 ** 64]] },
  }),
  method("EduDevice", edu, "startDma", {
    good: {
      src: () => RAM_BUS,
      dst: () => EDU_BUF_ADDR,
      count: () => 16,
      toRam: () => false,
      irq: () => false,
    },
    extra: { src: BUS, count: [["a count past the buffer", 8192]] },
  }),
];

/** The board still works: the edu device moves bytes from RAM, the clock runs dry, nothing half-done. */
function check(s: State, what: string): void {
  const { m, clock, edu, engine } = s;
  clock.advance(1_000_000_000);
  assertEquals(clock.pendingTimers(), 0, `after ${what}: no timer left`);
  assert(!edu.busy, `after ${what}: the edu device is idle`);
  const va = m.kas.kmalloc(64)!;
  const pa = m.kas.virtToPhys(va);
  m.cache.cpuWrite(pa, Uint8Array.of(5, 6, 7));
  assertEquals([...(engine.readBytes(pa, 3) ?? [])], [5, 6, 7], `after ${what}: a device read`);
  edu.startDma(pa, EDU_BUF_ADDR, 3, false);
  clock.advance(200_000_000);
  assertEquals([...edu.buffer.subarray(0, 3)], [5, 6, 7], `after ${what}: an edu DMA`);
  edu.buffer.fill(0);
  m.kas.kfree(va);
  m.cache.flushAll();
  assertEquals(m.kas.liveAllocations(), [], `after ${what}: nothing left allocated`);
}

test("bad input: every machine function, each argument in turn: a clear error or a return; the board stays usable", () => {
  const r = runBadInput({ setup, good, check, cases: CASES });
  // Then each field of each preset's description, broken in turn.
  let fields = 0;
  const engineErrs: string[] = [];
  const accepted: string[] = [];
  for (const desc of [
    q35Description({ iommu: true, ramGiB: 1 }),
    arm64VirtDescription({ smmu: true, ramGiB: 1 }),
  ]) {
    for (const [path, label, bad] of fieldMutations(desc)) {
      fields++;
      const call = `new Machine(${desc.name} description with ${path} = ${label})`;
      try {
        new Machine(bad as MachineDescription);
        if (isNonsense(label) && label !== "null" && !NONSENSE_OK.test(path)) accepted.push(call);
      } catch (e) {
        if (isEngineError(e)) engineErrs.push(`${call}: ${(e as Error).message}`);
      }
    }
  }
  if (process.env.DMASIM_BAD_INPUT_DUMP)
    require("node:fs").appendFileSync(
      process.env.DMASIM_BAD_INPUT_DUMP,
      [...engineErrs, ...accepted.map((a) => `accepted: ${a}`), ""].join("\n"),
    );
  console.log(
    `${r.summary}; and ${fields} descriptions with one bad field, ${engineErrs.length} engine errors, ${accepted.length} accepted nonsense`,
  );
  assertEquals([...r.engine, ...engineErrs], []);
  assertEquals(r.corrupted, []);
  assertEquals([...r.accepted, ...accepted], []);
  assert(r.tried + fields > 1500);
});

/** Fields that are labels: any string will do; and null for an optional field means "the default". */
const NONSENSE_OK = /\.name$|\.iommuId$/;
