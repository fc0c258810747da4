// The bad-input harness's case helper.
import { assertEquals } from "./assert.ts";
import { methodCase } from "./bad_input.ts";
import { test } from "./test.ts";

test("methodCase: names the case Class.method, calls it on the object, and merges the case's bad values over the suite's", () => {
  const obj = {
    base: 10,
    add(x: number) {
      return this.base + x;
    },
  };
  const c = methodCase(
    "Adder",
    () => obj,
    "add",
    { x: [["NaN", Number.NaN]], y: [["-1", -1]] },
    {
      extra: { x: [["a string", "1"]] },
      lenient: ["y"],
    },
  );
  assertEquals(c.name, "Adder.add");
  assertEquals(c.fn(undefined).call(c.target!(undefined), 5), 15, "called with the object as this");
  assertEquals(c.extra, { x: [["a string", "1"]], y: [["-1", -1]] });
  assertEquals(c.lenient, ["y"]);
});
