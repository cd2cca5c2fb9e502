import { EventEmitter } from 'eventemitter3';
import type { SessionMetrics, SessionState, SessionStep } from './coordinator/chain-session.js';
import { COORDINATOR_DEFAULTS } from './coordinator/defaults.js';
import { checkDeriveName, checkNoCycle, deadLetterTopic } from './coordinator/derive-checks.js';
import {
  type DeriveConfig,
  type DerivedInfo,
  DerivedStream,
  derivedState,
  ensureDeadLetterTopic,
} from './coordinator/derived.js';
import { fansOut } from './coordinator/fan-out.js';
import { type PoolOptions, WorkerPool } from './coordinator/pool.js';
import { produceSession } from './coordinator/produce-session.js';
import { type PartitionSource, RecordStream, storedSource } from './coordinator/record-stream.js';
import { ModuleResolver } from './coordinator/resolve.js';
import {
  storedConsumeOptions,
  type TransformEvents,
  type TransformedConsumeOptions,
  TransformedConsumer,
} from './coordinator/transformed-consumer.js';
import { EddyError } from './errors.js';
import type { KafkaDerivedStream } from './kafka/derived.js';
import { isKafkaDerive } from './kafka/endpoint.js';
import { type Logger, quietLogger, resolveLogger } from './logger.js';
import { type ObserveServer, serveObserve } from './observe/server.js';
import { Telemetry } from './observe/telemetry.js';
import { openStorage } from './open-storage.js';
import { Chain } from './smartmodule/chain.js';
import type { TransformStep } from './smartmodule/transforms.js';
import { commitPolicy } from './storage/consumer.js';
import { DeliveryCommitter } from './storage/offset-committer.js';
import type { ProduceAck, Producer, ProducerOptions, ProducerRecord } from './storage/producer.js';
import type { ModuleRegistry } from './storage/registry.js';
import type { Storage, StorageOptions } from './storage/storage.js';

/** A running derived stream: over Eddy topics, or over Kafka topics (`kafka://` endpoints). */
export type RunningDerived = DerivedStream | KafkaDerivedStream;

/**
 * A Kafka stream, told by its config: the Kafka side (and its client, ~100 ms to load) is loaded
 * only when such a stream is created, started or read.
 */
function isKafkaStream(d: RunningDerived): d is KafkaDerivedStream {
  return isKafkaDerive(d.config);
}

export interface OpenOptions extends StorageOptions {
  /** Worker threads for SmartModule streams (default: the machine's cores). Started on first use. */
  workers?: number;
  /** Directory relative `.wasm` paths in transforms resolve against. Default: the working directory. */
  baseDir?: string;
  /** How often the `metrics` event fires while it has listeners (ms). Default 1000. */
  metricsIntervalMs?: number;
  /**
   * A worker pool to run SmartModules on instead of starting one at first use; Eddy owns it from
   * here (close() closes it). For a caller that knows it will need workers and starts them before
   * loading the library, so that their start overlaps it (the CLI's consume through a chain).
   */
  pool?: WorkerPool;
  /** Memory cap of each SmartModule instance, in bytes (CLI: --memory-limit). Default 1 000 000 000, as Fluvio. */
  memoryLimit?: number;
  /**
   * Recycle a SmartModule instance that keeps its outputs in its memory (Rust-built modules, as
   * Fluvio runs them) once it has grown this many bytes; `false` never (CLI: --recycle-after).
   * Default 32 MiB. See "Compatibility with Fluvio" in the README.
   */
  recycleAfter?: number | false;
  /** Default per-batch deadline of consumes with transforms, in ms (CLI: --timeout). Default 5000. */
  deadlineMs?: number;
  /**
   * Serve `/metrics`, `/healthz`, `/readyz`, `/api/status` and the status page on this address
   * (`port`, `host:port`; a bare port binds to 127.0.0.1). Same as calling `serve()` after open.
   */
  http?: string;
  /**
   * Spread each partition's batches over every worker when the chain is stateless (no aggregate,
   * no look-back), results in order. Default true; false keeps one worker per partition
   * (CLI: --no-fan-out). A consume's or derived stream's own `fanOut` wins.
   */
  fanOut?: boolean;
  /**
   * Where Eddy's messages go (levels debug, info, warn, error; see Logger). Default: quiet — nothing
   * on stdout, debug and info dropped, warnings and errors as process warnings (`EddyWarning`);
   * `EDDY_DEBUG=1` makes the default a debug-level logger on stderr. Given a logger, what modules
   * write to stdout (info) and stderr (warn) goes to it too, with `module` and `stream` fields.
   */
  logger?: Logger;
}

