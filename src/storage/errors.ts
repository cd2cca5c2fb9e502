import { hostname } from 'node:os';
import { EddyError } from '../errors.js';

/**
 * Storage failures. Every class has a stable `code`; messages say what, where, and how to fix it.
 * None of these errors is raised after anything was written: a refused write leaves the log as it was.
 */

export class UnknownTopicError extends EddyError {
  readonly topic: string;
  constructor(topic: string) {
    super(
      'EDDY_UNKNOWN_TOPIC',
      `topic "${topic}" does not exist; create it first, e.g. eddy.createTopic(${JSON.stringify(topic)}, { partitions: 1 })` +
        ` (CLI: eddy topic create ${topic})`,
    );
    this.topic = topic;
  }
}

export class TopicExistsError extends EddyError {
  readonly topic: string;
  constructor(topic: string) {
    super('EDDY_TOPIC_EXISTS', `topic "${topic}" already exists`);
    this.topic = topic;
  }
}

export class UnknownPartitionError extends EddyError {
  readonly topic: string;
  readonly partition: number;
  readonly partitions: number;
  constructor(topic: string, partition: number, partitions: number) {
    super(
      'EDDY_UNKNOWN_PARTITION',
      `topic "${topic}" has no partition ${partition}: it has ${partitions} partition${partitions === 1 ? '' : 's'} (0..${partitions - 1})`,
    );
    this.topic = topic;
    this.partition = partition;
    this.partitions = partitions;
  }
}

export class OffsetOutOfRangeError extends EddyError {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** First offset still stored. */
  readonly startOffset: number;
  /** Offset the next record will get (one past the last stored record). */
  readonly nextOffset: number;
  constructor(topic: string, partition: number, offset: number, startOffset: number, nextOffset: number) {
    const range =
      startOffset === nextOffset
        ? `the partition holds no records; the only valid start offset is ${nextOffset} (the end)`
        : `valid offsets are ${startOffset}..${nextOffset - 1} (or ${nextOffset} to wait for the next record)`;
    super('EDDY_OFFSET_OUT_OF_RANGE', `offset ${offset} is out of range for ${topic}/${partition}: ${range}`);
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
    this.startOffset = startOffset;
    this.nextOffset = nextOffset;
  }
}

export class RecordTooLargeError extends EddyError {
  readonly size: number;
  readonly limit: number;
  /** Index of the offending record in the call's input. */
  readonly index: number;
  constructor(size: number, limit: number, index: number, where: string) {
    super(
      'EDDY_RECORD_TOO_LARGE',
      `record ${index} for ${where} is ${size} bytes encoded, over the ${limit}-byte limit; ` +
        `raise it with openStorage(dir, { maxRecordBytes: ${nextPow2(size)} }) (CLI: --max-record-bytes); nothing was stored`,
    );
    this.size = size;
    this.limit = limit;
    this.index = index;
  }
}

function nextPow2(n: number): number {
  let p = 1024;
  while (p < n) p *= 2;
  return p;
}

export class StorageFullError extends EddyError {
  readonly mapSize: number;
  readonly used: number;
  readonly requested: number;
  constructor(mapSize: number, used: number, requested: number, cause?: unknown) {
    super(
      'EDDY_STORAGE_FULL',
      `storage full: writing ${requested} bytes would take the LMDB data (${used} bytes in use) past its map size of ${mapSize} bytes; ` +
        `raise it with openStorage(dir, { mapSize: ${Math.max(mapSize * 2, used + requested * 2)} }) (CLI: --map-size), ` +
        `or free space by deleting topics or lowering retention; nothing of this write was stored`,
      { cause },
    );
    this.mapSize = mapSize;
    this.used = used;
    this.requested = requested;
  }
}

/**
 * The disk holding the data directory is (nearly) full. Eddy keeps a reserve free so that
 * deleting topics and retention can still commit: writes are refused before they would use it.
 */
