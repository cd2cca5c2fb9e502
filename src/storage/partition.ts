import { EventEmitter } from 'eventemitter3';
import { type Database, IF_EXISTS, type RootDatabase } from 'lmdb';
import { EddyError } from '../errors.js';
import {
  compressBatch,
  type EncodeLimits,
  encodeBatches,
  encodeRawBatch,
  frameEncodedBatch,
  type ProduceRecord,
  type RawBatchInput,
  readBatchHeader,
  type StoredBatch,
  sealBatch,
  setLogPosition,
  verifyBatch,
  viewBatch,
} from './batch-format.js';
import type { BatchCodec } from './codecs.js';
import { STORAGE_DEFAULTS } from './defaults.js';
import type { ScannedBatch } from './encoded-batch.js';
import { OffsetOutOfRangeError, ReadOnlyStorageError, UnknownTopicError } from './errors.js';
import type { ReadArena } from './read-arena.js';

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
  /** Store the records section of each batch compressed with this codec (see codecs.ts). Default none. */
  compression?: BatchCodec;
}

/** Encoded batches waiting to be appended (see `PartitionLog.prepare`). */
export interface PreparedAppend {
  values: Uint8Array[];
  counts: number[];
}

export interface ReadOptions {
  /** Stop after this many value bytes (at least one batch is returned). Default 1 MiB. */
  maxBytes?: number;
  /** Stop after this many batches. */
  maxBatches?: number;
  /** Last offset wanted (inclusive): batches starting after it are not read. */
  endOffset?: number;
  /**
   * Copy the values into this arena instead of a new Buffer each (see read-arena.ts): the
   * batches are then valid only until the read after next with the same arena.
   */
  arena?: ReadArena;
}

/** A key/value pair of a range read. */
interface Entry {
  key: number;
  value: Uint8Array;
}

/** The bounds of a range read, as lmdb-js takes them. */
interface RangeBounds {
  start: number;
  end?: number;
  reverse?: boolean;
  limit?: number;
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
  /** Other processes may append too: offsets are read and assigned inside the write transaction. */
  readonly sharedWriter: boolean;
  readonly durability: 'flush' | 'commit';
  readonly limits: EncodeLimits;
  /** @internal lmdb-js handle: lmdb's typings are not part of Eddy's published types. */
  readonly env: RootDatabase;
  /** Refuses a write of `bytes` that does not fit; returns the disk space it holds until releaseCapacity. */
  checkCapacity(bytes: number): number;
  /** A write handed to checkCapacity settled (committed or failed). */
  releaseCapacity(reserved: number): void;
  mapWriteError(err: unknown, bytes: number): Error;
  emitAppend(e: AppendEvent): void;
  /** A follower starts (+1) or stops (−1) waiting: keeps the process alive, starts file watching in readers. */
  followers(delta: 1 | -1): void;
}

