import { jsonString, type TemplateRecord } from '../connectors/template.js';

/**
 * `eddy consume -J/--json-lines`: one compact JSON object per record, for scripts (`jq`), after
 * kcat's `-J`. Keys and values that are valid UTF-8 are JSON strings; others are base64, said by a
 * `key_encoding` / `value_encoding` field of `"base64"`, so no byte is lost or replaced.
 */

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes as UTF-8 text when they are valid UTF-8, else null. */
export function utf8OrNull(bytes: Uint8Array): string | null {
  try {
    return strict.decode(bytes);
  } catch {
    return null;
  }
}

/** The envelope of one record, without its newline. */
export function jsonLine(topic: string, r: TemplateRecord): string {
  let out = `{"topic":${jsonString(topic)},"partition":${r.partition},"offset":${r.offset},"timestamp":${r.timestamp}`;
  out += field('key', r.key);
  out += field('value', r.value);
  return `${out}}`;
}

function field(name: string, bytes: Uint8Array | null): string {
  if (bytes === null) return `,"${name}":null`;
  const text = utf8OrNull(bytes);
  if (text !== null) return `,"${name}":${jsonString(text)}`;
  return `,"${name}":"${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}","${name}_encoding":"base64"`;
}