export class DiskFullError extends EddyError {
  readonly dir: string;
  /** Bytes free on the file system. */
  readonly free: number;
  /** Bytes Eddy keeps free for deletes and retention. */
  readonly reserve: number;
  readonly requested: number;
  constructor(dir: string, free: number, reserve: number, requested: number, cause?: unknown) {
    super(
      'EDDY_STORAGE_FULL',
      `storage full: the disk holding ${dir} has ${free} bytes free, and writing ${requested} bytes would leave less than ` +
        `the ${reserve} bytes Eddy keeps free so that deleting and retention keep working; free space ` +
        `(eddy topic delete, a shorter --retention-time, or files elsewhere on that disk) or move the data directory; ` +
        `nothing of this write was stored`,
      cause === undefined ? undefined : { cause },
    );
    this.dir = dir;
    this.free = free;
    this.reserve = reserve;
    this.requested = requested;
  }
}

export class DataDirLockedError extends EddyError {
  readonly dir: string;
  readonly pid: number;
  readonly holder: LockHolderInfo;
  /** The holder's lock file, in `dir`. */
  readonly file: string;
  /** `file`: the holder's lock file in `dir` (eddy.lock, or a shared writer's own file). */
  constructor(dir: string, holder: LockHolderInfo, file = 'eddy.lock') {
    const who =
      holder.pid === process.pid && holder.hostname === hostname()
        ? `this process (pid ${holder.pid}) already has it open for writing; close that Storage first`
        : `process ${holder.pid} on ${holder.hostname} (${holder.command || 'unknown command'}, opened ${new Date(holder.openedAt).toISOString()}) holds it for writing`;
    super(
      'EDDY_DATA_DIR_LOCKED',
      `data directory ${dir} is in use: ${who}. A second process may open it with { readOnly: true }; ` +
        `if that process is gone, remove ${dir}/${file}`,
    );
    this.dir = dir;
    this.pid = holder.pid;
    this.holder = holder;
    this.file = file;
  }
}

export interface LockHolderInfo {
  pid: number;
  hostname: string;
  /** /proc start time of the holder (clock ticks since boot), to tell a reused pid from the holder. */
  startTime: string | null;
  command: string;
  openedAt: number;
}

export class ReadOnlyStorageError extends EddyError {
  constructor(what: string, dir: string) {
    super('EDDY_READ_ONLY', `cannot ${what}: data directory ${dir} was opened read-only`);
  }
}

export class StorageClosedError extends EddyError {
  constructor(dir: string) {
    super('EDDY_STORAGE_CLOSED', `storage at ${dir} is closed`);
  }
}

export class InvalidArgumentError extends EddyError {
  constructor(message: string) {
    super('EDDY_INVALID_ARGUMENT', message);
  }
}

export class InvalidModuleError extends EddyError {
  readonly moduleName: string;
  constructor(name: string, reason: string, cause?: unknown) {
    super('EDDY_MODULE_INVALID', `SmartModule "${name}" is not valid: ${reason}; nothing was registered`, { cause });
    this.moduleName = name;
  }
}

export class NoModuleValidatorError extends EddyError {
  readonly moduleName: string;
  constructor(name: string) {
    super(
      'EDDY_NO_MODULE_VALIDATOR',
      `cannot register SmartModule "${name}": this storage was opened without a module validator; ` +
        "open it with the package's open() or openStorage() (they validate with the engine), or pass validateModule; nothing was registered",
    );
    this.moduleName = name;
  }
}

/**
 * No such SmartModule: a transform step named one that is neither registered nor a readable `.wasm`
 * file, or (`registryOnly`) a registry call such as delete named an unregistered one. `step` says
 * which step (`transforms[1].uses`, `t.yaml: transforms[0].uses`, `--filter`). When `uses` reads
 * as a path (`./m.wasm`, `/x/m`, `m.wasm`), the fix is the path, not registering it.
 */
