import { EventEmitter } from 'eventemitter3';
import type { Database, RootDatabase } from 'lmdb';
import {
  encodeBatches,
  encodeRawBatch,
  readBatchHeader,
  setLogPosition,
  viewBatch,
  type EncodeLimits,
  type ProduceRecord,
  type RawBatchInput,
  type StoredBatch,
} from './batch-format.js';
import { OffsetOutOfRangeError, ReadOnlyStorageError, UnknownTopicError } from './errors.js';

/** Where a produce call's records went. `lastOffset = baseOffset − 1` when nothing was stored. */
export interface AppendResult {
  topic: string;
  partition: number;
  baseOffset: number;
  lastOffset: number;
  count: number;
}

/** Emitted (storage `append` event and the partition's own) once an append is acknowledged. */
export interface AppendEvent extends AppendResult {
  /** Offset the next record will get. */
  nextOffset: number;
}

export interface AppendOptions {
  /**
   * Extra writes that must commit atomically with the records (e.g. a derived stream's source
   * offset and accumulator): called synchronously while the batch's puts are queued, so every
   * lmdb-js put/remove it issues on this environment lands in the same LMDB transaction.
   */
  alsoWrite?: () => void;
}

export interface ReadOptions {
  /** Stop after this many value bytes (at least one batch is returned). Default 1 MiB. */
  maxBytes?: number;
  /** Stop after this many batches. */
  maxBatches?: number;
  /** Last offset wanted (inclusive): batches starting after it are not read. */
  endOffset?: number;
}

/** Retention settings of the partition's topic (Fluvio's names: retention time, max partition size). */
export interface RetentionSettings {
  retentionMs: number | null;
  maxPartitionBytes: number | null;
}

/** What a partition needs from the storage that owns it. */
export interface PartitionHost {
  readonly dir: string;
  readonly readOnly: boolean;
  readonly durability: 'flush' | 'commit';
  readonly limits: EncodeLimits;
  readonly env: RootDatabase;
  checkCapacity(bytes: number): void;
  mapWriteError(err: unknown, bytes: number): Error;
  emitAppend(e: AppendEvent): void;
  /** A follower starts (+1) or stops (−1) waiting: keeps the process alive, starts file watching in readers. */
  followers(delta: 1 | -1): void;
}

interface PendingAppend {
  kind: 'append';
  values: Uint8Array[];
  counts: number[];
  bytes: number;
  alsoWrite: (() => void) | undefined;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

interface PendingTrim {
  kind: 'trim';
  now: number;
  resolve: (removed: number) => void;
  reject: (e: unknown) => void;
}

type Pending = PendingAppend | PendingTrim;

interface PartitionEvents {
  append: [AppendEvent];
  deleted: [];
}

/**
 * One partition: an append-only log of batches in its own LMDB sub-database, key = base offset.
 *
 * Writes go through a per-partition group commit: appends queued in the same tick are given
 * consecutive offsets and put in one lmdb-js batch (one LMDB transaction, shared with other
 * partitions' writes of that tick); the next group is only issued once the previous one committed.
 * So a failed transaction (storage full, I/O error) can never leave a gap: the group's appends are
 * rejected, the state is re-read from LMDB, and later appends continue from the last stored offset.
 * Offsets are assigned in that single writer, so they are contiguous by construction; LMDB's
 * transactions make a batch present entirely or not at all after any crash.
 */
export class PartitionLog {
  readonly events = new EventEmitter<PartitionEvents>();
  readonly where: string;
  /** First stored offset. */
  startOffset = 0;
  /** Offset the next record gets (one past the last stored record). */
  nextOffset = 0;
  /** Log position (bytes appended since the partition was created) before the first stored batch. */
  startPosition = 0;
  /** Log position after the last stored batch. */
  endPosition = 0;
  /** Base offset of the newest batch, −1 when empty. */
  lastBaseOffset = -1;
  deleted = false;

  private pending: Pending[] = [];
  private inflight = false;
  private scheduled = false;
  private trimQueued = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly host: PartitionHost,
    readonly topic: string,
    readonly partition: number,
    readonly db: Database<Uint8Array, number>,
    public retention: RetentionSettings,
    /** Id of the topic incarnation (a recreated topic gets a new id and new databases). */
    readonly topicId = 0,
  ) {
    this.where = `${topic}/${partition}`;
    this.loadState();
  }

