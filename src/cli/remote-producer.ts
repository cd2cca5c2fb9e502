import { existsSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { unpack } from 'msgpackr';
import { resolveUses, stepName, UnknownModuleError } from '../coordinator/resolve.js';
import { toErrorCode } from '../error-codes.js';
import { EddyError } from '../errors.js';
import { readModuleFile } from '../smartmodule/module.js';
import { stepConfig, type TransformStep } from '../smartmodule/transforms.js';
import { encodeRecordList } from '../storage/batch-format.js';
import { STORAGE_DEFAULTS } from '../storage/defaults.js';
import { DataDirLockedError } from '../storage/errors.js';
import type { ProducerRecord } from '../storage/producer.js';
import {
  encodeFrame,
  FrameReader,
  MAX_FRAME_BYTES,
  type OpenRequest,
  type Reply,
  type Request,
  type WireProducerOptions,
  type WireRecord,
  type WireStep,
} from './writer-protocol.js';
import { MAX_SESSIONS, socketPath } from './writer-socket.js';

/** What `eddy produce` asks the writer for: the topic, the partition, the producer-side chain. */
export interface ProduceSession {
  topic: string;
  partition?: number;
  steps: TransformStep[];
  /** Where relative `uses` paths start. */
  baseDir: string;
  /** How errors name the steps (see stepName). */
  source?: string;
  options: WireProducerOptions;
}

/** How long `eddy produce` waits for the process holding the data directory to serve it, or to let go. */
export const WRITER_WAIT_MS = 30_000;

/** Room a frame needs beside the records' bytes (msgpack headers). */
const FRAME_SLACK = 64 * 1024;

/** The writer went away during the produce: says how many records it acknowledged (stored). */
export class WriterGoneError extends EddyError {
  constructor(
    readonly acknowledged: number,
    cause?: unknown,
  ) {
    super(
      'EDDY_WRITER_GONE',
      `the process holding the data directory (eddy run / eddy connector run) stopped during the produce: ` +
        `${acknowledged} record${acknowledged === 1 ? ' was' : 's were'} acknowledged and stored; records sent after those may or may not have been stored, ` +
        'so check the topic (eddy consume) before producing them again',
      cause ? { cause } : undefined,
    );
  }
}

/** This user may not write the data directory, and no writer serving it accepts this user. */
export class DataDirDeniedError extends EddyError {
  constructor(
    readonly dir: string,
    cause: unknown,
  ) {
    super(
      'EDDY_DATA_DIR_DENIED',
      `cannot write the data directory ${dir} (${(cause as NodeJS.ErrnoException).code}), and no eddy run serving it accepts this user; ` +
        'produce as the user who owns it, or ask them to run `eddy run --socket-group <group>` with a group you are in',
      { cause },
    );
  }
}

/** An error from the writer process, already worded for the command line. */
export class RemoteError extends EddyError {
  readonly preformatted = true;
}

/**
 * Steps for the wire: a `uses` that names a file (resolved as everywhere, relative to `baseDir`)
 * carries the file's bytes, read here with this user's rights; other names go as they are (the
 * writer looks them up among the registered modules).
 */
async function wireSteps(steps: readonly TransformStep[], baseDir: string, source = ''): Promise<WireStep[]> {
  const out: WireStep[] = [];
  for (const [i, s] of steps.entries()) {
    const file = fileOf(s.uses, baseDir, stepName(source, i));
    const step: WireStep = { uses: file ?? s.uses, ...stepConfig(s) };
    if (file !== undefined) step.wasm = await readModuleFile(file);
    out.push(step);
  }
  return out;
}

/** The file `uses` names, or undefined when it names none (a registered name, for the writer to find). */
function fileOf(uses: string, baseDir: string, step: string): string | undefined {
  try {
    const ref = resolveUses(uses, { registry: null, baseDir }, step);
    return 'file' in ref ? ref.file : undefined;
  } catch (err) {
    if (err instanceof UnknownModuleError) return undefined;
    throw err;
  }
}

/** Records in frames below the limit; a record that alone is over it cannot go through the socket. */
function* framesOf(records: readonly WireRecord[]): Generator<WireRecord[]> {
  let batch: WireRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = r.value.length + (r.key?.length ?? 0) + 32;
    if (size > MAX_FRAME_BYTES - FRAME_SLACK) {
      throw tooLarge(size - 32);
    }
    if (bytes + size > MAX_FRAME_BYTES - FRAME_SLACK) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(r);
    bytes += size;
  }
  if (batch.length) yield batch;
}

