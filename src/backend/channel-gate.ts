/**
 * A cap on requests reading bytes nobody has authenticated yet. Beyond it a request is
 * refused at once (503, without reading its body), so forged traffic can hold at most
 * `limit` partial bodies in memory however many connections it opens.
 */
export class UnauthenticatedGate {
  private busy = 0;

  constructor(readonly limit: number) {}

  /** A release function, or null when the cap is reached. Release exactly once. */
  tryEnter(): (() => void) | null {
    if (this.busy >= this.limit) return null;
    this.busy += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.busy -= 1;
    };
  }

  get inUse(): number {
    return this.busy;
  }
}
