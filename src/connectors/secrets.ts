import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { EddyError } from '../errors.js';
import type { TransformStep } from '../smartmodule/transforms.js';

/**
 * Connector secrets as Fluvio's connectors take them: the config declares the names under
 * `meta.secrets: [{ name: TOKEN }]` and writes `${{ secrets.TOKEN }}` where a value goes. The
 * values come from a secrets file (`--secrets <file>`, `NAME=value` lines) when one is given,
 * else from the environment, as `cdk deploy` does. A value is never printed: every message a
 * running connector emits passes through its redactor.
 */

/** Where secret values come from; `describe` says so in errors (never a value). */
export interface SecretStore {
  describe(name: string): string;
  read(name: string): string | undefined;
}

export class SecretError extends EddyError {
  constructor(
    readonly source: string,
    readonly secret: string,
    problem: string,
  ) {
    super('EDDY_CONNECTOR_SECRET', `${source}: ${problem}`);
  }
}

/** Secret names as Fluvio allows them: ASCII letters, digits and `_`, not starting with a digit. */
export function secretNameProblem(name: string): string | null {
  if (name === '') return 'a secret name cannot be empty';
  if (!/^[A-Za-z0-9_]+$/.test(name))
    return `secret name ${JSON.stringify(name)} can only contain ASCII letters, digits and underscores`;
  if (/^[0-9]/.test(name)) return `secret name ${JSON.stringify(name)} cannot start with a digit`;
  return null;
}

/** The environment (default `process.env`). */
export function envSecretStore(env: NodeJS.ProcessEnv = process.env): SecretStore {
  return {
    describe: (name) => `set the environment variable ${name}, or pass --secrets <file> with a line \`${name}=...\``,
    read: (name) => env[name],
  };
}

const MAX_SECRETS_FILE_BYTES = 1 << 20;

/**
 * A secrets file: one `NAME=value` per line, both sides trimmed (as Fluvio's file store reads
 * it); lines without `=` are ignored. Read once, with a size cap; errors never quote its lines.
 */
export function fileSecretStore(path: string): SecretStore {
  const values = new Map<string, string>();
  for (const line of readSecretsFile(path).split(/\r?\n/)) {
    const at = line.indexOf('=');
    if (at < 0) continue;
    const name = line.slice(0, at).trim();
    if (!values.has(name)) values.set(name, line.slice(at + 1).trim());
  }
  return {
    describe: (name) => `add a line \`${name}=...\` to the secrets file ${path}`,
    read: (name) => values.get(name),
  };
}

function readSecretsFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SecretError(
      path,
      '',
      `cannot read the secrets file (${code === 'ENOENT' ? 'no such file' : (code ?? 'error')})`,
    );
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new SecretError(path, '', 'the secrets file is not a regular file');
    if (st.size > MAX_SECRETS_FILE_BYTES)
      throw new SecretError(path, '', `the secrets file is ${st.size} bytes; the limit is ${MAX_SECRETS_FILE_BYTES}`);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

const PLACEHOLDER = /\$\{\{\s*([^}]*?)\s*\}\}/g;
const SECRET_REF = /^secrets\.([A-Za-z0-9_]+)$/;

/**
 * Checks the placeholders of one string value at `field`: each must be `${{ secrets.NAME }}` with
 * NAME declared in `meta.secrets`. Returns the problem, or null. Template blocks (`${% %}`) and
 * other expressions are not Eddy's: they are refused rather than sent as written.
 */
export function placeholderProblem(text: string, declared: ReadonlySet<string>): string | null {
  if (text.includes('${%') || text.includes('${#'))
    return 'template blocks (`${% ... %}`, `${# ... #}`) are not supported; use `${{ secrets.NAME }}`';
  for (const m of text.matchAll(PLACEHOLDER)) {
    const ref = SECRET_REF.exec(m[1]!);
    if (!ref) return `\`${m[0]}\` is not a placeholder Eddy knows; write \`\${{ secrets.NAME }}\``;
    if (!declared.has(ref[1]!))
      return `secret ${ref[1]} is used but not declared; add \`- name: ${ref[1]}\` under meta.secrets`;
  }
  return null;
}

/** The secret values a connector's config needs, read from `store`; a missing one is an error naming it. */
export function readSecrets(names: readonly string[], store: SecretStore, source: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const name of names) {
    const value = store.read(name);
    if (value === undefined)
      throw new SecretError(source, name, `meta.secrets: secret ${name} has no value; ${store.describe(name)}`);
    values.set(name, value);
  }
  return values;
}

/** `text` with each `${{ secrets.NAME }}` replaced by its value. */
export function substitute(text: string, values: ReadonlyMap<string, string>): string {
  return text.replace(PLACEHOLDER, (whole, expr: string) => {
    const ref = SECRET_REF.exec(expr);
    return ref && values.has(ref[1]!) ? values.get(ref[1]!)! : whole;
  });
}

/** A parsed value (params) with secrets substituted in every string, at any depth. */
export function substituteDeep(value: unknown, values: ReadonlyMap<string, string>): unknown {
  if (typeof value === 'string') return substitute(value, values);
  if (Array.isArray(value)) return value.map((v) => substituteDeep(v, values));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteDeep(v, values)]));
  }
  return value;
}

/** Transform steps with secrets substituted in their `with` values. */
export function substituteSteps(steps: readonly TransformStep[], values: ReadonlyMap<string, string>): TransformStep[] {
  return steps.map((s) => {
    const params: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [k, v] of Object.entries(s.with ?? {})) params[k] = substitute(v, values);
    return { ...s, with: params };
  });
}

/** Hides secret values in text: each becomes `****`. Longest first, so one value inside another cannot leak a part. */
export function redactor(values: Iterable<string>): (text: string) => string {
  // A value in a URL may be printed percent-encoded.
  const forms = [...values].flatMap((v) => [v, encodeURIComponent(v), encodeURI(v)]);
  const secrets = [...new Set(forms)].filter((v) => v !== '').sort((a, b) => b.length - a.length);
  if (secrets.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const s of secrets) out = out.split(s).join('****');
    return out;
  };
}

/** Redacts an error in place: message, stack and causes (what `EDDY_DEBUG` prints). */
export function redactError<T>(err: T, redact: (text: string) => string): T {
  const seen = new Set<unknown>();
  for (let e: unknown = err; e instanceof Error && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    e.message = redact(e.message);
    if (e.stack) e.stack = redact(e.stack);
  }
  return err;
}
