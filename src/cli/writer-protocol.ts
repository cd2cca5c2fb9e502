import { pack, unpack } from 'msgpackr';
import { EddyError } from '../errors.js';
import { BATCH_CODECS, type BatchCodec } from '../storage/codecs.js';
import type { ProducerOptions } from '../storage/producer.js';

/**
 * The produce protocol between `eddy produce` and the process holding the data directory
 * (`eddy run`, `eddy connector run`), over the Unix socket `eddy.sock` in the data directory.
 *
 * Frames: a 4-byte big-endian length, then msgpack; no frame is longer than MAX_FRAME_BYTES (a
 * longer announcement ends the connection at once). A connection is one produce session:
 * `{ op: 'open', topic, partition?, steps, options }` first, then any number of
 * `{ op: 'send', records }`, `{ op: 'sendEncoded', raw, baseTimestamp, partition? }` (an already encoded
 * `Vec<Record>`, stored as it is: see Producer.sendEncoded) and `{ op: 'flush' }`; each request gets one reply, in order:
 * `{ ok: true }` or `{ error: { code, message } }` (message already worded for the command line);
 * the reply to `open` may carry `encodedPartitions` and `storedSeqs` (see Reply). A writer that
 * stops serving answers every request it read, then sends `{ handover: true }` and hangs up: the
 * requests it did not answer were not read, and the client sends them to the next writer.
 *
 * Idempotence: a client that names itself (`producerId` in `open`) numbers its `sendEncoded`
 * batches (`seq`, increasing); the writer stores the number with the batch (producer-sequences.ts)
 * and tells a client that opens again the highest one stored in each partition, so a batch whose
 * writer died before answering is sent again only when it was not stored.
 * A step names a registered module, or carries the module's bytes: the producer reads its own
 * files, so the writer never opens a path a client names.
 */

/** The longest frame either side sends or accepts (a module travels in `open`, records are split over `send`s). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export interface WireRecord {
  key?: Uint8Array | null;
  value: Uint8Array;
  partition?: number;
}
export interface WireStep {
  uses: string;
  params: Record<string, string>;
  lookback: { last: number; ageMs?: number } | null;
  /** The module's bytes, when `uses` named a file the producer read. */
  wasm?: Uint8Array;
}
export interface OpenRequest {
  op: 'open';
  topic: string;
  partition?: number;
  /** Names the client for idempotent `sendEncoded` batches (random per producer process). */
  producerId?: string;
  steps: WireStep[];
  options: WireProducerOptions;
}

/** What a client may set of its producer; `aggregateInitial` seeds an aggregate step. */
export type WireProducerOptions = ProducerOptions & { aggregateInitial?: Uint8Array };
/** An already encoded batch, for Producer.sendEncoded. */
export interface SendEncodedRequest {
  op: 'sendEncoded';
  raw: Uint8Array;
  baseTimestamp: number;
  partition?: number;
  /** The batch's number in the session's producer (see OpenRequest.producerId). */
  seq?: number;
}
export type Request = OpenRequest | { op: 'send'; records: WireRecord[] } | SendEncodedRequest | { op: 'flush' };
/**
 * In the reply to `open`: `encodedPartitions` — the topic's partition count, when the session may
 * send `sendEncoded` batches (no transforms, no dedup; the client places records in partitions as
 * a local producer would, see siphashRoundRobin); without it, clients send records. `storedSeqs` —
 * [partition, highest `seq` stored there] for the session's `producerId`.
 */
export type Reply =
  | { ok: true; encodedPartitions?: number; storedSeqs?: [number, number][] }
  | { error: { code: string; message: string } };
/** The writer's last frame when it stops serving: every request it did not answer went unread. */
export const HANDOVER = { handover: true } as const;

/** A peer that does not follow the protocol (a bad frame, a request out of place). */
export class WriterProtocolError extends EddyError {
  constructor(problem: string) {
    super('EDDY_PROTOCOL', `produce session refused: ${problem}`);
  }
}

