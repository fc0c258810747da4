// createSystem(): the one place where a board, a kernel configuration, a
// command line, a dispatch design, the DMA API and the platform's DMA ops are
// wired together.
import {
  DESIGNS,
  type Device,
  DISPATCH_DESIGNS,
  type DispatchDesign,
  DMA_BIT_MASK,
  DmaKernel,
  type DmaMapOps,
  KernelBuildError,
  type SystemLog,
} from "@dmasim/dma-core";
import { createIommuDma, type DefaultDomainType, IommuDma } from "@dmasim/iommu-dma";
import {
  type Arm64VirtOptions,
  arm64VirtDescription,
  type Clock,
  createMachine,
  type DmaEngine,
  EDU_NAME,
  Machine,
  q35Description,
} from "@dmasim/machine";
import { armDmaOps } from "./arm_dma_ops.ts";
import { type DmaCommandLine, parseCommandLine } from "./cmdline.ts";
import { dummyOps, opsWithoutMapPage } from "./dummy_ops.ts";
import { gartOps } from "./gart_ops.ts";
import { type KernelConfig, resolveKernelConfig, toDmaCoreConfig } from "./kconfig.ts";
import { PROFILE_NAMES, PROFILES, type Profile, type ProfileName } from "./profiles.ts";
import { tceOps } from "./tce_ops.ts";

export interface SystemOptions {
  /** Dispatch design (default "phys", the newest kernel). */
  design?: DispatchDesign;
  /** Kernel command line: iommu.strict=, iommu.passthrough=, iommu=pt, iommu.forcedac=, intel_iommu=, swiotlb=, dma_debug=off. */
  cmdline?: string;
  /** Accept (and list in `cmdline.ignored`) options this model does not interpret, as a recorded boot needs. */
  ignoreUnknownCmdline?: boolean;
  /** Kconfig overrides. */
  config?: Partial<KernelConfig>;
  /** RAM in GiB (the profile's board default otherwise). */
  ramGiB?: number;
  cpus?: number;
  /** Make the default device coherent or not (default: the profile's). */
  coherent?: boolean;
  /** The device is untrusted (external-facing PCI): strict domain, sub-granule buffers bounced. */
  untrusted?: boolean;
  /** arm64-smmuv3: the SMMU page-table granule. */
  granule?: 4096 | 16384 | 65536;
  /** q35-vtd: VT-d caching mode (a virtualised IOMMU). */
  cachingMode?: boolean;
  /** DMA mask bits set on the default device (default 64; the device's own address width follows). */
  maskBits?: number;
  /** Physical start of the swiotlb pool (a recorded boot's). */
  swiotlbStart?: number;
  /** powerpc64-tce: a partial direct window: buffers ending below this go direct. */
  directWindowBytes?: number;
}

/** A simulated system: the DMA API for driver code, the device, its DMA engine and everything around them. */
export interface DmaSystem {
  readonly profile: Profile;
  readonly design: DispatchDesign;
  readonly machine: Machine;
  /** The DMA API (dma_map_single etc. as camelCase methods). */
  readonly dma: DmaKernel;
  /** The default device (QEMU's edu on every board). */
  readonly dev: Device;
  /** The default device's DMA engine: what the device reads and writes. */
  readonly device: DmaEngine;
  readonly config: KernelConfig;
  readonly cmdline: DmaCommandLine;
  readonly log: SystemLog;
  readonly clock: Clock;
  /** The default domain the IOMMU core gave the device ("none" without an IOMMU). */
  readonly defaultDomain: "none" | DefaultDomainType;
  /** The platform's ops table installed on the device, if any. */
  readonly ops: DmaMapOps | null;
  /** A kmalloc'd buffer (a linear-map address) and its release. */
  kmalloc(size: number): number;
  kfree(va: number): void;
  /** The model's counters in one object. */
  stats(): SystemStats;
}

export interface SystemStats {
  indirectCalls: number;
  iommuDirectCalls: number;
  directCalls: number;
  cacheMaintenanceOps: number;
  swiotlbBounces: number;
  swiotlbBytesCopied: number;
  iotlbInvalidations: number;
  pageTableWrites: number;
  rcacheHits: number;
  rcacheMisses: number;
  faults: number;
}

