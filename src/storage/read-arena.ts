/**
 * Reusable memory for the values of range reads (`readBatches(from, { arena })`). lmdb-js hands
 * each value of a range read over as a new Buffer: at 100-byte records that allocation and its
 * garbage cost more than reading and printing the records. A read with an arena instead copies
 * every value out of lmdb-js's shared get buffer into one of two buffers that take turns, so a
 * steady read allocates nothing.
 *
 * Two buffers, because a reader hands batches on one at a time and may read ahead by one (the
 * merge of several partitions does): while a batch of one read is still in use, the next read
 * fills the other buffer, and only the read after that reuses the first. The values of a read are
 * therefore valid until the read after next begins.
 */

/** First size of a buffer: one default read (1 MiB) plus room for the batch that crosses it. */
const INITIAL_BYTES = 1_310_720;

export class ReadArena {
  private readonly buffers: [Uint8Array, Uint8Array] = [new Uint8Array(0), new Uint8Array(0)];
  private turn = 0;
  private used = 0;

  /** Starts a read: takes the buffer the read before last filled. */
  begin(): void {
    this.turn ^= 1;
    this.used = 0;
  }

  /**
   * A copy of `bytes` in the current buffer (copy before the next lmdb-js read: its buffer is
   * shared). lmdb-js sets its shared buffer's `length` property to the value's size, which
   * TypedArray methods ignore, so the source is cut to that length first.
   */
  copy(bytes: Uint8Array): Uint8Array {
    const n = bytes.length;
    const source = bytes.byteLength === n ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, n);
    let buf = this.buffers[this.turn];
    if (this.used + n > buf.length) {
      // A larger buffer from here on; values already placed in this read keep the old one alive.
      buf = new Uint8Array(Math.max(buf.length * 2, INITIAL_BYTES, n));
      this.buffers[this.turn] = buf;
      this.used = 0;
    }
    const view = new Uint8Array(buf.buffer, this.used, n);
    view.set(source);
    this.used += n;
    return view;
  }
}
