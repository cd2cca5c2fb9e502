import { indexRecords } from '../protocol/record.js';
import { decodeHeaderSection, type RecordHeader, type StoredBatch, sliceBatch } from './batch-format.js';
import { STORAGE_DEFAULTS } from './defaults.js';
import { InvalidArgumentError, OffsetOutOfRangeError, UnknownTopicError } from './errors.js';
import { type CommitPolicy, DeliveryCommitter } from './offset-committer.js';
import type { PartitionLog } from './partition.js';
import { ReadArena } from './read-arena.js';
import type { Storage } from './storage.js';

/**
 * Where a consumer starts: the first stored record, the end (only records produced from now on),
 * an absolute offset, or N records before the end — Fluvio's `--beginning`, default tail,
 * `--offset`, `--tail N`.
 */
export type StartPosition = 'beginning' | 'end' | { offset: number } | { fromEnd: number } | { fromBeginning: number };

export interface ConsumeOptions {
  /** Default 'beginning'. A named consumer with a committed offset resumes there instead. */
  from?: StartPosition;
  /** Last offset to deliver (inclusive, as Fluvio's `--end-offset`). */
  endOffset?: number;
  /** Deliver at most this many records. */
  limit?: number;
  /** Keep waiting for new records at the end of the log (woken by append events, no polling). Default false. */
  follow?: boolean;
  /** Ends the iteration quietly when aborted (also while waiting in follow mode). */
  signal?: AbortSignal;
  /** Bytes per read from LMDB (at least one batch). Default 1 MiB. */
  maxBytes?: number;
  /** Named consumer: starts from its committed offset when there is one. */
  consumer?: string;
  /** Commit the position of a named consumer as batches are consumed and when iteration ends. Default true when `consumer` is set. */
  autoCommit?: boolean;
  /**
   * Commit at least this often while delivering (ms; one commit always happens at the end).
   * Default 1000. With `autoCommitRecords`, bounds what a killed consumer delivers again.
   */
  autoCommitIntervalMs?: number;
  /** Commit at least every this many delivered records, and never run further ahead of the last commit. Default 1000. */
  autoCommitRecords?: number;
  /**
   * Read into two buffers the consumer reuses instead of a new Buffer per stored batch (no
   * allocation, no garbage: what `eddy consume` prints through). A batch's bytes (`raw`, `value`,
   * `headerSection`, and records' keys and values) are then valid only until the next batch or
   * record is asked for: copy what you keep. Default false.
   */
  reuseBuffers?: boolean;
}

/** One record, decoded at the edge (views into the batch bytes, no copies). */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array;
  headers: RecordHeader[];
}

const NO_HEADERS: RecordHeader[] = [];

/**
 * Reads one partition from a start position, as batches (raw `Vec<Record>` bytes ready for a
 * SmartModule) or as records. A batch the start offset falls inside, or that crosses the end
 * offset / limit, is cut to the wanted records (same base offset and timestamp, so deltas stay
 * valid). If retention removes records ahead of a slow consumer, it continues at the new start.
 */
export class Consumer {
  readonly topic: string;
  readonly partition: number;
  /** Next offset this consumer delivers. */
  position: number;
  /** Next offset to read (ahead of `position` while a batch is being delivered record by record). */
  private cursor: number;
  private readonly endOffset: number;
  private remaining: number;
  private readonly follow: boolean;
  private readonly signal: AbortSignal | undefined;
  private readonly maxBytes: number;
  private readonly name: string | undefined;
  private readonly autoCommit: boolean;
  private readonly policy: CommitPolicy;
  /** Where reads land with `reuseBuffers` (null: a new Buffer per batch). */
  private readonly arena: ReadArena | null;
  /** Commits what was delivered (named consumers with autoCommit), made when iteration starts. */
  private committer: DeliveryCommitter | null = null;
  /** The committed offset when this consumer was made. */
  readonly committed: number | undefined;
  private started = false;

