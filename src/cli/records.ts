import { indexRecords } from '../protocol/record.js';
import { UsageError, formatKey, utf8OrNull } from './format.js';

/**
 * How `eddy consume` (and the file sink) print records: one value per line as `fluvio consume`
 * does, `[key] value` with `-k`, or a `--format` template with fluvio's placeholders.
 */

export interface PrintableRecord {
  key: Uint8Array | null;
  value: Uint8Array;
  offset: number;
  partition: number;
  timestamp: number;
}

/** `-O/--output` of consume: text if it is text (dynamic, the default), text always (lossy), raw bytes, or JSON. */
export type ValueOutput = 'dynamic' | 'text' | 'raw' | 'json';
export const VALUE_OUTPUTS: readonly ValueOutput[] = ['dynamic', 'text', 'raw', 'json'];

const lossy = new TextDecoder('utf-8');
const PLACEHOLDERS = ['key', 'value', 'offset', 'partition', 'time', 'timestamp'] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

/** A compiled `--format` template: literal text and `{{placeholder}}` parts. */
export type Template = (r: PrintableRecord) => string;

/**
 * Compiles a template such as `{{offset}} {{key}}={{value}}`. Placeholders: key (`null` when
 * none), value, offset, partition, time (RFC 3339, UTC) and timestamp (ms since the epoch).
 */
export function compileTemplate(text: string): Template {
  const parts: (string | Placeholder)[] = [];
  const re = /\{\{\s*([A-Za-z_]+)\s*\}\}/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const name = m[1]!;
    if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
      throw new UsageError(`--format: unknown placeholder {{${name}}}; use ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}`);
    }
    parts.push(text.slice(last, m.index), name as Placeholder);
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  const literal = (i: number) => i % 2 === 0;
  return (r) => {
    let out = '';
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (literal(i)) { out += p; continue; }
      switch (p as Placeholder) {
        case 'key': out += r.key === null ? 'null' : lossy.decode(r.key); break;
        case 'value': out += lossy.decode(r.value); break;
        case 'offset': out += String(r.offset); break;
        case 'partition': out += String(r.partition); break;
        case 'time': out += new Date(r.timestamp).toISOString(); break;
        case 'timestamp': out += String(r.timestamp); break;
      }
    }
    return out;
  };
}

/** A value as `-O` asks for it (without the newline). */
export function renderValue(value: Uint8Array, output: ValueOutput): string {
  if (output === 'text') return lossy.decode(value);
  const text = utf8OrNull(value);
  if (output === 'json') {
    if (text !== null) {
      try {
        return JSON.stringify(JSON.parse(text), null, 2);
      } catch { /* not JSON: printed as it is */ }
    }
    return text ?? `binary: (${value.length} bytes)`;
  }
  return text ?? `binary: (${value.length} bytes)`;
}

export interface LineOptions {
  template: Template | null;
  keyValue: boolean;
  output: ValueOutput;
}

/** One record's line (with its newline), or its raw bytes with `-O raw`. */
export function recordLine(r: PrintableRecord, o: LineOptions): string | Uint8Array {
  if (o.template) return `${o.template(r)}\n`;
  if (o.output === 'raw') return r.value;
  const v = renderValue(r.value, o.output);
  return o.keyValue ? `[${formatKey(r.key)}] ${v}\n` : `${v}\n`;
}

/** The records of one `Vec<Record>` batch (decoded at the edge, for printing). */
export function* batchRecords(raw: Uint8Array, baseOffset: number, baseTimestamp: number, partition: number): Generator<PrintableRecord> {
  const idx = indexRecords(raw);
  for (let i = 0; i < idx.count; i++) {
    yield { key: idx.key(i), value: idx.value(i), offset: baseOffset + idx.offsetDelta(i), timestamp: baseTimestamp + idx.timestampDelta(i), partition };
  }
}

/** All lines of a batch as one chunk (one write per batch). */
export function batchText(raw: Uint8Array, baseOffset: number, baseTimestamp: number, partition: number, o: LineOptions): string | Uint8Array {
  const chunks: (string | Uint8Array)[] = [];
  for (const r of batchRecords(raw, baseOffset, baseTimestamp, partition)) chunks.push(recordLine(r, o));
  if (o.output === 'raw' && !o.template) return Buffer.concat(chunks as Uint8Array[]);
  return chunks.join('');
}
