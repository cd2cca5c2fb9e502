import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { EddyError } from '../errors.js';
import { encodeRecords, type RecordInput } from '../protocol/index.js';
import type { BatchInput } from '../smartmodule/types.js';

/**
 * Input records for `eddy bench`: lines of a file, records generated from a JSON template, or
 * random values of a given size. Everything is deterministic for a given seed, so two runs (or
 * two modules under `--compare`) see the same bytes.
 *
 * JSON template placeholders (anything else in the template is copied as it is):
 *
 *   {{seq}}              record number, 0, 1, 2, …
 *   {{int}}              random integer 0..1000000; {{int:MIN:MAX}} between MIN and MAX (inclusive)
 *   {{float}}            random number 0..1 with 4 decimals; {{float:MIN:MAX}} between MIN and MAX
 *   {{word}}             random lowercase word of 3 to 10 letters
 *   {{text:N}}           N random lowercase letters and spaces
 *   {{choice:a|b|c}}     one of the listed values
 *   {{bool}}             true or false
 *   {{ts}}               a millisecond timestamp (a fixed start + seq)
 *   {{uuid}}             a random (seeded) UUID-shaped hex string
 *
 * e.g. `{"id":"{{seq}}","name":"{{word}}","n":{{int:0:100}},"level":"{{choice:info|warn|error}}"}`.
 * Placeholders produce bare text: put quotes around them for JSON strings.
 */

export class BenchInputError extends EddyError {
  constructor(message: string) {
    super('EDDY_BENCH_INPUT', message);
  }
}

/** Deterministic generator (mulberry32): the same seed gives the same records on any machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type InputSpec =
  | { kind: 'generated'; records: number; recordSize: number; seed: number }
  | { kind: 'template'; records: number; template: string; seed: number }
  | { kind: 'file'; records: number | null; path: string };

export interface BenchInput {
  /** What the records are, for reports. */
  description: string;
  source: InputSpec['kind'];
  batches: BatchInput[];
  records: number;
  /** Encoded `Vec<Record>` bytes of every batch (what the module receives). */
  bytes: number;
  /** Value bytes of every record. */
  valueBytes: number;
  batchSize: number;
  seed: number | null;
  /** Main thread time to encode the records into batches (ms). */
  encodeMs: number;
  /** First few values, for reports. */
  sample: string[];
}

const TEMPLATE_HELP =
  'placeholders: {{seq}}, {{int}}, {{int:MIN:MAX}}, {{float}}, {{float:MIN:MAX}}, {{word}}, {{text:N}}, {{choice:a|b|c}}, {{bool}}, {{ts}}, {{uuid}}';

type Part = (seq: number, rnd: () => number) => string;

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

function letters(rnd: () => number, n: number, spaces: boolean): string {
  let s = '';
  for (let i = 0; i < n; i++) s += spaces && rnd() < 0.15 ? ' ' : LETTERS[Math.floor(rnd() * 26)];
  return s;
}

function num(text: string, what: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n))
    throw new BenchInputError(`--json-template: ${what} must be a number, got ${JSON.stringify(text)}`);
  return n;
}

function placeholder(body: string): Part {
  const [name, ...args] = body.split(':');
  const arg = args.join(':');
  switch (name) {
    case 'seq':
      return (seq) => String(seq);
    case 'int': {
      const [lo, hi] =
        args.length >= 2
          ? [num(args[0]!, '{{int:MIN:MAX}} MIN'), num(args[1]!, '{{int:MIN:MAX}} MAX')]
          : [0, 1_000_000];
      if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo)
        throw new BenchInputError(`--json-template: {{${body}}} needs whole numbers MIN ≤ MAX`);
      return (_s, rnd) => String(lo + Math.floor(rnd() * (hi - lo + 1)));
    }
    case 'float': {
      const [lo, hi] =
        args.length >= 2 ? [num(args[0]!, '{{float:MIN:MAX}} MIN'), num(args[1]!, '{{float:MIN:MAX}} MAX')] : [0, 1];
      if (hi < lo) throw new BenchInputError(`--json-template: {{${body}}} needs MIN ≤ MAX`);
      return (_s, rnd) => (lo + rnd() * (hi - lo)).toFixed(4);
    }
    case 'word':
      return (_s, rnd) => letters(rnd, 3 + Math.floor(rnd() * 8), false);
    case 'text': {
      const n = num(arg, '{{text:N}} N');
      if (!Number.isInteger(n) || n < 0) throw new BenchInputError(`--json-template: {{${body}}} needs a length N ≥ 0`);
      return (_s, rnd) => letters(rnd, n, true);
    }
    case 'choice': {
      const options = arg.split('|');
      if (arg === '')
        throw new BenchInputError(
          `--json-template: {{choice:…}} needs values separated by |, e.g. {{choice:info|warn|error}}`,
        );
      return (_s, rnd) => options[Math.floor(rnd() * options.length)]!;
    }
    case 'bool':
      return (_s, rnd) => (rnd() < 0.5 ? 'true' : 'false');
    case 'ts':
      return (seq) => String(1_700_000_000_000 + seq);
    case 'uuid':
      return (_s, rnd) => {
        const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 16).toString(16)).join('');
        return `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[Math.floor(rnd() * 4)]}${hex(3)}-${hex(12)}`;
      };
    default:
      throw new BenchInputError(`--json-template: unknown placeholder {{${body}}}; ${TEMPLATE_HELP}`);
  }
}

