// IOVA machinery benchmarks (no other package involved):
//   pnpm exec tsx --conditions=@dmasim/source src/iova_bench.ts
import { nsPerOp } from "@dmasim/testing/bench";
import { FlushQueue, ManualClock } from "./flush_queue.ts";
import { IovaDomain } from "./iova.ts";

const LIMIT32 = 2 ** 20 - 1;

function report(name: string, ns: number): void {
  console.log(`${name.padEnd(72)} ${ns.toFixed(ns < 100 ? 1 : 0).padStart(8)} ns`);
}

{
  const d = new IovaDomain(4096, 1);
  report(
    "allocIovaFast + freeIovaFast, 1 granule, warm rcache (pair)",
    nsPerOp(2_000_000, () => d.freeIovaFast(d.allocIovaFast(1, LIMIT32, false), 1)),
  );
}
{
  const d = new IovaDomain(4096, 1, { cpus: 4 });
  let cpu = 0;
  report(
    "same, rotating over 4 CPUs (pair)",
    nsPerOp(2_000_000, () => {
      cpu = (cpu + 1) & 3;
      d.freeIovaFast(d.allocIovaFast(1, LIMIT32, false, cpu), 1, cpu);
    }),
  );
}
{
  // 10 000 live ranges; the pair goes through the tree (64 granules bypass the rcache).
  const d = new IovaDomain(4096, 1);
  for (let i = 0; i < 10_000; i++) d.allocIova(1, LIMIT32, true);
  report(
    "tree allocIova(64, aligned) + freeIovaNode, 10 000 live nodes (pair)",
    nsPerOp(500_000, () => d.freeIovaNode(d.allocIova(64, LIMIT32, true)!)),
  );
  report(
    "allocIovaFast(64) + freeIovaFast, 10 000 live nodes (pair)",
    nsPerOp(500_000, () => d.freeIovaFast(d.allocIovaFast(64, LIMIT32, false), 64)),
  );
}
{
  // The kernel's linear backward walk (what the maple-tree proposal fixes):
  // 10 000 one-granule holes below the cached node, none big enough for an
  // aligned 2-granule range. Freeing the new range moves cached32Node to the
  // lowest node, so each round also frees and re-takes the top granule,
  // which puts the cached node back at the top for the next walk.
  const d = new IovaDomain(4096, 1);
  const nodes = Array.from({ length: 20_000 }, () => d.allocIova(1, LIMIT32, true)!);
  for (let i = 1; i < nodes.length; i += 2) d.freeIovaNode(nodes[i]!);
  let top = nodes[0]!;
  let calls = 0;
  const before = d.stats().walkSteps;
  const ns = nsPerOp(300, () => {
    calls++;
    d.freeIovaNode(d.allocIova(2, LIMIT32, true)!);
    d.freeIovaNode(top);
    top = d.allocIova(1, LIMIT32, true)!;
  });
  report("tree allocIova(2) walking past 10 000 holes (+ 3 cheap ops)", ns);
  console.log(`  (${((d.stats().walkSteps - before) / calls).toFixed(0)} nodes visited per round)`);
}
{
  const clock = new ManualClock();
  const d = new IovaDomain(4096, 1);
  const fq = new FlushQueue(d, () => {}, clock);
  let n = 0;
  report(
    "allocIovaFast + FlushQueue.queue, 1 granule (timer every 200 pairs)",
    nsPerOp(1_000_000, () => {
      fq.queue(d.allocIovaFast(1, LIMIT32, false), 1);
      if (++n % 200 === 0) clock.advance(10_000_000);
    }),
  );
}
