import type { EventEmitter } from 'eventemitter3';
import type { EddyError } from '../errors.js';
import type { ErrorPolicy } from '../smartmodule/chain.js';
import type { ConsumeOptions } from '../storage/consumer.js';
import { UnknownTopicError } from '../storage/errors.js';
import { planRange } from '../storage/range-plan.js';
import type { Storage } from '../storage/storage.js';
import type { ValueLinesMode } from '../wire/messages.js';
import { ChainSession, type SessionResult, type SessionState, type SessionStep, type Ticket } from './chain-session.js';
import { COORDINATOR_DEFAULTS } from './defaults.js';
import { fanOutInFlight, fansOut } from './fan-out.js';
import { readLookback } from './lookback.js';
import type { WorkerPool } from './pool.js';
import type { ConsumedBatch, PartitionSource } from './record-stream.js';

/** Events a consume-with-transforms reports (forwarded by the Eddy facade). */
export interface TransformEvents {
  state: [info: { stream: string; state: SessionState }];
  batch: [info: { stream: string; baseOffset: number; recordsOut: number }];
  error: [info: { stream: string; error: EddyError }];
}

export interface TransformedConsumeOptions extends ConsumeOptions {
  /** Partitions to read; default all, merged (each partition in order). */
  partitions?: readonly number[];
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
  /**
   * Have the workers turn outputs into value lines (`eddy consume`'s print path, read through
   * `batches()`; a batch's `lines` says which it got). Internal: records() refuses such batches.
   */
  valueLines?: ValueLinesMode;
}

/** The storage consumer's own options: what is left once the chain's options are taken out. */
export function storedConsumeOptions(o: TransformedConsumeOptions): ConsumeOptions {
  const {
    partitions: _p,
    policy: _q,
    deadlineMs: _d,
    maxInFlight: _m,
    aggregateInitial: _a,
    stateless: _s,
    fanOut: _f,
    batchesPerSubmission: _b,
    valueLines: _v,
    ...stored
  } = o;
  return stored;
}

/**
 * Consumes partitions through a SmartModule chain on the worker pool: stored batches go to the
 * partition's stream as raw bytes; outputs come back in order, to be decoded at the edge (by the
 * RecordStream that merges the partitions). A runtime error (policy stop) ends its partition.
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

  /** The chain's output batches of each partition, as a RecordStream reads them. */
  source(): PartitionSource {
    return (partition, signal, begin) => this.partitionBatches(partition, signal, begin);
  }

  /**
   * One partition's transformed batches, in order. Up to `maxInFlight` submissions are kept in
   * flight while the reader keeps up; a slow reader holds the generator, and so the reads.
   */
  private async *partitionBatches(
    partition: number,
    signal: AbortSignal,
    begin: (position: number, committed: number | undefined) => void,
  ): AsyncGenerator<ConsumedBatch, void, undefined> {
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
      const consumeOptions = storedConsumeOptions(o);
      // The storage consumer resolves the start position (from, a named consumer's commit) and checks
      // the options; the batches themselves are read by the workers, by offset range.
      const start = this.storage.consume(this.topic, partition, { ...consumeOptions, signal });
      const log = this.storage.partition(this.topic, partition);
      const source = this.storage.partitionSource(this.topic, partition);
      let pos = start.position;
      const endOffset = Math.min(o.endOffset ?? Infinity, o.limit !== undefined ? pos + o.limit - 1 : Infinity);
      begin(start.position, start.committed);
      // array_map gives one input several outputs, all with its offset.
      const oneToOne = this.steps.every((s) => s.module.kind !== 'array_map');
      const inFlight: { ticket: Ticket; end: number }[] = [];
      /** The last result delivered in full, released once the reader is past its batches (reuseBuffers). */
      let done: SessionResult | null = null;
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
          inFlight.push({
            ticket: await stream.submitRange({
              source,
              ...range,
              ...(o.valueLines ? { valueLines: o.valueLines } : {}),
            }),
            end: range.end,
          });
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
        let first = true;
        for (const b of r.batches) {
          for (const error of b.skipped) this.events.emit('error', { stream: stream.id, error });
          this.events.emit('batch', { stream: stream.id, baseOffset: b.baseOffset, recordsOut: b.count });
          yield { ...b, topic: this.topic, partition, headers: null, oneToOne };
          if (first) {
            // Resumed after this result's first batch: the reader is done with the previous result's
            // batches (a merge of partitions pulls one batch ahead, never two).
            first = false;
            done?.release();
            done = null;
          }
          // A runtime error ends this partition: nothing after the failing record is delivered.
          if (b.error) return;
        }
        // With reuseBuffers the reader copies a batch out before it asks for the next: the result's
        // memory can go back to the workers for their next frames (no fresh MiB per frame on each
        // side, and less garbage here).
        if (o.reuseBuffers) done = r;
      }
    } finally {
      await stream.close();
    }
  }
}
