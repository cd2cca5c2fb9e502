import { looksBinary } from './format.js';

/**
 * The value renderings of `fluvio consume -O` (its record_format): a hex dump for binary values,
 * pretty JSON with sorted keys, and the one-record ASCII table of `-O table`. Facts about Fluvio
 * reproduced here: serde_json's map is ordered by key (Fluvio does not keep insertion order), the
 * table is comfy-table's default ASCII preset, and "binary" is content_inspector's test.
 */

const lossy = new TextDecoder('utf-8');

// Byte order marks make content text whatever follows (UTF-16/32 hold NULs).
const BOMS: readonly (readonly number[])[] = [
  [0xef, 0xbb, 0xbf],
  [0x00, 0x00, 0xfe, 0xff],
  [0xff, 0xfe, 0x00, 0x00],
  [0xfe, 0xff],
  [0xff, 0xfe],
];
const PDF = [0x25, 0x50, 0x44, 0x46];

const startsWith = (bytes: Uint8Array, prefix: readonly number[]) => prefix.every((b, i) => bytes[i] === b);

/** Binary as Fluvio decides for values: no byte order mark, and a NUL in the first KiB or a PDF header. */
export function isBinaryValue(bytes: Uint8Array): boolean {
  if (BOMS.some((bom) => startsWith(bytes, bom))) return false;
  return looksBinary(bytes) || startsWith(bytes, PDF);
}

export const HEX_SEPARATOR = `${'-'.repeat(78)}\n`;

/** A printable column for the dump: ASCII as itself, a newline as `.`, anything else as a space. */
const dumpChar = (b: number) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : b === 0x0a ? '.' : ' ');
const hex2 = (b: number) => b.toString(16).padStart(2, '0');

/** 16 bytes a row: the offset, two groups of 8 hex bytes, and the characters between bars (each row ends in a newline). */
export function hexDump(bytes: Uint8Array): string {
  let out = '';
  for (let row = 0; row < bytes.length; row += 16) {
    const chunk = bytes.subarray(row, row + 16);
    const cells = Array.from({ length: 16 }, (_, i) => (i < chunk.length ? hex2(chunk[i]!) : '  '));
    const text = Array.from(chunk, dumpChar).join('').padEnd(16, ' ');
    out += `${row.toString(16).padStart(8, '0')}  ${cells.slice(0, 8).join(' ')}  ${cells.slice(8).join(' ')}  |${text}|\n`;
  }
  return out;
}

/** `-O binary`: the dump and the separator line. */
export function binaryRecord(bytes: Uint8Array): string {
  return hexDump(bytes) + HEX_SEPARATOR;
}

/** `-O dynamic`: text, or the dump for a binary value. */
export function dynamicRecord(bytes: Uint8Array): string {
  return isBinaryValue(bytes) ? binaryRecord(bytes) : lossy.decode(bytes);
}

/** `-O text`: the text (lossy), or `binary: (N bytes)` unless unknown content is suppressed. */
export function textRecord(bytes: Uint8Array, suppress: boolean): string {
  return isBinaryValue(bytes) && !suppress ? `binary: (${bytes.length} bytes)` : lossy.decode(bytes);
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Objects with their keys in order, recursively (serde_json's default map is ordered by key). */
function sortKeys(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  const out: { [k: string]: Json } = {};
  for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]!);
  return out;
}

type Parsed = { ok: true; value: Json } | { ok: false; error: string };

function parseJson(bytes: Uint8Array): Parsed {
  try {
    return { ok: true, value: sortKeys(JSON.parse(lossy.decode(bytes)) as Json) };
  } catch (err) {
    return { ok: false, error: shortError((err as Error).message) };
  }
}

/** V8 quotes the whole input in its message: keep the reason, not a copy of the record. */
const shortError = (message: string) => message.replace(/, ".*" is not valid JSON$/s, ' (not valid JSON)');

/** `-O json`: pretty JSON, or `{"error": …}` for a value that is not JSON (null: suppressed). */
export function jsonRecord(bytes: Uint8Array, suppress: boolean): string | null {
  const parsed = parseJson(bytes);
  if (parsed.ok) return JSON.stringify(parsed.value, null, 2);
  return suppress ? null : JSON.stringify({ error: parsed.error }, null, 2);
}

/** A table cell: strings as they are, anything else as compact JSON. */
const cell = (v: Json): string => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * `-O table`: the value (a JSON object) as an ASCII table of its top-level keys. Fluvio prints the
 * first record's top border and drops only that line for later records, so every record repeats
 * its header row. A value that is not a JSON object prints one error line instead, as Fluvio's.
 */
export function tableRecord(bytes: Uint8Array, firstRecord: boolean): string {
  const parsed = parseJson(bytes);
  if (!parsed.ok) return `error parsing record as json: ${parsed.error}`;
  const obj = parsed.value;
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return 'error: Unable to parse json as object map';
  const header = Object.keys(obj).map((k) => k.split('\n'));
  const row = Object.values(obj).map((v) => cell(v).split('\n'));
  const widths = header.map((h, i) => Math.max(...h.map((l) => l.length), ...row[i]!.map((l) => l.length)));
  const border = (c: string) => `+${widths.map((w) => c.repeat(w + 2)).join('+')}+`;
  const lines = (cells: string[][]) => {
    const height = Math.max(1, ...cells.map((c) => c.length));
    return Array.from(
      { length: height },
      (_, j) => `|${cells.map((c, i) => ` ${(c[j] ?? '').padEnd(widths[i]!)} `).join('|')}|`,
    );
  };
  const table = [border('-'), ...lines(header), border('='), ...lines(row), border('-')];
  return (firstRecord ? table : table.slice(1)).join('\n');
}
