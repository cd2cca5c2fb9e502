import { existsSync, type FSWatcher, mkdirSync, statfsSync, statSync, watch } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { EventEmitter } from 'eventemitter3';
import { type Database, type Key, open, type RootDatabase } from 'lmdb';
import { EddyError } from '../errors.js';
import { BATCH_HEADER_SIZE, type EncodeLimits, type ProduceRecord, type StoredBatch } from './batch-format.js';
import { checkPartition, type Damage } from './check.js';
import { parseCodec } from './codecs.js';
import { guardCommitRejections } from './commit-rejections.js';
import { type ConsumeOptions, Consumer } from './consumer.js';
import { type DataFileInfo, inspectDataFile } from './data-file.js';
import type { Dedup } from './dedup.js';
import { STORAGE_DEFAULTS } from './defaults.js';
import { DerivedStateStore } from './derived-state.js';
import {
  DataCorruptError,
  DiskFullError,
  InvalidArgumentError,
  ReadOnlyStorageError,
  StorageClosedError,
  StorageFullError,
  TooManyPartitionsError,
  TopicExistsError,
  UnknownPartitionError,
  UnknownTopicError,
} from './errors.js';
import { acquireWriterLock, type WriterLock } from './lock.js';
import { RESOURCE_NAME, RESOURCE_NAME_RULE } from './names.js';
import {
  type AppendEvent,
  type AppendOptions,
  type AppendResult,
  type PartitionHost,
  PartitionLog,
  type ReadOptions,
} from './partition.js';
import { partitionDbOptions } from './partition-db.js';
import type { PartitionSource } from './partition-reader.js';
import { Producer, type ProducerOptions } from './producer.js';
import { ProducerSequences } from './producer-sequences.js';
import { ModuleRegistry, type ModuleValidator } from './registry.js';

/** Fluvio's topic defaults: retention time 7 days, max partition size 100 GB (kept as named exports of the package). */
export const DEFAULT_RETENTION_MS = STORAGE_DEFAULTS.retentionMs;
export const DEFAULT_MAX_PARTITION_BYTES = STORAGE_DEFAULTS.maxPartitionBytes;
export const DEFAULT_MAX_RECORD_BYTES = STORAGE_DEFAULTS.maxRecordBytes;
export const DEFAULT_MAX_BATCH_BYTES = STORAGE_DEFAULTS.maxBatchBytes;
export const DEFAULT_MAX_PARTITIONS = STORAGE_DEFAULTS.maxPartitions;
/** Eddy's own sub-databases (besides one per partition). */
const BASE_DATABASES = ['meta', 'topics', 'offsets', 'derived-streams', 'modules', 'module-bytes'];
/** Where directories written before the rename kept derived-stream state; moved on a writer's open. */
const LEGACY_DERIVED_DB = 'streams';
/**
 * Disk space writes leave free, so that deleting topics and retention (which need new pages for
 * LMDB's free list before anything is freed: about 8 bytes per freed 4 KiB page) and the writer
 * lock can still be written on a full disk: 1 MiB plus 1/256 of the data file.
 */
const DISK_RESERVE_MIN = 1 << 20;
const DISK_RESERVE_SHARE = 256;
/** Free disk space is measured again at least after this many bytes were written. */
const DISK_RECHECK_BYTES = 64 << 20;
/** Named databases LMDB may hold beyond the partitions and BASE_DATABASES: room for later sub-databases. */
const SPARE_DATABASES = 16;
const FORMAT_VERSION = 1;

/**
 * How a topic stores its batches: `lz4` compresses each stored value inside LMDB; `gzip`, `snappy`
 * and `zstd` make every batch's records be stored with that codec, whatever the producer chose
 * (as a Fluvio topic's compression type overrides the producer's); `none` keeps the producer's.
 */
export type Compression = 'none' | 'lz4' | 'gzip' | 'snappy' | 'zstd';
const COMPRESSIONS: readonly string[] = ['none', 'lz4', 'gzip', 'snappy', 'zstd'];

export interface StorageOptions {
  /**
   * Open for reading only: no writer lock, any number of readers next to one writer process.
   * Followers are woken by watching the data file (inotify), not by polling.
   */
  readOnly?: boolean;
  /**
   * Write next to other processes that open the directory this way (`eddy produce` does): each
   * append reads the partition's end inside the LMDB write transaction, so offsets stay unique
   * and gap-free. Such a writer produces and commits consumer offsets; creating or deleting
   * topics needs the directory to itself. A default writer refuses to open while one is alive,
   * and the other way round. Default false.
   */
  sharedWriter?: boolean;
  /**
   * When a produce call resolves. 'flush' (default): the LMDB commit is flushed to disk (survives
   * power loss). 'commit': the commit is visible and in the OS page cache (survives a killed
   * process, not a crashed machine). Eddy keeps lmdb-js's overlappingSync (commits do not wait
   * for fsync under the write lock) and never uses noSync.
   */
  durability?: 'flush' | 'commit';
  /** Largest encoded record accepted. Default 1 MiB. */
  maxRecordBytes?: number;
  /** Batches are closed at this size (a batch always takes at least one record). Default 1 MiB. */
  maxBatchBytes?: number;
  /**
   * Upper bound, in bytes, of what the LMDB data may occupy (Eddy's "map size": lmdb-js grows the
   * map on its own, so Eddy enforces the limit before writing). Default: unbounded (the disk is).
   */
  mapSize?: number;
  /**
   * Partitions (over all topics) this open can create: LMDB's maxDbs budget, a per-open setting
   * (a directory holding more, created with a higher limit, still opens). Default 10 000.
   */
  maxPartitions?: number;
  /**
   * Give every stored batch a checksum (CRC-32; batches written by earlier versions carry CRC32C)
   * and check it on every read (a mismatch is EDDY_CORRUPT_BATCH).
   * Default true; false only to measure the checksum's cost.
   */
  checksums?: boolean;
  /** Mode of the data directory when this open creates it. Default 0o700 (owner only). */
  dirMode?: number;
  /** Mode of data.mdb / lock.mdb when this open creates them. Default 0o600 (owner only). */
  fileMode?: number;
  /** How often time-based retention runs (ms); 0 disables the timer. Default 60 000. */
  retentionCheckMs?: number;
  /**
   * Validates modules at registration. The package's `open` / `openStorage` pass the engine's
   * (`engineValidator`); storage opened without one refuses to register modules.
   */
  validateModule?: ModuleValidator;
}

