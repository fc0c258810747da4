import { MessageChannel } from "node:worker_threads";
import { assert, assertEquals, assertGreater, assertStringIncludes, test } from "@dmasim/testing";
import { expose, releaseProxy, wrap } from "comlink";
import { type WorkerApi, workerApi } from "./api.ts";
import { CATALOGUE } from "./catalogue.ts";
import { main } from "./cli.ts";
import { nodeEndpoint } from "./node_endpoint.ts";
import { replayRecord } from "./oracle.ts";
import { planCells, runCells, summarise } from "./runner.ts";

test("the catalogue: unique ids, every clause names its presets and kernel source", () => {
  const ids = CATALOGUE.map((c) => c.id);
  assertEquals(new Set(ids).size, ids.length);
  for (const c of CATALOGUE)
    assert(c.presets.length > 0 && c.source.length > 0 && /^(C|D)\d{3}$/.test(c.id), c.id);
});

test("every cell of the phys design passes; older designs fail only where expected", {
  sanitizeResources: false,
}, () => {
  // Expected-failure cells keep what the older kernel mapped; passing cells are checked for leaks by the runner itself.
  const cells = runCells(planCells({ designs: ["phys", "direct-calls"] }));
  const s = summarise(cells);
  assertEquals(
    s.fail,
    0,
    cells
      .filter((c) => c.status === "fail")
      .map((c) => `${c.clause} ${c.preset} ${c.design}: ${c.message}`)
      .join("\n"),
  );
  assertGreater(s.pass, 150);
  assert(
    cells.filter((c) => c.status === "xfail").every((c) => c.design === "direct-calls"),
    "xfails only under 6.12",
  );
});

test("results do not depend on how cells are split: comlink over a MessageChannel gives the same cells", async () => {
  const specs = planCells({ clauses: ["C036", "C098", "D003"], designs: ["phys", "ops-indirect"] });
  const local = runCells(specs);
  const { port1, port2 } = new MessageChannel();
  expose(workerApi, nodeEndpoint(port1));
  const remote = wrap<WorkerApi>(nodeEndpoint(port2));
  const half = Math.floor(specs.length / 2);
  const viaWorker = [
    ...(await remote.run(specs.slice(0, half))),
    ...(await remote.run(specs.slice(half))),
  ];
  remote[releaseProxy]();
  port1.close();
  port2.close();
  assertEquals(viaWorker, local);
});

test("oracle mode: the shared records match in every deterministic field", () => {
  for (const f of ["direct.json", "direct-mask32.json", "iommu-strict.json"]) {
    const r = replayRecord(new URL(`../../../../shared/oracle/${f}`, import.meta.url).pathname);
    assertEquals(
      r.mismatches.map((m) => m.path),
      [],
      f,
    );
    assertGreater(r.total, 600);
  }
});

test("bad arguments exit 2 with a message naming the argument", async () => {
  const errors: string[] = [];
  const orig = console.error;
  console.error = (m: string) => void errors.push(String(m));
  try {
    assertEquals(await main(["--design", "fast"]), 2);
    assertEquals(await main(["--workers", "-1"]), 2);
    assertEquals(await main(["oracle"]), 2);
  } finally {
    console.error = orig;
  }
  assertStringIncludes(errors[0]!, '--design: unknown value "fast"; allowed: ops-indirect');
  assertStringIncludes(errors.join("\n"), "--workers must be an integer from 0 to 64");
  assertStringIncludes(errors.join("\n"), "oracle needs at least one FILE.json");
});
