/**
 * Result-frame buffers that travel back and forth between a worker and the coordinator.
 *
 * A worker writes each result frame into a buffer of its own and transfers it to the coordinator.
 * A fresh 1 MiB buffer costs about 256 page faults (the kernel maps and zeroes every page on first
 * write) and, once the coordinator drops it, external-memory pressure that drives extra garbage
 * collections on every thread. So the coordinator hands a buffer back when the reader of its
 * results calls `release()`, transferring it with the session's next task, and the worker writes
 * its next frame there. Transfer detaches the buffer on the coordinator's side: a view the reader
 * kept by mistake reads as empty, never as another frame's bytes.
 */
export class FrameBufferPool {
  private readonly free: ArrayBuffer[] = [];

  /** Keeps at most `maxBuffers` spare buffers; the rest are left to the garbage collector. */
  constructor(private readonly maxBuffers = 8) {}

  get size(): number {
    return this.free.length;
  }

  /** Adds buffers handed back (detached or empty ones are ignored). */
  give(buffers: readonly ArrayBuffer[]): void {
    for (const b of buffers) if (b.byteLength > 0 && this.free.length < this.maxBuffers) this.free.push(b);
  }

  /** Removes and returns up to `n` spare buffers (to send along with a task). */
  takeSome(n: number): ArrayBuffer[] {
    return this.free.splice(0, n);
  }

  /** A buffer of at least `min` bytes: the smallest spare that fits, else a new one. */
  take(min: number): ArrayBuffer {
    let fit = -1;
    let smallest = 0;
    for (let i = 0; i < this.free.length; i++) {
      const size = this.free[i]!.byteLength;
      if (size >= min && (fit < 0 || size < this.free[fit]!.byteLength)) fit = i;
      if (size < this.free[smallest]!.byteLength) smallest = i;
    }
    if (fit >= 0) return this.free.splice(fit, 1)[0]!;
    // Nothing fits: frames have grown. Drop the smallest spare, so the pool follows them.
    this.free.splice(smallest, 1);
    // Unpooled, so the whole ArrayBuffer is ours to transfer.
    return Buffer.allocUnsafeSlow(sizeClass(min)).buffer as ArrayBuffer;
  }
}

/**
 * Rounds a request up to one of four sizes per power of two (…, 1 MiB, 1.25, 1.5, 1.75, 2 MiB, …),
 * so frames that vary a little in size fit each other's buffers.
 */
export function sizeClass(n: number): number {
  if (n <= 4096) return 4096;
  const step = 2 ** (Math.floor(Math.log2(n - 1)) - 2);
  return Math.ceil(n / step) * step;
}