function board(p: Profile, o: SystemOptions): Machine {
  const ramGiB = o.ramGiB;
  const coherent = o.coherent ?? p.coherent;
  switch (p.board) {
    case "q35-vtd":
      return createMachine("q35-vtd", {
        ramGiB,
        cpus: o.cpus,
        cachingMode: o.cachingMode,
        eduDmaBits: o.maskBits,
        eduCoherent: coherent,
      });
    case "q35":
      return createMachine("q35", {
        ramGiB,
        cpus: o.cpus,
        eduDmaBits: o.maskBits,
        eduCoherent: coherent,
      });
    case "q35-gart": {
      const d = q35Description({
        ramGiB,
        cpus: o.cpus,
        eduDmaBits: o.maskBits,
        eduCoherent: coherent,
      });
      // The GART remaps a 64 MiB aperture below 4 GiB and passes everything else through.
      d.iommus = [
        {
          name: "gart",
          kind: "vtd",
          pageTable: { format: "vtd", addressWidth: 39, superpages: false },
          aperture: { start: 0xc8000000, size: 64 * 2 ** 20 },
          covers: [EDU_NAME],
        },
      ];
      return new Machine(d);
    }
    case "arm64-virt-smmuv3":
    case "arm64-virt": {
      const opts: Arm64VirtOptions = {
        ramGiB,
        cpus: o.cpus,
        coherent,
        granule: o.granule,
        eduDmaBits: o.maskBits,
      };
      return createMachine(p.board, opts);
    }
    case "arm32-board": {
      const d = arm64VirtDescription({
        ramGiB: ramGiB ?? 1,
        cpus: o.cpus,
        coherent,
        smmu: false,
        eduDmaBits: Math.min(o.maskBits ?? 32, 32),
      });
      d.name = "arm32-board";
      d.kmallocMinAlign = 64;
      return new Machine(d);
    }
    case "powerpc-tce": {
      const gib = ramGiB ?? 8;
      return new Machine({
        name: "powerpc-tce",
        ram: [{ start: 0, size: gib * 2 ** 30 }],
        cpus: o.cpus ?? 1,
        cache: { lineSize: 128 },
        zones: { dmaLimit: 0, dma32Limit: 0 },
        kmallocMinAlign: 128,
        iommus: [
          {
            name: "phb0-tce",
            kind: "vtd",
            pageTable: { format: "vtd", addressWidth: 39, superpages: false },
            covers: [EDU_NAME],
          },
        ],
        devices: [
          {
            name: EDU_NAME,
            kind: "edu",
            iommuId: "0000:00:01.0",
            coherent,
            dmaAddressBits: o.maskBits ?? 64,
            pci: true,
            bars: [{ size: 2 ** 20, at: gib * 2 ** 30 + 2 ** 30 }],
          },
        ],
      });
    }
  }
}

/** The IOMMU core's default domain for a command line and Kconfig choice. */
function defaultDomain(
  c: KernelConfig,
  cmd: DmaCommandLine,
  cachingMode: boolean,
  log: SystemLog,
): DefaultDomainType {
  let type: DefaultDomainType =
    c.IOMMU_DEFAULT === "PASSTHROUGH"
      ? "identity"
      : c.IOMMU_DEFAULT === "DMA_STRICT"
        ? "dma"
        : "dma-fq";
  let viaCmdline = false;
  if (cmd.iommuPassthrough !== undefined) {
    type = cmd.iommuPassthrough ? "identity" : type === "identity" ? "dma-fq" : type;
    viaCmdline = true;
  }
  if (type !== "identity" && cmd.iommuStrict !== undefined) {
    type = cmd.iommuStrict ? "dma" : "dma-fq";
    viaCmdline = true;
  }
  if (cachingMode && type === "dma-fq") {
    // intel-iommu: the flush queue's global invalidations are too costly when a hypervisor shadows the tables.
    log.notice(
      "iommu-batching-disallowed",
      "DMAR: IOMMU batching disallowed due to virtualization",
    );
    type = "dma";
  }
  const suffix = viaCmdline ? " (set via kernel command line)" : "";
  log.notice(
    "iommu-default-domain",
    `iommu: Default domain type: ${type === "identity" ? "Passthrough" : "Translated"}${suffix}`,
  );
  if (type !== "identity")
    log.notice(
      "iommu-dma-policy",
      `iommu: DMA domain TLB invalidation policy: ${type === "dma" ? "strict" : "lazy"} mode${suffix}`,
    );
  return type;
}

