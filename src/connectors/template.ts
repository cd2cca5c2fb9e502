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

/**
 * Compiles a template such as `{{offset}} {{key}}={{value}}`. Placeholders: key (`null` when
 * none), value (lossy UTF-8), offset, partition, time (RFC 3339, UTC) and timestamp (ms since the
 * epoch). `where` names the option or field in errors.
 */
export function compileTemplate(text: string, where = '--format'): Template {
  const parts: string[] = [];
  const re = /\{\{\s*([A-Za-z_]+)\s*\}\}/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const name = m[1]!;
    if (!(TEMPLATE_PLACEHOLDERS as readonly string[]).includes(name)) {
      throw new TemplateError(
        `${where}: unknown placeholder {{${name}}}; use ${TEMPLATE_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}`,
      );
    }
    parts.push(text.slice(last, m.index), name);
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return (r) => {
    let out = parts[0]!;
    for (let i = 1; i < parts.length; i += 2) {
      switch (parts[i] as Placeholder) {
        case 'key':
          out += r.key === null ? 'null' : lossy.decode(r.key);
          break;
        case 'value':
          out += lossy.decode(r.value);
          break;
        case 'offset':
          out += String(r.offset);
          break;
        case 'partition':
          out += String(r.partition);
          break;
        case 'time':
          out += new Date(r.timestamp).toISOString();
          break;
        case 'timestamp':
          out += String(r.timestamp);
          break;
      }
      out += parts[i + 1]!;
    }
    return out;
  };
}