export interface EddyEvents {
  /** A transformed batch was delivered (consume with transforms, or a derived stream). */
  batch: [info: { stream: string; baseOffset: number; recordsOut: number }];
  /** A derived stream's distance to the end of its source partition after a commit. */
  lag: [info: { stream: string; partition: number; lag: number }];
  /**
   * A module error, timeout or stream failure. A derived stream's failure that no listener hears
   * is not lost: it goes to the logger at level error (by default a process warning, `EddyWarning`),
   * and `listDerived()` shows it.
   */
  error: [info: { stream: string; error: EddyError }];
  /** A derived stream (policy skip) skipped a source record and kept it in its dead-letter topic. */
  skip: [info: { stream: string; partition: number; offset: number; error: EddyError; deadLetterTopic: string }];
  state: [info: { stream: string; state: SessionState }];
  /** Metrics of every live chain session (one per partition of each derived stream or transformed consume), every `metricsIntervalMs` while someone listens. */
  metrics: [metrics: SessionMetricsEntry[]];
}

export interface SessionMetricsEntry extends SessionMetrics {
  session: string;
  state: SessionState;
  workers: number[];
}

/** Options of `eddy.consume`: where to start and stop, a named consumer, and (optionally) transforms. */
export interface ConsumeWithTransforms extends TransformedConsumeOptions {
  /** SmartModule steps the records go through, on the worker pool. None: records as stored. */
  transforms?: readonly TransformStep[];
  /** One partition (same as `partitions: [n]`); default all, merged. */
  partition?: number;
}

export type { DerivedInfo };

/**
 * Eddy embedded in a program: one data directory (topics, SmartModules, consumer offsets,
 * derived streams) and a worker pool that runs SmartModule chains on every core.
 *
 * ```ts
 * const eddy = await open('./data');
 * await eddy.createTopic('events', { partitions: 2 });
 * await eddy.produce('events', [{ value: Buffer.from('apple') }]);
 * for await (const r of eddy.consume('events', { transforms: [{ uses: 'filter.wasm' }] })) { … }
 * ```
 */
export class Eddy extends EventEmitter<EddyEvents> {
  private poolInstance: WorkerPool | null = null;
  private readonly resolver: ModuleResolver;
  private readonly derived = new Map<string, RunningDerived>();
  /** Kafka streams not running here: their group's progress as `readDerived()` last read it. */
  private readonly kafkaProgress = new Map<string, DerivedInfo['partitions']>();
  private readonly forward: EventEmitter<TransformEvents>;
  /** The numbers behind `/metrics`, `/api/status` and the status page. */
  readonly telemetry: Telemetry;
  private observeServer: ObserveServer | null = null;
  /** Where this Eddy logs (OpenOptions.logger, or the default). */
  readonly logger: Logger;

  constructor(
    readonly storage: Storage,
    private readonly options: OpenOptions = {},
  ) {
    super();
    this.logger = resolveLogger(options.logger);
    this.resolver = new ModuleResolver(storage.modules, options.baseDir, {
      ...(options.memoryLimit !== undefined ? { memoryLimit: options.memoryLimit } : {}),
      ...(options.recycleAfter !== undefined ? { recycleAfter: options.recycleAfter } : {}),
    });
    this.forward = new EventEmitter<TransformEvents>();
    this.forward.on('batch', (i) => this.emit('batch', i));
    this.forward.on('error', (i) => this.emit('error', i));
    this.forward.on('state', (i) => this.emit('state', i));
    this.metricsTimer = setInterval(() => {
      if (this.listenerCount('metrics') > 0 && this.poolInstance) this.emit('metrics', this.metrics());
    }, options.metricsIntervalMs ?? COORDINATOR_DEFAULTS.metricsIntervalMs);
    this.metricsTimer.unref();
    this.telemetry = new Telemetry({
      storage,
      listDerived: () => this.listDerived(),
      poolSize: () => this.poolInstance?.size ?? 0,
    });
  }

