/**
 * A small LRU for values that hold WASM memory (contexts) or large arrays (model weights).
 * `dispose` runs on eviction: WASM objects are freed deliberately, never left to the GC.
 */
export class LruCache<V> {
  private readonly entries = new Map<string, { value: V; size: number }>();
  private total = 0;

  constructor(
    private readonly maxSize: number,
    private readonly sizeOf: (v: V) => number = () => 1,
    private readonly dispose: (v: V) => void = () => {},
  ) {}

  get(key: string): V | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.value;
  }

  set(key: string, value: V): void {
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.total -= old.size;
      if (old.value !== value) this.dispose(old.value);
    }
    const size = this.sizeOf(value);
    this.entries.set(key, { value, size });
    this.total += size;
    for (const [k, e] of this.entries) {
      if (this.total <= this.maxSize || this.entries.size === 1) break;
      this.entries.delete(k);
      this.total -= e.size;
      this.dispose(e.value);
    }
  }

  values(): V[] {
    return [...this.entries.values()].map((e) => e.value);
  }

  clear(): void {
    for (const e of this.entries.values()) this.dispose(e.value);
    this.entries.clear();
    this.total = 0;
  }
}