  constructor(
    private readonly store: Storage,
    private readonly log: PartitionLog,
    options: ConsumeOptions = {},
  ) {
    this.topic = log.topic;
    this.partition = log.partition;
    this.follow = options.follow ?? false;
    this.signal = options.signal;
    this.maxBytes = options.maxBytes ?? STORAGE_DEFAULTS.readMaxBytes;
    this.arena = options.reuseBuffers ? new ReadArena() : null;
    this.name = options.consumer;
    if (this.name !== undefined && (typeof this.name !== 'string' || this.name.length === 0)) {
      throw new InvalidArgumentError('consumer name must be a non-empty string');
    }
    const autoCommit = (options.autoCommit ?? this.name !== undefined) && !store.readOnly;
    this.autoCommit = autoCommit;
    this.policy = commitPolicy(options);
    if (autoCommit && this.name === undefined) throw new InvalidArgumentError('autoCommit needs a consumer name');
    if (options.endOffset !== undefined && (!Number.isSafeInteger(options.endOffset) || options.endOffset < 0)) {
      throw new InvalidArgumentError(`endOffset must be a non-negative integer, got ${options.endOffset}`);
    }
    if (options.limit !== undefined && (!Number.isSafeInteger(options.limit) || options.limit < 0)) {
      throw new InvalidArgumentError(`limit must be a non-negative integer, got ${options.limit}`);
    }
    this.endOffset = options.endOffset ?? Infinity;
    this.remaining = options.limit ?? Infinity;

    log.refresh();
    const committed =
      this.name !== undefined ? store.committedOffset(this.name, this.topic, this.partition) : undefined;
    if (committed !== undefined) {
      this.position = Math.min(Math.max(committed, log.startOffset), log.nextOffset);
    } else {
      this.position = startPosition(log, options.from ?? 'beginning');
    }
    this.committed = committed;
    this.cursor = this.position;
  }

  /**
   * Batches from the position on. Ends at the end offset / limit, at the log end unless following,
   * or on abort. A batch counts as delivered once yielded: breaking out of the loop commits it.
   */
  async *batches(): AsyncGenerator<StoredBatch, void, undefined> {
    try {
      for await (const s of this.read()) {
        const wait = this.committer?.reserve(s.count);
        if (wait) await wait;
        this.delivered(s.lastOffset + 1);
        yield s;
      }
    } finally {
      await this.finish();
    }
  }

