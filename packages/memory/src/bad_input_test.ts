// Bad input everywhere, for memory: every public function of PhysicalMemory,
// PageAllocator, KernelAddressSpace and the page helpers is called with one
// argument replaced by a wrong value (wrong type, NaN, negative, fractional,
// huge, an address outside memory or in an MMIO hole, an unknown zone). Each
// call must end in a clear error or a return value (a query answers false,
// undefined or -1 as documented), and afterwards memory must still read back
// what was written and the allocators must be exactly as before.
import {
  assert,
  assertEquals,
  type BadInputCase,
  fieldMutations,
  methodCase,
  runBadInput,
  test,
} from "@dmasim/testing";
import {
  alignDown,
  alignUp,
  fls,
  getOrder,
  ilog2,
  isAligned,
  isPowerOfTwo,
  roundUpPowerOfTwo,
} from "./constants.ts";
import { KernelAddressSpace, kmallocSizeClass } from "./kernel_address_space.ts";
import { PageAllocator, type PageAllocatorOptions } from "./page_allocator.ts";
import { type MemoryLayout, PhysicalMemory } from "./physical_memory.ts";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

const LAYOUT: MemoryLayout = {
  ram: [
    { start: 0, size: 64 * MiB },
    { start: 4 * GiB, size: 64 * MiB },
  ],
  mmio: [{ start: 0xfee00000, size: MiB, name: "LAPIC" }],
};

interface State {
  mem: PhysicalMemory;
  pages: PageAllocator;
  kas: KernelAddressSpace;
  /** A kmalloc object, a vmalloc area, a stack and an order-1 block the calls may be given. */
  obj: number;
  area: number;
  stack: number;
  block: number;
  /** Blocks allocated after setup: the slab, the vmalloc and stack pages, the block. */
  blocks: number;
}

function setup(): State {
  const mem = new PhysicalMemory(LAYOUT);
  const pages = new PageAllocator(mem, { reserved: [{ start: 0, size: MiB }] });
  const kas = new KernelAddressSpace(mem, pages);
  // The check's kmalloc-128 slab, made once and kept (slab pages are not given back).
  kas.kfree(kas.kmalloc(100)!);
  return {
    mem,
    pages,
    kas,
    obj: kas.kmalloc(64)!,
    area: kas.vmalloc(8192)!,
    stack: kas.allocStack(),
    block: pages.allocPages(1)!,
    blocks: pages.allocatedBlocks().length,
  };
}

function good(s: State, name: string): unknown {
  switch (name) {
    case "layout":
      return LAYOUT;
    case "memory":
      return s.mem;
    case "pages":
      return s.pages;
    case "options":
      return {};
    case "pa":
    case "dstPa":
    case "srcPa":
      return s.block;
    case "start":
      return 0xfe000000;
    case "size":
      return 4096;
    case "len":
      return 64;
    case "name":
    case "what":
      return "bad-input";
    case "owner":
      return undefined;
    case "dst":
    case "src":
      return new Uint8Array(64);
    case "dstOffset":
    case "srcOffset":
      return 0;
    case "byte":
    case "v":
      return 7;
    case "order":
      return 1;
    case "highestZone":
      return 2;
    case "va":
      return s.obj;
    case "pagesPhys":
      return [s.block];
    case "img":
      return { phys: 2 * MiB, textSize: 8192, rodataSize: 4096 };
    case "minAlign":
      return 8;
    case "x":
      return 4096;
    case "a":
      return 4096;
    default:
      throw new Error(`no good value for ${name}`);
  }
}

const OUTSIDE: ReadonlyArray<readonly [string, unknown]> = [
  ["an address outside memory", 2 ** 40],
  ["an address in an MMIO window", 0xfee00000],
  ["the RAM hole below 4 GiB", 3 * GiB],
  ["Infinity", Number.POSITIVE_INFINITY],
];
const ZONE: ReadonlyArray<readonly [string, unknown]> = [["an unknown zone", 3]];

/** A method's case, with this suite's bad values by parameter name. */
function method<T extends object>(
  cls: string,
  obj: (s: State) => T,
  name: keyof T & string,
  more: Partial<BadInputCase<State>> = {},
): BadInputCase<State> {
  return methodCase(
    cls,
    obj,
    name,
    { pa: OUTSIDE, dstPa: OUTSIDE, srcPa: OUTSIDE, len: OUTSIDE, highestZone: ZONE },
    more,
  );
}

