import { existsSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { envSecretStore, fileSecretStore, type SecretStore } from '../connectors/secrets.js';
import type { WorkerPool } from '../coordinator/pool.js';
import type { Eddy, OpenOptions } from '../eddy.js';
import { EddyError } from '../errors.js';
import { DEFAULT_TEXT } from './defaults.js';
import { type CliContext, type CliIO, UsageError } from './format.js';
import { parseBytes, parseDurationOption } from './units.js';

/**
 * What the data commands (topic, produce, consume, smart-module, derive, run, connector) share:
 * where the data directory is, how it is opened (readers read-only, so a `consume` runs next to a
 * writer such as `eddy run` or `eddy produce`), `--output` handling, and Ctrl-C.
 */

/** Options every command sees (defined on the program). */
export interface GlobalOptions {
  dataDir?: string;
  workers?: string;
  maxRecordBytes?: string;
  /** The SmartModule limits of the commands that run modules (see `memoryLimitOption`, `timeoutOption`). */
  memoryLimit?: string;
  recycleAfter?: string;
  timeout?: string;
  /** false with `--no-fan-out` (see fanOutOption). */
  fanOut?: boolean;
}

/** The data directory: `--data-dir`, else `$EDDY_DATA_DIR`, else `~/.eddy`. Relative paths resolve against the command's directory. */
export function dataDir(cmd: Command, io: CliIO): string {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const env = io.env ?? process.env;
  const dir = g.dataDir ?? (env['EDDY_DATA_DIR'] || join(homedir(), '.eddy'));
  return resolve(io.cwd, dir);
}

function openOptions(cmd: Command, io: CliIO): OpenOptions {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const env = io.env ?? process.env;
  const options: OpenOptions = { baseDir: io.cwd };
  const workers = g.workers ?? env['EDDY_WORKERS'];
  if (workers !== undefined && workers !== '') {
    const n = Number(workers);
    if (!Number.isInteger(n) || n < 1)
      throw new UsageError(`--workers expects a positive number of worker threads, got ${JSON.stringify(workers)}`);
    options.workers = n;
  }
  if (g.maxRecordBytes !== undefined) options.maxRecordBytes = parseBytes(g.maxRecordBytes, '--max-record-bytes');
  const maxPartitions = env['EDDY_MAX_PARTITIONS'];
  if (maxPartitions !== undefined && maxPartitions !== '') {
    const n = Number(maxPartitions);
    if (!Number.isInteger(n) || n < 1)
      throw new UsageError(
        `$EDDY_MAX_PARTITIONS expects a positive number of partitions, got ${JSON.stringify(maxPartitions)}`,
      );
    options.maxPartitions = n;
  }
  if (g.fanOut === false) options.fanOut = false;
  return { ...options, ...moduleLimits(g) };
}

/**
 * The SmartModule limits, one definition for every command that runs modules: `--memory-limit`
 * (the engine's store memory cap; Fluvio's SPU calls it --smart-engine-max-memory) and
 * `--timeout` (the per-batch deadline, humantime as Fluvio's durations). Commands add them with
 * `.addOption(memoryLimitOption())` / `.addOption(timeoutOption())`; `openForRead`/`openForWrite`
 * apply them.
 */
export const memoryLimitOption = (): Option =>
  new Option(
    '--memory-limit <size>',
    `memory cap of each SmartModule instance, e.g. 2GB (default ${DEFAULT_TEXT.memoryLimit})`,
  );
/** `--recycle-after`: Eddy's own; Fluvio keeps every instance until the memory cap. */
export const recycleAfterOption = (): Option =>
  new Option(
    '--recycle-after <size>',
    `recycle a SmartModule instance that keeps its outputs (Rust-built modules) once its memory grew this much; 0 or off: never (default ${DEFAULT_TEXT.recycleAfter})`,
  );
export const timeoutOption = (): Option =>
  new Option(
    '--timeout <duration>',
    `deadline for a SmartModule to process one batch, e.g. 10s (default ${DEFAULT_TEXT.timeout})`,
  );

/** `--memory-limit` / `--recycle-after` / `--timeout` as API options (`memoryLimit` and `recycleAfter` bytes, `deadlineMs`). */
export function moduleLimits(o: { memoryLimit?: string; recycleAfter?: string; timeout?: string }): {
  memoryLimit?: number;
  recycleAfter?: number | false;
  deadlineMs?: number;
} {
  const r = o.recycleAfter;
  const never = r !== undefined && /^(0|off|never)$/i.test(r.trim());
  return {
    ...(o.memoryLimit !== undefined ? { memoryLimit: parseBytes(o.memoryLimit, '--memory-limit') } : {}),
    ...(r !== undefined ? { recycleAfter: never ? false : parseBytes(r, '--recycle-after') } : {}),
    ...(o.timeout !== undefined ? { deadlineMs: positiveDeadline(parseDurationOption(o.timeout, '--timeout')) } : {}),
  };
}

function positiveDeadline(ms: number): number {
  if (ms <= 0) throw new UsageError('--timeout must be longer than 0, e.g. 5s');
  return ms;
}

/**
 * Opens the data directory for a command that only reads: read-only when it exists (no writer
 * lock, so it works next to a running writer and is woken by its commits), created otherwise.
 */
export async function openForRead(cmd: Command, io: CliIO, extra: Pick<OpenOptions, 'pool'> = {}): Promise<Eddy> {
  const dir = dataDir(cmd, io);
  if (!existsSync(join(dir, 'data.mdb'))) return openForWrite(cmd, io, extra);
  return openOwningPool(dir, { ...openOptions(cmd, io), ...extra, readOnly: true });
}

/**
 * Opens the data directory for writing (creating it); a directory held by another writer is a
 * clear error. `extra.sharedWriter`: several such processes may write at once (`eddy produce`).
 */
export async function openForWrite(
  cmd: Command,
  io: CliIO,
  extra: Pick<OpenOptions, 'sharedWriter' | 'pool'> = {},
): Promise<Eddy> {
  return openOwningPool(dataDir(cmd, io), { ...openOptions(cmd, io), ...extra });
}

/** open(), which owns `options.pool` once it returns: a failed open closes the pool itself. */
async function openOwningPool(dir: string, options: OpenOptions): Promise<Eddy> {
  try {
    return (await openEddy())(dir, options);
  } catch (err) {
    await options.pool?.close();
    throw err;
  }
}

/**
 * Starts the worker threads of a command that will run SmartModules before it loads the library:
 * a worker takes about 0.1 s to start, and it now starts while the main thread loads storage
 * (handed to open() as `pool`; Eddy owns it from there).
 */
export async function startWorkers(cmd: Command, io: CliIO, workers = workerCount(cmd, io)): Promise<WorkerPool> {
  const { WorkerPool } = await import('../coordinator/pool.js');
  return new WorkerPool({ workers });
}

/**
 * The library, loaded when a command first opens a data directory: `eddy --help`, `eddy transform`
 * and the other commands that never open one skip loading storage, the pool and the Kafka client
 * (most of a command's start-up time).
 */
async function openEddy(): Promise<typeof import('../eddy.js').open> {
  return (await import('../eddy.js')).open;
}

/** Runs `body` with an open Eddy and always closes it. */
export async function withEddy<T>(eddy: Eddy, body: (eddy: Eddy) => Promise<T>): Promise<T> {
  try {
    return await body(eddy);
  } finally {
    await eddy.close();
  }
}

/** `--json` / `-O, --output <table|json>` as one choice. */
export function outputFormat(o: { json?: boolean; output?: string }): 'table' | 'json' {
  const out = o.output?.toLowerCase();
  if (out !== undefined && out !== 'table' && out !== 'json') {
    throw new UsageError(`-O/--output must be table or json, got ${JSON.stringify(o.output)}`);
  }
  if (o.json) return 'json';
  return out === 'json' ? 'json' : 'table';
}

/** `-O, --output <table|json>` and `--json`, on a command that lists things. */
export function withOutputOptions(command: Command): Command {
  return command
    .addOption(new Option('-O, --output <type>', 'output format: table or json'))
    .option('--json', 'print JSON (same as -O json)');
}

/**
 * The action of a listing command (`topic list`, `partition list`, ...): checks the output
 * format, reads with the directory opened read-only, prints `show.table` or `show.json`.
 */
export function listAction<T>(
  ctx: CliContext,
  read: (eddy: Eddy) => T | Promise<T>,
  show: { table: (v: T) => string; json: (v: T) => unknown },
) {
  return async (o: { output?: string; json?: boolean }, cmd: Command): Promise<void> => {
    const io = ctx.io();
    const format = outputFormat(o);
    const value = await withEddy(await openForRead(cmd, io), async (eddy) => read(eddy));
    if (format === 'json') printJson(io, show.json(value));
    else io.stdout.write(show.table(value));
  };
}

export function printJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A non-negative integer option (offsets, counts); `what` names the option in the error. */
export function parseIntOption(text: string, what: string, { min = 0, allowNegative = false } = {}): number {
  if (!/^[-+]?\d+$/.test(text.trim()))
    throw new UsageError(`${what} expects a whole number, got ${JSON.stringify(text)}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new UsageError(`${what}: ${text} is too large`);
  if (!allowNegative && n < min) throw new UsageError(`${what} must be ${min} or more, got ${n}`);
  return n;
}

/** Worker threads for a command that runs its own pool: global `--workers`, else EDDY_WORKERS, else the cores. */
export function workerCount(cmd: Command, io: CliIO): number {
  const g = cmd.optsWithGlobals<{ workers?: string }>();
  const text = g.workers ?? (io.env ?? process.env)['EDDY_WORKERS'];
  if (text === undefined || text === '') return availableParallelism();
  return parseIntOption(text, '--workers', { min: 1 });
}

/**
 * An AbortSignal that fires on Ctrl-C (SIGINT) or SIGTERM: long-running commands (consume,
 * run, connector run) stop cleanly on it. A second signal exits at once. Tests pass
 * `io.signal` instead. `dispose` removes the handlers.
 */
export function interruptSignal(io: CliIO): { signal: AbortSignal; dispose(): void } {
  if (io.signal) return { signal: io.signal, dispose: () => {} };
  const controller = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(sig === 'SIGINT' ? 130 : 143);
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** True when the stream is a terminal. */
export function isTTY(stream: unknown): boolean {
  return !!(stream as { isTTY?: boolean } | null)?.isTTY;
}

type OutStream = CliIO['stdout'] & {
  once?: (e: string, f: (...a: unknown[]) => void) => void;
  off?: (e: string, f: (...a: unknown[]) => void) => void;
  destroyed?: boolean;
};

/** True when stdout is a Node stream (it takes a write callback), not a plain object with `write`. */
function isStream(out: OutStream): boolean {
  return typeof out.once === 'function' && typeof out.off === 'function';
}

/**
 * Writes to stdout and waits for it to drain when the stream asks (a slow pipe holds the command
 * back instead of buffering without bound). A closed pipe (`| head`) ends the command quietly.
 * `written` is called once the bytes were handed to the operating system (at once for a plain
 * object), and never for bytes that were not; an empty `text` just waits its turn for `written`.
 */
export async function writeOut(io: CliIO, text: string | Uint8Array, written?: () => void): Promise<void> {
  const out = io.stdout as OutStream;
  if (out.destroyed) throw new OutputClosed();
  if (!isStream(out)) {
    if (text.length > 0) out.write(text);
    written?.();
    return;
  }
  if (text.length === 0 && !written) return;
  const ok = (out.write as (c: string | Uint8Array, cb: (err?: Error | null) => void) => boolean)(text, (err) => {
    if (!err) written?.();
  });
  if (ok === false) await drained(out);
}

/** Resolves on 'drain', or when the stream closes or fails; removes its listeners either way. */
function drained(out: OutStream): Promise<void> {
  return new Promise<void>((res) => {
    const done = () => {
      out.off!('drain', done);
      out.off!('close', done);
      out.off!('error', done);
      res();
    };
    out.once!('drain', done);
    out.once!('close', done);
    out.once!('error', done);
  });
}

/** Resolves once everything written to stdout before now was handed on (or failed). */
export function outputSettled(io: CliIO): Promise<void> {
  const out = io.stdout as OutStream;
  if (!isStream(out) || out.destroyed) return Promise.resolve();
  return new Promise<void>((res) => {
    (out.write as (c: string, cb: () => void) => boolean)('', () => res());
  });
}

let closedOutputHandlers = 0;

/**
 * For a command that handles a closed stdout itself (it stops, then commits what it delivered):
 * main() then leaves EPIPE to it instead of exiting at once. Returns the release function.
 */
export function handleClosedOutput(): () => void {
  closedOutputHandlers++;
  return () => {
    closedOutputHandlers--;
  };
}

/** True while a running command handles a closed stdout itself. */
export function closedOutputHandled(): boolean {
  return closedOutputHandlers > 0;
}

/** stdout was closed by the reader (EPIPE): stop quietly. */
export class OutputClosed extends EddyError {
  constructor() {
    super('EDDY_OUTPUT_CLOSED', 'the output was closed');
  }
}

/** `-s, --secrets <file>` as cdk takes it: the file's `NAME=value` lines when given, else the environment. */
export function secretStore(o: { secrets?: string }, io: CliIO): SecretStore {
  return o.secrets !== undefined ? fileSecretStore(resolve(io.cwd, o.secrets)) : envSecretStore(io.env ?? process.env);
}

export const SECRETS_OPTION_HELP =
  'secrets file: NAME=value lines, the values of meta.secrets (default: the environment)';