  /** The HTTP endpoint when serving (`url`), else null. */
  get http(): ObserveServer | null {
    return this.observeServer;
  }

  /**
   * Serves metrics, health, status JSON and the status page on `address` (see OpenOptions.http).
   * Bound beyond loopback, it says so as a warning to the logger unless `onWarning` takes the text.
   */
  async serve(address: string, options: { onWarning?: (text: string) => void } = {}): Promise<ObserveServer> {
    if (this.observeServer)
      throw new EddyError('EDDY_HTTP_SERVING', `already serving on ${this.observeServer.url}; one address per Eddy`);
    const server = await serveObserve(this.telemetry, address, {
      onError: (e) => this.logger.error(e.message, { code: e.code }),
    });
    this.observeServer = server;
    if (server.warning !== null) {
      if (options.onWarning) options.onWarning(server.warning);
      else this.logger.warn(server.warning, { code: 'EDDY_HTTP_PUBLIC', url: server.url });
    }
    this.logger.debug(`serving on ${server.url}`, { url: server.url });
    return server;
  }

  private readonly metricsTimer: NodeJS.Timeout;

  /**
   * Per stream and per module: submissions, batches, records and bytes in/out, errors, skipped,
   * timeouts, restarts, module time, accumulator size and module memory.
   */
  metrics(): SessionMetricsEntry[] {
    if (!this.poolInstance) return [];
    return [...this.poolInstance.sessions].map((s) => ({
      session: s.id,
      state: s.state,
      workers: s.workerIds,
      ...s.snapshotMetrics(),
    }));
  }

  /** The worker pool, started on first use. */
  get pool(): WorkerPool {
    if (this.poolInstance) return this.poolInstance;
    if (this.options.pool) return this.adopt(this.options.pool);
    const opts: PoolOptions = {};
    if (this.options.workers !== undefined) opts.workers = this.options.workers;
    return this.adopt(new WorkerPool(opts));
  }

  private adopt(pool: WorkerPool): WorkerPool {
    // Module output reaches a logger the host chose (or EDDY_DEBUG's); else workers print it to stderr, as always.
    if (this.logger !== quietLogger) {
      const log = this.logger;
      pool.setModuleLog((stream, line, module) => {
        const fields = { module, stream };
        if (stream === 'stderr') log.warn(`module ${module}: ${line}`, fields);
        else log.info(`module ${module}: ${line}`, fields);
      });
    }
    pool.on('workerLost', (workerId, timedOut) =>
      this.logger.debug(timedOut ? 'worker terminated at a deadline' : 'worker exited', { workerId, ...timedOut }),
    );
    this.poolInstance = pool;
    return pool;
  }

  /** The SmartModule registry (register, list, delete). */
  get modules(): ModuleRegistry {
    return this.storage.modules;
  }

  createTopic(...args: Parameters<Storage['createTopic']>) {
    return this.storage.createTopic(...args);
  }
  listTopics() {
    return this.storage.listTopics();
  }
  describeTopic(name: string) {
    return this.storage.describeTopic(name);
  }
  deleteTopic(name: string) {
    return this.storage.deleteTopic(name);
  }
  /** Checks a topic as createTopic would, writing nothing (a dry run). */
  validateTopic(...args: Parameters<Storage['validateTopic']>) {
    return this.storage.validateTopic(...args);
  }
  addPartitions(name: string, count?: number) {
    return this.storage.addPartitions(name, count);
  }
  /** Named consumers' committed offsets (`offset`: the next offset each reads). */
  listConsumerOffsets() {
    return this.storage.listCommittedOffsets();
  }
  deleteConsumerOffsets(...args: Parameters<Storage['deleteCommittedOffsets']>) {
    return this.storage.deleteCommittedOffsets(...args);
  }