/**
 * Builds a simulated system for a profile:
 *
 * ```ts
 * const sys = createSystem("x86_64-vtd");
 * const buf = sys.kmalloc(4096);
 * sys.dma.cpuWrite(buf, new Uint8Array([1, 2, 3]));
 * const iova = sys.dma.mapSingle(sys.dev, buf, 4096, DMA_TO_DEVICE);
 * console.log(sys.device.readBytes(iova, 3));
 * ```
 */
export function createSystem(profileName: ProfileName, options: SystemOptions = {}): DmaSystem {
  const profile =
    typeof profileName === "string" && Object.hasOwn(PROFILES, profileName)
      ? PROFILES[profileName]
      : undefined;
  if (profile === undefined)
    throw new RangeError(
      `createSystem: unknown profile ${JSON.stringify(profileName)}; allowed: ${PROFILE_NAMES.join(", ")}`,
    );
  checkSystemOptions(options);
  const design = options.design ?? "phys";
  if (!DISPATCH_DESIGNS.includes(design))
    throw new RangeError(
      `createSystem: design must be one of ${DISPATCH_DESIGNS.join(", ")}; got ${String(design)}`,
    );
  if (
    options.maskBits !== undefined &&
    (!Number.isInteger(options.maskBits) || options.maskBits < 1 || options.maskBits > 64)
  ) {
    throw new RangeError(
      `createSystem: maskBits must be an integer from 1 to 64, got ${options.maskBits}`,
    );
  }
  const cmdline = parseCommandLine(options.cmdline ?? "", {
    ignoreUnknown: options.ignoreUnknownCmdline,
  });
  let kconfig = resolveKernelConfig(profile.kconfig, options.config ?? {});
  // Before 6.12 (and in the v0 patch) IOMMU_DMA selected DMA_OPS: iommu-dma was an ops table.
  if (DESIGNS[design].iommuOpsTable && kconfig.IOMMU_DMA)
    kconfig = { ...kconfig, ARCH_HAS_DMA_OPS: true };
  const machine = board(profile, options);
  const hasIommuHw =
    machine.iommus.size > 0 && profile.board !== "q35-gart" && profile.board !== "powerpc-tce";
  const iommuOn = hasIommuHw && kconfig.IOMMU_DMA && cmdline.intelIommu !== false;
  const coreConfig = toDmaCoreConfig(kconfig, {
    dmaCacheAlignment: profile.dmaCacheAlignment,
    l1CacheBytes: machine.cache.lineSize,
    forceDmaUnencrypted: profile.coco,
    possibleCpus: machine.cpus,
    zoneDmaLimit: DMA_BIT_MASK(profile.zoneDmaBits),
    dmaDebugOff: cmdline.dmaDebugOff === true,
    dmaDebugDriver: cmdline.dmaDebugDriver,
  });
  let domainType: "none" | DefaultDomainType = "none";
  const tce: { ops: ReturnType<typeof tceOps> | null } = { ops: null };
  const kernel = new DmaKernel({
    platform: machine,
    config: coreConfig,
    design,
    arch: profile.cacheHooks,
    name: `${profile.name}/${design}`,
    swiotlb: kconfig.SWIOTLB
      ? {
          param: cmdline.swiotlb,
          start: options.swiotlbStart,
          force: profile.coco || undefined,
          enable: profile.board.startsWith("arm") ? true : undefined,
        }
      : false,
    memEncryptBit: profile.coco ? 2 ** 47 : 0,
    archMapDirect: options.directWindowBytes
      ? (_dev, end) => end <= (options.directWindowBytes as number)
      : undefined,
    iommuDma: iommuOn
      ? (k) => {
          domainType = defaultDomain(kconfig, cmdline, options.cachingMode === true, k.log);
          return createIommuDma({
            iommuFor: (d) => machine.iommuFor(d.name),
            pciWindows: machine.pciHostBridge.windows,
            defaultDomain: domainType,
            forcedac: cmdline.iommuForcedac === true,
          })(k);
        }
      : undefined,
  });
  const mdev = machine.devices.get(EDU_NAME)!;
  const dev = kernel.addDevice({
    name: EDU_NAME,
    pci: true,
    coherent: options.coherent ?? profile.coherent,
    untrusted: options.untrusted,
    iommuId: mdev.iommuId,
  });
  let ops: DmaMapOps | null = null;
  switch (profile.ops) {
    case "arm_dma_ops":
      ops = armDmaOps(kernel);
      break;
    case "dummy":
      ops = dummyOps(kernel);
      break;
    case "without-map-page":
      ops = opsWithoutMapPage();
      break;
    case "gart": {
      const g = gartOps(kernel, mdev.iommu!);
      mdev.iommu!.attachDevice(mdev.iommuId, g.domain);
      ops = g;
      break;
    }
    case "dma_iommu_ops": {
      tce.ops = tceOps(kernel, mdev.iommu!);
      mdev.iommu!.attachDevice(mdev.iommuId, tce.ops.domain);
      ops = tce.ops;
      break;
    }
    case "none":
      break;
  }
  if (ops !== null) kernel.setDmaOps(dev, ops);
  kernel.setMaskAndCoherent(dev, DMA_BIT_MASK(options.maskBits ?? 64));
  const unit = mdev.iommu;
  return {
    profile,
    design,
    machine,
    dma: kernel,
    dev,
    device: mdev.engine,
    config: kconfig,
    cmdline,
    log: kernel.log,
    clock: machine.clock,
    get defaultDomain() {
      return domainType;
    },
    ops: kernel.getDmaOps(dev),
    kmalloc: (size) => {
      const va = machine.kas.kmalloc(size);
      if (va === null) throw new RangeError(`kmalloc(${size}): out of memory`);
      return va;
    },
    kfree: (va) => machine.kas.kfree(va),
    stats: () => {
      const im =
        kernel.iommu instanceof IommuDma && dev.dmaIommu ? kernel.iommu.cookieOf(dev) : null;
      const rc = im?.iovad.rcache.stats;
      const dom = unit?.domainOf(mdev.iommuId);
      const inv = unit?.iotlb.stats.invalidations;
      return {
        indirectCalls: kernel.stats.indirectCalls,
        iommuDirectCalls: kernel.stats.iommuDirectCalls,
        directCalls: kernel.stats.directCalls,
        cacheMaintenanceOps: kernel.stats.cacheMaintenanceOps,
        swiotlbBounces: kernel.stats.swiotlbBounces,
        swiotlbBytesCopied: kernel.stats.swiotlbBytesCopied,
        iotlbInvalidations: inv ? inv.range + inv.domain + inv.all : 0,
        pageTableWrites: dom?.pageTable?.stats.pteWrites ?? 0,
        rcacheHits: rc?.hits ?? 0,
        rcacheMisses: rc?.misses ?? 0,
        faults: unit ? unit.faults.length : 0,
      };
    },
  };
}

