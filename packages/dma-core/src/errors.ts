// A kernel BUG() is fatal: the model throws this and the simulated system
// must not be used again for the call that hit it (its state is unchanged).

/** A kernel BUG / BUG_ON: an unrecoverable error in the kernel being modelled. */
export class KernelBug extends Error {
  override name = "KernelBug";
  constructor(
    /** A stable code, e.g. "dma-invalid-direction". */
    readonly code: string,
    message: string,
  ) {
    super(`kernel BUG: ${message}`);
  }
}