interface HeldAppend {
  values: Uint8Array[];
  counts: number[];
  alsoWrite: (() => void) | undefined;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

/** Appends handed to lmdb-js together, as one conditional block. */
interface WriteGroup {
  /** Key of the batch this group's put is conditional on (−1: the partition was empty). */
  prev: number;
  /** Offset of the group's first record as issued (shared writers move it in the transaction). */
  base: number;
  keys: number[];
  values: Uint8Array[];
  alsoWrites: (() => void)[];
  bytes: number;
  /** Disk space held for the group (checkCapacity), released when it settles. */
  reserved: number;
  members: { result: AppendResult; resolve: (r: AppendResult) => void; reject: (e: unknown) => void }[];
  endOffset: number;
  endPosition: number;
}

/** A write group is handed over at the end of the tick, or sooner once it holds this many bytes. */
const GROUP_BYTES = 512 * 1024;

/** A partition's bounds, as read from its first (`first`) and last (`last`) stored batch. */
interface PartitionBounds {
  first: number;
  last: number;
  startPosition: number;
  nextOffset: number;
  endPosition: number;
}

interface PartitionEvents {
  append: [AppendEvent];
  deleted: [];
}

/**
 * One partition: an append-only log of batches in its own LMDB sub-database, key = base offset.
 *
 * Writes: an append is encoded, given the next offsets and handed to lmdb-js at once (so the
 * writer thread commits while the main thread encodes the next batches; appends of one event turn
 * share one LMDB transaction with every other partition's). Each batch's put is conditional on the
 * previous batch's key existing (lmdb-js `ifVersion(prevKey, IF_EXISTS, ...)`, checked inside the
 * write transaction): if a transaction fails (storage full, I/O error), every later batch already
 * handed over fails its condition too, so a failed write can never leave a gap. After a failure,
 * new appends wait until the in-flight ones settled, the state is re-read from LMDB, and writing
 * continues from the last stored offset. Offsets are assigned by this single writer, so they are
 * contiguous by construction; LMDB's transactions make a batch present entirely or not at all
 * after any crash. An append resolves once its transaction committed and (durability 'flush')
 * was flushed.
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

  /** Offset the next issued append gets (ahead of nextOffset while writes are in flight). */
  private issuedNext = 0;
  private issuedPosition = 0;
  /** Key of the newest issued batch (the condition of the next put), −1 when none. */
  private issuedTail = -1;
  private inflight = 0;
  private group: WriteGroup | null = null;
  private groupScheduled = false;
  /** Set when a write failed, until the in-flight writes settled and the state was re-read. */
  private failure: Error | null = null;
  private held: HeldAppend[] = [];
  private trimming: Promise<number> | null = null;
  private trimQueued = false;
  private idleWaiters: (() => void)[] = [];

  /** @internal built by Storage (its parameters are lmdb-js handles). */
  constructor(
    private readonly host: PartitionHost,
    readonly topic: string,
    readonly partition: number,
    /** @internal */ readonly db: Database<Uint8Array, number>,
    public retention: RetentionSettings,
    /** Id of the topic incarnation (a recreated topic gets a new id and new databases). */
    readonly topicId = 0,
  ) {
    this.where = `${topic}/${partition}`;
    this.loadState();
  }

  /** The codec the topic stores every batch with (its compression type); null: the producer's choice. */
  topicCodec: BatchCodec | null = null;

  /** The codec of a write: the topic's when it has one (as Fluvio's topic setting wins), else the caller's. */
  private codecFor(options: AppendOptions | undefined): BatchCodec {
    return this.topicCodec ?? options?.compression ?? 'none';
  }

  /** Largest encoded record this storage accepts (length prefix included). */
  get maxRecordBytes(): number {
    return this.host.limits.maxRecordBytes;
  }