export { KernelBuildError };

/** The option names createSystem accepts. */
export const SYSTEM_OPTIONS: ReadonlyArray<keyof SystemOptions> = [
  "design",
  "cmdline",
  "ignoreUnknownCmdline",
  "config",
  "ramGiB",
  "cpus",
  "coherent",
  "untrusted",
  "granule",
  "cachingMode",
  "maskBits",
  "swiotlbStart",
  "directWindowBytes",
];

/** What createSystem would otherwise pass on unchecked (null, like undefined, means "the default"). */
function checkSystemOptions(o: SystemOptions): void {
  if (o === null || typeof o !== "object" || Array.isArray(o))
    throw new TypeError(`createSystem: options must be an object, got ${String(o)}`);
  for (const k of Object.keys(o))
    if (!(SYSTEM_OPTIONS as readonly string[]).includes(k))
      throw new RangeError(
        `createSystem: unknown option ${JSON.stringify(k)}; the options are ${SYSTEM_OPTIONS.join(", ")}`,
      );
  for (const k of ["ignoreUnknownCmdline", "coherent", "untrusted", "cachingMode"] as const)
    if (o[k] != null && typeof o[k] !== "boolean")
      throw new TypeError(`createSystem: ${k} must be true or false, got ${String(o[k])}`);
  if (o.config != null && (typeof o.config !== "object" || Array.isArray(o.config)))
    throw new TypeError(
      `createSystem: config must be an object of Kconfig overrides, got ${String(o.config)}`,
    );
  if (o.granule != null && o.granule !== 4096 && o.granule !== 16384 && o.granule !== 65536)
    throw new RangeError(
      `createSystem: granule must be 4096, 16384 or 65536, got ${String(o.granule)}`,
    );
  const w = o.directWindowBytes;
  if (w != null && (!Number.isInteger(w) || w < 1 || w > 2 ** 52))
    throw new RangeError(
      `createSystem: directWindowBytes must be a positive integer up to 2^52, got ${String(w)}`,
    );
}
