import { DecodeError } from '../errors.js';
import { ByteReader, ByteWriter, writeI64 } from './bytes.js';
import { skipRecords } from './record.js';

/**
 * The SmartModule messages of spec §5, both directions, at any protocol version. Record lists
 * travel as their encoded bytes (`Vec<Record>` with its count), never as objects.
 */

/** The version Eddy sends, as Fluvio's in-process engine and `smdk test` do (spec §5.11). */
export const DEFAULT_VERSION = 22;

/** Runtime-error kind tags (spec §5.9). */
export const SmartModuleKindTag = {
  filter: 0,
  map: 1,
  array_map: 2,
  aggregate: 3,
  filter_map: 4,
  join: 5,
  generic: 6,
} as const;
export type SmartModuleKind = 'filter' | 'map' | 'filter_map' | 'array_map' | 'aggregate';
export type SmartModuleKindName = keyof typeof SmartModuleKindTag;

export function kindName(tag: number): SmartModuleKindName | `unknown(${number})` {
  for (const [name, t] of Object.entries(SmartModuleKindTag)) if (t === tag) return name as SmartModuleKindName;
  return `unknown(${tag})`;
}

/** Look-back settings: the last N records and/or those younger than `ageMs`. */
export interface Lookback {
  last: number;
  ageMs?: number | null;
}

export interface ExtraParams {
  params: ReadonlyMap<string, string> | { readonly [k: string]: string };
  lookback?: Lookback | null;
}

function sortedEntries(params: ExtraParams['params']): [string, string][] {
  const entries = params instanceof Map ? [...params.entries()] : Object.entries(params);
  // BTreeMap order: byte-wise on the UTF-8 keys.
  const enc = new TextEncoder();
  return entries
    .map(([k, v]) => [k, v, enc.encode(k)] as const)
    .sort((a, b) => Buffer.compare(a[2], b[2]))
    .map(([k, v]) => [k, v]);
}

export function writeExtraParams(w: ByteWriter, p: ExtraParams, version: number): void {
  const entries = sortedEntries(p.params);
  w.u16(entries.length);
  for (const [k, v] of entries) w.string(k).string(v);
  if (version >= 20) {
    const lb = p.lookback;
    w.bool(lb != null);
    if (lb != null) {
      w.i64(lb.last);
      if (version >= 21) {
        w.bool(lb.ageMs != null);
        if (lb.ageMs != null) writeDuration(w, lb.ageMs);
      }
    }
  }
}

export function readExtraParams(
  r: ByteReader,
  version: number,
): { params: Map<string, string>; lookback: Lookback | null } {
  const n = r.u16('params count');
  const params = new Map<string, string>();
  for (let i = 0; i < n; i++) params.set(r.string('param key'), r.string('param value'));
  let lookback: Lookback | null = null;
  if (version >= 20 && r.bool('lookback option')) {
    const last = r.i64('lookback last');
    let ageMs: number | null = null;
    if (version >= 21 && r.bool('lookback age option')) ageMs = readDuration(r);
    lookback = { last, ageMs };
  }
  return { params, lookback };
}

/** Duration: u64 seconds + u32 nanoseconds. */
function writeDuration(w: ByteWriter, ms: number): void {
  const secs = Math.floor(ms / 1000);
  w.i64(secs).u32(Math.round((ms - secs * 1000) * 1e6));
}

function readDuration(r: ByteReader): number {
  const secs = r.i64('duration seconds');
  return secs * 1000 + r.u32('duration nanos') / 1e6;
}

/** Bytes of the input header before raw_bytes (base_offset + raw length). */
export const INPUT_PREFIX_SIZE = 12;

/** Bytes after raw_bytes in a `SmartModuleInput` at `version`. */
export function inputSuffixSize(version: number): number {
  let n = 0;
  if (version <= 22) n += version >= 20 ? 3 : 2; // empty deprecated params (+ lookback None)
  if (version >= 16 && version <= 22) n += 4; // empty join_record
  if (version >= 22) n += 8; // base_timestamp
  return n;
}

