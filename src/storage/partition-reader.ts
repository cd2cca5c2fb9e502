import { type Database, open, type RootDatabase } from 'lmdb';
import { type StoredBatch, viewBatch } from './batch-format.js';
import { partitionDbOptions } from './partition-db.js';

/**
 * Reads one partition's stored batches from another thread of the process (the worker pool), so
 * record bytes go from LMDB straight into a module's memory without crossing the main thread.
 * lmdb-js shares one environment per process; a worker opens it read-only with the writer's
 * settings and sees every commit.
 */

/** What a thread needs to open a partition read-only (plain data: it travels in a task). */
export interface PartitionSource {
  path: string;
  maxDbs: number;
  db: string;
  lz4: boolean;
  /** `topic/partition`, for errors. */
  where: string;
  /** Check batch checksums on read (the storage's `checksums` option). */
  verify: boolean;
}

const envs = new Map<string, RootDatabase>();
const dbs = new Map<string, Database<Uint8Array, number>>();

export class PartitionReader {
  private constructor(
    private readonly env: RootDatabase,
    private readonly db: Database<Uint8Array, number>,
    readonly where: string,
    private readonly verify: boolean,
  ) {}

  static open(src: PartitionSource): PartitionReader {
    let env = envs.get(src.path);
    if (!env) {
      env = open({ path: src.path, maxDbs: src.maxDbs, readOnly: true, noSubdir: false });
      envs.set(src.path, env);
    }
    const key = `${src.path}\0${src.db}`;
    let db = dbs.get(key);
    if (!db) {
      db = env.openDB(partitionDbOptions(src.db, src.lz4)) as Database<Uint8Array, number>;
      dbs.set(key, db);
    }
    return new PartitionReader(env, db, src.where, src.verify);
  }

  /** Starts a fresh read transaction, so commits made since the last read are visible. */
  renew(): void {
    this.env.resetReadTxn();
  }

  /**
   * The batch stored at `key`, as a view valid until the next read on this thread (lmdb-js's
   * reused buffer: no allocation per batch). Null when retention removed it.
   */
  batch(key: number): StoredBatch | null {
    const value = this.db.getBinaryFast(key);
    return value ? viewBatch(key, value, this.where, this.verify) : null;
  }
}
