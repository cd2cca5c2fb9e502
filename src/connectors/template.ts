import { EddyError } from '../errors.js';

/**
 * Record templates with `fluvio consume --format`'s placeholders, used by `eddy consume --format`
 * and the file sink's `format:` parameter.
 */

export interface TemplateRecord {
  key: Uint8Array | null;
  value: Uint8Array;
  offset: number;
  partition: number;
  timestamp: number;
}

export const TEMPLATE_PLACEHOLDERS = ['key', 'value', 'offset', 'partition', 'time', 'timestamp'] as const;
type Placeholder = (typeof TEMPLATE_PLACEHOLDERS)[number];

/** A compiled template. */
export type Template = (r: TemplateRecord) => string;

export class TemplateError extends EddyError {
  constructor(message: string) {
    super('EDDY_TEMPLATE', message);
  }
}

const lossy = new TextDecoder('utf-8');

/** How a placeholder's text is written: as is, escaped for inside a JSON string, or base64 (key and value bytes). */
export const TEMPLATE_ENCODINGS = ['json', 'base64'] as const;
type Encoding = (typeof TEMPLATE_ENCODINGS)[number];

// Controls JSON.stringify leaves as they are (DEL, C1) and the line separators some parsers mind.
const UNSAFE = /[\u007f-\u009f\u2028\u2029]/g;

/**
 * A JSON string literal whose text is plain printable output: JSON.stringify's escapes plus
 * `\uXXXX` for DEL, the C1 controls and U+2028/U+2029, so a terminal never acts on a record's bytes.
 */
export function jsonString(text: string): string {
  return JSON.stringify(text).replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const base64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

/**
 * Compiles a template such as `{{offset}} {{key}}={{value}}`. Placeholders: key (`null` when
 * none), value (lossy UTF-8), offset, partition, time (RFC 3339, UTC) and timestamp (ms since the
 * epoch). `{{name:json}}` writes the text escaped for inside a JSON string (no quotes added), so
 * `{"value":"{{value:json}}"}` is valid JSON whatever the bytes; `{{key:base64}}` and
 * `{{value:base64}}` write the bytes as base64. `where` names the option or field in errors.
 */
export function compileTemplate(text: string, where = '--format'): Template {
  const parts: string[] = [];
  const encodings: (Encoding | null)[] = [];
  const re = /\{\{\s*([A-Za-z_]+)\s*(?::\s*([A-Za-z0-9_]+)\s*)?\}\}/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const name = m[1]!;
    if (!(TEMPLATE_PLACEHOLDERS as readonly string[]).includes(name)) {
      throw new TemplateError(
        `${where}: unknown placeholder {{${name}}}; use ${TEMPLATE_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}`,
      );
    }
    const encoding = m[2];
    if (encoding !== undefined) {
      if (!(TEMPLATE_ENCODINGS as readonly string[]).includes(encoding))
        throw new TemplateError(
          `${where}: unknown encoding {{${name}:${encoding}}}; use :json (escaped for a JSON string) or :base64`,
        );
      if (encoding === 'base64' && name !== 'key' && name !== 'value')
        throw new TemplateError(`${where}: {{${name}:base64}}: only key and value have bytes to encode`);
    }
    parts.push(text.slice(last, m.index), name);
    encodings.push((encoding as Encoding | undefined) ?? null);
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  const plain = (r: TemplateRecord, name: Placeholder): string => {
    switch (name) {
      case 'key':
        return r.key === null ? 'null' : lossy.decode(r.key);
      case 'value':
        return lossy.decode(r.value);
      case 'offset':
        return String(r.offset);
      case 'partition':
        return String(r.partition);
      case 'time':
        return new Date(r.timestamp).toISOString();
      case 'timestamp':
        return String(r.timestamp);
    }
  };
  return (r) => {
    let out = parts[0]!;
    for (let i = 1; i < parts.length; i += 2) {
      const name = parts[i] as Placeholder;
      const encoding = encodings[(i - 1) / 2];
      if (encoding === 'base64') {
        const bytes = name === 'key' ? r.key : r.value;
        out += bytes === null ? 'null' : base64(bytes);
      } else if (encoding === 'json') out += jsonString(plain(r, name)).slice(1, -1);
      else out += plain(r, name);
      out += parts[i + 1]!;
    }
    return out;
  };
}
