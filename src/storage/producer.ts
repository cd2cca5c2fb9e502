import { VARINT_MAX, VARINT_MIN } from '../protocol/varint.js';
import type { BatchInput, BatchOutput } from '../smartmodule/types.js';
import { encodeRecordList, headersByIndex, type ProduceRecord } from './batch-format.js';
import { type BatchCodec, parseCodec } from './codecs.js';
import { KeyWindow } from './dedup.js';
import { STORAGE_DEFAULTS } from './defaults.js';
import { type EncodedProduceBatch, scanEncodedBatch } from './encoded-batch.js';
import { InvalidArgumentError, ProduceTransformError, UnknownPartitionError } from './errors.js';
import type { AppendOptions, AppendResult, PartitionLog } from './partition.js';

export type { EncodedProduceBatch } from './encoded-batch.js';

import { partitionForKey } from './siphash.js';
import type { Dedup, Storage } from './storage.js';

/** Chooses a partition for a record. `key` is null for keyless records. */
export type Partitioner = (key: Uint8Array | null, partitionCount: number) => number;

/**
 * A producer-side transform (Fluvio runs SmartModules on the producer too): gets each batch as
 * the engine's BatchInput (`baseOffset` 0: offsets are not known before storing; base timestamp
 * = the first record's) and returns the engine's BatchOutput. A module chain plugs in here.
 * `release`, when given, is called once the output's bytes have been copied into the stored
 * batch (or refused), so the transform can reuse the memory they are in.
 */
export type ProduceTransform = (batch: BatchInput) => TransformOutput | Promise<TransformOutput>;
export type TransformOutput = BatchOutput & { release?: () => void };

export interface ProducerOptions {
  /** How long a batch that is not full waits for more records (ms). Default 100, as Fluvio. */
  lingerMs?: number;
  /** Batch size in bytes (keys + values); a full batch is sent at once. Default 16 384, as Fluvio. */
  batchSize?: number;
  /**
   * Default: Fluvio's SiphashRoundRobinPartitioner — keyed records go to
   * SipHash-2-4(key) mod partitions (see siphash.ts), keyless ones round-robin.
   */
  partitioner?: Partitioner;
  transform?: ProduceTransform;
  /** Store each batch's records compressed with this codec, as Fluvio's producer `compression`; readers see the same records. Default none. */
  compression?: BatchCodec;
  /**
   * The transform orders its own results (a chain session on the worker pool does): it is called
   * for each batch as soon as the batch is dispatched, before earlier batches are stored, so
   * several batches can run at once. Default false: one call at a time per partition.
   */
  pipelined?: boolean;
  /** Releases what the transform holds (a chain session on the pool), once `close()` has flushed or failed to. */
  releaseTransform?: () => Promise<void>;
}

export interface ProducerRecord extends ProduceRecord {
  /** Send to this partition instead of asking the partitioner. */
  partition?: number;
}

/**
 * Where a record was stored. `offset` is null when a transform dropped the record, or produced
 * records that cannot be matched to their input (array_map gives every output offset delta 0).
 */
export interface ProduceAck {
  topic: string;
  partition: number;
  offset: number | null;
}

/** Round-robin for keyless records, SipHash-2-4 for keys (Fluvio's default partitioner). */
export function siphashRoundRobin(): Partitioner {
  let next = 0;
  return (key, n) => {
    if (key) return partitionForKey(key, n);
    const p = next % n;
    next = (next + 1) % 0x7fffffff;
    return p;
  };
}

/** A sendAll larger than this is queued in slices (see addFrom). */
const SLICE_BYTES = 1 << 20;

interface Call {
  results: ProduceAck[];
  remaining: number;
  failed: boolean;
  resolve: (r: ProduceAck[]) => void;
  reject: (e: unknown) => void;
}

/** Consecutive records of one call, in an accumulator: results[slot .. slot + count). */
interface Segment {
  call: Call;
  slot: number;
  count: number;
}