function tooLarge(bytes: number): EddyError {
  return new EddyError(
    'EDDY_RECORD_TOO_LARGE',
    `a record of ${bytes} bytes is larger than a produce through eddy run can carry (${MAX_FRAME_BYTES - FRAME_SLACK} bytes); stop eddy run to produce it directly`,
  );
}

const keyValue = (r: ProducerRecord): ProducerRecord =>
  r.key != null ? { key: r.key, value: r.value } : { value: r.value };

/** Records cut into batches of about `bytes` (keys + values), as the producer batches them; a record alone may be larger. */
function batchesOf(records: readonly ProducerRecord[], bytes: number): ProducerRecord[][] {
  const out: ProducerRecord[][] = [];
  let start = 0;
  let size = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const n = r.value.length + (r.key?.length ?? 0) + 8;
    if (n + 24 > MAX_FRAME_BYTES - FRAME_SLACK) throw tooLarge(n - 8);
    if (i > start && size + n > bytes) {
      out.push(records.slice(start, i));
      start = i;
      size = 0;
    }
    size += n;
  }
  if (start < records.length) out.push(records.slice(start));
  return out;
}

function connectSocket(path: string): Promise<Socket | null> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', () => resolve(null));
  });
}

/** A produce session with the process that holds the data directory. */
export class RemoteProducer {
  private pending: { records: number; resolve: (r: Reply) => void; reject: (e: unknown) => void }[] = [];
  /** Where the writer stores encoded batches of this session; undefined: send records (see Reply). */
  private encodedPartition: number | undefined;
  private batchBytes = STORAGE_DEFAULTS.producerBatchBytes;
  private failure: unknown = null;
  /** Records the writer acknowledged as stored. */
  acknowledged = 0;

  private constructor(private readonly socket: Socket) {
    const reader = new FrameReader(
      MAX_FRAME_BYTES,
      (body) => this.onReply(body),
      () => socket.destroy(),
    );
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    // EPIPE, ECONNRESET or a close: the writer is gone (killed, or stopped).
    socket.on('error', (err) => this.failAll(new WriterGoneError(this.acknowledged, err)));
    socket.on('close', () => this.failAll(new WriterGoneError(this.acknowledged)));
  }

  /**
   * Connects to the writer serving `dataDir` and opens a produce session (the topic, partition
   * and transforms are checked there). Null when no writer serves the directory.
   */
  static async connect(dataDir: string, session: ProduceSession): Promise<RemoteProducer | null> {
    return RemoteProducer.open(dataDir, await RemoteProducer.openRequest(session));
  }

  private static async openRequest(session: ProduceSession): Promise<OpenRequest> {
    const steps = await wireSteps(session.steps, session.baseDir, session.source);
    return {
      op: 'open',
      topic: session.topic,
      steps,
      options: session.options,
      ...(session.partition !== undefined ? { partition: session.partition } : {}),
    };
  }

  private static async open(dataDir: string, request: OpenRequest): Promise<RemoteProducer | null> {
    const path = socketPath(dataDir);
    if (!existsSync(path)) return null;
    const socket = await connectSocket(path);
    if (!socket) return null;
    const remote = new RemoteProducer(socket);
    try {
      const reply = await remote.request(request, 0);
      if ('ok' in reply && Number.isInteger(reply.encodedPartition)) remote.encodedPartition = reply.encodedPartition;
      if (request.options.batchSize !== undefined) remote.batchBytes = request.options.batchSize;
    } catch (err) {
      socket.destroy();
      if (!(err instanceof WriterGoneError)) throw err;
      throw new EddyError(
        'EDDY_WRITER_GONE',
        `the process holding the data directory closed the connection before the produce began (it is stopping, or serves ${MAX_SESSIONS} producers already); nothing was sent, run the produce again`,
        { cause: err },
      );
    }
    return remote;
  }

