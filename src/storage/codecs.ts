import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { InvalidArgumentError } from './errors.js';

/**
 * Batch compression as Fluvio's producer does it: the `Vec<Record>` section of a batch is stored
 * compressed with one of Fluvio's codecs, and readers decompress it, so consumers and SmartModules
 * see the same bytes whatever the codec. The codec's number (Fluvio's `Compression` enum: none 0,
 * gzip 1, snappy 2, lz4 3, zstd 4) sits in bits 2..4 of the batch's flags byte.
 *
 * gzip and zstd come from Node's zlib (zstd from Node 22.15 on, where zlib has it); snappy and lz4
 * from the napi-rs bindings `snappy` and `lz4-napi` (prebuilt, synchronous: a read decompresses
 * inside the synchronous batch view).
 */

export type BatchCodec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export const BATCH_CODECS: readonly BatchCodec[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** Where the codec number sits in the flags byte. */
export const CODEC_SHIFT = 2;
export const CODEC_MASK = 0b111 << CODEC_SHIFT;

interface Codec {
  compress(raw: Uint8Array): Uint8Array;
  decompress(stored: Uint8Array): Uint8Array;
}

const require = createRequire(import.meta.url);
type Snappy = { compressSync(b: Buffer): Buffer; uncompressSync(b: Buffer, o?: { asBuffer: true }): Buffer };
type Lz4 = { compressSync(b: Buffer): Buffer; uncompressSync(b: Buffer): Buffer };
let snappy: Snappy | undefined;
let lz4: Lz4 | undefined;

const asBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
const zstdSync = zlib as unknown as {
  zstdCompressSync?: (b: Uint8Array) => Buffer;
  zstdDecompressSync?: (b: Uint8Array) => Buffer;
};

function zstdMissing(): never {
  throw new InvalidArgumentError(
    `zstd needs Node 22.15 or later (its zlib has zstd); this is Node ${process.versions.node}: use gzip, snappy or lz4`,
  );
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
  zstd: {
    compress: (b) => (zstdSync.zstdCompressSync ?? zstdMissing)(b),
    decompress: (b) => (zstdSync.zstdDecompressSync ?? zstdMissing)(b),
  },
};

/** The codec a name stands for (case-insensitive), or an InvalidArgumentError naming the choices. */
export function parseCodec(name: string, what = 'compression'): BatchCodec {
  const c = name.toLowerCase() as BatchCodec;
  if (!BATCH_CODECS.includes(c))
    throw new InvalidArgumentError(`${what} ${JSON.stringify(name)} is unknown: use ${BATCH_CODECS.join(', ')}`);
  if (c === 'zstd' && !zstdSync.zstdCompressSync) zstdMissing();
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