  /**
   * Records from the position on (decoded from the batches at the edge). A record counts as
   * consumed once delivered: breaking out of the loop commits up to and including it, and
   * nothing after it.
   */
  async *records(): AsyncGenerator<ConsumedRecord, void, undefined> {
    try {
      for await (const b of this.read()) {
        const index = indexRecords(b.raw);
        const headers = b.headerSection ? decodeHeaderSection(b.headerSection) : null;
        for (let i = 0; i < index.count; i++) {
          if (this.signal?.aborted) return;
          const wait = this.committer?.reserve(1);
          if (wait) await wait;
          const delta = index.offsetDelta(i);
          this.delivered(b.baseOffset + delta + 1);
          yield {
            topic: this.topic,
            partition: this.partition,
            offset: b.baseOffset + delta,
            timestamp: b.baseTimestamp + index.timestampDelta(i),
            key: index.key(i),
            value: index.value(i),
            headers: headers?.get(delta) ?? NO_HEADERS,
          };
        }
      }
    } finally {
      await this.finish();
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<ConsumedRecord, void, undefined> {
    return this.records();
  }

  /** Commits `offset` (default: the position, i.e. everything delivered) for the named consumer. */
  async commit(offset = this.position): Promise<void> {
    if (this.name === undefined)
      throw new InvalidArgumentError(
        'commit() needs a named consumer: consume(topic, partition, { consumer: "name" })',
      );
    await this.store.commitOffset(this.name, this.topic, this.partition, offset);
  }

  /** Stored batches from the cursor on, cut to the wanted records; nothing is marked delivered here. */
  private async *read(): AsyncGenerator<StoredBatch, void, undefined> {
    if (this.started)
      throw new InvalidArgumentError('a Consumer can be iterated once; create another with store.consume()');
    this.started = true;
    if (this.autoCommit) {
      this.committer = new DeliveryCommitter(this.store, this.name!, this.topic, this.policy);
      this.committer.begin(this.partition, this.position, this.committed);
    }
    const log = this.log;
    for (;;) {
      if (this.remaining <= 0 || this.cursor > this.endOffset || this.signal?.aborted) return;
      if (log.deleted) throw new UnknownTopicError(this.topic);
      if (this.store.isClosed) return;
      if (this.cursor < log.startOffset) this.cursor = log.startOffset;
      let batches: StoredBatch[];
      try {
        batches = log.readBatches(this.cursor, {
          maxBytes: this.maxBytes,
          endOffset: this.endOffset === Infinity ? undefined : this.endOffset,
          ...(this.arena ? { arena: this.arena } : {}),
        });
      } catch (err) {
        if (err instanceof OffsetOutOfRangeError && err.offset < err.startOffset) {
          this.cursor = err.startOffset; // retention overtook this consumer
          continue;
        }
        throw err;
      }
      if (batches.length === 0) {
        if (!this.follow) return;
        await log.waitFor(this.cursor, this.signal);
        continue;
      }
      for (const b of batches) {
        const to = Math.min(this.endOffset, this.cursor + this.remaining - 1);
        if (b.baseOffset > to) break;
        const s = sliceBatch(b, this.cursor, to);
        if (s.count === 0) continue;
        this.remaining -= s.count;
        this.cursor = s.lastOffset + 1;
        yield s;
        if (this.remaining <= 0 || this.signal?.aborted) return;
      }
    }
  }

  private delivered(next: number): void {
    this.position = next;
    this.committer?.deliver(this.partition, next);
  }

  private async finish(): Promise<void> {
    if (this.committer && !this.log.deleted) await this.committer.close();
  }
}

/** The commit policy of consume options. */
export function commitPolicy(o: Pick<ConsumeOptions, 'autoCommitIntervalMs' | 'autoCommitRecords'>): CommitPolicy {
  return {
    ...(o.autoCommitIntervalMs !== undefined ? { intervalMs: o.autoCommitIntervalMs } : {}),
    ...(o.autoCommitRecords !== undefined ? { records: o.autoCommitRecords } : {}),
  };
}

function startPosition(log: PartitionLog, from: StartPosition): number {
  if (from === 'beginning') return log.startOffset;
  if (from === 'end') return log.nextOffset;
  if (typeof from === 'object' && from !== null) {
    if ('offset' in from) {
      const o = from.offset;
      if (!Number.isSafeInteger(o) || o < log.startOffset || o > log.nextOffset) {
        throw new OffsetOutOfRangeError(log.topic, log.partition, o, log.startOffset, log.nextOffset);
      }
      return o;
    }
    if ('fromEnd' in from) {
      const n = from.fromEnd;
      if (!Number.isSafeInteger(n) || n < 0)
        throw new InvalidArgumentError(`fromEnd must be a non-negative integer, got ${n}`);
      return Math.max(log.startOffset, log.nextOffset - n);
    }
    if ('fromBeginning' in from) {
      const n = from.fromBeginning;
      if (!Number.isSafeInteger(n) || n < 0)
        throw new InvalidArgumentError(`fromBeginning must be a non-negative integer, got ${n}`);
      // As Fluvio's Offset::from_beginning: past the end means the end.
      return Math.min(log.nextOffset, log.startOffset + n);
    }
  }
  throw new InvalidArgumentError(
    `from must be 'beginning', 'end', { offset }, { fromEnd } or { fromBeginning }, got ${JSON.stringify(from)}`,
  );
}