  /**
   * Opens the data directory with `openLocal`; while another process holds it, produces through
   * that process when it serves the directory. A writer that is starting (its socket not there
   * yet) or a short one (`eddy topic create`) is waited for, up to `waitMs`; then the
   * DataDirLockedError stands.
   */
  static async openOrJoin<T>(
    openLocal: () => Promise<T>,
    dataDir: string,
    session: ProduceSession,
    {
      waitMs = WRITER_WAIT_MS,
      onWait,
    }: { waitMs?: number; onWait?: (err: DataDirLockedError, waitMs: number) => void } = {},
  ): Promise<{ local: T } | { remote: RemoteProducer }> {
    const deadline = Date.now() + waitMs;
    let request: OpenRequest | null = null;
    for (let attempt = 0; ; attempt++) {
      try {
        return { local: await openLocal() };
      } catch (err) {
        // A user who may not write the directory (a member of the socket's group) may still produce through the writer.
        const denied = ['EACCES', 'EPERM'].includes((err as NodeJS.ErrnoException).code ?? '');
        if (!(err instanceof DataDirLockedError) && !denied) throw err;
        request ??= await RemoteProducer.openRequest(session);
        const remote = await RemoteProducer.open(dataDir, request);
        if (remote) return { remote };
        if (denied) throw new DataDirDeniedError(dataDir, err);
        if (Date.now() >= deadline) throw err;
        if (attempt === 0) onWait?.(err as DataDirLockedError, waitMs);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async sendAll(records: readonly ProducerRecord[]): Promise<void> {
    const to = this.encodedPartition;
    if (to !== undefined && records.every((r) => r.partition === undefined || r.partition === to)) {
      // The writer can store batches as they are: encode them here, it checks and stores the bytes.
      const now = Date.now();
      await Promise.all(
        batchesOf(records, this.batchBytes).map((b) =>
          this.request(
            // Keys and values only, as `send` carries: the writer stamps the time.
            { op: 'sendEncoded', raw: encodeRecordList(b.map(keyValue), now, now), baseTimestamp: now, partition: to },
            b.length,
          ),
        ),
      );
      return;
    }
    const wire: WireRecord[] = records.map((r) => ({
      value: typeof r.value === 'string' ? Buffer.from(r.value) : r.value,
      ...(r.key != null ? { key: typeof r.key === 'string' ? Buffer.from(r.key) : r.key } : {}),
      ...(r.partition !== undefined ? { partition: r.partition } : {}),
    }));
    await Promise.all([...framesOf(wire)].map((batch) => this.request({ op: 'send', records: batch }, batch.length)));
  }

  send(record: ProducerRecord): Promise<void> {
    return this.sendAll([record]);
  }

  async flush(): Promise<void> {
    await this.request({ op: 'flush' }, 0);
  }

  async close(): Promise<void> {
    if (!this.socket.destroyed) {
      try {
        await this.flush();
      } finally {
        this.socket.end();
      }
    }
  }

  private onReply(body: Buffer): void {
    let r: Reply;
    try {
      r = decodeReply(body);
    } catch (err) {
      this.failAll(err);
      this.socket.destroy();
      return;
    }
    const p = this.pending.shift();
    if (!p) return;
    if ('error' in r) {
      p.reject(new RemoteError(toErrorCode(r.error.code), r.error.message));
    } else {
      this.acknowledged += p.records;
      p.resolve(r);
    }
  }

  private request(req: Request, records: number): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.socket.destroyed || !this.socket.writable) return Promise.reject(new WriterGoneError(this.acknowledged));
    return new Promise<Reply>((resolve, reject) => {
      this.pending.push({ records, resolve, reject });
      this.socket.write(encodeFrame(req));
    });
  }

  private failAll(err: unknown): void {
    this.failure ??= err;
    for (const p of this.pending.splice(0)) p.reject(this.failure);
  }
}

function decodeReply(body: Buffer): Reply {
  let r: unknown;
  try {
    r = unpack(body);
  } catch {
    r = null;
  }
  if (r && typeof r === 'object' && ('ok' in r || 'error' in r)) return r as Reply;
  throw new EddyError('EDDY_PROTOCOL', 'the writer process sent a reply this eddy cannot read (another eddy version?)');
}
