import { recordListCount } from '../protocol/record.js';
import type { DeliveryCommitter } from '../storage/offset-committer.js';
import { writeOut } from './common.js';
import type { CliIO } from './format.js';
import { batchRecords, joinLines, type LineOptions, recordLine } from './records.js';
import { textLines, valueLines } from './value-lines.js';

/**
 * `eddy consume`'s way out: prints the records of each batch to stdout in chunks of at most
 * `chunkRecords` lines, stops at `--max-records`, and tells a named consumer's committer what
 * reached stdout (in the write's callback, so bytes a closed pipe refused are never committed).
 */
export class RecordOutput {
  private remaining: number;

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
    if (this.fast) {
      // The whole batch in one write, straight from its bytes, when nothing cuts it short.
      const count = recordListCount(raw);
      if (count > 0 && count <= this.remaining && (!this.committer || count <= this.chunkRecords)) {
        const bytes = this.lines.output === 'raw' ? valueLines(raw) : textLines(raw);
        if (bytes !== null) {
          this.remaining -= count;
          await this.writeBytes(bytes, count, partition, upTo(-1, true));
          return;
        }
      }
    }
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

  private async writeBytes(bytes: Uint8Array, count: number, partition: number, next: number): Promise<void> {
    const c = this.committer;
    const wait = c?.reserve(count);
    if (wait) await wait;
    await writeOut(this.io, bytes, c ? () => c.deliver(partition, next) : undefined);
  }

  private async write(chunk: (string | Uint8Array)[], partition: number, next: number): Promise<void> {
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