interface Accumulator {
  records: ProducerRecord[];
  segments: Segment[];
  bytes: number;
  timer: NodeJS.Timeout | null;
  /** Orders transform runs of this partition (the transform may be async and stateful). */
  chain: Promise<void>;
}

/**
 * Batches records per partition (linger time, batch size) and appends them to the topic's
 * partitions; every returned promise resolves once its records are durable.
 */
export class Producer {
  readonly topic: string;
  private readonly lingerMs: number;
  private readonly batchSize: number;
  private readonly partitioner: Partitioner;
  private readonly transform: ProduceTransform | undefined;
  private readonly append: AppendOptions;
  /** The topic's deduplication bounds, and a key window per partition (opened at first use). */
  private readonly dedup: Dedup | null;
  private readonly windows = new Map<number, KeyWindow>();
  private readonly pipelined: boolean;
  private readonly releaseTransform: (() => Promise<void>) | undefined;
  private readonly partitions: number;
  private readonly accs = new Map<number, Accumulator>();
  private readonly inflight = new Set<Promise<unknown>>();
  private closed = false;
  private microtaskQueued = false;
  private storedRecords = 0;

  /** Records this producer has stored so far (outputs of the transform, with one), failed calls included. */
  get stored(): number {
    return this.storedRecords;
  }

  constructor(
    private readonly store: Storage,
    topic: string,
    options: ProducerOptions = {},
  ) {
    this.topic = topic;
    this.lingerMs = options.lingerMs ?? STORAGE_DEFAULTS.producerLingerMs;
    if (!(this.lingerMs >= 0)) throw new InvalidArgumentError(`lingerMs must be ≥ 0, got ${options.lingerMs}`);
    this.batchSize = options.batchSize ?? STORAGE_DEFAULTS.producerBatchBytes;
    if (!(this.batchSize > 0)) throw new InvalidArgumentError(`batchSize must be > 0, got ${options.batchSize}`);
    this.partitioner = options.partitioner ?? siphashRoundRobin();
    this.transform = options.transform;
    this.append =
      options.compression && options.compression !== 'none' ? { compression: parseCodec(options.compression) } : {};
    this.pipelined = options.pipelined ?? false;
    this.releaseTransform = options.releaseTransform;
    const meta = store.topic(topic);
    this.partitions = meta ? meta.partitions : 0;
    this.dedup = meta?.dedup ?? null;
    store.partition(topic, 0); // throws UnknownTopicError now rather than on the first send
  }

  /** Sends one record; resolves with where it was stored once durable. */
  async send(record: ProducerRecord): Promise<ProduceAck> {
    const [ack] = await this.sendAll([record]);
    return ack!;
  }

  /** Sends records (possibly to several partitions); resolves once all are durable. */
  sendAll(records: readonly ProducerRecord[]): Promise<ProduceAck[]> {
    if (this.closed) return Promise.reject(new InvalidArgumentError(`producer for ${this.topic} is closed`));
    if (records.length === 0) return Promise.resolve([]);
    return new Promise<ProduceAck[]>((resolve, reject) => {
      const call: Call = {
        results: new Array(records.length),
        remaining: records.length,
        failed: false,
        resolve,
        reject,
      };
      const n = records.length;
      const parts = new Int32Array(n);
      try {
        for (let i = 0; i < n; i++) {
          const r = records[i]!;
          // One partition and no explicit choice: nothing to ask the partitioner.
          parts[i] =
            this.partitions === 1 && r !== null && typeof r === 'object' && r.partition === undefined
              ? 0
              : this.choosePartition(r);
        }
      } catch (err) {
        // Validation errors land here, before any record of this call was queued.
        call.failed = true;
        reject(err);
        return;
      }
      if (this.dedup && this.dropDuplicates(records, parts, call)) return;
      this.addFrom(records, parts, call, 0);
    });
  }

