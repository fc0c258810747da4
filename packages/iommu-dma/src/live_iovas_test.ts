import { assertEquals, test } from "@dmasim/testing";
import fc from "fast-check";
import { LiveIovas } from "./live_iovas.ts";

test("LiveIovas behaves like a Map of pfn → length: same answers, same listing order", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.boolean(),
          fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 2 ** 40 })),
          fc.integer({ min: 1, max: 1 << 20 }),
        ),
        { maxLength: 300 },
      ),
      (ops) => {
        const live = new LiveIovas();
        const ref = new Map<number, number>();
        for (const [add, pfn, len] of ops) {
          if (add) {
            live.set(pfn, len);
            ref.set(pfn, len);
          } else assertEquals(live.delete(pfn), ref.delete(pfn));
          assertEquals(live.size, ref.size);
        }
        assertEquals(live.entries(), [...ref]);
      },
    ),
  );
});