/** Compiles a template into a function of (record number, random source). */
export function compileRecordTemplate(template: string): (seq: number, rnd: () => number) => string {
  const parts: (string | Part)[] = [];
  let at = 0;
  for (;;) {
    const open = template.indexOf('{{', at);
    if (open < 0) break;
    const close = template.indexOf('}}', open + 2);
    if (close < 0)
      throw new BenchInputError(`--json-template: "{{" at character ${open} is not closed with "}}"; ${TEMPLATE_HELP}`);
    if (open > at) parts.push(template.slice(at, open));
    parts.push(placeholder(template.slice(open + 2, close).trim()));
    at = close + 2;
  }
  if (at < template.length) parts.push(template.slice(at));
  if (!parts.some((p) => typeof p !== 'string')) {
    throw new BenchInputError(
      `--json-template has no placeholder, so every record would be the same; ${TEMPLATE_HELP}`,
    );
  }
  return (seq, rnd) => {
    let s = '';
    for (const p of parts) s += typeof p === 'string' ? p : p(seq, rnd);
    return s;
  };
}

const utf8 = new TextEncoder();

/** Splits `records` values into `Vec<Record>` batches of `batchSize` records (offset deltas 0..n−1). */
export function toBatches(values: readonly Uint8Array[], batchSize: number): BatchInput[] {
  const batches: BatchInput[] = [];
  for (let start = 0; start < values.length; start += batchSize) {
    const recs: RecordInput[] = [];
    const end = Math.min(values.length, start + batchSize);
    for (let i = start; i < end; i++)
      recs.push({ value: values[i]!, offsetDelta: i - start, timestampDelta: i - start });
    batches.push({ baseOffset: start, baseTimestamp: 1_700_000_000_000 + start, raw: encodeRecords(recs) });
  }
  return batches;
}

/** Builds the input records and batches. */
export async function buildInput(spec: InputSpec, batchSize: number): Promise<BenchInput> {
  let values: Uint8Array[];
  let description: string;
  let seed: number | null = null;
  if (spec.kind === 'file') {
    let text: string;
    try {
      text = await readFile(spec.path, 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new BenchInputError(
        `--file ${spec.path}: cannot read it (${e.code === 'ENOENT' ? 'no such file' : e.message})`,
      );
    }
    const lines = text.split('\n');
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    if (lines.length === 0) throw new BenchInputError(`--file ${spec.path} has no lines; give one record per line`);
    const lineBytes = lines.map((l) => utf8.encode(l.endsWith('\r') ? l.slice(0, -1) : l));
    const n = spec.records ?? Math.max(lines.length, 100_000);
    values = Array.from({ length: n }, (_, i) => lineBytes[i % lineBytes.length]!);
    description = `${lines.length} line(s) of ${spec.path}${n > lines.length ? `, repeated to ${n} records` : ''}`;
  } else if (spec.kind === 'template') {
    const gen = compileRecordTemplate(spec.template);
    const rnd = prng(spec.seed);
    seed = spec.seed;
    values = Array.from({ length: spec.records }, (_, i) => utf8.encode(gen(i, rnd)));
    description = `${spec.records} records from the template ${spec.template} (seed ${spec.seed})`;
  } else {
    const rnd = prng(spec.seed);
    seed = spec.seed;
    values = Array.from({ length: spec.records }, () => {
      const v = new Uint8Array(spec.recordSize);
      for (let j = 0; j < v.length; j++) v[j] = 0x61 + Math.floor(rnd() * 26);
      return v;
    });
    description = `${spec.records} random ${spec.recordSize}-byte values of a–z (seed ${spec.seed})`;
  }
  const t0 = performance.now();
  const batches = toBatches(values, batchSize);
  const encodeMs = performance.now() - t0;
  const dec = new TextDecoder();
  return {
    description,
    source: spec.kind,
    batches,
    records: values.length,
    bytes: batches.reduce((n, b) => n + b.raw.length, 0),
    valueBytes: values.reduce((n, v) => n + v.length, 0),
    batchSize,
    seed,
    encodeMs,
    sample: values.slice(0, 3).map((v) => dec.decode(v.subarray(0, 200))),
  };
}