export interface TopicConfig {
  partitions?: number;
  /** Records older than this (by batch max timestamp) are removed. null keeps them. Default 7 days. */
  retentionMs?: number | null;
  /** Oldest batches are removed while a partition holds more bytes. null: no limit. Default 100 GB. */
  maxPartitionBytes?: number | null;
  /** See Compression. Default none. */
  compression?: Compression;
  /**
   * Fluvio's deduplication: a keyed record whose key the partition saw among its last `count`
   * keyed records, within `ageMs`, is dropped at produce. null (default): every record is kept.
   */
  dedup?: Dedup | null;
}

export type { Dedup } from './dedup.js';

export interface TopicMeta {
  name: string;
  id: number;
  partitions: number;
  retentionMs: number | null;
  maxPartitionBytes: number | null;
  compression: Compression;
  /** Absent in topics created before deduplication existed: none. */
  dedup?: Dedup | null;
  createdAt: number;
}

/** A named consumer's committed offset: `offset` is the next offset it reads. */
export interface CommittedOffset {
  consumer: string;
  topic: string;
  partition: number;
  offset: number;
  committedAt: number;
}

export interface TopicSummary extends TopicMeta {
  records: number;
  bytes: number;
}

export interface PartitionInfo {
  partition: number;
  /** First stored offset. */
  startOffset: number;
  /** Offset the next record gets (Fluvio's high watermark / log end offset). */
  nextOffset: number;
  records: number;
  bytes: number;
  batches: number;
}

export interface TopicDescription extends TopicSummary {
  partitionInfo: PartitionInfo[];
}

/** What Storage.check found. */
export interface CheckReport {
  dir: string;
  topics: number;
  partitions: number;
  batches: number;
  records: number;
  bytes: number;
  damage: Damage[];
  /** The data file's own damage, when it could not be opened (then no batch was read). */
  fileDamage?: string;
}

export interface StorageEvents {
  append: [AppendEvent];
  'topic-created': [TopicMeta];
  'topic-deleted': [string];
}

/** Topic names as Fluvio accepts them (see names.ts). */
export const TOPIC_NAME = RESOURCE_NAME;

/**
 * A data directory: one LMDB environment with these sub-databases:
 *
 * - `meta`: format version, topic id counter
 * - `topics`: topic name → TopicMeta (msgpack)
 * - `p/<topicId>/<partition>`: one database per partition, key = batch base offset, value = one
 *   batch (batch-format.ts). One database per partition rather than one keyed by (topic,
 *   partition, offset): the key is the bare offset, so a consumer's read is one contiguous cursor
 *   walk with no key prefix to build or check, appends always go to the B-tree's right edge,
 *   mdb_stat gives each partition's page usage, and deleting a topic drops whole databases. The
 *   cost is LMDB's maxDbs budget (`maxPartitions`) — a topic is recreated under a new id, so
 *   stale data of a deleted topic can never surface.
 * - `offsets`: [consumer, topic, partition] → committed offset (next offset to read)
 * - `modules` / `module-bytes`: the SmartModule registry (metadata, wasm bytes)
 * - `derived-streams`: derived-stream definitions, checkpoints and failures (msgpack, any key);
 *   directories written by earlier versions call it `streams`, renamed on a writer's first open
 */
export class Storage implements PartitionHost {
  readonly dir: string;
  /** LMDB's database budget of this environment (readers in other threads must open it alike). */
  private maxDbs = 0;
  readonly readOnly: boolean;
  /** Opened with `sharedWriter` (other processes may be appending too). */
  readonly sharedWriter: boolean;
  readonly durability: 'flush' | 'commit';
  readonly limits: EncodeLimits;
  readonly mapSize: number;
  /** @internal lmdb-js handle: lmdb's typings are not part of Eddy's published types. */
  readonly env: RootDatabase;
  readonly events = new EventEmitter<StorageEvents>();
  readonly modules: ModuleRegistry;
  /** Derived-stream definitions, checkpoints and failures (the `derived-streams` database). */
  readonly derivedState: DerivedStateStore;
  /** @internal Consumer offsets: [consumer, topic, partition] → { offset, committedAt }. */
  readonly offsets: Database<{ offset: number; committedAt: number }, Key>;
  /** @internal What producers handing batches to this process's writer had stored (see producer-sequences.ts). */
  readonly producerSequences: ProducerSequences;

  private readonly meta: Database<unknown, string>;
  private readonly derivedDb: Database<unknown, Key>;
  private readonly topicsDb: Database<TopicMeta, string>;
  private readonly topicCache = new Map<string, TopicMeta>();
  private readonly logs = new Map<string, PartitionLog>();
  private readonly lock: WriterLock | null;
  private closed = false;
  private retentionTimer: NodeJS.Timeout | null = null;
  private followerCount = 0;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  private watchPending = false;
  private usedEstimate: number | null = null;
  /** Bytes that can be written before the disk's free space is measured again. */
  private diskBudget = 0;
  /** Disk space held by writes handed to LMDB and not settled yet (statfs does not see them). */
  private pendingDisk = 0;
  private readonly background: Promise<unknown>[] = [];