  /**
   * Stores a batch the caller already encoded (see EncodedProduceBatch) as one batch, without
   * decoding it into record objects: its bytes are checked, then stored as they are (compressed
   * with the topic's codec, or this producer's `compression`). Resolves once durable with where
   * the records went (offsets baseOffset..lastOffset). A malformed batch is refused before
   * anything is stored. Records this producer still holds for the partition are sent first, so
   * the order of calls is the order in the log. Refused on a topic that deduplicates by key and
   * on a producer with a transform: both need the records one by one (use `sendAll`).
   * `alsoWrite` (see AppendOptions) commits with this batch, in its transaction.
   */
  sendEncoded(batch: EncodedProduceBatch, options: Pick<AppendOptions, 'alsoWrite'> = {}): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new InvalidArgumentError(`producer for ${this.topic} is closed`));
    let partition: number;
    let log: PartitionLog;
    let scan: ReturnType<typeof scanEncodedBatch>;
    try {
      if (this.transform) {
        throw new InvalidArgumentError(`sendEncoded on ${this.topic}: a producer with a transform takes records only`);
      }
      if (this.dedup) {
        throw new InvalidArgumentError(
          `sendEncoded on ${this.topic}: the topic deduplicates by key, which needs records (use sendAll)`,
        );
      }
      partition = batch?.partition ?? 0;
      if (batch?.partition === undefined && this.partitions > 1) {
        throw new InvalidArgumentError(
          `sendEncoded on ${this.topic}: the topic has ${this.partitions} partitions; the batch must name one`,
        );
      }
      if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
        throw new UnknownPartitionError(this.topic, partition, this.partitions);
      }
      log = this.store.partition(this.topic, partition);
      scan = scanEncodedBatch(batch, `${this.topic}/${partition}`, log.maxRecordBytes);
      // Records sent before this call go first: appends issued in call order are stored in it.
      this.dispatch(partition);
    } catch (err) {
      return Promise.reject(err);
    }
    let done: Promise<AppendResult>;
    try {
      done = log
        .appendEncoded(
          batch.raw,
          batch.baseTimestamp,
          scan,
          options.alsoWrite ? { ...this.append, alsoWrite: options.alsoWrite } : this.append,
        )
        .then((r) => {
          this.storedRecords += r.count;
          return r;
        });
    } catch (err) {
      return Promise.reject(err);
    }
    this.inflight.add(done);
    const forget = () => this.inflight.delete(done);
    done.then(forget, forget);
    return done;
  }

  /**
   * The topic's deduplication: duplicates are acknowledged at once with offset null (as records a
   * transform dropped) and the others are queued. Returns true when it took over the call.
   */
  private dropDuplicates(records: readonly ProducerRecord[], parts: Int32Array, call: Call): boolean {
    const now = Date.now();
    const kept: number[] = [];
    for (let i = 0; i < records.length; i++) {
      const key = records[i]!.key;
      const p = parts[i]!;
      if (key === null || key === undefined) {
        kept.push(i);
        continue;
      }
      let w = this.windows.get(p);
      if (!w) this.windows.set(p, (w = KeyWindow.fromLog(this.dedup!, this.store.partition(this.topic, p), now)));
      if (!w.isDuplicate(typeof key === 'string' ? Buffer.from(key, 'utf8') : key, now)) kept.push(i);
    }
    if (kept.length === records.length) return false;
    const acks: ProduceAck[] = Array.from(parts, (p) => ({ topic: this.topic, partition: p, offset: null }));
    if (kept.length === 0) {
      call.resolve(acks);
      return true;
    }
    const inner: Call = {
      results: new Array(kept.length),
      remaining: kept.length,
      failed: false,
      resolve: (got) => {
        for (let k = 0; k < kept.length; k++) acks[kept[k]!] = got[k]!;
        call.resolve(acks);
      },
      reject: call.reject,
    };
    this.addFrom(
      kept.map((i) => records[i]!),
      Int32Array.from(kept, (i) => parts[i]!),
      inner,
      0,
    );
    return true;
  }

  /**
   * Queues records from `i` on. A large call is queued in slices of SLICE_BYTES with a macrotask
   * between them, so lmdb-js commits the batches of one slice (its writer thread) while the next
   * slice is encoded here, and the event loop is never blocked for long. Records of one call stay
   * in order; another call's records may be queued between two slices.
   */
  private addFrom(records: readonly ProducerRecord[], parts: Int32Array, call: Call, i: number): void {
    const n = records.length;
    let bytes = 0;
    while (i < n && bytes < SLICE_BYTES) {
      // A run of records for the same partition is added in one go.
      const p = parts[i]!;
      let j = i + 1;
      while (j < n && parts[j] === p) j++;
      const r = this.addRun(p, records, call, i, j, SLICE_BYTES - bytes);
      bytes += r.bytes;
      i = r.end;
    }
    if (i < n && !call.failed) {
      const next = new Promise<void>((resolve) =>
        setImmediate(() => {
          if (!call.failed) this.addFrom(records, parts, call, i);
          resolve();
        }),
      );
      this.inflight.add(next);
      void next.finally(() => this.inflight.delete(next));
    }
  }

  /** Sends everything buffered now and waits until it is stored. */
  async flush(): Promise<void> {
    for (;;) {
      for (const p of this.accs.keys()) this.dispatch(p);
      if (this.inflight.size === 0) return;
      await Promise.allSettled([...this.inflight]);
    }
  }

  /** Flushes, then refuses further sends. */
  async close(): Promise<void> {
    try {
      await this.flush();
      this.closed = true;
    } finally {
      await this.releaseTransform?.();
    }
  }

  private choosePartition(r: ProducerRecord): number {
    if (r === null || typeof r !== 'object') throw new InvalidArgumentError('a record must be an object with a value');
    if (r.partition !== undefined) {
      if (!Number.isInteger(r.partition) || r.partition < 0 || r.partition >= this.partitions) {
        throw new UnknownPartitionError(this.topic, r.partition, this.partitions);
      }
      return r.partition;
    }
    const key = r.key == null ? null : typeof r.key === 'string' ? Buffer.from(r.key, 'utf8') : r.key;
    const p = this.partitioner(key, this.partitions);
    if (!Number.isInteger(p) || p < 0 || p >= this.partitions) {
      throw new InvalidArgumentError(`partitioner returned ${p} for a topic with ${this.partitions} partitions`);
    }
    return p;
  }

  /**
   * Adds records[from, to) to `partition`'s batch, dispatching full batches on the way; stops
   * early once `budget` bytes were added. Returns where it stopped and the bytes added.
   *
   * Hot path of every produce call: a tight loop only sums record sizes to find where the
   * current batch is full, then the whole stretch joins the batch at once (a slice of the
   * caller's array when the batch is empty) under one segment, so the cost per record is an
   * addition, not a push and a segment check.
   */
  private addRun(
    partition: number,
    records: readonly ProducerRecord[],
    call: Call,
    from: number,
    to: number,
    budget: number,
  ): { end: number; bytes: number } {
    let acc = this.accs.get(partition);
    if (!acc) {
      acc = { records: [], segments: [], bytes: 0, timer: null, chain: Promise.resolve() };
      this.accs.set(partition, acc);
    }
    const batchSize = this.batchSize;
    let added = 0;
    let i = from;
    while (i < to && added < budget) {
      // records[i, end) fit in the current batch; `full`: the batch is to be sent after them.
      let bytes = acc.bytes;
      let end = i;
      let full = false;
      while (end < to) {
        const r = records[end]!;
        const size = fieldSize(r.value) + fieldSize(r.key) + 8;
        // A record that does not fit starts the next batch (a batch always takes one record).
        if (bytes + size > batchSize && (end > i || acc.records.length > 0)) {
          full = true;
          break;
        }
        bytes += size;
        end++;
        if (bytes >= batchSize) {
          full = true;
          break;
        }
        if (added + bytes - acc.bytes >= budget) break;
      }
      if (end > i) {
        if (acc.records.length === 0) acc.records = records.slice(i, end);
        else for (let k = i; k < end; k++) acc.records.push(records[k]!);
        const segs = acc.segments;
        const last = segs.length ? segs[segs.length - 1]! : null;
        if (last !== null && last.call === call && last.slot + last.count === i) last.count += end - i;
        else segs.push({ call, slot: i, count: end - i });
        added += bytes - acc.bytes;
        acc.bytes = bytes;
        i = end;
      }
      if (full) this.dispatch(partition);
    }
    if (acc.records.length > 0) {
      if (this.lingerMs === 0) {
        if (!this.microtaskQueued) {
          this.microtaskQueued = true;
          queueMicrotask(() => {
            this.microtaskQueued = false;
            for (const p of this.accs.keys()) this.dispatch(p);
          });
        }
      } else if (!acc.timer) {
        acc.timer = setTimeout(() => {
          acc!.timer = null;
          this.dispatch(partition);
        }, this.lingerMs);
      }
    }
    return { end: i, bytes: added };
  }

  private dispatch(partition: number): void {
    const acc = this.accs.get(partition);
    if (!acc || acc.records.length === 0) return;
    if (acc.timer) {
      clearTimeout(acc.timer);
      acc.timer = null;
    }
    const records = acc.records;
    const segments = acc.segments;
    acc.records = [];
    acc.segments = [];
    acc.bytes = 0;
    let log: PartitionLog;
    try {
      log = this.store.partition(this.topic, partition);
    } catch (err) {
      fail(segments, err);
      return;
    }
    let done: Promise<unknown>;
    if (!this.transform) {
      // Appends are ordered by the partition's queue: no need to wait for the previous batch.
      done = log.append(records, this.append).then(
        (r) => {
          this.storedRecords += r.count;
          ackContiguous(segments, this.topic, partition, r.baseOffset);
        },
        (err) => fail(segments, err),
      );
    } else {
      const transform = this.transform;
      // A pipelined transform runs this batch now, while earlier ones are still being stored.
      const started = this.pipelined ? this.startTransforms(records, transform) : undefined;
      // Ordered per partition up to the hand-over to the write queue; acknowledged when stored.
      const run = async () => {
        let stored: Promise<(number | null)[]>;
        try {
          ({ stored } = await this.issueTransformed(log, records, transform, started));
        } catch (err) {
          fail(segments, err);
          return;
        }
        const acked = stored.then(
          (offsets) => ack(segments, this.topic, partition, (i) => offsets[i]!),
          (err) => fail(segments, err),
        );
        this.inflight.add(acked);
        void acked.finally(() => this.inflight.delete(acked));
      };
      done = acc.chain = acc.chain.then(run);
    }
    this.inflight.add(done);
    done.finally(() => this.inflight.delete(done));
  }

  /**
   * Runs the transform over the records (in timestamp-compatible chunks) and hands its outputs to
   * the partition's write queue, in order. Resolves once they are handed over, with the offsets
   * to come when they are stored: the next batch's outputs are issued meanwhile, so batches share
   * commits instead of each waiting for its own (it was about 1 ms a batch, most of a produce
   * through a module). A transform error stops the call there: what was issued before it is
   * stored, then the error is thrown. A pipelined transform was already called for every chunk
   * (see startTransforms): `started` holds its results, awaited here in order.
   */
  private async issueTransformed(
    log: PartitionLog,
    records: readonly ProduceRecord[],
    transform: ProduceTransform,
    started?: TransformedChunk[],
  ): Promise<{ stored: Promise<(number | null)[]> }> {
    const issued: { c: TransformedChunk; length: number; r: Promise<AppendResult & { inputDeltas: number[] }> }[] = [];
    let refusal: ProduceTransformError | null = null;
    for (const c of started ?? chunksOf(records)) {
      let out: TransformOutput;
      try {
        out = await (c.out ?? transform({ baseOffset: 0, baseTimestamp: c.base, raw: c.raw }));
      } catch (err) {
        refusal = new ProduceTransformError(this.topic, log.partition, (err as Error)?.message ?? String(err), err);
        break;
      }
      try {
        if (out.error) {
          refusal = new ProduceTransformError(this.topic, log.partition, out.error.message, out.error);
          break;
        }
        const chunk = records.slice(c.start, c.end);
        // appendRaw copies the output into the stored batch before its first await.
        const r = log.appendRaw({ raw: out.raw, baseTimestamp: c.base, headers: headersByIndex(chunk) }, this.append);
        r.catch(() => {}); // reported below, in order
        issued.push({ c, length: chunk.length, r });
      } finally {
        out.release?.();
      }
    }
    // Wrapped: an async function returning a promise would wait for it.
    const stored = (async () => {
      const offsets: (number | null)[] = new Array(records.length).fill(null);
      for (const { c, length, r: pending } of issued) {
        const r = await pending;
        this.storedRecords += r.count;
        let increasing = true;
        for (let i = 1; i < r.inputDeltas.length; i++)
          if (r.inputDeltas[i]! <= r.inputDeltas[i - 1]!) increasing = false;
        if (increasing) {
          for (let i = 0; i < r.inputDeltas.length; i++) {
            const src = r.inputDeltas[i]!;
            if (src >= 0 && src < length) offsets[c.start + src] = r.baseOffset + i;
          }
        }
      }
      if (refusal) throw refusal;
      return offsets;
    })();
    return { stored };
  }

  /** Calls a pipelined transform for every chunk now, in order; the results are awaited when stored. */
  private startTransforms(records: readonly ProduceRecord[], transform: ProduceTransform): TransformedChunk[] {
    return chunksOf(records).map((c) => {
      const out = (async () => transform({ baseOffset: 0, baseTimestamp: c.base, raw: c.raw }))();
      out.catch(() => {}); // reported when its turn to be stored comes
      return { ...c, out };
    });
  }
}

