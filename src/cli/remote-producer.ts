import { existsSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { unpack } from 'msgpackr';
import { resolveUses, stepName, UnknownModuleError } from '../coordinator/resolve.js';
import { toErrorCode } from '../error-codes.js';
import { EddyError } from '../errors.js';
import { readModuleFile } from '../smartmodule/module.js';
import { stepConfig, type TransformStep } from '../smartmodule/transforms.js';
import {
  encodeFrame,
  FrameReader,
  type HANDOVER,
  MAX_FRAME_BYTES,
  type OpenRequest,
  type Reply,
  type Request,
  type WireProducerOptions,
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

/**
 * The writer died during a produce whose requests cannot be sent again safely (records through a
 * producer-side transform, or to a topic that deduplicates: only numbered encoded batches can):
 * says how many records it acknowledged (stored).
 */
export class WriterGoneError extends EddyError {
  constructor(
    readonly acknowledged: number,
    cause?: unknown,
  ) {
    super(
      'EDDY_WRITER_GONE',
      `the process holding the data directory (eddy run / eddy connector run) died during the produce: ` +
        `${acknowledged} record${acknowledged === 1 ? ' was' : 's were'} acknowledged and stored; records sent after those may or may not have been stored ` +
        '(records through a transform or to a deduplicating topic cannot be sent again safely), ' +
        'so check the topic (eddy consume) before producing them again',
      cause ? { cause } : undefined,
    );
  }
}

/** The writer hung up before answering `open`, without handing over: it serves MAX_SESSIONS producers already, or died. */
export class WriterRefusedError extends EddyError {
  constructor(cause: unknown) {
    super(
      'EDDY_WRITER_GONE',
      `the process holding the data directory closed the connection before the produce began (it is stopping, or serves ${MAX_SESSIONS} producers already); nothing was sent, run the produce again`,
      { cause },
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

/** The `open` request of a session: steps that name files carry the files' bytes. */
export async function openRequest(session: ProduceSession, producerId: string): Promise<OpenRequest> {
  return {
    op: 'open',
    topic: session.topic,
    steps: await wireSteps(session.steps, session.baseDir, session.source),
    options: session.options,
    producerId,
    ...(session.partition !== undefined ? { partition: session.partition } : {}),
  };
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

/** The writer stopped serving (HANDOVER) or went away; `handedOver`: every request it did not answer went unread. */
export class ConnectionLost extends EddyError {
  constructor(
    readonly handedOver: boolean,
    cause?: unknown,
  ) {
    super(
      'EDDY_WRITER_GONE',
      handedOver ? 'the writer process stopped serving' : 'the connection to the writer process was lost',
      cause ? { cause } : undefined,
    );
  }
}

/**
 * One produce session with the process that holds the data directory: requests go out as frames,
 * replies come back in order. What to send, and what to do when the connection ends, is the
 * caller's (see FailoverProducer).
 */
export class RemoteProducer {
  private pending: { resolve: (r: Reply) => void; reject: (e: unknown) => void }[] = [];
  private failure: ConnectionLost | null = null;
  /** The writer said it stops serving (see HANDOVER). */
  private handedOver = false;

  /** The reply to `open`. */
  opened: Extract<Reply, { ok: true }> = { ok: true };

  private constructor(private readonly socket: Socket) {
    const reader = new FrameReader(
      MAX_FRAME_BYTES,
      (body) => this.onReply(body),
      () => socket.destroy(),
    );
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    // EPIPE, ECONNRESET or a close: the writer is gone (killed, or stopped).
    socket.on('error', (err) => this.failAll(err));
    socket.on('close', () => this.failAll());
  }

  /**
   * Connects to the writer serving `dataDir` and opens a produce session (the topic, partition
   * and transforms are checked there). Null when no writer serves the directory, or when it is
   * handing over (try again); WriterRefusedError when it hung up without a word.
   */
  static async open(dataDir: string, request: OpenRequest): Promise<RemoteProducer | null> {
    const path = socketPath(dataDir);
    if (!existsSync(path)) return null;
    const socket = await connectSocket(path);
    if (!socket) return null;
    const session = new RemoteProducer(socket);
    try {
      session.opened = (await session.request(request)) as Extract<Reply, { ok: true }>;
    } catch (err) {
      socket.destroy();
      if (err instanceof ConnectionLost) {
        if (err.handedOver) return null;
        throw new WriterRefusedError(err);
      }
      throw err;
    }
    return session;
  }

  /** Sends one request; resolves with its reply, rejects with RemoteError or ConnectionLost. */
  request(req: Request): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.socket.destroyed || !this.socket.writable) return Promise.reject(this.lost());
    return new Promise<Reply>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(encodeFrame(req));
    });
  }

  /** Ends the session (after its replies). */
  end(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  private onReply(body: Buffer): void {
    let r: Reply | typeof HANDOVER;
    try {
      r = decodeReply(body);
    } catch (err) {
      for (const p of this.pending.splice(0)) p.reject(err);
      this.socket.destroy();
      return;
    }
    if ('handover' in r) {
      // Every request not answered went unread: fail them now (the caller sends them on) and let go.
      this.handedOver = true;
      this.failAll();
      this.socket.end();
      return;
    }
    const p = this.pending.shift();
    if (!p) return;
    if ('error' in r) p.reject(new RemoteError(toErrorCode(r.error.code), r.error.message));
    else p.resolve(r);
  }

  private lost(cause?: unknown): ConnectionLost {
    this.failure ??= new ConnectionLost(this.handedOver, cause);
    return this.failure;
  }

  private failAll(cause?: unknown): void {
    const err = this.lost(cause);
    for (const p of this.pending.splice(0)) p.reject(err);
  }
}

function decodeReply(body: Buffer): Reply | typeof HANDOVER {
  let r: unknown;
  try {
    r = unpack(body);
  } catch {
    r = null;
  }
  if (r && typeof r === 'object' && ('ok' in r || 'error' in r || 'handover' in r)) return r as Reply;
  throw new EddyError('EDDY_PROTOCOL', 'the writer process sent a reply this eddy cannot read (another eddy version?)');
}
