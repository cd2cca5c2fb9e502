import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { InvalidArgumentError } from './errors.js';

/**
 * Batch compression as Fluvio's producer does it: the `Vec<Record>` section of a batch is stored
 * compressed with one of Fluvio's codecs, and readers decompress it, so consumers and SmartModules
 * see the same bytes whatever the codec. The codec's number (Fluvio's `Compression` enum: none 0,
 * gzip 1, snappy 2, lz4 3, zstd 4) sits in bits 2..4 of the batch's flags byte.
 *
 * gzip comes from Node's zlib; snappy and lz4 from the napi-rs bindings `snappy` and `lz4-napi`
 * (prebuilt, synchronous: a read decompresses inside the synchronous batch view). zstd comes from
 * Node's zlib where it has it (Node 22.15 on) and from the napi-rs binding `@toondepauw/node-zstd`
 * (libzstd, prebuilt per platform, synchronous) before that. Both write and read standard zstd
 * frames, so a batch stored by either is read by the other.
 */

export type BatchCodec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export const BATCH_CODECS: readonly BatchCodec[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** Where the codec number sits in the flags byte. */
export const CODEC_SHIFT = 2;
export const CODEC_MASK = 0b111 << CODEC_SHIFT;

export interface Codec {
  compress(raw: Uint8Array): Uint8Array;
  decompress(stored: Uint8Array): Uint8Array;
}

const require = createRequire(import.meta.url);
type Snappy = { compressSync(b: Buffer): Buffer; uncompressSync(b: Buffer, o?: { asBuffer: true }): Buffer };
type Lz4 = { compressSync(b: Buffer): Buffer; uncompressSync(b: Buffer): Buffer };
type ZstdBinding = {
  Encoder: new (level: number) => { encodeSync(b: Buffer): Buffer };
  Decoder: new () => { decodeSync(b: Buffer): Buffer };
};
let snappy: Snappy | undefined;
let lz4: Lz4 | undefined;

const asBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
const zlibZstd = zlib as unknown as {
  zstdCompressSync?: (b: Uint8Array) => Buffer;
  zstdDecompressSync?: (b: Uint8Array) => Buffer;
};

/** zstd's own default level, the one Node's zlib uses too. */
const ZSTD_LEVEL = 3;

/** The binding's encoder and decoder, made once: they hold libzstd contexts that are reused. */
let zstdBinding: { compress(b: Buffer): Buffer; decompress(b: Buffer): Buffer } | undefined;
function zstdFromBinding(): NonNullable<typeof zstdBinding> {
  if (zstdBinding) return zstdBinding;
  const z = require('@toondepauw/node-zstd') as ZstdBinding;
  const enc = new z.Encoder(ZSTD_LEVEL);
  const dec = new z.Decoder();
  zstdBinding = { compress: (b) => enc.encodeSync(b), decompress: (b) => dec.decodeSync(b) };
  return zstdBinding;
}

function zlibZstdCodec(): Codec | undefined {
  const { zstdCompressSync: c, zstdDecompressSync: d } = zlibZstd;
  return c && d ? { compress: (b) => c(b), decompress: (b) => d(b) } : undefined;
}

/** Both zstd implementations (zlib's only on a Node that has it): each reads what the other wrote. */
export const zstdImplementations: { zlib: Codec | undefined; binding: Codec } = {
  zlib: zlibZstdCodec(),
  binding: {
    compress: (b) => zstdFromBinding().compress(asBuffer(b)),
    decompress: (b) => zstdFromBinding().decompress(asBuffer(b)),
  },
};

/** Refuses zstd up front, with the reason, where neither implementation is there. */
function checkZstd(): void {
  if (zstdImplementations.zlib) return;
  try {
    zstdFromBinding();
  } catch (err) {
    throw new InvalidArgumentError(
      `zstd is unavailable: this Node's zlib has none (Node ${process.versions.node}; zlib has it from 22.15) and the zstd binding does not load here (${(err as Error).message}); use gzip, snappy or lz4`,
    );
  }
}

const CODECS: Record<Exclude<BatchCodec, 'none'>, Codec> = {
  gzip: { compress: (b) => zlib.gzipSync(b), decompress: (b) => zlib.gunzipSync(b) },
  snappy: {
    compress: (b) => (snappy ??= require('snappy') as Snappy).compressSync(asBuffer(b)),
    decompress: (b) => (snappy ??= require('snappy') as Snappy).uncompressSync(asBuffer(b), { asBuffer: true }),
  },
  lz4: {
    compress: (b) => (lz4 ??= require('lz4-napi') as Lz4).compressSync(asBuffer(b)),
    decompress: (b) => (lz4 ??= require('lz4-napi') as Lz4).uncompressSync(asBuffer(b)),
  },
  zstd: zstdImplementations.zlib ?? zstdImplementations.binding,
};

/** The codec a name stands for (case-insensitive), or an InvalidArgumentError naming the choices. */
export function parseCodec(name: string, what = 'compression'): BatchCodec {
  const c = name.toLowerCase() as BatchCodec;
  if (!BATCH_CODECS.includes(c))
    throw new InvalidArgumentError(`${what} ${JSON.stringify(name)} is unknown: use ${BATCH_CODECS.join(', ')}`);
  if (c === 'zstd') checkZstd();
  return c;
}

export function codecNumber(codec: BatchCodec): number {
  return BATCH_CODECS.indexOf(codec);
}

export function codecOfFlags(flags: number): BatchCodec {
  const n = (flags & CODEC_MASK) >> CODEC_SHIFT;
  const c = BATCH_CODECS[n];
  if (c === undefined) throw new InvalidArgumentError(`unknown batch codec number ${n}`);
  return c;
}

export function compressRaw(codec: BatchCodec, raw: Uint8Array): Uint8Array {
  return codec === 'none' ? raw : CODECS[codec].compress(raw);
}

/** The decompressed section as a plain Uint8Array (a Buffer's subarray would be slower downstream). */
export function decompressRaw(codec: BatchCodec, stored: Uint8Array): Uint8Array {
  if (codec === 'none') return stored;
  const out = CODECS[codec].decompress(stored);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