const mem = (s: State) => s.mem;
const pages = (s: State) => s.pages;
const kas = (s: State) => s.kas;

/** Calls that succeed made something: give it back so the leftover check sees only what the model lost. */
const freeBlock = (s: State, a: unknown[], r: unknown) => {
  if (typeof r === "number") s.pages.freePages(r, a[0] as number);
};

const CASES: BadInputCase<State>[] = [
  // The page helpers are the kernel's arithmetic macros (ALIGN, IS_ALIGNED, fls, get_order):
  // like the kernel's, they trust their callers and answer NaN for NaN.
  ...Object.entries({
    alignDown,
    alignUp,
    isAligned,
    isPowerOfTwo,
    fls,
    ilog2,
    roundUpPowerOfTwo,
    getOrder,
  }).map(
    ([n, f]): BadInputCase<State> => ({
      name: n,
      fn: () => f as never,
      extra: { x: [["Infinity", Number.POSITIVE_INFINITY]], size: [["Infinity", Infinity]] },
      lenient: ["x", "a", "size"],
    }),
  ),
  {
    name: "new PhysicalMemory",
    fn: () => (layout: MemoryLayout) => new PhysicalMemory(layout),
    extra: {
      layout: fieldMutations(LAYOUT).map(([path, label, bad]) => [`${path} = ${label}`, bad]),
    },
  },
  method("PhysicalMemory", mem, "addMmio", {
    extra: { start: [["an address inside RAM", 0x100000]] },
    lenient: ["what", "owner", "name:a string"],
  }),
  method("PhysicalMemory", mem, "rangeAt", { lenient: ["pa"] }),
  method("PhysicalMemory", mem, "isRam", { lenient: ["pa", "size"] }),
  method("PhysicalMemory", mem, "readInto"),
  method("PhysicalMemory", mem, "read"),
  method("PhysicalMemory", mem, "write"),
  method("PhysicalMemory", mem, "fill", { extra: { byte: [["256", 256]] } }),
  method("PhysicalMemory", mem, "copy"),
  method("PhysicalMemory", mem, "readU8"),
  method("PhysicalMemory", mem, "writeU8", { extra: { v: [["256", 256]] } }),
  method("PhysicalMemory", mem, "stats"),
  {
    name: "new PageAllocator",
    fn: () => (memory: PhysicalMemory, options: PageAllocatorOptions) =>
      new PageAllocator(memory, options),
    extra: {
      options: fieldMutations({
        zoneDmaLimit: 16 * MiB,
        zoneDma32Limit: 4 * GiB,
        reserved: [{ start: 0, size: MiB }],
        maxOrder: 10,
      }).map(([path, label, bad]) => [`${path} = ${label}`, bad]),
    },
    // null, like undefined, leaves an option at its default.
    lenient: ["options:an object", "options:.maxOrder = null"],
  },
  method("PageAllocator", pages, "isPristine"),
  method("PageAllocator", pages, "allocPages", { undo: freeBlock }),
  method("PageAllocator", pages, "allocPagesAt", {
    good: { pa: () => 32 * MiB },
    undo: (s, a, r) => {
      if (r === true) s.pages.freePages(a[0] as number, a[1] as number);
    },
  }),
  method("PageAllocator", pages, "freePages", {
    // The argument under test is the bad one; when it is not (the freed block is good), take the block again.
    undo: (s, a) => {
      if (!s.pages.isAllocated(s.block)) assert(s.pages.allocPagesAt(s.block, 1));
      void a;
    },
  }),
  method("PageAllocator", pages, "zoneOf", { lenient: ["pa"] }),
  method("PageAllocator", pages, "isAllocated", { lenient: ["pa"] }),
  method("PageAllocator", pages, "allocatedBlocks"),
  method("PageAllocator", pages, "stats"),
  method("PageAllocator", pages, "hasZone", { lenient: ["zone"] }),
  {
    name: "new KernelAddressSpace",
    fn: () => (memory: PhysicalMemory, pages: PageAllocator, options: object) =>
      new KernelAddressSpace(memory, pages, options),
    good: { memory: () => new PhysicalMemory(LAYOUT) },
    extra: {
      options: [
        ["kmallocMinAlign 3", { kmallocMinAlign: 3 }],
        [
          "kernelImage in the hole",
          { kernelImage: { phys: 3 * GiB, textSize: 4096, rodataSize: 0 } },
        ],
        ["kernelImage NaN", { kernelImage: { phys: Number.NaN, textSize: 4096, rodataSize: 0 } }],
      ],
    },
    lenient: ["options:an object"],
  },
  method("KernelAddressSpace", kas, "placeKernelImage", {
    extra: {
      img: [
        ["phys NaN", { phys: Number.NaN, textSize: 4096, rodataSize: 0 }],
        ["phys 1.5", { phys: 1.5, textSize: 4096, rodataSize: 0 }],
        ["textSize -1", { phys: 2 * MiB, textSize: -1, rodataSize: 0 }],
        ["rodataSize NaN", { phys: 2 * MiB, textSize: 4096, rodataSize: Number.NaN }],
        ["phys outside memory", { phys: 2 ** 40, textSize: 4096, rodataSize: 0 }],
      ],
    },
  }),
  method("KernelAddressSpace", kas, "isLinear", { lenient: ["va"] }),
  method("KernelAddressSpace", kas, "virtToPhys"),
  method("KernelAddressSpace", kas, "physToVirt"),
  method("KernelAddressSpace", kas, "translate", { lenient: ["va"] }),
  method("KernelAddressSpace", kas, "linearToPhys", { lenient: ["va"] }),
  method("KernelAddressSpace", kas, "regionOf", { lenient: ["va"] }),
  method("KernelAddressSpace", kas, "isKernelTextOrRodata", { lenient: ["va"] }),
  method("KernelAddressSpace", kas, "kmalloc", {
    undo: (s, _a, r) => {
      if (typeof r === "number") s.kas.kfree(r);
    },
  }),
  method("KernelAddressSpace", kas, "kfree", {
    undo: (s) => {
      s.obj = s.kas.kmalloc(64)!;
    },
  }),
  method("KernelAddressSpace", kas, "ksize"),
  method("KernelAddressSpace", kas, "vmalloc", {
    undo: (s, _a, r) => {
      if (typeof r === "number") s.kas.vfree(r);
    },
  }),
  method("KernelAddressSpace", kas, "vfree", { good: { va: (s) => s.kas.vmalloc(4096) } }),
  method("KernelAddressSpace", kas, "vmap", {
    extra: {
      pagesPhys: [
        ["[null]", [null]],
        ["[NaN]", [Number.NaN]],
        ["[an unaligned page]", [0x200010]],
        ["[a page in the hole]", [3 * GiB]],
      ],
    },
    undo: (s, _a, r) => {
      if (typeof r === "number") s.kas.vunmap(r);
    },
  }),
  method("KernelAddressSpace", kas, "vunmap", { good: { va: (s) => s.kas.vmap([s.block]) } }),
  method("KernelAddressSpace", kas, "allocStack", {
    undo: (s, _a, r) => {
      if (typeof r === "number") s.kas.freeStack(r);
    },
  }),
  method("KernelAddressSpace", kas, "stackAddressOf", { lenient: ["pa"] }),
  method("KernelAddressSpace", kas, "freeStack", { good: { va: (s) => s.kas.allocStack() } }),
  method("KernelAddressSpace", kas, "liveAllocations"),
  { name: "kmallocSizeClass", fn: () => kmallocSizeClass },
];

/** Memory reads back what was written; the allocators hold exactly what setup() made. */
function check(s: State, what: string): void {
  const { mem, pages, kas } = s;
  mem.write(s.block, Uint8Array.of(1, 2, 3));
  assertEquals([...mem.read(s.block, 3)], [1, 2, 3], `after ${what}: memory reads back`);
  assertEquals(
    kas.liveAllocations().length,
    3,
    `after ${what}: the kmalloc object, the vmalloc area and the stack, nothing else: ${kas.liveAllocations().join("; ")}`,
  );
  assert(kas.ksize(s.obj) >= 64, `after ${what}: the kmalloc object is live`);
  assertEquals(pages.allocatedBlocks().length, s.blocks, `after ${what}: allocated blocks`);
  const va = kas.kmalloc(100)!;
  kas.kfree(va);
}

test("bad input: every memory function, each argument in turn: a clear error or a documented return; memory stays usable", () => {
  const r = runBadInput({ setup, good, check, cases: CASES });
  console.log(r.summary);
  assertEquals(r.engine, []);
  assertEquals(r.corrupted, []);
  assertEquals(r.accepted, []);
  assert(r.tried > 500);
});