interface TransformedChunk {
  start: number;
  end: number;
  base: number;
  raw: Uint8Array;
  out?: Promise<TransformOutput>;
}

/** The records cut where a timestamp delta would leave the varint range, each chunk encoded. */
function chunksOf(records: readonly ProduceRecord[]): TransformedChunk[] {
  const now = Date.now();
  const chunks: TransformedChunk[] = [];
  let start = 0;
  while (start < records.length) {
    const base = records[start]!.timestamp ?? now;
    let end = start + 1;
    while (end < records.length) {
      const d = (records[end]!.timestamp ?? now) - base;
      if (d < VARINT_MIN || d > VARINT_MAX) break;
      end++;
    }
    chunks.push({ start, end, base, raw: encodeRecordList(records.slice(start, end), base, now) });
    start = end;
  }
  return chunks;
}

/** Fills in the acknowledgements of a dispatched batch; `offsetOf(i)` is the i-th record's offset. */
function ack(segments: Segment[], topic: string, partition: number, offsetOf: (i: number) => number | null): void {
  let i = 0;
  for (const seg of segments) {
    const call = seg.call;
    if (call.failed) {
      i += seg.count;
      continue;
    }
    const results = call.results;
    for (let j = 0; j < seg.count; j++) results[seg.slot + j] = { topic, partition, offset: offsetOf(i++) };
    call.remaining -= seg.count;
    if (call.remaining === 0) call.resolve(results);
  }
}

/** ack() for records stored at consecutive offsets from `base` (no transform). */
function ackContiguous(segments: Segment[], topic: string, partition: number, base: number): void {
  let offset = base;
  for (const seg of segments) {
    const call = seg.call;
    if (call.failed) {
      offset += seg.count;
      continue;
    }
    const results = call.results;
    const end = seg.slot + seg.count;
    for (let j = seg.slot; j < end; j++) results[j] = { topic, partition, offset: offset++ };
    call.remaining -= seg.count;
    if (call.remaining === 0) call.resolve(results);
  }
}

/** Bytes a key or value counts for in a batch (strings by length, as they are about to be encoded). */
function fieldSize(v: unknown): number {
  return typeof v === 'string' || v instanceof Uint8Array ? v.length : 0;
}

function fail(segments: Segment[], err: unknown): void {
  for (const seg of segments) {
    const c = seg.call;
    if (c.failed) continue;
    c.failed = true;
    c.reject(err);
  }
}
