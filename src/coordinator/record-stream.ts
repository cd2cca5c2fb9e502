import type { EddyError } from '../errors.js';
import { indexRecords } from '../protocol/record.js';
import { decodeHeaderSection, type RecordHeader } from '../storage/batch-format.js';
import type { ConsumedRecord, ConsumeOptions } from '../storage/consumer.js';
import { InvalidArgumentError } from '../storage/errors.js';
import type { DeliveryCommitter } from '../storage/offset-committer.js';
import type { Storage } from '../storage/storage.js';
import { batchEnd, recordEnd } from './delivery-ends.js';
import { mergeAsync } from './merge.js';

/**
 * A batch of one partition as `eddy.consume` delivers it. Without transforms it is a stored batch
 * cut to the wanted records (what the producer wrote together); with transforms, the chain's output
 * for a run of stored batches. Either way `raw` holds `Vec<Record>` bytes (see `eddy/protocol`).
 */
export interface ConsumedBatch {
  topic: string;
  partition: number;
  /** Offset and timestamp the records' deltas count from. */
  baseOffset: number;
  baseTimestamp: number;
  /** Last source offset this batch covers: with a filter, inputs after the last output still count. */
  lastOffset: number;
  /** Records in `raw`. */
  count: number;
  /** The records as `Vec<Record>` bytes: the SmartModule input (or output) format. */
  raw: Uint8Array;
  /** `raw` holds the values one per line instead (a transformed consume asked for `valueLines`). */
  lines?: boolean;
  /** Record headers by offset delta (stored batches only; a chain's output carries none). Null: no headers. */
  headers: Map<number, RecordHeader[]> | null;
  /** Runtime error that stopped this batch (transforms, policy stop): `raw` holds the records before it. */
  error: EddyError | null;
  /** Errors stepped over (transforms, policy skip). */
  skipped: EddyError[];
  /** Each record stands for one source record (false after an array-map, whose outputs share their input's offset). */
  oneToOne: boolean;
}

/**
 * One partition's batches, in order. Calls `begin` with where it starts (and the named consumer's
 * committed offset) before its first batch, so positions are known before any delivery.
 */
export type PartitionSource = (
  partition: number,
  signal: AbortSignal,
  begin: (position: number, committed: number | undefined) => void,
) => AsyncGenerator<ConsumedBatch, void, undefined>;

export interface RecordStreamOptions {
  signal?: AbortSignal | undefined;
  /** The named consumer, if any: what `commit()` commits for. */
  consumer?: string | undefined;
  /** Commits what is delivered while iterating (a named consumer with autoCommit). */
  committer?: () => DeliveryCommitter | null;
}

/**
 * What `eddy.consume` returns, whatever the options: an async iterable of records, with
 * `.records()` (the same) and `.batches()`, over one or several partitions merged (each partition
 * in order). It is read once, by either. A record or batch counts as delivered once yielded;
 * `positions` follows the next offset per partition, a named consumer commits what was delivered
 * (automatically, or with `commit()`), and `close()` (or `await using`) ends the iteration.
 */
export class RecordStream implements AsyncIterable<ConsumedRecord> {
  private readonly stop = new AbortController();
  private readonly signal: AbortSignal;
  private readonly next = new Map<number, number>();
  private started = false;
  private running: Promise<void> | null = null;
  private finished: () => void = () => {};

  constructor(
    private readonly storage: Storage,
    readonly topic: string,
    /** The partitions to read, asked when the iteration starts (an unknown topic fails there). */
    private readonly partitions: () => readonly number[],
    private readonly source: PartitionSource,
    private readonly options: RecordStreamOptions = {},
  ) {
    this.signal = options.signal ? AbortSignal.any([options.signal, this.stop.signal]) : this.stop.signal;
  }

  /** Next offset to deliver, per partition (a partition appears once its read has started). */
  get positions(): ReadonlyMap<number, number> {
    return this.next;
  }

