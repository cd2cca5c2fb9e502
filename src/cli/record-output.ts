import { recordListCount } from '../protocol/record.js';
import { writeValueLines } from '../protocol/value-lines.js';
import type { DeliveryCommitter } from '../storage/offset-committer.js';
import { writeOut } from './common.js';
import type { CliIO } from './format.js';
import { batchRecords, joinLines, type LineOptions, recordLine } from './records.js';

/** Fast-lane lines are gathered into chunks of about this many bytes before one write. */
const CHUNK_BYTES = 1 << 20;

/**
 * `eddy consume`'s way out: prints the records of each batch to stdout in chunks of at most
 * `chunkRecords` lines, stops at `--max-records`, and tells a named consumer's committer what
 * reached stdout (in the write's callback, so bytes a closed pipe refused are never committed).
 *
 * Where values print as their bytes (the fast lane), batches that arrive back to back are copied
 * into one buffer of about a MiB and written at once: a stored batch is ~16 KiB, and a write per
 * batch cost more than the copy. Whatever is gathered is written when the buffer is full, before
 * any other write, when the event loop has nothing else to do (a followed topic waiting for
 * records), and at `flush()`. Buffers come back for reuse once their write is done.
 */
export class RecordOutput {
  private remaining: number;
  /** The chunk being gathered (null: none), its length, and the commits its write completes. */
  private chunk: Buffer | null = null;
  private chunkLength = 0;
  private chunkDone: (() => void)[] = [];
  private readonly spare: Buffer[] = [];
  private idle: NodeJS.Immediate | null = null;
  /** A failed idle write (a closed pipe), thrown by the next call. */
  private failure: unknown = null;

  constructor(
    private readonly io: CliIO,
    private readonly lines: LineOptions,
    maxRecords: number | undefined,
    private readonly committer: DeliveryCommitter | null,
    private readonly chunkRecords: number,
  ) {
    this.remaining = maxRecords ?? Infinity;
    const o = lines;
    this.fast =
      !o.template &&
      !o.keyValue &&
      !o.escape &&
      o.truncate === undefined &&
      (o.output === 'raw' || o.output === 'dynamic' || (o.output === 'text' && !o.suppressUnknown));
  }

  /** Values print as their bytes, one per line (see value-lines.ts): batches may skip the record-by-record path. */
  private readonly fast: boolean;

  /**
   * What the workers may send instead of records (see TransformedConsumeOptions.valueLines): the
   * values as lines, when every batch prints whole — no `--max-records` to cut one short, no named
   * consumer committing part of one. Null: records.
   */
  get workerLines(): 'raw' | 'text' | null {
    if (!this.fast || this.remaining !== Infinity || this.committer) return null;
    return this.lines.output === 'raw' ? 'raw' : 'text';
  }

  /** `count` records already as value lines (from the workers, see workerLines): their bytes go out as they are. */
  async valueLines(
    bytes: Uint8Array,
    count: number,
    partition: number,
    upTo: (offset: number, last: boolean) => number,
  ) {
    this.rethrow();
    await this.place(bytes.length, count, partition, upTo, (chunk, at) => {
      chunk.set(bytes, at);
      return at + bytes.length;
    });
  }

  /** True once `--max-records` records were printed. */
  get full(): boolean {
    return this.remaining <= 0;
  }

  /**
   * Prints one batch's records (as many as the budget allows). `upTo(offset, last)` is the source
   * position once the record at `offset` is out (`last`: the batch's last record; a batch without
   * records is asked with offset −1).
   */
  async batch(
    raw: Uint8Array,
    baseOffset: number,
    baseTimestamp: number,
    partition: number,
    upTo: (offset: number, last: boolean) => number,
  ): Promise<void> {
    this.rethrow();
    if (this.fast) {
      // The whole batch, straight from its bytes, when nothing cuts it short.
      const count = recordListCount(raw);
      if (count > 0 && count <= this.remaining && (!this.committer || count <= this.chunkRecords)) {
        if (await this.gather(raw, count, partition, upTo)) return;
      }
    }
    await this.flush();
    let chunk: (string | Uint8Array)[] = [];
    let any = false;
    for (const { record, last } of withLast(batchRecords(raw, baseOffset, baseTimestamp, partition))) {
      if (this.remaining <= 0) break;
      any = true;
      this.remaining--;
      chunk.push(recordLine(record, this.lines));
      if (last || this.remaining <= 0 || chunk.length >= this.chunkRecords) {
        await this.write(chunk, partition, upTo(record.offset, last));
        chunk = [];
      }
    }
    if (!any && this.remaining > 0) await this.write([], partition, upTo(-1, true));
  }

