import { compileTemplate, type Template, type TemplateRecord } from '../connectors/template.js';
import { indexRecords } from '../protocol/record.js';
import { jsonLine } from './json-lines.js';
import { binaryRecord, dynamicRecord, isBinaryValue, jsonRecord, tableRecord, textRecord } from './value-formats.js';

/**
 * How `eddy consume` prints records: one value per line as `fluvio consume`
 * does, `[key] value` with `-k`, or a `--format` template with fluvio's placeholders.
 */

export type PrintableRecord = TemplateRecord;

/** `-O/--output` of consume, as Fluvio names them (full-table is Fluvio's interactive screen: refused, see consume). */
export type ValueOutput = 'dynamic' | 'text' | 'binary' | 'json' | 'raw' | 'table' | 'json-lines';
export const VALUE_OUTPUTS: readonly ValueOutput[] = [
  'dynamic',
  'text',
  'binary',
  'json',
  'raw',
  'table',
  'json-lines',
];

export { compileTemplate, type Template };

/** A value as `-O` asks for it (without the newline); null when `--suppress-unknown` drops it. */
export function renderValue(
  value: Uint8Array,
  output: Exclude<ValueOutput, 'raw' | 'table' | 'json-lines'>,
  suppressUnknown = false,
): string | null {
  if (output === 'text') return textRecord(value, suppressUnknown);
  if (output === 'binary') return binaryRecord(value);
  if (output === 'json') return jsonRecord(value, suppressUnknown);
  return dynamicRecord(value);
}

export interface LineOptions {
  template: Template | null;
  keyValue: boolean;
  output: ValueOutput;
  /** `--suppress-unknown`: text prints binary values as text, json drops values that are not JSON. */
  suppressUnknown?: boolean;
  /** `--truncate`: at most this many characters of each value (the terminal's width). */
  truncate?: number;
  /** `-O table` prints its top border once: set once the first record printed. */
  table?: { started: boolean };
  /** Escape control characters (stdout is a terminal; see escapeControls). */
  escape?: boolean;
  /** The topic `-O json-lines` names in each record's envelope. */
  topic?: string;
}

// C0 controls but tab, DEL, and C1 controls.
const CONTROLS = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;

/**
 * Control characters as `\xNN`: on a terminal, a key or value holding ESC sequences, NUL or a
 * carriage return would otherwise move the cursor, recolour or rewrite the screen, or hide text.
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** One record's line (with its newline): bytes with `-O raw`, '' when `--suppress-unknown` drops it. */
export function recordLine(r: PrintableRecord, o: LineOptions): string | Uint8Array {
  const esc = o.escape ? escapeControls : (s: string) => s;
  const prefix = o.keyValue ? `[${esc(consumeKey(r.key))}] ` : '';
  if (!o.template && o.output === 'raw') return Buffer.concat([Buffer.from(prefix), r.value, NEWLINE]);
  // Its JSON escapes every control character itself: nothing to escape for a terminal.
  if (!o.template && o.output === 'json-lines') return `${jsonLine(o.topic ?? '', r)}\n`;
  const v = o.template
    ? o.template(r)
    : o.output === 'table'
      ? tableValue(r.value, o)
      : renderValue(r.value, o.output as Exclude<ValueOutput, 'raw' | 'table' | 'json-lines'>, o.suppressUnknown);
  if (v === null) return '';
  // Renderings made of lines (pretty JSON, dumps, tables) keep their line breaks; JSON.stringify escapes the controls inside its strings.
  const lined =
    !o.template &&
    (o.output === 'json' ||
      o.output === 'binary' ||
      o.output === 'table' ||
      (o.output === 'dynamic' && isBinaryValue(r.value)));
  let value = lined ? v.split('\n').map(esc).join('\n') : esc(v);
  // As Fluvio: --truncate cuts the value line, not a `[key] value` line.
  if (o.truncate !== undefined && !o.keyValue) value = Array.from(value).slice(0, o.truncate).join('');
  return `${prefix}${value}\n`;
}

const NEWLINE = Buffer.from('\n');

const lossy = new TextDecoder('utf-8');

/** `fluvio consume -k` prints a key as lossy UTF-8 text, binary or not (`null` without one). */
const consumeKey = (key: Uint8Array | null) => (key === null ? 'null' : lossy.decode(key));

function tableValue(value: Uint8Array, o: LineOptions): string {
  const first = !o.table?.started;
  if (o.table) o.table.started = true;
  return tableRecord(value, first);
}

/** The records of one `Vec<Record>` batch (decoded at the edge, for printing). */
export function* batchRecords(
  raw: Uint8Array,
  baseOffset: number,
  baseTimestamp: number,
  partition: number,
): Generator<PrintableRecord> {
  const idx = indexRecords(raw);
  for (let i = 0; i < idx.count; i++) {
    yield {
      key: idx.key(i),
      value: idx.value(i),
      offset: baseOffset + idx.offsetDelta(i),
      timestamp: baseTimestamp + idx.timestampDelta(i),
      partition,
    };
  }
}

/** Record lines as one chunk (one write). */
export function joinLines(lines: readonly (string | Uint8Array)[], o: LineOptions): string | Uint8Array {
  if (o.output === 'raw' && !o.template)
    return Buffer.concat(lines.map((l) => (typeof l === 'string' ? Buffer.from(l) : l)));
  return lines.join('');
}

/** All lines of a batch as one chunk (one write per batch). */
export function batchText(
  raw: Uint8Array,
  baseOffset: number,
  baseTimestamp: number,
  partition: number,
  o: LineOptions,
): string | Uint8Array {
  const lines: (string | Uint8Array)[] = [];
  for (const r of batchRecords(raw, baseOffset, baseTimestamp, partition)) lines.push(recordLine(r, o));
  return joinLines(lines, o);
}
