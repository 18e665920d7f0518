/**
 * A cap on requests reading bytes nobody has authenticated yet: at most `slots` of them, and
 * at most `bytes` of their declared lengths together, except that one request is always let
 * in alone (so a single large legitimate message still passes). Beyond the cap a request is
 * refused at once (503, without reading its body), so forged traffic can make this member
 * hold at most max(`bytes`, one request) of partial bodies however many connections it opens.
 */
export class UnauthenticatedGate {
  private busy = 0;
  private held = 0;

  constructor(private readonly limits: { slots: number; bytes: number }) {}

  /** A release function, or null when the cap is reached. Release exactly once. */
  tryEnter(bytes = 0): (() => void) | null {
    if (this.busy >= this.limits.slots) return null;
    if (this.busy > 0 && this.held + bytes > this.limits.bytes) return null;
    this.busy += 1;
    this.held += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.busy -= 1;
      this.held -= bytes;
    };
  }

  get inUse(): number {
    return this.busy;
  }
}
