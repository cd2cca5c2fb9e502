import { chmodSync, chownSync, existsSync, readFileSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { resolveUses, stepName } from '../coordinator/resolve.js';
import type { Eddy } from '../eddy.js';
import { EddyError } from '../errors.js';
import { moduleName } from '../smartmodule/module.js';
import type { TransformStep } from '../smartmodule/transforms.js';
import type { Producer, ProducerRecord } from '../storage/producer.js';
import type { ProducerSequences } from '../storage/producer-sequences.js';
import { cliMessage } from './errors.js';
import { UsageError } from './format.js';
import {
  decodeRequest,
  encodeFrame,
  FrameReader,
  HANDOVER,
  MAX_FRAME_BYTES,
  type OpenRequest,
  type Reply,
  type Request,
  WriterProtocolError,
} from './writer-protocol.js';

/**
 * One process writes a data directory (it holds the writer lock). While a long-running writer —
 * `eddy run`, `eddy connector run` — has it, `eddy produce` in another terminal hands its records
 * to that writer over a Unix socket in the data directory (`eddy.sock`, protocol in
 * writer-protocol.ts), so producing into a topic that a derived stream or a sink is reading works
 * as with Fluvio.
 *
 * Who may connect: the socket is created mode 0600 (0660 with a socket group) whatever the umask,
 * so only the user running the writer (and root, and the group if one is given) can produce.
 * Node has no API for the peer's credentials (SO_PEERCRED), so the file mode is the check. The
 * writer never opens a file a client names: a producer sends its modules' bytes.
 */

export const SOCKET_FILE = 'eddy.sock';

/**
 * Requests, and their bytes, one session may have in hand before the writer stops reading from it
 * (backpressure). Requests are answered once durable, so this is also how much of one producer
 * rides on each commit: enough to keep the disk's flushes from pacing it.
 */
const MAX_QUEUED = 256;
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;
/** Sessions served at once; further connections are closed at once. */
export const MAX_SESSIONS = 256;

export function socketPath(dataDir: string): string {
  return join(dataDir, SOCKET_FILE);
}

export interface ServeOptions {
  /** Group id that may produce too (socket mode 0660); default none (0600). */
  group?: number;
}

/** A group given by name (looked up in /etc/group) or number, as `--socket-group` takes it. */
export function groupId(nameOrId: string): number {
  if (/^\d+$/.test(nameOrId)) return Number(nameOrId);
  let groups = '';
  try {
    groups = readFileSync('/etc/group', 'utf8');
  } catch {
    /* no group file: only numbers work */
  }
  const line = groups.split('\n').find((l) => l.split(':')[0] === nameOrId);
  const gid = line?.split(':')[2];
  if (gid === undefined || !/^\d+$/.test(gid)) {
    throw new UsageError(
      `--socket-group ${nameOrId}: no such group in /etc/group; give a group name or a numeric group id`,
    );
  }
  return Number(gid);
}

function wireError(err: unknown): Reply {
  if (err instanceof EddyError) return { error: { code: err.code, message: cliMessage(err) } };
  return { error: { code: 'EDDY_INTERNAL', message: (err as Error)?.message ?? String(err) } };
}

/**
 * The session's steps as the Eddy API takes them: the bytes the client read, or registered names
 * (resolved without a base directory: the writer never opens a path a client names).
 */
function transformsOf(eddy: Eddy, req: OpenRequest): TransformStep[] {
  return req.steps.map((s, i) => {
    const step = { with: { ...s.params }, lookback: s.lookback };
    if (s.wasm) return { uses: moduleName(s.uses), wasm: s.wasm, ...step };
    resolveUses(s.uses, { registry: eddy.modules, baseDir: null }, stepName('', i));
    return { uses: s.uses, ...step };
  });
}

/** One connection: requests handled in order (records stay in order), one reply each. */
class Session {
  private producer: Producer | null = null;
  /** The session's producer id (idempotent `sendEncoded`), from `open`. */
  private producerId: string | undefined;
  /** Requests start once this settles: after the `open` or `flush` before them. */
  private started: Promise<unknown> = Promise.resolve();
  /** Replies go out in order: each after the one before. */
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private queuedBytes = 0;
  private stopping = false;
  readonly done: Promise<void>;
  private readonly reader: FrameReader;

  constructor(
    private readonly eddy: Eddy,
    private readonly socket: Socket,
  ) {
    this.reader = new FrameReader(
      MAX_FRAME_BYTES,
      (body) => this.onFrame(body),
      (n) =>
        this.refuse(new WriterProtocolError(`a frame of ${n} bytes was announced; the limit is ${MAX_FRAME_BYTES}`)),
    );
    socket.on('data', (chunk: Buffer) => this.reader.push(chunk));
    socket.on('drain', () => this.resumeIfDrained());
    socket.on('error', () => socket.destroy());
    this.done = new Promise<void>((resolve) => {
      socket.on('close', () => {
        this.reader.stop();
        void this.queue
          .then(() => this.producer?.close())
          .catch(() => {})
          .finally(resolve);
      });
    });
  }

  /**
   * Stops reading, answers what was read, then says so (HANDOVER) and hangs up (the writer is
   * stopping): the client sends what went unanswered to the next writer.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.reader.stop();
    this.socket.pause();
    await this.queue;
    this.socket.resume(); // to see the client's end (what it sends is no longer read)
    this.hangUp(encodeFrame(HANDOVER), true);
    await this.done;
  }

  /**
   * Sends `last` (if any) and closes. `linger`: the client closes its side once it has read
   * `last` (a reset before that could lose it); a client that does not read cannot hold the
   * connection open past a second.
   */
  private hangUp(last?: Buffer, linger = false): void {
    if (this.socket.destroyed) return;
    const close = () => this.socket.destroy();
    if (linger && last) this.socket.end(last);
    else if (last) this.socket.end(last, close);
    else this.socket.end(close);
    setTimeout(close, 1000).unref();
  }

  private onFrame(body: Buffer): void {
    let req: Request;
    try {
      req = decodeRequest(body);
    } catch (err) {
      this.refuse(err as WriterProtocolError);
      return;
    }
    // A client that sends faster than it is served, or does not read its replies, is read no further until it catches up.
    const bytes = body.length;
    this.queuedBytes += bytes;
    if (++this.queued >= MAX_QUEUED || this.queuedBytes >= MAX_QUEUED_BYTES) this.socket.pause();
    // Started in the order read (so stored in it) without waiting for the ones before to be
    // durable: their commits share transactions. `open` and `flush` finish before what follows.
    const reply = this.started.then(() => this.handle(req));
    if (req.op === 'open' || req.op === 'flush') this.started = reply;
    this.queue = this.queue.then(async () => {
      const r = await reply;
      this.queued--;
      this.queuedBytes -= bytes;
      if (this.socket.destroyed) return;
      if (this.socket.write(encodeFrame(r))) this.resumeIfDrained();
      else this.socket.pause();
    });
  }

  private resumeIfDrained(): void {
    if (
      this.queued < MAX_QUEUED &&
      this.queuedBytes < MAX_QUEUED_BYTES &&
      !this.stopping &&
      !this.socket.writableNeedDrain &&
      !this.socket.destroyed
    )
      this.socket.resume();
  }

  /** A client that breaks the protocol gets the reason and is disconnected; nothing more is read. */
  private refuse(err: WriterProtocolError): void {
    this.stopping = true;
    this.reader.stop();
    this.socket.pause();
    this.hangUp(encodeFrame(wireError(err)));
  }

  private get sequences(): ProducerSequences {
    return this.eddy.storage.producerSequences;
  }

  private async handle(req: Request): Promise<Reply> {
    try {
      if (req.op === 'open') {
        if (this.producer) throw new WriterProtocolError('the session is already open');
        const n = this.eddy.describeTopic(req.topic).partitions;
        if (req.partition !== undefined && (req.partition < 0 || req.partition >= n)) {
          return {
            error: {
              code: 'EDDY_USAGE',
              message: `--partition ${req.partition}: topic "${req.topic}" has ${n} partition${n === 1 ? '' : 's'} (0..${n - 1})`,
            },
          };
        }
        const transforms = transformsOf(this.eddy, req);
        this.producer = await this.eddy.producer(req.topic, {
          ...req.options,
          ...(transforms.length ? { transforms } : {}),
        });
        this.producerId = req.producerId;
        const storedSeqs = req.producerId === undefined ? {} : { storedSeqs: this.sequences.stored(req.producerId) };
        const encoded = transforms.length === 0 && !this.eddy.describeTopic(req.topic).dedup;
        return encoded ? { ok: true, encodedPartitions: n, ...storedSeqs } : { ok: true, ...storedSeqs };
      }
      if (!this.producer) throw new WriterProtocolError('the session was not opened (`open` comes first)');
      if (req.op === 'send') {
        await this.producer.sendAll(
          req.records.map(
            (r) =>
              ({
                value: r.value,
                ...(r.key ? { key: r.key } : {}),
                ...(r.partition !== undefined ? { partition: r.partition } : {}),
              }) as ProducerRecord,
          ),
        );
        return { ok: true };
      }
      if (req.op === 'sendEncoded') {
        // The bytes go to storage as they are: checked there, never decoded into record objects.
        const id = this.producerId;
        const seq = req.seq;
        const partition = req.partition ?? 0;
        await this.producer.sendEncoded(
          req,
          id !== undefined && seq !== undefined ? { alsoWrite: () => this.sequences.note(id, partition, seq) } : {},
        );
        return { ok: true };
      }
      await this.producer.flush();
      return { ok: true };
    } catch (err) {
      return wireError(err);
    }
  }
}

/** Listens on `path` with the socket file created 0600 (umask 0177 while it is bound), then gives it to the group if any. */
async function listenPrivately(server: Server, path: string, group: number | undefined): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // The socket file is created synchronously inside listen(): the umask applies to it alone.
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(umask);
    }
  });
  try {
    if (group !== undefined) chownSync(path, -1, group);
    chmodSync(path, group !== undefined ? 0o660 : 0o600);
  } catch (err) {
    server.close();
    throw new EddyError(
      'EDDY_SOCKET_GROUP',
      `cannot give the socket ${path} to group ${group} (${(err as NodeJS.ErrnoException).code ?? err}); ` +
        'the user running eddy must be a member of that group',
      { cause: err },
    );
  }
}