  /**
   * Resolves and compiles each step's module (a registered name, or a `.wasm` path relative to
   * `baseDir`) and converts the step for the engine. Throws what running the chain would
   * (UnknownModuleError naming the step, a module that does not load), before anything runs.
   */
  resolveTransforms(transforms: readonly TransformStep[]): Promise<SessionStep[]> {
    return this.resolver.steps(transforms);
  }

  /**
   * A producer (linger, batch size, partitioner). With `transforms`, records go through the chain
   * before they are stored, as Fluvio's producer-side SmartModules; a module error rejects the
   * produce and stores nothing. A stateless chain runs on every worker (`fanOut: false`, or the
   * Eddy's, keeps it on this thread); aggregate and look-back chains run on this thread, in order.
   */
  async producer(
    topic: string,
    options: ProducerOptions & { transforms?: TransformStep[]; aggregateInitial?: Uint8Array; fanOut?: boolean } = {},
  ): Promise<Producer> {
    const { transforms, aggregateInitial, fanOut, ...rest } = options;
    if (transforms && transforms.length > 0) {
      const steps = await this.resolveTransforms(transforms);
      if (fansOut(steps, fanOut ?? this.options.fanOut)) {
        // A stateless chain runs on every worker; the session closes with the producer.
        const session = await produceSession(this.pool, topic, steps, this.options.deadlineMs);
        return this.storage.producer(topic, {
          ...rest,
          transform: session.transform,
          pipelined: true,
          releaseTransform: () => session.close(),
        });
      }
      const chain = Chain.create(steps, aggregateInitial ? { initialAccumulator: aggregateInitial } : {});
      rest.transform = (batch) => {
        const out = chain.process(batch);
        if (out.error) throw out.error;
        return out;
      };
    }
    return this.storage.producer(topic, rest);
  }

  /** Produces records and resolves once they are committed. */
  async produce(
    topic: string,
    records: ProducerRecord | ProducerRecord[],
    options: ProducerOptions & { transforms?: TransformStep[]; fanOut?: boolean } = {},
  ): Promise<ProduceAck[]> {
    const p = await this.producer(topic, { lingerMs: 0, ...options });
    try {
      return await p.sendAll(Array.isArray(records) ? records : [records]);
    } finally {
      await p.close();
    }
  }

  /**
   * Consumes a topic, straight from storage or (with `transforms`) through the worker pool. Whatever
   * the options, a RecordStream: an async iterable of records, with `.batches()` for partition-tagged
   * batches, `positions`, `commit()` for a named consumer, and `close()`. All partitions merged
   * unless `partition` or `partitions` chooses; each partition stays in order.
   */
  consume(topic: string, options: ConsumeWithTransforms = {}): RecordStream {
    const { transforms, partition, partitions, ...rest } = options;
    const chosen = partition !== undefined ? [partition] : partitions;
    const which = () => chosen ?? Array.from({ length: this.storage.partitionCount(topic) }, (_, p) => p);
    const named = rest.consumer !== undefined && rest.autoCommit !== false && !this.storage.readOnly;
    const streamOptions = {
      signal: rest.signal,
      consumer: rest.consumer,
      committer: () => (named ? new DeliveryCommitter(this.storage, rest.consumer!, topic, commitPolicy(rest)) : null),
    };
    if (!transforms || transforms.length === 0) {
      const stored = storedConsumeOptions(rest);
      return new RecordStream(this.storage, topic, which, storedSource(this.storage, topic, stored), streamOptions);
    }
    // The chain is resolved once, when the first partition starts; every partition shares it.
    let consumer: Promise<TransformedConsumer> | null = null;
    const make = async () => {
      const steps = await this.resolveTransforms(transforms);
      const opts: TransformedConsumeOptions = { ...rest };
      if (opts.deadlineMs === undefined && this.options.deadlineMs !== undefined)
        opts.deadlineMs = this.options.deadlineMs;
      if (opts.fanOut === undefined && this.options.fanOut !== undefined) opts.fanOut = this.options.fanOut;
      return new TransformedConsumer(this.storage, this.pool, topic, steps, opts, this.forward);
    };
    const source: PartitionSource = async function* (p, signal, begin) {
      consumer ??= make();
      yield* (await consumer).source()(p, signal, begin);
    };
    return new RecordStream(this.storage, topic, which, source, streamOptions);
  }