/**
 * Writes a `SmartModuleInput` around raw record bytes straight into `dst` at `at` (e.g. wasm
 * memory), so the record bytes are copied exactly once. Returns the end position.
 */
export function writeInputInto(
  dst: Uint8Array,
  view: DataView,
  at: number,
  baseOffset: number,
  raw: Uint8Array,
  baseTimestamp: number,
  version: number,
): number {
  writeI64(view, at, baseOffset);
  view.setInt32(at + 8, raw.length);
  dst.set(raw, at + INPUT_PREFIX_SIZE);
  let p = at + INPUT_PREFIX_SIZE + raw.length;
  if (version <= 22) {
    dst[p++] = 0;
    dst[p++] = 0; // params: empty map
    if (version >= 20) dst[p++] = 0; // lookback: None
  }
  if (version >= 16 && version <= 22) {
    view.setInt32(p, 0);
    p += 4;
  } // join_record: empty
  if (version >= 22) {
    writeI64(view, p, baseTimestamp);
    p += 8;
  }
  return p;
}

export interface SmartModuleInput {
  baseOffset: number;
  /** `Vec<Record>` encoding (i32 count + records). */
  raw: Uint8Array;
  baseTimestamp: number;
}

export function encodeInput(input: SmartModuleInput, version = DEFAULT_VERSION): Uint8Array {
  const size = INPUT_PREFIX_SIZE + input.raw.length + inputSuffixSize(version);
  const out = new Uint8Array(size);
  writeInputInto(out, new DataView(out.buffer), 0, input.baseOffset, input.raw, input.baseTimestamp, version);
  return out;
}

/** Encodes `SmartModuleAggregateInput`: the input followed by the accumulator `Vec<u8>`. */
export function encodeAggregateInput(
  input: SmartModuleInput,
  accumulator: Uint8Array,
  version = DEFAULT_VERSION,
): Uint8Array {
  const base = INPUT_PREFIX_SIZE + input.raw.length + inputSuffixSize(version);
  const out = new Uint8Array(base + 4 + accumulator.length);
  const view = new DataView(out.buffer);
  writeInputInto(out, view, 0, input.baseOffset, input.raw, input.baseTimestamp, version);
  view.setInt32(base, accumulator.length);
  out.set(accumulator, base + 4);
  return out;
}

export interface DecodedInput extends SmartModuleInput {
  params: Map<string, string>;
  lookback: Lookback | null;
  joinRecord: Uint8Array;
  accumulator?: Uint8Array;
  end: number;
}

/** Decodes a `SmartModuleInput` (or, with `aggregate`, a `SmartModuleAggregateInput`) as a guest would. */
export function decodeInput(bytes: Uint8Array, version = DEFAULT_VERSION, aggregate = false): DecodedInput {
  const r = new ByteReader(bytes);
  const baseOffset = r.i64('base_offset');
  const raw = r.bytesVec('raw_bytes');
  let params = new Map<string, string>();
  let lookback: Lookback | null = null;
  if (version <= 22) ({ params, lookback } = readExtraParams(r, version));
  const joinRecord = version >= 16 && version <= 22 ? r.bytesVec('join_record') : new Uint8Array(0);
  const baseTimestamp = version >= 22 ? r.i64('base_timestamp') : 0;
  const accumulator = aggregate ? r.bytesVec('accumulator') : undefined;
  const out: DecodedInput = { baseOffset, raw, baseTimestamp, params, lookback, joinRecord, end: r.pos };
  if (accumulator) out.accumulator = accumulator;
  return out;
}

export function encodeInitInput(p: ExtraParams, version = DEFAULT_VERSION): Uint8Array {
  const w = new ByteWriter(64);
  writeExtraParams(w, p, version);
  return w.finish().slice();
}

export function decodeInitInput(
  bytes: Uint8Array,
  version = DEFAULT_VERSION,
): { params: Map<string, string>; lookback: Lookback | null } {
  return readExtraParams(new ByteReader(bytes), version);
}