export class UnknownModuleError extends EddyError {
  readonly isPath: boolean;
  constructor(
    readonly uses: string,
    readonly step: string | null = null,
    /** false where no registry was asked (`eddy test`, `eddy bench`: no data directory). */
    readonly registryChecked = true,
    /** The files looked for. */
    readonly tried: readonly string[] = [],
    /** Only the registry was asked (delete): no file was looked for. */
    registryOnly = false,
  ) {
    const isPath = /\.wasm$|^\.{0,2}\//.test(uses);
    const at = step ? `${step}: ` : '';
    const looked = tried.length > 0 ? ` (looked for ${tried.join(' and ')})` : '';
    let problem: string;
    if (registryOnly) {
      problem =
        `no SmartModule named "${uses}" is registered; register one with eddy.modules.register(${JSON.stringify(uses)}, bytesOrPath) ` +
        `(CLI: eddy smart-module create ${uses} --wasm-file <file>)`;
    } else if (!registryChecked) {
      problem = `SmartModule file ${uses} not found${looked}; without a data directory each \`uses\` is a .wasm path, relative to the file that names it`;
    } else if (isPath) {
      problem = `SmartModule file ${uses} does not exist (and no SmartModule is registered under that name); check the path`;
    } else {
      problem =
        `SmartModule "${uses}" is not registered and is not a .wasm file; register it with ` +
        `\`eddy smart-module create ${uses} --wasm-file <path>\` or give a path to the .wasm`;
    }
    super('EDDY_UNKNOWN_MODULE', at + problem);
    this.isPath = isPath;
  }
}

export class ModuleExistsError extends EddyError {
  readonly moduleName: string;
  constructor(name: string) {
    super(
      'EDDY_MODULE_EXISTS',
      `a SmartModule named "${name}" is already registered; delete it first or pass { replace: true }`,
    );
    this.moduleName = name;
  }
}

/** A producer-side transform failed; none of the records of that batch were stored. */
export class ProduceTransformError extends EddyError {
  readonly topic: string;
  readonly partition: number;
  constructor(topic: string, partition: number, detail: string, cause?: unknown) {
    super(
      'EDDY_PRODUCE_TRANSFORM',
      `producer transform failed for ${topic}/${partition}: ${detail}; the batch was not stored`,
      { cause },
    );
    this.topic = topic;
    this.partition = partition;
  }
}

/**
 * A stored batch that fails its checks (checksum, header): named by topic, partition and the
 * batch's base offset, so `eddy check` and the reader's error point at the same place.
 */
export class CorruptBatchError extends EddyError {
  readonly topic: string;
  readonly partition: number;
  constructor(
    where: string,
    /** Base offset of the damaged batch. */
    readonly offset: number,
    /** What is wrong with the batch. */
    readonly detail: string,
  ) {
    const slash = where.lastIndexOf('/');
    const topic = slash < 0 ? where : where.slice(0, slash);
    const partition = slash < 0 ? -1 : Number(where.slice(slash + 1));
    super(
      'EDDY_CORRUPT_BATCH',
      `stored data is damaged: topic "${topic}" partition ${partition}, batch at offset ${offset}: ${detail}; ` +
        `run \`eddy check\` to list every damaged batch, and restore the data directory from a backup`,
    );
    this.topic = topic;
    this.partition = partition;
  }
}

/** The data directory's LMDB file is damaged or truncated: found before LMDB maps it. */
export class DataCorruptError extends EddyError {
  readonly path: string;
  constructor(path: string, detail: string, cause?: unknown) {
    super(
      'EDDY_DATA_CORRUPT',
      `${path} is damaged: ${detail}; Eddy will not open it (nothing was changed). ` +
        `Restore the data directory from a backup, or move it away to start empty`,
      cause === undefined ? undefined : { cause },
    );
    this.path = path;
  }
}

/** A topic would take the directory past the named databases LMDB was opened with (maxPartitions). */
export class TooManyPartitionsError extends EddyError {
  constructor(
    topic: string,
    readonly requested: number,
    /** Partitions this open can still create. */
    readonly available: number,
    readonly limit: number,
    /** True when partitions were being added to an existing topic (`addPartitions`). */
    adding = false,
  ) {
    const n = `${requested} partition${requested === 1 ? '' : 's'}`;
    super(
      'EDDY_TOO_MANY_PARTITIONS',
      `${adding ? `cannot add ${n} to topic "${topic}"` : `cannot create topic "${topic}" with ${n}`}: this data directory has room for ${available} more ` +
        `(at most ${limit} partitions over all topics); delete topics, or open it with a higher limit, ` +
        `openStorage(dir, { maxPartitions: ${nextPow2(limit + requested)} }) (CLI: $EDDY_MAX_PARTITIONS); nothing was ${adding ? 'added' : 'created'}`,
    );
  }
}