  /** Whether reads check batch checksums (the storage's `checksums` option). */
  private get verify(): boolean {
    return this.host.limits.checksums !== false;
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
      this.bounds = null;
      this.resetIssued();
      return;
    }
    const b = this.bounds;
    if (b !== null && b.first === first && b.last === last) {
      // Same first and last key as the last load: LMDB never rewrites a committed value and an
      // offset is never stored twice in a partition's database, so the bounds read (and checked)
      // then still hold. Read-only processes call this before every read; re-checking two whole
      // batches each time doubled the checksum work of small reads.
      this.setBounds(b);
      return;
    }
    const fv = this.db.getBinaryFast(first)!;
    if (this.verify) verifyBatch(first, fv, this.where);
    const fh = readBatchHeader(fv, this.where, first);
    const startPosition = fh.logPosition - fv.length;
    const lv = this.db.getBinaryFast(last)!;
    if (this.verify) verifyBatch(last, lv, this.where);
    const lh = readBatchHeader(lv, this.where, last);
    this.bounds = {
      first,
      last,
      startPosition,
      nextOffset: last + lh.lastOffsetDelta + 1,
      endPosition: lh.logPosition,
    };
    this.setBounds(this.bounds);
  }

  /** What `loadState` last read from the first and last stored batch (null: not yet, or empty). */
  private bounds: PartitionBounds | null = null;

  private setBounds(b: PartitionBounds): void {
    this.startOffset = b.first;
    this.startPosition = b.startPosition;
    this.nextOffset = b.nextOffset;
    this.endPosition = b.endPosition;
    this.lastBaseOffset = b.last;
    this.resetIssued();
  }

  private resetIssued(): void {
    this.issuedNext = this.nextOffset;
    this.issuedPosition = this.endPosition;
    this.issuedTail = this.lastBaseOffset;
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
    const { values, counts } = this.prepare(records, [], this.codecFor(options));
    return this.issue(values, counts, options?.alsoWrite);
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
      // Nothing to store, but the extra writes still go through the partition's write order
      // (after every batch appended before them).
      if (options?.alsoWrite) return { ...(await this.issue([], [], options.alsoWrite)), inputDeltas: [] };
      return { ...this.emptyResult(), inputDeltas: [] };
    }
    const inputDeltas = new Array<number>(enc.count);
    for (let i = 0; i < enc.count; i++) inputDeltas[i] = enc.index.offsetDelta(i);
    const value = compressBatch(enc.value, this.codecFor(options));
    const r = await this.issue([value], [enc.count], options?.alsoWrite);
    return { ...r, inputDeltas };
  }

  /**
   * Appends a caller's `Vec<Record>` as one batch, its bytes as they are: `Producer.sendEncoded`
   * after scanEncodedBatch (which checks it and gives `scan`). Nothing is decoded into records.
   */
  appendEncoded(
    raw: Uint8Array,
    baseTimestamp: number,
    scan: ScannedBatch,
    options?: AppendOptions,
  ): Promise<AppendResult> {
    this.checkWritable();
    if (scan.count === 0) return Promise.resolve(this.emptyResult());
    const value = frameEncodedBatch(raw, scan.count, baseTimestamp, scan.maxTimestampDelta, this.host.limits);
    return this.issue([compressBatch(value, this.codecFor(options))], [scan.count], options?.alsoWrite);
  }

  /**
   * Encodes batches for `appendPrepared` — records (as `append`) and module outputs (as
   * `appendRaw`) — checking every limit; nothing is written, so an error here stores nothing.
   */
  prepare(
    records: readonly ProduceRecord[],
    raws: readonly RawBatchInput[] = [],
    codec: BatchCodec = this.topicCodec ?? 'none',
  ): PreparedAppend {
    const prepared: PreparedAppend = { values: [], counts: [] };
    if (records.length > 0) {
      for (const b of encodeBatches(records, Date.now(), this.host.limits, this.where)) {
        prepared.values.push(compressBatch(b.value, codec));
        prepared.counts.push(b.count);
      }
    }
    for (const raw of raws) {
      const enc = encodeRawBatch(raw, this.host.limits, this.where);
      if (enc) {
        prepared.values.push(compressBatch(enc.value, codec));
        prepared.counts.push(enc.count);
      }
    }
    return prepared;
  }

  /**
   * Appends prepared batches as one write: they go into one write group, so they commit together
   * with `alsoWrite`, in one LMDB transaction, or not at all. Prepared appends of several
   * partitions issued in the same tick share that transaction. A refusal before anything is
   * handed over (read-only, deleted topic, storage cap) throws at once rather than rejecting.
   */
  appendPrepared(prepared: PreparedAppend, options?: AppendOptions): Promise<AppendResult> {
    this.checkWritable();
    if (prepared.values.length === 0 && !options?.alsoWrite) return Promise.resolve(this.emptyResult());
    return this.issue(prepared.values, prepared.counts, options?.alsoWrite);
  }

  /** Removes the oldest batches that retention no longer allows (the newest batch always stays). */
  enforceRetention(now = Date.now()): Promise<number> {
    if (this.host.readOnly || this.deleted) return Promise.resolve(0);
    if (this.retention.retentionMs === null && this.retention.maxPartitionBytes === null) return Promise.resolve(0);
    const run = (): Promise<number> => this.trim(now);
    const p: Promise<number> = this.trimming ? this.trimming.then(run, run) : run();
    this.trimming = p;
    const clear = () => {
      if (this.trimming === p) {
        this.trimming = null;
        this.notifyIdle();
      }
    };
    p.then(clear, clear);
    return p;
  }

  /** Resolves when no write or trim is in flight or waiting. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Marks the partition deleted: waiting writes fail, followers wake up and see the error. */
  markDeleted(): void {
    this.deleted = true;
    const err = new UnknownTopicError(this.topic);
    const held = this.held;
    this.held = [];
    for (const h of held) h.reject(err);
    this.events.emit('deleted');
    this.notifyIdle();
  }

  private isIdle(): boolean {
    return this.inflight === 0 && this.held.length === 0 && this.trimming === null && this.group === null;
  }

  private notifyIdle(): void {
    if (!this.isIdle() || this.idleWaiters.length === 0) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  private emptyResult(): AppendResult {
    return {
      topic: this.topic,
      partition: this.partition,
      baseOffset: this.nextOffset,
      lastOffset: this.nextOffset - 1,
      count: 0,
    };
  }

  private checkWritable(): void {
    if (this.host.readOnly) throw new ReadOnlyStorageError(`write to ${this.where}`, this.host.dir);
    if (this.deleted) throw new UnknownTopicError(this.topic);
  }

  /**
   * Gives the batches their offsets and adds them to the current write group, which is handed to
   * lmdb-js at the end of the tick or as soon as it holds GROUP_BYTES (see the class comment).
   */
  private issue(values: Uint8Array[], counts: number[], alsoWrite: (() => void) | undefined): Promise<AppendResult> {
    if (this.failure) {
      return new Promise((resolve, reject) => this.held.push({ values, counts, alsoWrite, resolve, reject }));
    }
    let bytes = 0;
    for (const v of values) bytes += v.length;
    const reserved = this.host.checkCapacity(bytes);
    const g = (this.group ??= {
      prev: this.issuedTail,
      base: this.issuedNext,
      keys: [],
      values: [],
      alsoWrites: [],
      bytes: 0,
      reserved: 0,
      members: [],
      endOffset: 0,
      endPosition: 0,
    });
    g.reserved += reserved;
    const base = this.issuedNext;
    let offset = base;
    let position = this.issuedPosition;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      position += v.length;
      setLogPosition(v, position);
      sealBatch(offset, v);
      g.keys.push(offset);
      g.values.push(v);
      offset += counts[i]!;
    }
    this.issuedNext = g.endOffset = offset;
    this.issuedPosition = g.endPosition = position;
    if (g.keys.length) this.issuedTail = g.keys[g.keys.length - 1]!;
    g.bytes += bytes;
    if (alsoWrite) g.alsoWrites.push(alsoWrite);
    const result: AppendResult = {
      topic: this.topic,
      partition: this.partition,
      baseOffset: base,
      lastOffset: offset - 1,
      count: offset - base,
    };
    const promise = new Promise<AppendResult>((resolve, reject) => g.members.push({ result, resolve, reject }));
    if (g.bytes >= GROUP_BYTES) {
      this.flushGroup();
    } else if (!this.groupScheduled) {
      this.groupScheduled = true;
      queueMicrotask(() => {
        this.groupScheduled = false;
        this.flushGroup();
      });
    }
    return promise;
  }

  /** Hands the current group to lmdb-js: one conditional block, so it commits entirely or not at all. */
  private flushGroup(): void {
    const g = this.group;
    if (!g) return;
    this.group = null;
    const db = this.db;
    const shared = this.host.sharedWriter;
    const write = () => {
      if (shared) this.moveToEnd(g);
      for (let i = 0; i < g.keys.length; i++) db.put(g.keys[i]!, g.values[i]!);
      for (const f of g.alsoWrites) f();
      return true;
    };
    let commit: Promise<boolean> & { flushed?: Promise<unknown> };
    this.inflight++;
    try {
      // Shared: other processes append too, so the offsets are read and given inside the write
      // transaction (no conditional chain needed: each group starts where the log really ends).
      if (shared) commit = this.host.env.transaction(write);
      else commit = g.prev < 0 ? this.host.env.batch(write) : db.ifVersion(g.prev, IF_EXISTS, write);
    } catch (err) {
      const mapped = this.host.mapWriteError(err, g.bytes);
      this.failure ??= mapped;
      this.host.releaseCapacity(g.reserved);
      for (const m of g.members) m.reject(mapped);
      this.settled();
      return;
    }
    commit
      .then((written) => {
        if (!written)
          throw (
            this.failure ??
            new EddyError(
              'EDDY_STORAGE_WRITE',
              `write to ${this.where} failed: an earlier write failed; nothing of this write was stored`,
            )
          );
        if (g.endOffset > this.nextOffset) {
          this.nextOffset = g.endOffset;
          this.endPosition = g.endPosition;
          if (g.keys.length) this.lastBaseOffset = g.keys[g.keys.length - 1]!;
        }
        return this.host.durability === 'flush' ? (commit.flushed ?? this.host.env.flushed) : undefined;
      })
      .then(
        () => {
          this.host.releaseCapacity(g.reserved);
          this.settled();
          for (const m of g.members) m.resolve(m.result);
          const first = g.members[0]!.result.baseOffset;
          if (g.endOffset > first) {
            const e: AppendEvent = {
              topic: this.topic,
              partition: this.partition,
              baseOffset: first,
              lastOffset: g.endOffset - 1,
              count: g.endOffset - first,
              nextOffset: g.endOffset,
            };
            this.events.emit('append', e);
            this.host.emitAppend(e);
            this.maybeTrimForSize();
          }
        },
        (err) => {
          const mapped = err instanceof EddyError ? err : this.host.mapWriteError(err, g.bytes);
          this.failure ??= mapped;
          this.host.releaseCapacity(g.reserved);
          this.settled();
          for (const m of g.members) m.reject(mapped);
        },
      );
  }

  /**
   * Shared writers, inside the write transaction: moves a group to where the log really ends
   * (another process may have appended since its offsets were issued) — keys, log positions and
   * the members' results.
   */
  private moveToEnd(g: WriteGroup): void {
    let next = 0;
    let position = 0;
    for (const last of this.db.getKeys({ reverse: true, limit: 1 })) {
      const h = readBatchHeader(this.db.getBinaryFast(last)!, this.where, last);
      next = last + h.lastOffsetDelta + 1;
      position = h.logPosition;
    }
    const shift = next - g.base;
    // Issued at the log end this process knew: the group started at endPosition − bytes.
    const moved = shift !== 0 || position !== g.endPosition - g.bytes;
    for (let i = 0; i < g.keys.length; i++) {
      g.keys[i] = g.keys[i]! + shift;
      position += g.values[i]!.length;
      setLogPosition(g.values[i]!, position);
      // The checksum covers the offset and the log position: seal again what moved.
      if (moved) sealBatch(g.keys[i]!, g.values[i]!);
    }
    g.base = next;
    g.endOffset += shift;
    g.endPosition = position;
    for (const m of g.members) {
      m.result.baseOffset += shift;
      m.result.lastOffset += shift;
    }
  }

  private settled(): void {
    this.inflight--;
    if (this.inflight > 0) return;
    if (this.failure) {
      // Every handed-over write has settled: re-read the truth and continue from it.
      if (this.group) {
        // Appends added to a group after the failure was detected cannot be chained on a lost
        // batch: they go back to waiting and are re-issued below.
        const g = this.group;
        this.group = null;
        this.host.releaseCapacity(g.reserved);
        for (const m of g.members) m.reject(this.failure);
      }
      try {
        this.loadState();
      } catch {
        /* keep the previous state; the next write fails the same way */
      }
      this.failure = null;
      const held = this.held;
      this.held = [];
      for (const h of held) {
        try {
          this.issue(h.values, h.counts, h.alsoWrite).then(h.resolve, h.reject);
        } catch (err) {
          h.reject(err);
        }
      }
    }
    this.notifyIdle();
  }

  private maybeTrimForSize(): void {
    const max = this.retention.maxPartitionBytes;
    if (max === null || this.trimQueued || this.bytes <= max || this.deleted) return;
    this.trimQueued = true;
    this.enforceRetention().then(
      () => {
        this.trimQueued = false;
      },
      () => {
        this.trimQueued = false;
      },
    );
  }

  /** Removes expired / excess batches from the committed ones (never the newest). */
  private async trim(now: number): Promise<number> {
    if (this.deleted) return 0;
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
    if (removals.length === 0) return 0;
    const db = this.db;
    try {
      await this.host.env.batch(() => {
        for (const k of removals) db.remove(k);
      });
    } catch (err) {
      throw this.host.mapWriteError(err, 0);
    }
    if (newStart > this.startOffset) {
      this.startOffset = newStart;
      this.startPosition = newStartPos;
    }
    return removals.length;
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  /**
   * Reads stored batches from `from` on, as views of the stored values (each value is a fresh copy
   * owned by the caller, or a copy in `options.arena`). The first batch may start before `from`
   * when `from` falls inside it: the caller skips its earlier records (the consumer does, see
   * sliceBatch). Empty array at the end.
   */
  readBatches(from: number, options: ReadOptions = {}): StoredBatch[] {
    if (this.deleted) throw new UnknownTopicError(this.topic);
    this.refresh();
    if (!Number.isSafeInteger(from) || from < this.startOffset || from > this.nextOffset) {
      throw new OffsetOutOfRangeError(this.topic, this.partition, from, this.startOffset, this.nextOffset);
    }
    const out: StoredBatch[] = [];
    if (from === this.nextOffset) return out;
    const maxBytes = options.maxBytes ?? STORAGE_DEFAULTS.readMaxBytes;
    const maxBatches = options.maxBatches ?? Infinity;
    // Only what is acknowledged: LMDB shows a commit to readers before its promise has moved
    // nextOffset here, and a reader handed such a batch would then ask for offsets past the end.
    const end = Math.min(options.endOffset ?? Infinity, this.nextOffset - 1);
    if (end < from) return out;
    const arena = options.arena ?? null;
    arena?.begin();
    let bytes = 0;
    let first = true;
    for (const { key, value } of this.entries({ start: from, end: end + 1 }, arena)) {
      if (first) {
        first = false;
        if (key !== from) bytes += this.containing(from, out, arena);
        if (out.length >= maxBatches || (bytes >= maxBytes && out.length > 0)) break;
      }
      let batch: StoredBatch;
      try {
        batch = viewBatch(key, value, this.where, this.verify);
      } catch (err) {
        // A damaged batch: hand out the good ones before it; the next read starts at it and throws.
        if (out.length > 0) break;
        throw err;
      }
      out.push(batch);
      bytes += value.length;
      if (out.length >= maxBatches || bytes >= maxBytes) break;
    }
    if (first) this.containing(from, out, arena);
    return out;
  }

  /**
   * The entries of a range: lmdb-js's own range read (a new Buffer per value), or with an arena
   * its keys, each value fetched with getBinaryFast (lmdb-js's shared buffer, no allocation) and
   * copied into the arena before the next read overwrites it.
   */
  private entries(range: RangeBounds, arena: ReadArena | null): Iterable<Entry> {
    if (!arena) return this.db.getRange(range);
    const db = this.db;
    return (function* () {
      for (const key of db.getKeys(range)) {
        const value = db.getBinaryFast(key);
        if (value === undefined) continue; // cannot happen inside one read transaction
        yield { key, value: arena.copy(value) };
      }
    })();
  }

  /** Pushes the batch that contains `offset` without starting at it (if any); returns its size. */
  private containing(offset: number, out: StoredBatch[], arena: ReadArena | null): number {
    for (const { key, value } of this.entries({ start: offset, reverse: true, limit: 1 }, arena)) {
      const b = viewBatch(key, value, this.where, this.verify);
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