  /** Records stored (offsets are contiguous). */
  get records(): number {
    return this.nextOffset - this.startOffset;
  }

  /** Bytes stored (batch values, headers included). */
  get bytes(): number {
    return this.endPosition - this.startPosition;
  }

  /** Re-reads first/last batch from LMDB (at open, after a failed write, and in readers before each read). */
  loadState(): void {
    let first: number | undefined;
    let last: number | undefined;
    for (const k of this.db.getKeys({ limit: 1, snapshot: false })) first = k;
    for (const k of this.db.getKeys({ reverse: true, limit: 1, snapshot: false })) last = k;
    if (first === undefined || last === undefined) {
      // Empty partitions only exist before the first write: retention always keeps the newest batch.
      this.startOffset = this.nextOffset = 0;
      this.startPosition = this.endPosition = 0;
      this.lastBaseOffset = -1;
      return;
    }
    const fv = this.db.getBinaryFast(first)!;
    const fh = readBatchHeader(fv, this.where, first);
    this.startOffset = first;
    this.startPosition = fh.logPosition - fv.length;
    const lv = this.db.getBinaryFast(last)!;
    const lh = readBatchHeader(lv, this.where, last);
    this.nextOffset = last + lh.lastOffsetDelta + 1;
    this.endPosition = lh.logPosition;
    this.lastBaseOffset = last;
  }

  /** In read-only processes the writer lives elsewhere: refresh the cached bounds before using them. */
  refresh(): boolean {
    if (!this.host.readOnly) return false;
    const before = this.nextOffset;
    const start = this.startOffset;
    this.loadState();
    return this.nextOffset !== before || this.startOffset !== start;
  }

  // -------------------------------------------------------------------------------------------
  // Writing

  /** Appends records (one or more batches); resolves once they are committed (and flushed, by default). */
  async append(records: readonly ProduceRecord[], options?: AppendOptions): Promise<AppendResult> {
    this.checkWritable();
    if (records.length === 0) return this.emptyResult();
    const batches = encodeBatches(records, Date.now(), this.host.limits, this.where);
    const values = new Array<Uint8Array>(batches.length);
    const counts = new Array<number>(batches.length);
    for (let i = 0; i < batches.length; i++) {
      values[i] = batches[i]!.value;
      counts[i] = batches[i]!.count;
    }
    return this.enqueue(values, counts, options?.alsoWrite);
  }

  /**
   * Appends an already encoded `Vec<Record>` (a SmartModule's output) as one batch: its bytes are
   * stored as they are when the offset deltas run 0..n−1, renumbered otherwise (see encodeRawBatch).
   * `inputDeltas[i]` is the offset delta the i-th stored record carried in `raw`.
   */
  async appendRaw(input: RawBatchInput, options?: AppendOptions): Promise<AppendResult & { inputDeltas: number[] }> {
    this.checkWritable();
    const enc = encodeRawBatch(input, this.host.limits, this.where);
    if (!enc) {
      if (options?.alsoWrite) await this.host.env.batch(options.alsoWrite);
      return { ...this.emptyResult(), inputDeltas: [] };
    }
    const inputDeltas = new Array<number>(enc.count);
    for (let i = 0; i < enc.count; i++) inputDeltas[i] = enc.index.offsetDelta(i);
    const r = await this.enqueue([enc.value], [enc.count], options?.alsoWrite);
    return { ...r, inputDeltas };
  }