  /**
   * Saves a derived stream's definition (run by `startDerived` / `eddy run`). Refused when the
   * name is not a valid resource name or the stream would feed its own source (directly or
   * through other derived streams). Policy skip creates the dead-letter topic if needed.
   */
  async createDerived(config: DeriveConfig): Promise<void> {
    this.checkDerived(config);
    if (derivedState(this.storage).definition(config.name)) {
      throw new EddyError(
        'EDDY_DERIVE_EXISTS',
        `derived stream ${config.name} already exists; delete it first with \`eddy derive delete ${config.name}\``,
      );
    }
    if (isKafkaDerive(config)) {
      await this.resolveTransforms(config.transforms);
      await (await import('./kafka/derived.js')).checkKafkaDerive(config);
    } else {
      this.storage.describeTopic(config.source);
      this.storage.describeTopic(config.target);
      await this.resolveTransforms(config.transforms);
      await ensureDeadLetterTopic(this.storage, config);
    }
    await derivedState(this.storage).saveDefinition(config.name, config);
  }

  private savedDerived(): DeriveConfig[] {
    return derivedState(this.storage).definitions();
  }

  /** Name and cycle checks, against the saved streams and those running in this process. */
  private checkDerived(config: DeriveConfig, check = { name: true }): void {
    if (check.name) checkDeriveName(config);
    const others = new Map(this.savedDerived().map((c) => [c.name, c]));
    for (const d of this.derived.values()) others.set(d.config.name, d.config);
    checkNoCycle(config, [...others.values()]);
  }

  /**
   * Every saved derived stream with its progress. A Kafka stream's progress is its consumer
   * group's, read from the cluster: by the stream itself while it runs here (at most a second
   * old), else as `readDerived()` last read it (none before that).
   */
  listDerived(): DerivedInfo[] {
    return this.savedDerived().map((config) => {
      let partitions: DerivedInfo['partitions'] = [];
      const running = this.derived.get(config.name);
      if (isKafkaDerive(config)) {
        partitions =
          running && isKafkaStream(running) ? running.progress() : (this.kafkaProgress.get(config.name) ?? []);
      } else
        try {
          const n = this.storage.partitionCount(config.source);
          partitions = Array.from({ length: n }, (_, p) => {
            const c = derivedState(this.storage).checkpoint(config.name, p);
            const failure = derivedState(this.storage).failure(config.name, p) ?? null;
            const offset = c?.offset ?? 0;
            return {
              partition: p,
              offset,
              lag: Math.max(0, this.storage.partition(config.source, p).nextOffset - offset),
              written: c?.written ?? 0,
              skipped: c?.skipped ?? 0,
              failure,
            };
          });
        } catch {
          /* source deleted: no partitions to report */
        }
      return {
        config,
        running: running?.running ?? false,
        deadLetterTopic: deadLetterTopic(config),
        partitions,
      };
    });
  }

  /** `listDerived()`, after reading the progress of the Kafka streams this process does not run from their clusters. */
  async readDerived(): Promise<DerivedInfo[]> {
    const elsewhere = this.savedDerived().filter((c) => isKafkaDerive(c) && !this.derived.has(c.name));
    if (elsewhere.length > 0) {
      const { readKafkaProgress } = await import('./kafka/progress.js');
      await Promise.all(
        elsewhere.map(async (c) => {
          try {
            this.kafkaProgress.set(c.name, await readKafkaProgress(c));
          } catch {
            /* cluster unreachable or source gone: no partitions to report */
          }
        }),
      );
    }
    return this.listDerived();
  }