  /** Use openStorage(). */
  constructor(dir: string, options: StorageOptions = {}) {
    this.dir = resolvePath(dir);
    this.readOnly = options.readOnly ?? false;
    this.sharedWriter = !this.readOnly && (options.sharedWriter ?? false);
    this.durability = options.durability ?? 'flush';
    if (this.durability !== 'flush' && this.durability !== 'commit') {
      throw new InvalidArgumentError(`durability must be 'flush' or 'commit', got ${String(this.durability)}`);
    }
    const maxRecordBytes = positiveInt(options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES, 'maxRecordBytes');
    const maxBatchBytes = Math.max(
      positiveInt(options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES, 'maxBatchBytes'),
      maxRecordBytes + BATCH_HEADER_SIZE + 4,
    );
    this.limits = { maxRecordBytes, maxBatchBytes, checksums: options.checksums ?? true };
    this.mapSize =
      options.mapSize === undefined || options.mapSize === Infinity
        ? Infinity
        : positiveInt(options.mapSize, 'mapSize');
    const maxPartitions = positiveInt(options.maxPartitions ?? DEFAULT_MAX_PARTITIONS, 'maxPartitions');

    if (!this.readOnly && (openReaders.get(this.dir) ?? 0) > 0) throw readOnlyInProcess(this.dir);
    if (this.readOnly) {
      if (!existsSync(join(this.dir, 'data.mdb'))) {
        throw new EddyError(
          'EDDY_NO_DATA_DIR',
          `no Eddy data directory at ${this.dir} (no data.mdb); a writer creates it on first open`,
        );
      }
      this.lock = null;
    } else {
      mkdirSync(this.dir, { recursive: true, mode: options.dirMode ?? 0o700 });
      try {
        this.lock = acquireWriterLock(this.dir, { shared: this.sharedWriter });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        const { free, reserve } = this.diskSpace();
        throw new DiskFullError(this.dir, free, reserve, 0, err);
      }
    }
    try {
      // Before LMDB maps the file: a truncated or damaged file is an error here, not a SIGBUS later.
      const file = inspectDataFile(this.dir);
      // Room for every database the directory already has (it may have been created with a
      // higher limit), and for maxPartitions over all topics.
      this.maxDbs = Math.max(maxPartitions + BASE_DATABASES.length, ...(file?.namedDatabases ?? [0])) + SPARE_DATABASES;
      this.env = open({
        path: this.dir,
        // Always a directory: lmdb-js would take a path with an extension ("data.eddy") for a file.
        noSubdir: false,
        maxDbs: this.maxDbs,
        readOnly: this.readOnly,
        // Commits resolve when visible; `flushed` (separate promise) when durable. See `durability`.
        separateFlushed: true,
        // lmdb-js's mode for the files it creates (not in its typings).
        ...{ permissionsMode: options.fileMode ?? 0o600 },
      });
      const names = file ? this.checkReadable(file) : [];
      const dbOpt = (name: string, encoding: 'msgpack' | 'binary') => {
        const db = this.env.openDB({ name, encoding });
        if (!db)
          throw new EddyError('EDDY_NO_DATA_DIR', `${this.dir} is not an Eddy data directory (no "${name}" database)`);
        return db;
      };
      this.meta = dbOpt('meta', 'msgpack') as Database<unknown, string>;
      const format = this.meta.get('format');
      if (format === undefined) {
        // Only a directory whose first open stopped before this write lacks the format: anything
        // besides the `meta` database means the data is there but cannot be read.
        if (names.some((n) => n !== 'meta'))
          throw new DataCorruptError(
            join(this.dir, 'data.mdb'),
            `its "meta" database has no format entry while it holds ${names.length} databases`,
          );
        if (!this.readOnly) this.meta.putSync('format', FORMAT_VERSION);
      } else if (format !== FORMAT_VERSION) {
        throw new EddyError(
          'EDDY_DATA_FORMAT',
          `${this.dir} holds data format ${String(format)}; this Eddy reads format ${FORMAT_VERSION}`,
        );
      }
      this.topicsDb = dbOpt('topics', 'msgpack') as Database<TopicMeta, string>;
      this.producerSequences = new ProducerSequences(this.meta);
      this.offsets = dbOpt('offsets', 'msgpack') as Database<{ offset: number; committedAt: number }, Key>;
      this.derivedDb = this.openDerivedDb(names, dbOpt);
      this.derivedState = new DerivedStateStore(this.env, this.derivedDb);
      const modulesDb = dbOpt('modules', 'msgpack');
      const moduleBytesDb = dbOpt('module-bytes', 'binary');
      this.modules = new ModuleRegistry(
        this,
        modulesDb as Database<never, string>,
        moduleBytesDb as Database<Uint8Array, string>,
        options.validateModule,
      );
      if (!this.readOnly) {
        for (const { key, value } of this.topicsDb.getRange({})) this.topicCache.set(key, value);
        this.dropOrphans();
      }
    } catch (err) {
      this.lock?.release();
      if (
        !this.readOnly &&
        err instanceof Error &&
        !(err instanceof EddyError) &&
        /renew|read-only|EACCES|permission denied/i.test(err.message)
      ) {
        // lmdb-js shares one LMDB environment per directory per process, opened with the flags of
        // the first open: after a read-only open, this process cannot get a writable one.
        throw readOnlyInProcess(this.dir, err);
      }
      throw err;
    }
    if (this.readOnly) openReaders.set(this.dir, (openReaders.get(this.dir) ?? 0) + 1);
    else guardCommitRejections(1);
    const every = options.retentionCheckMs ?? STORAGE_DEFAULTS.retentionCheckMs;
    if (!this.readOnly && every > 0) {
      this.retentionTimer = setInterval(() => {
        this.enforceRetention().catch(() => {
          /* reported on the next write */
        });
      }, every);
      this.retentionTimer.unref();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Topics

  async createTopic(name: string, config: TopicConfig = {}): Promise<TopicMeta> {
    this.checkWritable('create a topic');
    this.checkExclusive('create a topic');
    const { partitions, retentionMs, maxPartitionBytes, compression, dedup } = this.validateTopic(name, config);
    const id = (this.meta.get('nextTopicId') as number | undefined) ?? 1;
    const meta: TopicMeta = {
      name,
      id,
      partitions,
      retentionMs,
      maxPartitionBytes,
      compression,
      dedup,
      createdAt: Date.now(),
    };
    // Create the partition databases first, in one synchronous commit: a crash before the
    // metadata commit leaves only empty, unreferenced databases.
    await this.written(() => {
      this.env.transactionSync(() => {
        for (let p = 0; p < partitions; p++) this.openPartitionDb(meta, p);
      });
      this.meta.putSync('nextTopicId', id + 1);
      return this.topicsDb.put(name, meta);
    });
    await this.flushedIfDurable();
    this.topicCache.set(name, meta);
    this.events.emit('topic-created', meta);
    return meta;
  }

  /**
   * Adds `count` partitions to a topic (numbered after the existing ones), as Fluvio's
   * `topic add-partition`. Existing partitions, their records and offsets are untouched; records
   * produced from now on are spread over all partitions (a Producer made before keeps the count it
   * was made with). Returns the new partition numbers.
   */
  async addPartitions(name: string, count = 1): Promise<number[]> {
    this.checkWritable('add partitions');
    this.checkExclusive('add partitions');
    const m = this.requireTopic(name);
    if (!Number.isInteger(count) || count < 1)
      throw new InvalidArgumentError(`the number of partitions to add must be a positive integer, got ${count}`);
    this.checkRoomFor(name, count, true);
    const meta: TopicMeta = { ...m, partitions: m.partitions + count };
    // As in createTopic: the databases first, so a crash leaves only unreferenced empty ones.
    await this.written(() => {
      this.env.transactionSync(() => {
        for (let p = m.partitions; p < meta.partitions; p++) this.openPartitionDb(meta, p);
      });
      return this.topicsDb.put(name, meta);
    });
    await this.flushedIfDurable();
    this.topicCache.set(name, meta);
    const added: number[] = [];
    for (let p = m.partitions; p < meta.partitions; p++) added.push(p);
    return added;
  }

  /**
   * Every check `createTopic` makes (name, settings, not taken, room for its partitions), without
   * writing anything: the settings the topic would get. Works on a read-only open (a dry run).
   */
  validateTopic(name: string, config: TopicConfig = {}): Required<TopicConfig> {
    this.checkOpen();
    if (typeof name !== 'string' || !TOPIC_NAME.test(name)) {
      throw new InvalidArgumentError(`invalid topic name ${JSON.stringify(name)}: use ${RESOURCE_NAME_RULE}`);
    }
    if (this.topicCache.has(name) || this.topicsDb.get(name)) throw new TopicExistsError(name);
    const partitions = config.partitions ?? 1;
    if (!Number.isInteger(partitions) || partitions < 1)
      throw new InvalidArgumentError(`partitions must be a positive integer, got ${partitions}`);
    const retentionMs = config.retentionMs === undefined ? DEFAULT_RETENTION_MS : config.retentionMs;
    if (retentionMs !== null && !(Number.isFinite(retentionMs) && retentionMs > 0))
      throw new InvalidArgumentError(
        `retentionMs must be a positive number of milliseconds or null, got ${retentionMs}`,
      );
    const maxPartitionBytes =
      config.maxPartitionBytes === undefined ? DEFAULT_MAX_PARTITION_BYTES : config.maxPartitionBytes;
    if (maxPartitionBytes !== null && !(Number.isFinite(maxPartitionBytes) && maxPartitionBytes > 0))
      throw new InvalidArgumentError(
        `maxPartitionBytes must be a positive number of bytes or null, got ${maxPartitionBytes}`,
      );
    const compression = config.compression ?? 'none';
    if (!COMPRESSIONS.includes(compression)) {
      throw new InvalidArgumentError(
        `compression ${JSON.stringify(compression)} is unknown: use ${COMPRESSIONS.map((c) => JSON.stringify(c)).join(', ')}`,
      );
    }
    if (compression !== 'none' && compression !== 'lz4') parseCodec(compression); // zstd: refused where no implementation loads
    const dedup = config.dedup ?? null;
    if (dedup !== null) {
      if (!Number.isSafeInteger(dedup.count) || dedup.count < 1)
        throw new InvalidArgumentError(`dedup count must be a positive integer, got ${dedup.count}`);
      if (!(Number.isFinite(dedup.ageMs) && dedup.ageMs > 0))
        throw new InvalidArgumentError(`dedup age must be a positive number of milliseconds, got ${dedup.ageMs}`);
    }
    this.checkRoomFor(name, partitions);
    return {
      partitions,
      retentionMs,
      maxPartitionBytes,
      compression,
      dedup: dedup && { count: dedup.count, ageMs: dedup.ageMs },
    };
  }

  /**
   * Refuses a topic that would not fit LMDB's database budget of this open, before anything is
   * written (a full budget would fail half-way, and every later open of all partitions with it).
   */
  private checkRoomFor(name: string, partitions: number, adding = false): void {
    let used = 0;
    for (const _ of this.env.getKeys({})) used++;
    const limit = this.maxDbs - BASE_DATABASES.length - SPARE_DATABASES;
    const available = Math.max(0, this.maxDbs - SPARE_DATABASES - used);
    if (partitions > available) throw new TooManyPartitionsError(name, partitions, available, limit, adding);
  }

  /** Topic metadata, or undefined. */
  topic(name: string): TopicMeta | undefined {
    this.checkOpen();
    if (!this.readOnly) return this.topicCache.get(name);
    return this.topicsDb.get(name);
  }

  /** Every topic's name, sorted; unlike listTopics, no partition is read. */
  topicNames(): string[] {
    return this.topicMetas().map((m) => m.name);
  }

  listTopics(): TopicSummary[] {
    return this.topicMetas().map((m) => {
      let records = 0,
        bytes = 0;
      for (let p = 0; p < m.partitions; p++) {
        const log = this.logFor(m, p);
        log.refresh();
        records += log.records;
        bytes += log.bytes;
      }
      return { ...m, records, bytes };
    });
  }

  /** Every topic's metadata, by name. */
  private topicMetas(): TopicMeta[] {
    this.checkOpen();
    const metas = this.readOnly ? [...this.topicsDb.getRange({})].map((e) => e.value) : [...this.topicCache.values()];
    return metas.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Reads and verifies every stored batch of every partition (checksums, headers, records,
   * contiguous offsets; see check.ts). Damage is reported, not thrown.
   */
  check(): CheckReport {
    const report: CheckReport = {
      dir: this.dir,
      topics: 0,
      partitions: 0,
      batches: 0,
      records: 0,
      bytes: 0,
      damage: [],
    };
    for (const m of this.topicMetas()) {
      report.topics++;
      for (let p = 0; p < m.partitions; p++) {
        report.partitions++;
        const r = checkPartition(this.openPartitionDb(m, p), m.name, p);
        report.batches += r.batches;
        report.records += r.records;
        report.bytes += r.bytes;
        report.damage.push(...r.damage);
      }
    }
    return report;
  }

  /** A topic's partition count, from its metadata alone (describeTopic also reads every partition's bounds). */
  partitionCount(name: string): number {
    return this.requireTopic(name).partitions;
  }

  describeTopic(name: string): TopicDescription {
    const m = this.requireTopic(name);
    const partitionInfo: PartitionInfo[] = [];
    let records = 0,
      bytes = 0;
    for (let p = 0; p < m.partitions; p++) {
      const log = this.logFor(m, p);
      log.refresh();
      const batches = (log.db.getStats() as { entryCount: number }).entryCount;
      partitionInfo.push({
        partition: p,
        startOffset: log.startOffset,
        nextOffset: log.nextOffset,
        records: log.records,
        bytes: log.bytes,
        batches,
      });
      records += log.records;
      bytes += log.bytes;
    }
    return { ...m, records, bytes, partitionInfo };
  }

  /** Deletes a topic: its partitions, and the consumer offsets committed on it. */
  async deleteTopic(name: string): Promise<void> {
    this.checkWritable('delete a topic');
    this.checkExclusive('delete a topic');
    const m = this.requireTopic(name);
    const logs: PartitionLog[] = [];
    for (let p = 0; p < m.partitions; p++) logs.push(this.logFor(m, p));
    this.topicCache.delete(name);
    for (const log of logs) log.markDeleted();
    await Promise.all(logs.map((l) => l.idle()));
    const offsetKeys: Key[] = [];
    for (const key of this.offsets.getKeys({})) if (Array.isArray(key) && key[1] === name) offsetKeys.push(key);
    // Deleting uses no disk space beyond the reserve writes leave free (see checkDisk).
    await this.written(() =>
      this.env.batch(() => {
        this.topicsDb.remove(name);
        for (const k of offsetKeys) this.offsets.remove(k);
      }),
    );
    for (const log of logs) {
      this.logs.delete(logKey(name, log.partition));
      await this.written(() => log.db.drop());
    }
    await this.flushedIfDurable();
    this.usedEstimate = null;
    this.events.emit('topic-deleted', name);
  }

  // -------------------------------------------------------------------------------------------
  // Partitions, produce, read

  /** The log of one partition (throws UnknownTopicError / UnknownPartitionError). */
  partition(topic: string, partition: number): PartitionLog {
    const m = this.requireTopic(topic);
    if (!Number.isInteger(partition) || partition < 0 || partition >= m.partitions) {
      throw new UnknownPartitionError(topic, partition, m.partitions);
    }
    return this.logFor(m, partition);
  }

  append(
    topic: string,
    partition: number,
    records: readonly ProduceRecord[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    try {
      return this.partition(topic, partition).append(records, options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  readBatches(topic: string, partition: number, fromOffset: number, options?: ReadOptions): StoredBatch[] {
    return this.partition(topic, partition).readBatches(fromOffset, options);
  }

  consume(topic: string, partition: number, options: ConsumeOptions = {}): Consumer {
    return new Consumer(this, this.partition(topic, partition), options);
  }

  producer(topic: string, options: ProducerOptions = {}): Producer {
    this.requireTopic(topic);
    return new Producer(this, topic, options);
  }

  // -------------------------------------------------------------------------------------------
  // Consumer offsets

  /** Stores `offset` (the next offset to read) for a named consumer; resolves once durable. */
  async commitOffset(consumer: string, topic: string, partition: number, offset: number): Promise<void> {
    this.checkWritable('commit a consumer offset');
    if (typeof consumer !== 'string' || consumer.length === 0)
      throw new InvalidArgumentError('consumer name must be a non-empty string');
    const log = this.partition(topic, partition);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > log.nextOffset) {
      throw new InvalidArgumentError(
        `cannot commit offset ${offset} for ${topic}/${partition}: it must be between 0 and ${log.nextOffset} (the next offset)`,
      );
    }
    await this.written(() => this.offsets.put([consumer, topic, partition], { offset, committedAt: Date.now() }));
    await this.flushedIfDurable();
  }

  /** The committed offset of a named consumer, or undefined. */
  committedOffset(consumer: string, topic: string, partition: number): number | undefined {
    this.checkOpen();
    return this.offsets.get([consumer, topic, partition])?.offset;
  }

  /** Every committed offset: [{ consumer, topic, partition, offset, committedAt }]. */
  listCommittedOffsets(): CommittedOffset[] {
    this.checkOpen();
    const out: CommittedOffset[] = [];
    for (const { key, value } of this.offsets.getRange({})) {
      const [consumer, topic, partition] = key as [string, string, number];
      out.push({ consumer, topic, partition, offset: value.offset, committedAt: value.committedAt });
    }
    return out;
  }

  /**
   * Deletes a named consumer's committed offsets (all of them, or those on `topic`, or on one
   * partition of it) and returns what was deleted; the consumer then starts afresh.
   */
  async deleteCommittedOffsets(
    consumer: string,
    where: { topic?: string; partition?: number } = {},
  ): Promise<CommittedOffset[]> {
    this.checkWritable('delete a consumer offset');
    const gone = this.listCommittedOffsets().filter(
      (c) =>
        c.consumer === consumer &&
        (where.topic === undefined || c.topic === where.topic) &&
        (where.partition === undefined || c.partition === where.partition),
    );
    if (gone.length === 0) return gone;
    await this.written(() =>
      this.env.batch(() => {
        for (const c of gone) this.offsets.remove([c.consumer, c.topic, c.partition]);
      }),
    );
    await this.flushedIfDurable();
    return gone;
  }

  // -------------------------------------------------------------------------------------------
  // Retention

  /** Applies retention time and maximum partition size to every partition now. Returns batches removed. */
  async enforceRetention(now = Date.now()): Promise<number> {
    if (this.readOnly || this.closed) return 0;
    let removed = 0;
    const jobs: Promise<number>[] = [];
    for (const m of this.topicCache.values()) {
      for (let p = 0; p < m.partitions; p++) jobs.push(this.logFor(m, p).enforceRetention(now));
    }
    for (const n of await Promise.all(jobs)) removed += n;
    if (removed) this.usedEstimate = null;
    return removed;
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  /** Waits for queued writes, closes LMDB, releases the writer lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await Promise.all([...this.logs.values()].map((l) => l.idle()));
    await Promise.all(this.background);
    for (const l of this.logs.values()) l.events.emit('deleted');
    this.stopWatching();
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = null;
    if (this.readOnly) {
      const n = (openReaders.get(this.dir) ?? 1) - 1;
      if (n > 0) openReaders.set(this.dir, n);
      else openReaders.delete(this.dir);
    }
    try {
      if (!this.readOnly) await this.env.flushed;
      await this.env.close();
    } finally {
      this.lock?.release();
      if (!this.readOnly) guardCommitRejections(-1);
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // -------------------------------------------------------------------------------------------
  // PartitionHost

  checkCapacity(bytes: number): number {
    const need = estimateBytesOnPages(bytes);
    if (this.mapSize !== Infinity) {
      if (this.usedEstimate === null || this.usedEstimate + need > this.mapSize * 0.75)
        this.usedEstimate = this.measureUsed();
      if (this.usedEstimate + need > this.mapSize) throw new StorageFullError(this.mapSize, this.usedEstimate, bytes);
    }
    this.checkDisk(bytes, need);
    if (this.mapSize !== Infinity) this.usedEstimate! += need;
    this.pendingDisk += need;
    return need;
  }

  releaseCapacity(reserved: number): void {
    this.pendingDisk = Math.max(0, this.pendingDisk - reserved);
  }

  /**
   * Refuses a write that would leave less than the reserve free on the disk (counting the pages
   * LMDB reuses inside its file before it grows it). Measured with statfs once the budget of the
   * last measurement is used up, so a write rarely pays for it.
   */
  private checkDisk(bytes: number, need: number): void {
    if (this.diskBudget >= need) {
      this.diskBudget -= need;
      return;
    }
    const { free, reserve } = this.diskSpace();
    let room = free - reserve - this.pendingDisk;
    if (room < need) {
      // Only half of the pages free inside the file count: LMDB reuses a freed page only once no
      // snapshot can see it, and grows the file meanwhile.
      room += this.reusableBytes() / 2;
      if (room < need) {
        this.diskBudget = 0;
        throw new DiskFullError(this.dir, free, reserve, bytes);
      }
    }
    // Half the room until the next measurement: the closer to the reserve, the more often.
    this.diskBudget = Math.min(room / 2, DISK_RECHECK_BYTES) - need;
  }

  /** Free bytes on the data directory's file system, and the reserve writes leave. */
  private diskSpace(): { free: number; reserve: number } {
    let free = Infinity;
    let size = 0;
    try {
      const s = statfsSync(this.dir);
      free = s.bavail * s.bsize;
      size = statSync(join(this.dir, 'data.mdb')).size;
    } catch {
      /* not measurable here: LMDB's own error is mapped if the disk fills */
    }
    return { free, reserve: DISK_RESERVE_MIN + Math.ceil(size / DISK_RESERVE_SHARE) };
  }

  /** Pages inside data.mdb that no database uses (LMDB writes there before growing the file). */
  private reusableBytes(): number {
    try {
      return Math.max(0, statSync(join(this.dir, 'data.mdb')).size - this.measureUsed());
    } catch {
      return 0;
    }
  }

  mapWriteError(err: unknown, bytes: number): Error {
    if (err instanceof EddyError) return err;
    const e = err as NodeJS.ErrnoException & { commitError?: Promise<unknown> };
    // lmdb-js rejects every write of a failed commit with "Commit failed" and rejects
    // `commitError` later with LMDB's error: handled here, or it would end the process.
    if (e?.commitError && typeof e.commitError.catch === 'function') e.commitError.catch(() => {});
    const msg = String(e?.message ?? err);
    this.diskBudget = 0;
    const { free, reserve } = this.diskSpace();
    if (free < reserve + bytes && !/MDB_MAP_FULL/.test(msg)) {
      // The disk filled (by this write or by another program): LMDB reports ENOSPC, or EIO
      // ("Commit failed … Input/output error") when its page writes came up short.
      return new DiskFullError(this.dir, free, reserve, bytes, err);
    }
    if (e?.code === 'ENOSPC' || /MDB_MAP_FULL|ENOSPC|No space left/i.test(msg)) {
      this.usedEstimate = null;
      if (this.mapSize === Infinity) return new DiskFullError(this.dir, free, reserve, bytes, err);
      let used = 0;
      try {
        used = statSync(join(this.dir, 'data.mdb')).size;
      } catch {
        /* ignore */
      }
      return new StorageFullError(this.mapSize === Infinity ? used : this.mapSize, used, bytes, err);
    }
    return new EddyError(
      'EDDY_STORAGE_WRITE',
      `write to ${this.dir} failed: ${msg}; nothing of this write was stored`,
      { cause: err },
    );
  }

  emitAppend(e: AppendEvent): void {
    this.events.emit('append', e);
  }

  followers(delta: 1 | -1): void {
    this.followerCount += delta;
    if (this.followerCount > 0 && !this.keepAliveTimer && !this.closed) {
      // Waiting followers keep the process alive (no polling: the timer never does anything).
      this.keepAliveTimer = setInterval(() => {}, 0x7fffffff);
      if (this.readOnly) this.startWatching();
    } else if (this.followerCount === 0 && this.keepAliveTimer) {
      clearInterval(this.keepAliveTimer);
      this.keepAliveTimer = null;
      this.stopWatching();
    }
  }

  // -------------------------------------------------------------------------------------------
  // internals

  private startWatching(): void {
    if (this.watcher) return;
    // The writer's commits write data.mdb with pwrite(2): inotify reports them. On each burst the
    // read snapshot is renewed and every open partition re-reads its bounds.
    this.watcher = watch(join(this.dir, 'data.mdb'), { persistent: false }, () => {
      if (this.watchPending) return;
      this.watchPending = true;
      setImmediate(() => {
        this.watchPending = false;
        if (this.closed) return;
        this.env.resetReadTxn();
        for (const log of this.logs.values()) {
          // A topic deleted by the writer: wake its followers, which then end with the error.
          if (!log.deleted && this.topicsDb.get(log.topic) === undefined) {
            log.markDeleted();
            continue;
          }
          const before = log.nextOffset;
          let changed = false;
          try {
            changed = log.refresh();
          } catch {
            continue;
          }
          if (changed && log.nextOffset > before) {
            log.events.emit('append', {
              topic: log.topic,
              partition: log.partition,
              baseOffset: before,
              lastOffset: log.nextOffset - 1,
              count: log.nextOffset - before,
              nextOffset: log.nextOffset,
            });
          }
        }
      });
    });
    this.watcher.on('error', () => this.stopWatching());
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  /**
   * A file that holds data must hold Eddy's: its main database lists the count of named databases
   * a meta page states, and Eddy's `meta` database with a format. Otherwise (a damaged meta page
   * selecting a wrong tree, another program's LMDB file) opening it as new would hide what it
   * holds (and a writer would reuse its pages): refuse instead.
   */
  private checkReadable(file: DataFileInfo): string[] {
    let names: string[];
    try {
      names = [...this.env.getKeys({})].map(String);
    } catch (err) {
      throw new DataCorruptError(file.path, `its main database cannot be read (${(err as Error).message})`, err);
    }
    if (this.readOnly) return names; // a writer may commit between the meta check and this read
    if (!file.namedDatabases.includes(names.length)) {
      throw new DataCorruptError(
        file.path,
        `its main database lists ${names.length} databases where its meta pages count ${file.namedDatabases.join(' or ')}`,
      );
    }
    const foreign = names.filter(
      (n) => !BASE_DATABASES.includes(n) && n !== LEGACY_DERIVED_DB && !/^p\/\d+\/\d+$/.test(n),
    );
    if (foreign.length > 0) {
      throw new DataCorruptError(
        file.path,
        `it holds databases Eddy does not create (${foreign
          .slice(0, 3)
          .map((n) => JSON.stringify(n))
          .join(', ')}): not an Eddy data directory, or damaged`,
      );
    }
    if (names.length > 0 && !names.includes('meta')) {
      throw new DataCorruptError(file.path, `it holds ${names.length} databases but not Eddy's "meta" database`);
    }
    return names;
  }

  /**
   * The derived-stream database. A directory written before it was renamed holds it as `streams`:
   * a writer moves its entries to `derived-streams` and drops the old one in one transaction (so a
   * crash leaves one or the other); a reader of such a directory reads the old one where it is.
   */
  private openDerivedDb(
    names: string[],
    dbOpt: (name: string, encoding: 'msgpack') => Database<unknown, Key>,
  ): Database<unknown, Key> {
    if (!names.includes(LEGACY_DERIVED_DB)) return dbOpt('derived-streams', 'msgpack');
    const legacy = dbOpt(LEGACY_DERIVED_DB, 'msgpack');
    if (this.readOnly) return legacy;
    const db = dbOpt('derived-streams', 'msgpack');
    this.env.transactionSync(() => {
      for (const { key, value } of legacy.getRange({})) db.putSync(key, value);
      legacy.dropSync();
    });
    return db;
  }

  /**
   * Partition databases no topic refers to (a crash between creating a topic's databases and
   * committing its metadata, or between deleting a topic's metadata and dropping its databases)
   * are dropped when a writer opens the directory.
   */
  private dropOrphans(): void {
    const live = new Set<number>();
    for (const m of this.topicCache.values()) live.add(m.id);
    for (const name of this.env.getKeys({})) {
      const m = typeof name === 'string' ? /^p\/(\d+)\/\d+$/.exec(name) : null;
      if (!m || live.has(Number(m[1]))) continue;
      const db = this.env.openDB({ name: name as string, encoding: 'binary' });
      if (db) this.background.push(db.drop().catch(() => {}));
    }
  }

  /** Runs an LMDB write and awaits it; its failure (disk full, I/O error) becomes an EddyError. */
  private async written<T>(write: () => T | Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      throw this.mapWriteError(err, 0);
    }
  }

  private async flushedIfDurable(): Promise<void> {
    if (this.durability === 'flush') await this.env.flushed;
  }

  private measureUsed(): number {
    const pagesOf = (s: { treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number }) =>
      s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;
    const envStats = this.env.getStats() as {
      pageSize: number;
      treeBranchPageCount: number;
      treeLeafPageCount: number;
      overflowPages: number;
      free: { treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number };
    };
    let pages = 2 + pagesOf(envStats) + pagesOf(envStats.free);
    const dbs: Database<unknown, Key>[] = [
      this.meta,
      this.topicsDb,
      this.offsets,
      this.derivedDb,
      ...this.modules.databases(),
    ];
    for (const m of this.topicCache.values())
      for (let p = 0; p < m.partitions; p++) dbs.push(this.logFor(m, p).db as unknown as Database<unknown, Key>);
    for (const db of dbs) pages += pagesOf(db.getStats() as never);
    return pages * envStats.pageSize;
  }

  private requireTopic(name: string): TopicMeta {
    this.checkOpen();
    const m = this.topic(name);
    if (!m) throw new UnknownTopicError(name);
    return m;
  }

  private logFor(m: TopicMeta, partition: number): PartitionLog {
    const key = logKey(m.name, partition);
    let log = this.logs.get(key);
    if (log && log.topicId === m.id) return log;
    log = new PartitionLog(
      this,
      m.name,
      partition,
      this.openPartitionDb(m, partition),
      { retentionMs: m.retentionMs, maxPartitionBytes: m.maxPartitionBytes },
      m.id,
    );
    if (m.compression !== 'none' && m.compression !== 'lz4') log.topicCodec = m.compression;
    this.logs.set(key, log);
    return log;
  }

  /**
   * How another thread of this process opens a partition read-only (worker threads read batches
   * straight from LMDB; see partition-reader.ts).
   */
  partitionSource(topic: string, partition: number): PartitionSource {
    const m = this.requireTopic(topic);
    this.partition(topic, partition); // validates the partition
    return {
      path: this.dir,
      maxDbs: this.maxDbs,
      db: partitionDbName(m, partition),
      lz4: m.compression === 'lz4',
      where: `${topic}/${partition}`,
      verify: this.limits.checksums !== false,
    };
  }

  private openPartitionDb(m: TopicMeta, partition: number): Database<Uint8Array, number> {
    const name = partitionDbName(m, partition);
    const db = this.env.openDB(partitionDbOptions(name, m.compression === 'lz4')) as
      | Database<Uint8Array, number>
      | undefined;
    if (!db) throw new UnknownTopicError(m.name);
    return db;
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageClosedError(this.dir);
  }

  private checkWritable(what: string): void {
    this.checkOpen();
    if (this.readOnly) throw new ReadOnlyStorageError(what, this.dir);
  }

  /** Topic ids and the topic table are this process's to change only when no other writer runs. */
  private checkExclusive(what: string): void {
    if (this.sharedWriter) {
      throw new EddyError(
        'EDDY_SHARED_WRITER',
        `cannot ${what} in ${this.dir} while opened with { sharedWriter: true } (other processes may be writing); open it without sharedWriter`,
      );
    }
  }
}

/** Read-only storages open in this thread, by directory (see readOnlyInProcess). */
const openReaders = new Map<string, number>();

/**
 * lmdb-js shares one LMDB environment per directory per process, opened with the flags of the
 * first open: while a read-only open exists, this process cannot get a writable one.
 */
function readOnlyInProcess(dir: string, cause?: unknown): EddyError {
  return new EddyError(
    'EDDY_DATA_DIR_READ_ONLY',
    `cannot open ${dir} for writing: this process already has it open read-only ` +
      `(lmdb-js keeps one LMDB environment per directory and process); close the read-only Storage first, or open the writer before readers`,
    cause === undefined ? undefined : { cause },
  );
}

function logKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function partitionDbName(m: TopicMeta, partition: number): string {
  return `p/${m.id}/${partition}`;
}

function positiveInt(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new InvalidArgumentError(`${what} must be a positive integer, got ${n}`);
  return n;
}

/** Bytes a value of `bytes` takes in LMDB pages (overflow pages for large values). */
function estimateBytesOnPages(bytes: number): number {
  return Math.ceil((bytes + 64) / 4096) * 4096;
}

/** Opens (creating if needed) a data directory. */
export async function openStorage(dir: string, options: StorageOptions = {}): Promise<Storage> {
  return new Storage(dir, options);
}