  /** Removes the oldest batches that retention no longer allows (the newest batch always stays). */
  enforceRetention(now = Date.now()): Promise<number> {
    if (this.host.readOnly || this.deleted) return Promise.resolve(0);
    if (this.retention.retentionMs === null && this.retention.maxPartitionBytes === null) return Promise.resolve(0);
    return new Promise((resolve, reject) => {
      this.pending.push({ kind: 'trim', now, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void> {
    if (!this.inflight && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Marks the partition deleted: queued writes fail, followers wake up and see the error. */
  markDeleted(): void {
    this.deleted = true;
    const err = new UnknownTopicError(this.topic);
    for (const p of this.pending) p.reject(err);
    this.pending = [];
    this.events.emit('deleted');
  }

  private emptyResult(): AppendResult {
    return { topic: this.topic, partition: this.partition, baseOffset: this.nextOffset, lastOffset: this.nextOffset - 1, count: 0 };
  }

  private checkWritable(): void {
    if (this.host.readOnly) throw new ReadOnlyStorageError(`write to ${this.where}`, this.host.dir);
    if (this.deleted) throw new UnknownTopicError(this.topic);
  }

  private enqueue(values: Uint8Array[], counts: number[], alsoWrite: (() => void) | undefined): Promise<AppendResult> {
    let bytes = 0;
    for (const v of values) bytes += v.length;
    return new Promise((resolve, reject) => {
      this.pending.push({ kind: 'append', values, counts, bytes, alsoWrite, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inflight) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  private settle(): void {
    this.inflight = false;
    if (this.pending.length) this.schedule();
    else if (this.idleWaiters.length) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.inflight || this.pending.length === 0) return;
    if (this.pending[0]!.kind === 'trim') {
      const trims: PendingTrim[] = [];
      while (this.pending.length && this.pending[0]!.kind === 'trim') trims.push(this.pending.shift() as PendingTrim);
      this.trim(trims);
      return;
    }
    const group: PendingAppend[] = [];
    let bytes = 0;
    while (this.pending.length && this.pending[0]!.kind === 'append') {
      const p = this.pending.shift() as PendingAppend;
      group.push(p);
      bytes += p.bytes;
    }
    try {
      this.host.checkCapacity(bytes);
    } catch (err) {
      for (const p of group) p.reject(err);
      this.settle();
      return;
    }
    const firstOffset = this.nextOffset;
    let offset = this.nextOffset;
    let position = this.endPosition;
    let lastBase = this.lastBaseOffset;
    const results: AppendResult[] = new Array(group.length);
    const keys: number[] = [];
    const vals: Uint8Array[] = [];
    for (let g = 0; g < group.length; g++) {
      const p = group[g]!;
      const base = offset;
      for (let i = 0; i < p.values.length; i++) {
        const v = p.values[i]!;
        position += v.length;
        setLogPosition(v, position);
        keys.push(offset);
        vals.push(v);
        lastBase = offset;
        offset += p.counts[i]!;
      }
      results[g] = { topic: this.topic, partition: this.partition, baseOffset: base, lastOffset: offset - 1, count: offset - base };
    }
    this.inflight = true;
    const db = this.db;
    let commit: Promise<boolean>;
    try {
      commit = this.host.env.batch(() => {
        for (let i = 0; i < keys.length; i++) db.put(keys[i]!, vals[i]!);
        for (const p of group) p.alsoWrite?.();
      });
    } catch (err) {
      this.afterFailure(group, err, bytes);
      return;
    }
    commit.then(
      () => {
        this.nextOffset = offset;
        this.endPosition = position;
        this.lastBaseOffset = lastBase;
        this.settle();
        const done = () => {
          for (let g = 0; g < group.length; g++) group[g]!.resolve(results[g]!);
          const e: AppendEvent = {
            topic: this.topic,
            partition: this.partition,
            baseOffset: firstOffset,
            lastOffset: offset - 1,
            count: offset - firstOffset,
            nextOffset: offset,
          };
          this.events.emit('append', e);
          this.host.emitAppend(e);
          this.maybeTrimForSize();
        };
        const flushed = this.host.durability === 'flush' ? (commit as Promise<boolean> & { flushed?: Promise<unknown> }).flushed : undefined;
        if (flushed) flushed.then(done, (err) => { for (const p of group) p.reject(this.host.mapWriteError(err, bytes)); });
        else done();
      },
      (err) => this.afterFailure(group, err, bytes),
    );
  }

  private afterFailure(group: PendingAppend[], err: unknown, bytes: number): void {
    const mapped = this.host.mapWriteError(err, bytes);
    try {
      this.loadState();
    } catch {
      /* keep the old state; the next write will fail the same way */
    }
    for (const p of group) p.reject(mapped);
    this.settle();
  }

  private maybeTrimForSize(): void {
    const max = this.retention.maxPartitionBytes;
    if (max === null || this.trimQueued || this.bytes <= max || this.deleted) return;
    this.trimQueued = true;
    this.enforceRetention().then(
      () => { this.trimQueued = false; },
      () => { this.trimQueued = false; },
    );
  }

  private trim(trims: PendingTrim[]): void {
    const now = Math.max(...trims.map((t) => t.now));
    const { retentionMs, maxPartitionBytes } = this.retention;
    const cutoff = retentionMs === null ? -Infinity : now - retentionMs;
    const removals: number[] = [];
    let newStart = this.startOffset;
    let newStartPos = this.startPosition;
    if (this.lastBaseOffset >= 0) {
      for (const key of this.db.getKeys({ start: this.startOffset, end: this.lastBaseOffset, snapshot: false })) {
        const v = this.db.getBinaryFast(key);
        if (!v) break;
        const h = readBatchHeader(v, this.where, key);
        const expired = h.maxTimestamp < cutoff;
        const oversize = maxPartitionBytes !== null && this.endPosition - newStartPos > maxPartitionBytes;
        if (!expired && !oversize) break;
        removals.push(key);
        newStartPos = h.logPosition;
        newStart = key + h.lastOffsetDelta + 1;
      }
    }
    if (removals.length === 0) {
      for (const t of trims) t.resolve(0);
      this.settle();
      return;
    }
    this.inflight = true;
    const db = this.db;
    let commit: Promise<boolean>;
    try {
      commit = this.host.env.batch(() => {
        for (const k of removals) db.remove(k);
      });
    } catch (err) {
      for (const t of trims) t.reject(err);
      this.settle();
      return;
    }
    commit.then(
      () => {
        this.startOffset = newStart;
        this.startPosition = newStartPos;
        this.settle();
        for (const t of trims) t.resolve(removals.length);
      },
      (err) => {
        try {
          this.loadState();
        } catch {
          /* ignore */
        }
        this.settle();
        for (const t of trims) t.reject(this.host.mapWriteError(err, 0));
      },
    );
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  /**
   * Reads stored batches from `from` on, as views of the stored values (each value is a fresh copy
   * owned by the caller). The first batch may start before `from` when `from` falls inside it: the
   * caller skips its earlier records (the consumer does, see sliceBatch). Empty array at the end.
   */
  readBatches(from: number, options: ReadOptions = {}): StoredBatch[] {
    if (this.deleted) throw new UnknownTopicError(this.topic);
    this.refresh();
    if (!Number.isSafeInteger(from) || from < this.startOffset || from > this.nextOffset) {
      throw new OffsetOutOfRangeError(this.topic, this.partition, from, this.startOffset, this.nextOffset);
    }
    const out: StoredBatch[] = [];
    if (from === this.nextOffset) return out;
    const maxBytes = options.maxBytes ?? 1 << 20;
    const maxBatches = options.maxBatches ?? Infinity;
    const end = options.endOffset;
    if (end !== undefined && end < from) return out;
    let bytes = 0;
    let first = true;
    const range = this.db.getRange(end === undefined ? { start: from } : { start: from, end: end + 1 });
    for (const { key, value } of range) {
      if (first) {
        first = false;
        if (key !== from) bytes += this.containing(from, out);
        if (out.length >= maxBatches || (bytes >= maxBytes && out.length > 0)) break;
      }
      out.push(viewBatch(key, value, this.where));
      bytes += value.length;
      if (out.length >= maxBatches || bytes >= maxBytes) break;
    }
    if (first) this.containing(from, out);
    return out;
  }

  /** Pushes the batch that contains `offset` without starting at it (if any); returns its size. */
  private containing(offset: number, out: StoredBatch[]): number {
    for (const { key, value } of this.db.getRange({ start: offset, reverse: true, limit: 1 })) {
      const b = viewBatch(key, value, this.where);
      if (b.lastOffset >= offset) {
        out.push(b);
        return value.length;
      }
    }
    return 0;
  }

  /** Resolves once an offset ≥ `offset` exists, the partition is deleted, or `signal` aborts. */
  waitFor(offset: number, signal?: AbortSignal): Promise<void> {
    if (this.nextOffset > offset || this.deleted || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.nextOffset > offset || this.deleted || signal?.aborted) {
          this.events.off('append', check);
          this.events.off('deleted', check);
          signal?.removeEventListener('abort', check);
          this.host.followers(-1);
          resolve();
        }
      };
      this.events.on('append', check);
      this.events.on('deleted', check);
      signal?.addEventListener('abort', check, { once: true });
      this.host.followers(1);
      // A reader may have missed a change between its last read and now.
      if (this.refresh()) check();
    });
  }
}
