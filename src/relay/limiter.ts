/**
 * At most `max` holders per key (per-destination concurrency). `max` is read at each acquire,
 * so a settings change applies to the next connection.
 */
export class KeyedLimiter {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();

  async acquire(key: string, max: number): Promise<() => void> {
    const limit = Math.max(1, Math.floor(max));
    if ((this.active.get(key) ?? 0) >= limit) {
      await new Promise<void>((resolve) => {
        const q = this.waiting.get(key) ?? [];
        q.push(resolve);
        this.waiting.set(key, q);
      });
    } else {
      this.active.set(key, (this.active.get(key) ?? 0) + 1);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release(key);
    };
  }

  /** Holders of a key right now. */
  count(key: string): number {
    return this.active.get(key) ?? 0;
  }

  private release(key: string): void {
    const q = this.waiting.get(key);
    const next = q?.shift();
    if (q && q.length === 0) this.waiting.delete(key);
    // Hand the slot straight to the next waiter: the count stays as it is.
    if (next) next();
    else {
      const n = (this.active.get(key) ?? 1) - 1;
      if (n <= 0) this.active.delete(key);
      else this.active.set(key, n);
    }
  }
}