export function encodeFrame(value: unknown): Buffer {
  const body = pack(value);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

/**
 * Splits a byte stream into frame bodies. Chunks are kept as they come and joined once a frame is
 * complete, so a frame that arrives slowly costs its size once, not once per chunk. A length above
 * `max` stops the reader at once (nothing of it is buffered) and calls `onOversize`.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1;
  private stopped = false;

  constructor(
    private readonly max: number,
    private readonly onFrame: (body: Buffer) => void,
    private readonly onOversize: (length: number) => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.stopped) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (!this.stopped) {
      if (this.need < 0) {
        if (this.buffered < 4) return;
        const length = this.take(4).readUInt32BE(0);
        if (length > this.max) {
          this.stop();
          this.onOversize(length);
          return;
        }
        this.need = length;
      }
      if (this.buffered < this.need) return;
      const body = this.take(this.need);
      this.need = -1;
      this.onFrame(body);
    }
  }

  /** Drops what is buffered and ignores what comes after. */
  stop(): void {
    this.stopped = true;
    this.chunks = [];
    this.buffered = 0;
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - at);
        c.copy(out, at, 0, k);
        at += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

function checkStep(s: unknown): WireStep {
  if (!isObject(s) || typeof s['uses'] !== 'string' || !isObject(s['params']))
    throw new WriterProtocolError('a step needs `uses` and `params`');
  if (s['wasm'] !== undefined && !isBytes(s['wasm'])) throw new WriterProtocolError("a step's `wasm` must be bytes");
  const lookback = s['lookback'] ?? null;
  if (lookback !== null && !isObject(lookback)) throw new WriterProtocolError("a step's `lookback` must be a mapping");
  return s as unknown as WireStep;
}

function checkRecord(r: unknown): WireRecord {
  if (!isObject(r) || !isBytes(r['value'])) throw new WriterProtocolError('a record needs a `value` of bytes');
  if (r['key'] != null && !isBytes(r['key'])) throw new WriterProtocolError("a record's `key` must be bytes");
  if (r['partition'] !== undefined && !Number.isInteger(r['partition']))
    throw new WriterProtocolError("a record's `partition` must be an integer");
  return r as unknown as WireRecord;
}

/** The producer options a client may set (numbers and the codec's name: no partitioner or transform comes over the wire). */
function producerOptions(o: unknown): WireProducerOptions {
  const out: WireProducerOptions = {};
  if (!isObject(o)) return out;
  if (typeof o['lingerMs'] === 'number') out.lingerMs = o['lingerMs'];
  if (typeof o['batchSize'] === 'number') out.batchSize = o['batchSize'];
  if (typeof o['compression'] === 'string') {
    if (!(BATCH_CODECS as readonly string[]).includes(o['compression']))
      throw new WriterProtocolError(`unknown compression ${JSON.stringify(o['compression'])}`);
    out.compression = o['compression'] as BatchCodec;
  }
  if (o['aggregateInitial'] instanceof Uint8Array) out.aggregateInitial = o['aggregateInitial'];
  return out;
}

/** Decodes and checks one request frame; a WriterProtocolError when it is not one. */
export function decodeRequest(body: Buffer): Request {
  let v: unknown;
  try {
    v = unpack(body);
  } catch {
    throw new WriterProtocolError('a frame is not msgpack');
  }
  if (!isObject(v)) throw new WriterProtocolError('a request must be a mapping');
  switch (v['op']) {
    case 'open':
      if (typeof v['topic'] !== 'string' || !Array.isArray(v['steps']))
        throw new WriterProtocolError('`open` needs `topic` and `steps`');
      if (v['partition'] !== undefined && !Number.isInteger(v['partition']))
        throw new WriterProtocolError('`open`: `partition` must be an integer');
      v['steps'].forEach(checkStep);
      return {
        op: 'open',
        topic: v['topic'],
        steps: v['steps'] as WireStep[],
        options: producerOptions(v['options']),
        ...(v['partition'] !== undefined ? { partition: v['partition'] as number } : {}),
        ...(typeof v['producerId'] === 'string' ? { producerId: v['producerId'] } : {}),
      };
    case 'send':
      if (!Array.isArray(v['records'])) throw new WriterProtocolError('`send` needs `records`');
      return { op: 'send', records: v['records'].map(checkRecord) };
    case 'sendEncoded':
      if (!isBytes(v['raw']) || typeof v['baseTimestamp'] !== 'number')
        throw new WriterProtocolError('`sendEncoded` needs `raw` bytes and a `baseTimestamp`');
      if (v['partition'] !== undefined && !Number.isInteger(v['partition']))
        throw new WriterProtocolError('`sendEncoded`: `partition` must be an integer');
      if (v['seq'] !== undefined && !Number.isSafeInteger(v['seq']))
        throw new WriterProtocolError('`sendEncoded`: `seq` must be an integer');
      return {
        op: 'sendEncoded',
        raw: v['raw'],
        baseTimestamp: v['baseTimestamp'],
        ...(v['partition'] !== undefined ? { partition: v['partition'] as number } : {}),
        ...(v['seq'] !== undefined ? { seq: v['seq'] as number } : {}),
      };
    case 'flush':
      return { op: 'flush' };
    default:
      throw new WriterProtocolError(`unknown request ${JSON.stringify(String(v['op']))}`);
  }
}
