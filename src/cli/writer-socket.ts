import { existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import type { Eddy } from '../eddy.js';
import { EddyError } from '../errors.js';
import type { TransformStep } from '../smartmodule/transforms.js';
import type { Producer, ProducerOptions, ProducerRecord } from '../storage/producer.js';
import { anchorUses, toTransformInputs } from '../connectors/transforms.js';
import { cliMessage } from './errors.js';

/**
 * One process writes a data directory (it holds the writer lock). While a long-running writer —
 * `eddy run`, `eddy connector run` — has it, `eddy produce` in another terminal hands its records
 * to that writer over a Unix socket in the data directory (`eddy.sock`), so producing into a topic
 * that a derived stream or a sink is reading works as with Fluvio.
 *
 * Frames: a 4-byte big-endian length, then msgpack. A connection is one produce session:
 * `{ op: 'open', topic, steps, baseDir, options }` then any number of
 * `{ op: 'send', records }` and `{ op: 'flush' }`; each request gets one reply, in order:
 * `{ ok: true }` or `{ error: { code, message } }` (message already worded for the command line).
 */

export const SOCKET_FILE = 'eddy.sock';

export function socketPath(dataDir: string): string {
  return join(dataDir, SOCKET_FILE);
}

interface WireRecord { key?: Uint8Array | null; value: Uint8Array; partition?: number }
type Request =
  | { op: 'open'; topic: string; partition?: number; steps: TransformStep[]; baseDir: string; options: ProducerOptions }
  | { op: 'send'; records: WireRecord[] }
  | { op: 'flush' };
type Reply = { ok: true } | { error: { code: string; message: string } };

/** Splits a byte stream into length-prefixed msgpack frames. */
function frames(socket: Socket, onFrame: (value: unknown) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 4) {
      const n = buf.readUInt32BE(0);
      if (buf.length < 4 + n) break;
      const body = buf.subarray(4, 4 + n);
      buf = buf.subarray(4 + n);
      onFrame(unpack(body));
    }
  });
}

function frame(value: unknown): Buffer {
  const body = pack(value);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

function wireError(err: unknown): Reply {
  if (err instanceof EddyError) return { error: { code: err.code, message: cliMessage(err) } };
  return { error: { code: 'EDDY_INTERNAL', message: (err as Error)?.message ?? String(err) } };
}

/**
 * Serves produce sessions for other `eddy` processes while this one holds the data directory.
 * Returns null when the socket cannot be created (the path is too long for a Unix socket, or the
 * directory does not allow it): other processes then get the writer-lock error as before.
 */
export async function serveWrites(eddy: Eddy, dataDir: string): Promise<{ close(): Promise<void> } | null> {
  const path = socketPath(dataDir);
  if (Buffer.byteLength(path) > 100) return null;
  // This process holds the writer lock: a socket file left here is from a writer that is gone.
  if (existsSync(path)) {
    try { unlinkSync(path); } catch { return null; }
  }
  const sessions = new Set<Promise<void>>();
  const server: Server = createServer((socket) => {
    let producer: Producer | null = null;
    let queue: Promise<void> = Promise.resolve();
    const reply = (r: Reply) => { if (!socket.destroyed) socket.write(frame(r)); };
    const handle = async (req: Request): Promise<Reply> => {
      try {
        if (req.op === 'open') {
          const n = eddy.describeTopic(req.topic).partitions;
          if (req.partition !== undefined && req.partition >= n) {
            return { error: { code: 'EDDY_USAGE', message: `--partition ${req.partition}: topic "${req.topic}" has ${n} partition${n === 1 ? '' : 's'} (0..${n - 1})` } };
          }
          const transforms = toTransformInputs(anchorUses(eddy.modules, req.steps, req.baseDir));
          producer = await eddy.producer(req.topic, { ...req.options, ...(transforms.length ? { transforms } : {}) });
          return { ok: true };
        }
        if (!producer) return { error: { code: 'EDDY_PROTOCOL', message: 'produce session not opened' } };
        if (req.op === 'send') {
          await producer.sendAll(req.records.map((r) => ({ value: r.value, ...(r.key ? { key: r.key } : {}), ...(r.partition !== undefined ? { partition: r.partition } : {}) }) as ProducerRecord));
          return { ok: true };
        }
        await producer.flush();
        return { ok: true };
      } catch (err) {
        return wireError(err);
      }
    };
    const done = new Promise<void>((resolve) => {
      socket.on('close', () => {
        void queue.then(() => producer?.close()).catch(() => {}).finally(resolve);
      });
    });
    sessions.add(done);
    void done.then(() => sessions.delete(done));
    socket.on('error', () => socket.destroy());
    // Requests of one session are handled in order (records stay in order); replies follow.
    frames(socket, (req) => {
      queue = queue.then(async () => reply(await handle(req as Request)));
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => { server.off('error', reject); resolve(); });
    });
  } catch {
    return null;
  }
  server.unref();
  return {
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await Promise.allSettled([...sessions]);
      try { unlinkSync(path); } catch { /* already gone */ }
    },
  };
}

/** A produce session with the process that holds the data directory. */
export class RemoteProducer {
  private pending: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private failure: unknown = null;

  private constructor(private readonly socket: Socket) {
    frames(socket, (value) => {
      const r = value as Reply;
      const p = this.pending.shift();
      if (!p) return;
      if ('error' in r) p.reject(new RemoteError(r.error.code, r.error.message));
      else p.resolve();
    });
    socket.on('error', (err) => this.failAll(err));
    socket.on('close', () => this.failAll(new EddyError('EDDY_WRITER_GONE', 'the process holding the data directory (eddy run / eddy connector run) stopped during the produce; records acknowledged before were stored')));
  }

  /**
   * Connects to the writer serving `dataDir` and opens a produce session (the topic, partition
   * and transforms are checked there). Null when no writer serves the directory.
   */
  static async connect(dataDir: string, session: { topic: string; partition?: number; steps: TransformStep[]; baseDir: string; options: ProducerOptions }): Promise<RemoteProducer | null> {
    const path = socketPath(dataDir);
    if (!existsSync(path)) return null;
    const socket = await new Promise<Socket | null>((resolve) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(s));
      s.once('error', () => resolve(null));
    });
    if (!socket) return null;
    const remote = new RemoteProducer(socket);
    try {
      await remote.request({ op: 'open', ...session, steps: session.steps.map((s) => ({ ...s, params: { ...s.params } })) });
    } catch (err) {
      socket.destroy();
      throw err;
    }
    return remote;
  }

  sendAll(records: readonly ProducerRecord[]): Promise<void> {
    const wire: WireRecord[] = records.map((r) => ({
      value: typeof r.value === 'string' ? Buffer.from(r.value) : r.value,
      ...(r.key != null ? { key: typeof r.key === 'string' ? Buffer.from(r.key) : r.key } : {}),
      ...(r.partition !== undefined ? { partition: r.partition } : {}),
    }));
    return this.request({ op: 'send', records: wire });
  }

  send(record: ProducerRecord): Promise<void> {
    return this.sendAll([record]);
  }

  flush(): Promise<void> {
    return this.request({ op: 'flush' });
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

  private request(req: Request): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(frame(req));
    });
  }

  private failAll(err: unknown): void {
    this.failure ??= err;
    for (const p of this.pending.splice(0)) p.reject(this.failure);
  }
}

/** An error from the writer process, already worded for the command line. */
export class RemoteError extends EddyError {
  readonly preformatted = true;
}
