import type { EventEmitter } from 'eventemitter3';
import type { EddyError } from '../errors.js';
import { indexRecords } from '../protocol/record.js';
import type { ErrorPolicy } from '../smartmodule/chain.js';
import type { ConsumedRecord, ConsumeOptions } from '../storage/consumer.js';
import { commitPolicy } from '../storage/consumer.js';
import { UnknownTopicError } from '../storage/errors.js';
import { DeliveryCommitter } from '../storage/offset-committer.js';
import { planRange } from '../storage/range-plan.js';
import type { Storage } from '../storage/storage.js';
import {
  ChainSession,
  type SessionBatchResult,
  type SessionState,
  type SessionStep,
  type Ticket,
} from './chain-session.js';
import { COORDINATOR_DEFAULTS } from './defaults.js';
import { fanOutInFlight, fansOut } from './fan-out.js';
import { readLookback } from './lookback.js';
import { mergeAsync } from './merge.js';
import type { WorkerPool } from './pool.js';

/**
 * The next source offset once all of `b` is delivered: its end covers inputs that had no output;
 * a runtime error stops at the failing record, which is not delivered.
 */
export function batchDeliveredUpTo(b: SessionBatchResult): number {
  const end = b.lastOffset + 1;
  if (!b.error) return end;
  const e = b.error as { offset?: unknown; firstOffset?: unknown };
  const at = typeof e.offset === 'number' ? e.offset : typeof e.firstOffset === 'number' ? e.firstOffset : b.baseOffset;
  return Math.max(b.baseOffset, Math.min(end, at));
}

/**
 * The next source offset once an output record at `offset` is delivered (`last`: the batch's last
 * output, `batchEnd` from batchDeliveredUpTo). Outputs keep their input's offset, so every input
 * before it is done; with at most one output per input (`oneToOne`), its own input is done too.
 */
export function recordDeliveredUpTo(batchEnd: number, offset: number, last: boolean, oneToOne: boolean): number {
  if (last) return batchEnd;
  return Math.min(batchEnd, oneToOne ? offset + 1 : offset);
}

/** Events a consume-with-transforms reports (forwarded by the Eddy facade). */
export interface TransformEvents {
  state: [info: { stream: string; state: SessionState }];
  batch: [info: { stream: string; baseOffset: number; recordsOut: number }];
  error: [info: { stream: string; error: EddyError }];
}

export interface TransformedConsumeOptions extends ConsumeOptions {
  /** Partitions to read; default all, merged (each partition in order). */
  partitions?: number[];
  policy?: ErrorPolicy;
  deadlineMs?: number;
  maxInFlight?: number;
  /** Initial accumulator for aggregate steps (`--aggregate-initial`). */
  aggregateInitial?: Uint8Array;
  /**
   * Spread each partition's batches over every worker, results in order (default true). Applies
   * to stateless chains only (no aggregate, no look-back); others keep one worker per partition.
   */
  fanOut?: boolean;
  /** Force fan-out on (true) or off (false) regardless of `fanOut`; true with a stateful chain is refused. */
  stateless?: boolean;
  /** Stored batches per submission to a worker (default 16): fewer, larger messages. */
  batchesPerSubmission?: number;
}

/** One transformed batch of one partition. */
export interface TransformedBatch extends SessionBatchResult {
  topic: string;
  partition: number;
  /** No step gives an input record several outputs (see recordDeliveredUpTo). */
  oneToOne: boolean;
}

/**
 * Consumes partitions through a SmartModule chain on the worker pool: stored batches go to the
 * partition's stream as raw bytes; outputs come back in order and are decoded only here, at the
 * edge. A runtime error (policy stop) yields the records before it and then throws.
 */
export class TransformedConsumer {
  constructor(
    private readonly storage: Storage,
    private readonly pool: WorkerPool,
    private readonly topic: string,
    private readonly steps: SessionStep[],
    private readonly options: TransformedConsumeOptions,
    private readonly events: EventEmitter<TransformEvents>,
  ) {}

  /**
   * Output batches of every partition, merged. A named consumer commits what was yielded: a batch
   * counts as delivered once yielded, up to its runtime error (the failing record is not).
   */
  async *batches(): AsyncGenerator<TransformedBatch, void, undefined> {
    const committer = this.committer();
    try {
      for await (const b of this.merged(committer)) {
        const wait = committer?.reserve(b.count);
        if (wait) await wait;
        committer?.deliver(b.partition, batchDeliveredUpTo(b));
        yield b;
      }
    } finally {
      await committer?.close();
    }
  }

