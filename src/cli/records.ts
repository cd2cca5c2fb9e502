import { compileTemplate, type Template, type TemplateRecord } from '../connectors/template.js';
import { indexRecords } from '../protocol/record.js';
import { formatKey, utf8OrNull } from './format.js';

/**
 * How `eddy consume` prints records: one value per line as `fluvio consume`
 * does, `[key] value` with `-k`, or a `--format` template with fluvio's placeholders.
 */

export type PrintableRecord = TemplateRecord;

/** `-O/--output` of consume: text if it is text (dynamic, the default), text always (lossy), raw bytes, or JSON. */
export type ValueOutput = 'dynamic' | 'text' | 'raw' | 'json';
export const VALUE_OUTPUTS: readonly ValueOutput[] = ['dynamic', 'text', 'raw', 'json'];

const lossy = new TextDecoder('utf-8');

export { compileTemplate, type Template };

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

/** Record lines as one chunk (one write). */
export function joinLines(lines: readonly (string | Uint8Array)[], o: LineOptions): string | Uint8Array {
  if (o.output === 'raw' && !o.template) return Buffer.concat(lines as Uint8Array[]);
  return lines.join('');
}

/** All lines of a batch as one chunk (one write per batch). */
export function batchText(raw: Uint8Array, baseOffset: number, baseTimestamp: number, partition: number, o: LineOptions): string | Uint8Array {
  const lines: (string | Uint8Array)[] = [];
  for (const r of batchRecords(raw, baseOffset, baseTimestamp, partition)) lines.push(recordLine(r, o));
  return joinLines(lines, o);
}
