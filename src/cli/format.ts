import { EddyError } from '../errors.js';

/**
 * Printing helpers shared by the CLI commands: record lines as `smdk test` / `fluvio consume`
 * print them, and errors as Fluvio renders them (spec §5.8, §8).
 */

/** A command line that cannot run as given. The message says what to change. */
export class UsageError extends EddyError {
  constructor(message: string) {
    super('EDDY_USAGE', message);
  }
}

/** Where a command writes. Tests pass their own; the CLI uses the process streams. */
export interface CliIO {
  stdout: { write(chunk: string | Uint8Array): unknown };
  stderr: { write(chunk: string | Uint8Array): unknown };
  stdin: NodeJS.ReadableStream;
  /** The current directory (relative paths resolve against it). */
  cwd: string;
  /** Environment variables (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Stops long-running commands (consume, run, connector run) as Ctrl-C does. Default: SIGINT/SIGTERM. */
  signal?: AbortSignal;
}

/** What a command's registration gets: its streams (read when it runs) and where to put its exit code. */
export interface CliContext {
  io(): CliIO;
  done(code: number): void;
}

export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, cwd: process.cwd() };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lossyUtf8 = new TextDecoder('utf-8');

/** Strict UTF-8 decoding; null when the bytes are not UTF-8. */
export function utf8OrNull(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/** A key looks binary when a NUL byte occurs in its first KiB (as Fluvio's CLI decides). */
export function looksBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 1024);
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return true;
  return false;
}

/** A record key for `-k` output: `null`, `binary: (N bytes)`, or the text (lossy UTF-8). */
export function formatKey(key: Uint8Array | null): string {
  if (key === null) return 'null';
  if (looksBinary(key)) return `binary: (${key.length} bytes)`;
  return lossyUtf8.decode(key);
}

/** A value that cannot be printed as text. `index` is its position in the output. */
export class NonUtf8ValueError extends EddyError {
  constructor(
    readonly index: number,
    readonly length: number,
  ) {
    super(
      'EDDY_NON_UTF8_VALUE',
      `output record ${index} has a value that is not valid UTF-8 text (${length} bytes), so it cannot be printed; the records before it were printed`,
    );
  }
}

/**
 * One output line (without the newline): the value, or `[key] value` with `withKey`.
 * Throws NonUtf8ValueError for a value that is not UTF-8.
 */
export function formatRecordLine(key: Uint8Array | null, value: Uint8Array, withKey: boolean, index = 0): string {
  const text = utf8OrNull(value);
  if (text === null) throw new NonUtf8ValueError(index, value.length);
  return withKey ? `[${formatKey(key)}] ${text}` : text;
}

/** Record bytes inside an error block: UTF-8 text, `Binary: N bytes`, or `NULL` for no key. */
export function renderRecordData(bytes: Uint8Array | null): string {
  if (bytes === null) return 'NULL';
  const text = utf8OrNull(bytes);
  return text ?? `Binary: ${bytes.length} bytes`;
}

/** Fluvio's names for the runtime-error kinds (the Rust enum variants). */
const KIND_DISPLAY: Readonly<Record<string, string>> = {
  filter: 'Filter',
  map: 'Map',
  array_map: 'ArrayMap',
  aggregate: 'Aggregate',
  filter_map: 'FilterMap',
  join: 'Join',
  generic: 'Generic',
};

export function kindDisplay(kind: string): string {
  return KIND_DISPLAY[kind] ?? kind;
}

export interface RuntimeErrorLike {
  hint: string;
  offset: number;
  kind: string;
  key: Uint8Array | null;
  value: Uint8Array;
  module?: string;
}

/**
 * A transform runtime error as Fluvio renders it: the hint, a blank line, then the info block
 * (`SmartModule Info: ` / Type / Offset / Key / Value). Eddy adds the module's name to the block
 * when it is known, since in a chain any module may have failed.
 */
export function formatRuntimeError(e: RuntimeErrorLike): string {
  const lines = [
    e.hint,
    '',
    'SmartModule Info: ',
    ...(e.module ? [`    Module: ${e.module}`] : []),
    `    Type: ${kindDisplay(e.kind)}`,
    `    Offset: ${e.offset}`,
    `    Key: ${renderRecordData(e.key)}`,
    `    Value: ${renderRecordData(e.value)}`,
  ];
  return lines.join('\n');
}