  /** Output records of every partition; a named consumer commits up to the last record yielded. */
  async *records(): AsyncGenerator<ConsumedRecord, void, undefined> {
    const committer = this.committer();
    try {
      for await (const b of this.merged(committer)) {
        const idx = indexRecords(b.raw);
        const end = batchDeliveredUpTo(b);
        const oneToOne = b.oneToOne;
        for (let i = 0; i < idx.count; i++) {
          const wait = committer?.reserve(1);
          if (wait) await wait;
          const offset = b.baseOffset + idx.offsetDelta(i);
          committer?.deliver(b.partition, recordDeliveredUpTo(end, offset, i === idx.count - 1, oneToOne));
          yield {
            topic: b.topic,
            partition: b.partition,
            offset,
            timestamp: b.baseTimestamp + idx.timestampDelta(i),
            key: idx.key(i),
            value: idx.value(i),
            headers: [],
          };
        }
        // A batch without records (all filtered out) moves the position too.
        if (idx.count === 0) committer?.deliver(b.partition, end);
        if (b.error) throw b.error;
      }
    } finally {
      await committer?.close();
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<ConsumedRecord, void, undefined> {
    return this.records();
  }

  /** The named consumer's committer (null: nothing to commit). */
  private committer(): DeliveryCommitter | null {
    const o = this.options;
    if (o.consumer === undefined || o.autoCommit === false || this.storage.readOnly) return null;
    return new DeliveryCommitter(this.storage, o.consumer, this.topic, commitPolicy(o));
  }

  private merged(committer: DeliveryCommitter | null): AsyncGenerator<TransformedBatch, void, undefined> {
    const partitions =
      this.options.partitions ?? Array.from({ length: this.storage.describeTopic(this.topic).partitions }, (_, p) => p);
    const stop = new AbortController();
    const signal = this.options.signal ? AbortSignal.any([this.options.signal, stop.signal]) : stop.signal;
    return mergeAsync(
      partitions.map((p) => this.partitionBatches(p, signal, committer)),
      () => stop.abort(),
    );
  }

  /**
   * One partition's transformed batches, in order. Up to `maxInFlight` submissions are kept in
   * flight while the reader keeps up; a slow reader holds the generator, and so the reads.
   */
  private async *partitionBatches(
    partition: number,
    signal: AbortSignal,
    committer: DeliveryCommitter | null,
  ): AsyncGenerator<TransformedBatch, void, undefined> {
    const o = this.options;
    const stateless = o.stateless ?? fansOut(this.steps, o.fanOut);
    // A fanned-out partition keeps every worker fed (with 4 in flight on 2 workers, both the
    // workers and the main thread sat idle about half the time, waiting on round trips).
    const maxInFlight =
      o.maxInFlight ?? (stateless ? fanOutInFlight(this.pool.size) : COORDINATOR_DEFAULTS.maxInFlight);
    const stream = new ChainSession(this.pool, {
      id: `${this.topic}/${partition}:consume`,
      steps: this.steps,
      policy: o.policy ?? 'stop',
      deadlineMs: o.deadlineMs ?? COORDINATOR_DEFAULTS.deadlineMs,
      maxInFlight,
      stateless,
      ...(o.aggregateInitial ? { initialAccumulator: o.aggregateInitial } : {}),
      history: (_i, lb) => readLookback(this.storage, this.topic, partition, lb),
    });
    stream.on('state', (state) => this.events.emit('state', { stream: stream.id, state }));
    stream.on('error', (error) => this.events.emit('error', { stream: stream.id, error }));
    try {
      await stream.start();
      const {
        partitions: _p,
        policy: _q,
        deadlineMs: _d,
        maxInFlight: _m,
        aggregateInitial: _a,
        stateless: _s,
        fanOut: _f,
        batchesPerSubmission: _b,
        ...consumeOptions
      } = o;
      // The storage consumer resolves the start position (from, a named consumer's commit) and checks
      // the options; the batches themselves are read by the workers, by offset range.
      const start = this.storage.consume(this.topic, partition, { ...consumeOptions, signal });
      const log = this.storage.partition(this.topic, partition);
      const source = this.storage.partitionSource(this.topic, partition);
      let pos = start.position;
      const endOffset = Math.min(o.endOffset ?? Infinity, o.limit !== undefined ? pos + o.limit - 1 : Infinity);
      committer?.begin(partition, start.position, start.committed);
      // array_map gives one input several outputs, all with its offset.
      const oneToOne = this.steps.every((s) => s.module.kind !== 'array_map');
      const inFlight: { ticket: Ticket; end: number }[] = [];
      for (;;) {
        // Keep the window full with what is stored now.
        while (!signal.aborted && inFlight.length < maxInFlight && pos <= endOffset) {
          log.refresh();
          if (pos < log.startOffset) pos = log.startOffset; // overtaken by retention: continue at the new start
          const range = planRange(
            log,
            pos,
            o.batchesPerSubmission ??
              (stateless ? COORDINATOR_DEFAULTS.fanOutBatchesPerSubmission : COORDINATOR_DEFAULTS.batchesPerSubmission),
            endOffset,
          );
          if (!range) break;
          inFlight.push({ ticket: await stream.submitRange({ source, ...range }), end: range.end });
          pos = range.end;
        }
        const next = inFlight.shift();
        if (!next) {
          if (log.deleted) throw new UnknownTopicError(this.topic);
          if (signal.aborted || pos > endOffset || !(o.follow ?? false)) break;
          await log.waitFor(pos, signal);
          continue;
        }
        const r = await next.ticket.result;
        for (const b of r.batches) {
          for (const error of b.skipped) this.events.emit('error', { stream: stream.id, error });
          this.events.emit('batch', { stream: stream.id, baseOffset: b.baseOffset, recordsOut: b.count });
          yield { ...b, topic: this.topic, partition, oneToOne };
          // A runtime error ends this partition: nothing after the failing record is delivered.
          if (b.error) return;
        }
      }
    } finally {
      await stream.close();
    }
  }
}
