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
  /** Escape control characters (stdout is a terminal; see escapeControls). */
  escape?: boolean;
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

/** One record's line (with its newline), or its raw bytes with `-O raw`. */
export function recordLine(r: PrintableRecord, o: LineOptions): string | Uint8Array {
  const esc = o.escape ? escapeControls : (s: string) => s;
  if (o.template) return `${esc(o.template(r))}\n`;
  if (o.output === 'raw') return r.value;
  // Pretty JSON's own line breaks stay; JSON.stringify escapes the controls inside its strings.
  const v = renderValue(r.value, o.output);
  const value = o.output === 'json' && o.escape ? v.split('\n').map(esc).join('\n') : esc(v);
  return o.keyValue ? `[${esc(formatKey(r.key))}] ${value}\n` : `${value}\n`;
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
