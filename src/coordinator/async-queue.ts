/**
 * A small async queue: producers push, one consumer awaits items in order. Producers bound it by
 * awaiting `room(limit)` before pushing, so a slow reader holds back production (backpressure).
 */
export class AsyncQueue<T> {
  private items: T[] = [];
  private waiter: (() => void) | null = null;
  private roomWaiters: { limit: number; wake: () => void }[] = [];
  private ended = false;
  private failure: { error: unknown } | null = null;

  push(item: T): void {
    this.items.push(item);
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
    this.releaseRoom();
  }

  fail(error: unknown): void {
    this.failure ??= { error };
    this.wake();
    this.releaseRoom();
  }

  private releaseRoom(): void {
    for (const w of this.roomWaiters.splice(0)) w.wake();
  }

  get size(): number {
    return this.items.length;
  }

  /** Resolves once fewer than `limit` items wait (or the queue was ended or failed). */
  room(limit: number): Promise<void> {
    if (this.items.length < limit || this.ended || this.failure) return Promise.resolve();
    return new Promise((wake) => this.roomWaiters.push({ limit, wake }));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      if (this.items.length > 0) {
        const item = this.items.shift()!;
        this.wakeRoom();
        yield item;
        continue;
      }
      if (this.failure) throw this.failure.error;
      if (this.ended) return;
      await new Promise<void>((r) => { this.waiter = r; });
    }
  }

  private wakeRoom(): void {
    if (this.roomWaiters.length === 0) return;
    const keep: { limit: number; wake: () => void }[] = [];
    for (const w of this.roomWaiters) (this.items.length < w.limit ? w.wake() : keep.push(w));
    this.roomWaiters = keep;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}