/**
 * Serves produce sessions for other `eddy` processes while this one holds the data directory.
 * Returns null when the socket cannot be created (the path is too long for a Unix socket, or the
 * directory does not allow it): other processes then get the writer-lock error as before.
 */
export async function serveWrites(
  eddy: Eddy,
  dataDir: string,
  options: ServeOptions = {},
): Promise<{ close(): Promise<void> } | null> {
  const path = socketPath(dataDir);
  if (Buffer.byteLength(path) > 100) return null;
  // This process holds the writer lock: a socket file left here is from a writer that is gone.
  if (existsSync(path)) {
    try {
      unlinkSync(path);
    } catch {
      return null;
    }
  }
  // Numbers of producers long gone (see producer-sequences.ts).
  await eddy.storage.producerSequences.prune().catch(() => {});
  const sessions = new Set<Session>();
  const server: Server = createServer((socket) => {
    const session = new Session(eddy, socket);
    sessions.add(session);
    void session.done.then(() => sessions.delete(session));
  });
  server.maxConnections = MAX_SESSIONS;
  try {
    await listenPrivately(server, path, options.group);
  } catch (err) {
    try {
      unlinkSync(path);
    } catch {
      /* not created */
    }
    if (err instanceof EddyError) throw err;
    return null;
  }
  server.unref();
  return {
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      await Promise.allSettled([...sessions].map((s) => s.stop()));
      await closed;
      try {
        unlinkSync(path);
      } catch {
        /* already gone */
      }
    },
  };
}