  async deleteDerived(name: string): Promise<void> {
    const config = derivedState(this.storage).definition(name);
    if (!config)
      throw new EddyError('EDDY_DERIVE_UNKNOWN', `no derived stream named ${name}; \`eddy derive list\` shows them`);
    await this.stopDerived(name);
    await derivedState(this.storage).delete(name);
  }

  /** Starts a derived stream (a saved one by name, or a config) and returns it. */
  async startDerived(nameOrConfig: string | DeriveConfig): Promise<RunningDerived> {
    const config =
      typeof nameOrConfig === 'string' ? derivedState(this.storage).definition(nameOrConfig) : nameOrConfig;
    if (!config)
      throw new EddyError(
        'EDDY_DERIVE_UNKNOWN',
        `no derived stream named ${String(nameOrConfig)}; create it with \`eddy derive create\``,
      );
    if (this.derived.has(config.name)) return this.derived.get(config.name)!;
    // A saved stream was checked when created; its cycle check runs again, as others may have come since.
    this.checkDerived(config, { name: typeof nameOrConfig !== 'string' });
    const d = isKafkaDerive(config)
      ? new (await import('./kafka/derived.js')).KafkaDerivedStream(config, this.pool, this.resolver)
      : new DerivedStream(config, this.storage, this.pool, this.resolver, this.options.fanOut ?? true);
    const stream = (p: number) => `${config.name}/${p}`;
    d.on('batch', (b) =>
      this.emit('batch', { stream: stream(b.partition), baseOffset: b.sourceOffset, recordsOut: b.recordsOut }),
    );
    d.on('lag', (l) => this.emit('lag', { stream: stream(l.partition), partition: l.partition, lag: l.lag }));
    d.on('error', (error, p) => this.derivedError({ stream: stream(p), error }));
    d.on('skip', (s) => this.emit('skip', { stream: stream(s.partition), ...s }));
    d.on('state', (state, p) => this.emit('state', { stream: stream(p), state }));
    this.derived.set(config.name, d);
    const started = d.start();
    this.telemetry.track(d, started);
    await started;
    return d;
  }

  /**
   * As Node's emitter never drops an unheard 'error', a derived stream's failure with no listener
   * goes to the logger at level error; with a listener, the listener has it and the logger hears it at debug.
   */
  private derivedError(info: { stream: string; error: EddyError }): void {
    const message = `derived stream ${info.stream} stopped: ${info.error.message}`;
    const fields = { stream: info.stream, code: info.error.code, error: info.error };
    if (this.listenerCount('error') > 0) {
      this.logger.debug(message, fields);
      this.emit('error', info);
      return;
    }
    this.logger.error(message, fields);
  }

  async stopDerived(name: string): Promise<void> {
    const d = this.derived.get(name);
    if (!d) return;
    // A stopped Kafka stream keeps showing the progress it last read.
    if (isKafkaStream(d)) this.kafkaProgress.set(name, d.progress());
    this.derived.delete(name);
    this.telemetry.untrack(name);
    await d.stop();
    if (isKafkaStream(d)) this.kafkaProgress.set(name, d.progress());
  }

  /** Stops derived streams, the worker pool and the storage. */
  async close(): Promise<void> {
    clearInterval(this.metricsTimer);
    await this.observeServer?.close();
    this.observeServer = null;
    for (const name of [...this.derived.keys()]) await this.stopDerived(name);
    // A pool handed to open() is closed even when nothing ran on it.
    await (this.poolInstance ?? this.options.pool)?.close();
    this.poolInstance = null;
    await this.storage.close();
  }

  /** `await using eddy = await open(dir)` closes it when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Opens (creating if needed) a data directory. */
export async function open(dir: string, options: OpenOptions = {}): Promise<Eddy> {
  const { workers: _w, baseDir: _b, http, logger: _l, ...storageOptions } = options;
  const eddy = new Eddy(await openStorage(dir, storageOptions), options);
  if (http !== undefined) {
    try {
      await eddy.serve(http);
    } catch (err) {
      await eddy.close();
      throw err;
    }
  }
  return eddy;
}