/** `SmartModuleTransformRuntimeError` (spec §5.8). */
export interface TransformRuntimeError {
  hint: string;
  offset: number;
  kind: number;
  key: Uint8Array | null;
  value: Uint8Array;
}

/** A transform's output: successes as raw `Vec<Record>` bytes (a view), the optional error and accumulator. */
export interface SmartModuleOutput {
  successes: Uint8Array;
  count: number;
  error: TransformRuntimeError | null;
  accumulator?: Uint8Array;
}

function readRecordData(r: ByteReader, what: string): Uint8Array {
  const len = r.varint();
  if (len < 0) throw new DecodeError(`${what}: negative length ${len}`, r.pos);
  return r.take(Math.min(len, r.remaining), what);
}

function writeRecordData(w: ByteWriter, data: Uint8Array): void {
  w.varint(data.length).raw(data);
}

/** Decodes `SmartModuleOutput` / `SmartModuleAggregateOutput`. Successes are a view into `bytes`. */
export function decodeOutput(bytes: Uint8Array, aggregate = false): SmartModuleOutput {
  try {
    return readOutput(bytes, aggregate, false);
  } catch {
    // Lengths that do not match their fields: decode exactly as Fluvio's field-by-field walk does.
    return readOutput(bytes, aggregate, true);
  }
}

function readOutput(bytes: Uint8Array, aggregate: boolean, exact: boolean): SmartModuleOutput {
  const { count, end } = skipRecords(bytes, 0, exact);
  const r = new ByteReader(bytes, end);
  let error: TransformRuntimeError | null = null;
  if (r.bool('error option')) {
    const hint = r.string('error hint');
    const offset = r.i64('error offset');
    const kind = r.u8('error kind');
    const key = r.bool('error key option') ? readRecordData(r, 'error key') : null;
    const value = readRecordData(r, 'error value');
    error = { hint, offset, kind, key, value };
  }
  const out: SmartModuleOutput = { successes: bytes.subarray(0, end), count, error };
  if (aggregate) out.accumulator = r.bytesVec('accumulator');
  return out;
}

export function encodeOutput(
  successes: Uint8Array,
  error: TransformRuntimeError | null,
  accumulator?: Uint8Array,
): Uint8Array {
  const w = new ByteWriter(successes.length + 64);
  w.raw(successes);
  w.bool(error !== null);
  if (error) {
    w.string(error.hint).i64(error.offset).u8(error.kind);
    w.bool(error.key !== null);
    if (error.key) writeRecordData(w, error.key);
    writeRecordData(w, error.value);
  }
  if (accumulator) w.bytesVec(accumulator);
  return w.finish().slice();
}

/** `SmartModuleInitOutput`: the init error's hint. */
export function decodeInitOutput(bytes: Uint8Array): { hint: string } {
  return { hint: new ByteReader(bytes).string('init error hint') };
}

export function encodeInitOutput(hint: string): Uint8Array {
  return new ByteWriter(hint.length + 2).string(hint).finish().slice();
}

/** `SmartModuleLookbackOutput`: the look_back error. */
export interface LookbackRuntimeError {
  hint: string;
  offset: number;
  key: Uint8Array | null;
  value: Uint8Array;
}

export function decodeLookbackOutput(bytes: Uint8Array): LookbackRuntimeError {
  const r = new ByteReader(bytes);
  const hint = r.string('look_back error hint');
  const offset = r.i64('look_back error offset');
  const key = r.bool('look_back error key option') ? readRecordData(r, 'look_back error key') : null;
  return { hint, offset, key, value: readRecordData(r, 'look_back error value') };
}

export function encodeLookbackOutput(e: LookbackRuntimeError): Uint8Array {
  const w = new ByteWriter(64);
  w.string(e.hint)
    .i64(e.offset)
    .bool(e.key !== null);
  if (e.key) writeRecordData(w, e.key);
  writeRecordData(w, e.value);
  return w.finish().slice();
}