  /** The records, in order within each partition. */
  async *records(): AsyncGenerator<ConsumedRecord, void, undefined> {
    const committer = this.begin();
    try {
      for await (const b of this.merged(committer)) {
        if (b.lines)
          throw new InvalidArgumentError('this consume returns value lines (valueLines): read it with batches()');
        const idx = indexRecords(b.raw);
        const end = batchEnd(b);
        for (let i = 0; i < idx.count; i++) {
          if (this.signal.aborted) return;
          const wait = committer?.reserve(1);
          if (wait) await wait;
          const delta = idx.offsetDelta(i);
          const offset = b.baseOffset + delta;
          this.delivered(committer, b.partition, recordEnd(end, offset, i === idx.count - 1, b.oneToOne));
          yield {
            topic: b.topic,
            partition: b.partition,
            offset,
            timestamp: b.baseTimestamp + idx.timestampDelta(i),
            key: idx.key(i),
            value: idx.value(i),
            headers: b.headers?.get(delta) ?? NO_HEADERS,
          };
        }
        // A batch without records (all filtered out) moves the position too.
        if (idx.count === 0) this.delivered(committer, b.partition, end);
        if (b.error) throw b.error;
      }
    } finally {
      await this.end(committer);
    }
  }

  /**
   * The batches, in order within each partition (see ConsumedBatch). A batch counts as delivered
   * once yielded, up to its runtime error (the failing record is not); the caller throws that error
   * or steps on, as it sees fit.
   */
  async *batches(): AsyncGenerator<ConsumedBatch, void, undefined> {
    const committer = this.begin();
    try {
      for await (const b of this.merged(committer)) {
        const wait = committer?.reserve(b.count);
        if (wait) await wait;
        this.delivered(committer, b.partition, batchEnd(b));
        yield b;
      }
    } finally {
      await this.end(committer);
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<ConsumedRecord, void, undefined> {
    return this.records();
  }

  /**
   * Commits the positions (everything delivered so far) for the named consumer; refused without one.
   * With autoCommit (the default for a named consumer) this happens anyway as records are delivered.
   */
  async commit(): Promise<void> {
    const name = this.options.consumer;
    if (name === undefined)
      throw new InvalidArgumentError('commit() needs a named consumer: consume(topic, { consumer: "name" })');
    for (const [p, offset] of this.next) await this.storage.commitOffset(name, this.topic, p, offset);
  }

  /** Ends the iteration (the loop ends quietly, as on abort) and waits for its last commit. */
  async close(): Promise<void> {
    this.stop.abort();
    await this.running;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private begin(): DeliveryCommitter | null {
    if (this.started)
      throw new InvalidArgumentError('a consume is read once (records() or batches()); call eddy.consume again');
    this.started = true;
    this.running = new Promise((resolve) => {
      this.finished = resolve;
    });
    return this.options.committer?.() ?? null;
  }

  private async end(committer: DeliveryCommitter | null): Promise<void> {
    try {
      await committer?.close();
    } finally {
      this.finished();
    }
  }

  private delivered(committer: DeliveryCommitter | null, partition: number, next: number): void {
    this.next.set(partition, next);
    committer?.deliver(partition, next);
  }

  private merged(committer: DeliveryCommitter | null): AsyncGenerator<ConsumedBatch, void, undefined> {
    const inner = new AbortController();
    const signal = AbortSignal.any([this.signal, inner.signal]);
    return mergeAsync(
      this.partitions().map((p) =>
        this.source(p, signal, (position, committed) => {
          this.next.set(p, position);
          committer?.begin(p, position, committed);
        }),
      ),
      () => inner.abort(),
    );
  }
}

const NO_HEADERS: RecordHeader[] = [];

/** A stored partition's batches as a PartitionSource reads them: cut to the options, nothing committed here. */
export function storedSource(storage: Storage, topic: string, options: ConsumeOptions): PartitionSource {
  return async function* (partition, signal, begin) {
    const c = storage.consume(topic, partition, { ...options, signal, autoCommit: false });
    begin(c.position, c.committed);
    for await (const s of c.batches()) {
      yield {
        topic,
        partition,
        baseOffset: s.baseOffset,
        baseTimestamp: s.baseTimestamp,
        lastOffset: s.lastOffset,
        count: s.count,
        raw: s.raw,
        // Header values are views of the section: a reused buffer's section is copied first.
        headers: s.headerSection
          ? decodeHeaderSection(options.reuseBuffers ? s.headerSection.slice() : s.headerSection)
          : null,
        error: null,
        skipped: NO_ERRORS,
        oneToOne: true,
      };
    }
  };
}

const NO_ERRORS: EddyError[] = [];