  /** Copies the batch's values as lines into the chunk; false (nothing written) when a value does not print as itself. */
  private async gather(
    raw: Uint8Array,
    count: number,
    partition: number,
    upTo: (offset: number, last: boolean) => number,
  ): Promise<boolean> {
    return this.place(raw.length, count, partition, upTo, (chunk, at) =>
      writeValueLines(raw, chunk, at, this.lines.output !== 'raw'),
    );
  }

  /**
   * Adds `count` records' lines, written by `write` into the chunk at `at` (at most `bytes` of
   * them; it returns their end, or −1 when they cannot be written as lines: then nothing is added).
   */
  private async place(
    bytes: number,
    count: number,
    partition: number,
    upTo: (offset: number, last: boolean) => number,
    write: (chunk: Buffer, at: number) => number,
  ): Promise<boolean> {
    if (this.chunk && this.chunkLength + bytes > this.chunk.length) await this.flush();
    this.chunk ??= this.spare.pop() ?? Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
    if (this.chunk.length < bytes) this.chunk = Buffer.allocUnsafe(bytes);
    const end = write(this.chunk, this.chunkLength);
    if (end < 0) return false;
    const c = this.committer;
    const wait = c?.reserve(count);
    if (wait) await wait;
    this.remaining -= count;
    this.chunkLength = end;
    if (c) {
      const next = upTo(-1, true);
      this.chunkDone.push(() => c.deliver(partition, next));
    }
    if (this.chunkLength >= CHUNK_BYTES) await this.flush();
    else this.idle ??= setImmediate(() => this.flushWhenIdle());
    return true;
  }

  private flushWhenIdle(): void {
    this.idle = null;
    this.flush().catch((err) => {
      this.failure ??= err;
    });
  }

  private rethrow(): void {
    if (this.failure === null) return;
    const err = this.failure;
    this.failure = null;
    throw err;
  }

  /** Writes what the fast lane has gathered (call before the command ends, and before reporting an error). */
  async flush(): Promise<void> {
    if (this.idle) {
      clearImmediate(this.idle);
      this.idle = null;
    }
    const chunk = this.chunk;
    if (!chunk) return this.rethrow();
    const length = this.chunkLength;
    const done = this.chunkDone;
    this.chunk = null;
    this.chunkLength = 0;
    this.chunkDone = [];
    // The buffer is reused only once the stream is done with it. Only process stdout is known not
    // to hold on to written buffers (a stream in a test may pass them on).
    const reusable = chunk.length === CHUNK_BYTES && this.io.stdout === process.stdout;
    let back = false;
    const giveBack = () => {
      if (back) return;
      back = true;
      if (this.spare.length < 2) this.spare.push(chunk);
    };
    await writeOut(this.io, chunk.subarray(0, length), () => {
      for (const d of done) d();
      if (reusable) giveBack();
    });
    // A file or a pipe that took every byte at once: stdout holds nothing more. The write's
    // callback comes on a later tick, which a consume that never waits for I/O does not reach
    // before its next chunk (each chunk was a fresh MiB: page faults and garbage).
    if (reusable && process.stdout.writableLength === 0) giveBack();
    this.rethrow();
  }

  private async write(chunk: (string | Uint8Array)[], partition: number, next: number): Promise<void> {
    await this.flush();
    const c = this.committer;
    const wait = c?.reserve(chunk.length);
    if (wait) await wait;
    await writeOut(this.io, joinLines(chunk, this.lines), c ? () => c.deliver(partition, next) : undefined);
  }
}

function* withLast<T>(items: Iterable<T>): Generator<{ record: T; last: boolean }> {
  let prev: T | undefined;
  let has = false;
  for (const item of items) {
    if (has) yield { record: prev!, last: false };
    prev = item;
    has = true;
  }
  if (has) yield { record: prev!, last: true };
}
