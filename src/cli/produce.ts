import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { type Command, Option } from 'commander';
import { anchorSteps } from '../coordinator/resolve.js';
import { EddyError } from '../errors.js';
import { parseCodec } from '../storage/codecs.js';
import { STORAGE_DEFAULTS } from '../storage/defaults.js';
import type { ProducerOptions, ProducerRecord } from '../storage/producer.js';
import { type ChainSource, fanOutOption, inlineStepOptions, planChain, readChain } from './chain-options.js';
import {
  dataDir,
  type GlobalOptions,
  interruptSignal,
  isTTY,
  memoryLimitOption,
  openForWrite,
  parseIntOption,
  recycleAfterOption,
} from './common.js';
import { DEFAULT_TEXT } from './defaults.js';
import {
  cliMessage,
  MissingKeySeparatorError,
  NothingSentError,
  ProduceStoppedError,
  storedSummary,
} from './errors.js';
import type { FailoverProducer, ProduceTarget } from './failover-producer.js';
import { type CliContext, type CliIO, UsageError } from './format.js';
import { lineChunks } from './line-chunks.js';
import { Progress } from './progress.js';
import { parseBytes, parseDurationOption } from './units.js';

/**
 * `eddy produce <topic>`, as `fluvio produce`: one record per line of stdin (with a `> ` prompt
 * and `Ok!` on a terminal) or of `--file`, the whole input as one record with `--raw`, a key for
 * every record (`--key`) or split from each line (`--key-separator`), a fixed `--partition`, and
 * producer-side SmartModules (`--transforms-file`, `--transform`, `--smartmodule`) that run before
 * records are stored. Long files show a progress bar on stderr.
 */

export interface ProduceCliOptions {
  file?: string;
  raw?: boolean;
  key?: string;
  keySeparator?: string;
  partition?: string;
  transformsFile?: string;
  transform?: string[];
  smartmodule?: string;
  params?: string[];
  linger?: string;
  batchSize?: string;
  progress?: boolean;
  verbose?: boolean;
  compression?: string;
  maxRequestSize?: string;
  deliverySemantic?: string;
  aggregateInitial?: string;
  isolation?: string;
  mirror?: string;
  fanOut?: boolean;
}

export interface ProducePlan {
  file: string | undefined;
  raw: boolean;
  key: Buffer | null;
  separator: string | null;
  partition: number | undefined;
  /** The producer-side SmartModules; null: none. */
  chain: ChainSource | null;
  producer: ProducerOptions;
  progress: boolean | undefined;
  /** `-v`: print `[key] value` for each key-separated line, as fluvio produce. */
  verbose: boolean;
  /** `--max-request-size`: no record (line) may be larger. */
  maxRequestSize: number | undefined;
  aggregateInitial: Uint8Array | undefined;
}

/** Fluvio's spellings of its delivery semantics (clap's kebab-case, serde's and the enum's names). */
const DELIVERY_SEMANTICS = [
  'at-least-once',
  'at_least_once',
  'AtLeastOnce',
  'at-most-once',
  'at_most_once',
  'AtMostOnce',
];
const ISOLATIONS = ['read_committed', 'ReadCommitted', 'read_uncommitted', 'ReadUncommitted'];

export function planProduce(o: ProduceCliOptions): ProducePlan {
  if (o.key !== undefined && o.keySeparator !== undefined) {
    throw new UsageError(
      '--key and --key-separator cannot be used together: give every record one key, or split a key from each line',
    );
  }
  if (o.keySeparator === '') throw new UsageError('--key-separator cannot be empty');
  if (o.raw && o.keySeparator !== undefined)
    throw new UsageError('--raw sends the whole input as one record: it has no lines to split a key from');
  const chain = planChain(o, {
    modules: o.smartmodule === undefined ? [] : [{ flag: '--smartmodule', uses: o.smartmodule }],
    paramsFor: '--smartmodule',
  });
  if (o.aggregateInitial !== undefined && chain === null) {
    throw new UsageError('--aggregate-initial needs an aggregate module: add --smartmodule <name>');
  }
  if (o.mirror !== undefined)
    throw new UsageError(
      `-m/--mirror ${o.mirror}: Eddy has no remote clusters to mirror to; produce to the topic itself`,
    );
  if (o.deliverySemantic !== undefined && !DELIVERY_SEMANTICS.includes(o.deliverySemantic)) {
    throw new UsageError(`--delivery-semantic ${o.deliverySemantic}: use at-least-once (the default) or at-most-once`);
  }
  if (o.isolation !== undefined && !ISOLATIONS.includes(o.isolation)) {
    throw new UsageError(`--isolation ${o.isolation}: use read_committed or read_uncommitted`);
  }
  const producer: ProducerOptions = {};
  if (o.linger !== undefined) producer.lingerMs = parseDurationOption(o.linger, '--linger');
  if (o.batchSize !== undefined) producer.batchSize = parseBytes(o.batchSize, '--batch-size');
  if (o.compression !== undefined) {
    try {
      producer.compression = parseCodec(o.compression, '--compression');
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const maxRequestSize =
    o.maxRequestSize === undefined ? undefined : parseBytes(o.maxRequestSize, '--max-request-size');
  // A batch never grows past the largest request, as Fluvio's producer caps its batches.
  if (maxRequestSize !== undefined)
    producer.batchSize = Math.min(producer.batchSize ?? STORAGE_DEFAULTS.producerBatchBytes, maxRequestSize);
  return {
    file: o.file,
    raw: !!o.raw,
    key: o.key === undefined ? null : Buffer.from(o.key, 'utf8'),
    separator: o.keySeparator ?? null,
    partition: o.partition === undefined ? undefined : parseIntOption(o.partition, '--partition'),
    chain,
    producer,
    progress: o.progress,
    verbose: !!o.verbose,
    maxRequestSize,
    aggregateInitial: o.aggregateInitial === undefined ? undefined : Buffer.from(o.aggregateInitial, 'utf8'),
  };
}

/**
 * Turns one line into a record; an empty line is an empty record, as fluvio produce sends it.
 * `lineNo` is 1-based, for errors; a line without the key separator throws MissingKeySeparatorError.
 */
export function lineRecord(
  line: Buffer,
  plan: Pick<ProducePlan, 'key' | 'separator' | 'partition'>,
  lineNo: number,
): ProducerRecord {
  let record: ProducerRecord;
  if (plan.separator !== null) {
    const at = line.indexOf(plan.separator);
    if (at < 0) throw new MissingKeySeparatorError(lineNo, plan.separator);
    record = { key: line.subarray(0, at), value: line.subarray(at + Buffer.byteLength(plan.separator)) };
  } else {
    record = plan.key ? { key: plan.key, value: line } : { value: line };
  }
  if (plan.partition !== undefined) record.partition = plan.partition;
  return record;
}

/**
 * Opens the data directory for writing, next to other producers, and makes a producer; when a
 * long-running writer (`eddy run`, `eddy connector run`) holds it, produces through that writer,
 * and on by itself if that writer stops (see FailoverProducer).
 */
async function openTarget(topic: string, plan: ProducePlan, cmd: Command, io: CliIO): Promise<FailoverProducer> {
  const { steps, baseDir, source } = await readChain(plan.chain, io);
  const session = {
    topic,
    steps,
    baseDir,
    source,
    options: { ...plan.producer, ...(plan.aggregateInitial ? { aggregateInitial: plan.aggregateInitial } : {}) },
    ...(plan.partition !== undefined ? { partition: plan.partition } : {}),
  };
  const openLocal = async () => {
    // Shared: other `eddy produce` processes may write the directory at the same time.
    const eddy = await openForWrite(cmd, io, { sharedWriter: true });
    try {
      const n = eddy.describeTopic(topic).partitions;
      if (plan.partition !== undefined && plan.partition >= n) {
        throw new UsageError(
          `--partition ${plan.partition}: topic "${topic}" has ${n} partition${n === 1 ? '' : 's'} (0..${n - 1})`,
        );
      }
      const transforms = anchorSteps(steps, { registry: eddy.modules, baseDir }, source);
      const producer = await eddy.producer(topic, {
        ...plan.producer,
        ...(transforms.length ? { transforms } : {}),
        ...(plan.aggregateInitial ? { aggregateInitial: plan.aggregateInitial } : {}),
      });
      return { eddy, producer };
    } catch (err) {
      await eddy.close();
      throw err;
    }
  };
  const { FailoverProducer } = await import('./failover-producer.js');
  return FailoverProducer.open({
    dataDir: dataDir(cmd, io),
    session,
    openLocal,
    onWait: (err, ms) =>
      io.stderr.write(
        `waiting up to ${ms / 1000}s for process ${err.pid} (${err.holder.command || 'unknown command'}), which holds the data directory, to serve produce or let go\n`,
      ),
  });
}

export async function runProduce(topic: string, o: ProduceCliOptions, cmd: Command, io: CliIO): Promise<number> {
  const plan = planProduce(o);
  const path = plan.file === undefined ? undefined : resolve(io.cwd, plan.file);
  let size: number | null = null;
  if (path !== undefined) {
    try {
      size = (await stat(path)).size;
    } catch (err) {
      throw new UsageError(
        `--file ${plan.file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
  }
  const producer = await openTarget(topic, plan, cmd, io);
  const eddy = producer.eddy;
  try {
    if (path === undefined && isTTY(io.stdin) && !plan.raw) return await interactive(producer, plan, io);
    const input: AsyncIterable<Buffer | string> =
      path !== undefined ? createReadStream(path) : (io.stdin as AsyncIterable<Buffer | string>);
    if (plan.raw) {
      const chunks: Buffer[] = [];
      for await (const c of input) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
      const value = Buffer.concat(chunks);
      await producer.send({
        value,
        ...(plan.key ? { key: plan.key } : {}),
        ...(plan.partition !== undefined ? { partition: plan.partition } : {}),
      });
      return 0;
    }
    const recordLimit = eddy ? eddy.storage.limits.maxRecordBytes : remoteRecordLimit(cmd);
    const limit =
      plan.maxRequestSize !== undefined && plan.maxRequestSize < recordLimit
        ? { bytes: plan.maxRequestSize, flag: '--max-request-size' }
        : { bytes: recordLimit, flag: '--max-record-bytes' };
    return await produceLines(producer, eddy !== null, input, limit, plan, size, io);
  } finally {
    await producer.close().catch(() => {});
  }
}

/** The record limit a produce through another process's writer checks lines against (that writer checks records again). */
function remoteRecordLimit(cmd: Command): number {
  const given = cmd.optsWithGlobals<GlobalOptions>().maxRecordBytes;
  return given === undefined ? STORAGE_DEFAULTS.maxRecordBytes : parseBytes(given, '--max-record-bytes');
}

/**
 * Sends every line of `input` as a record, a bounded number of sends in flight (a file larger
 * than memory streams through). A line without the key separator is reported and skipped. Every
 * message about stored records gives the true count: the local producer counts what it stored;
 * through another process's writer, what it acknowledged (a lower bound).
 */
async function produceLines(
  producer: ProduceTarget,
  local: boolean,
  input: AsyncIterable<Buffer | string>,
  limit: { bytes: number; flag: string },
  plan: ProducePlan,
  size: number | null,
  io: CliIO,
): Promise<number> {
  const stored = () => producer.stored;
  const progress = new Progress(io.stderr, { total: size, tty: isTTY(io.stderr), force: plan.progress === true });
  const showProgress =
    plan.progress === true || (plan.progress !== false && isTTY(io.stderr) && plan.file !== undefined);
  let shown = 0;
  const show = (bytes: number) => {
    if (!showProgress) return;
    const now = stored();
    progress.add(bytes, now - shown);
    shown = now;
  };
  const interrupt = interruptSignal(io);
  const window: Promise<unknown>[] = [];
  let read = 0;
  let skipped = 0;
  let lineNo = 0;
  try {
    for await (const { lines, bytes } of lineChunks(untilAborted(input, interrupt.signal), limit.bytes, limit.flag)) {
      const records: ProducerRecord[] = [];
      for (const line of lines) {
        try {
          const r = lineRecord(line, plan, ++lineNo);
          records.push(r);
          if (plan.verbose && plan.separator !== null) io.stdout.write(verboseLine(r));
        } catch (err) {
          if (!(err instanceof MissingKeySeparatorError)) throw err;
          skipped++;
          progress.clear();
          io.stderr.write(`warning: ${err.message}; skipped it\n`);
        }
      }
      if (records.length > 0) {
        read += records.length;
        const sent = producer.sendAll(records);
        sent.catch(() => {});
        window.push(sent);
        if (window.length >= 32) await window.shift();
      }
      show(bytes);
    }
    await Promise.all(window);
    await producer.flush();
  } catch (err) {
    // Whatever stopped it, say how much was stored: wait for the sends still in flight first.
    await Promise.allSettled(window);
    await producer.flush().catch(() => {});
    if (err instanceof EddyError) throw new ProduceStoppedError(err, stored(), read, local);
    throw err;
  } finally {
    interrupt.dispose();
  }
  show(0);
  if (showProgress) progress.finish();
  if (interrupt.signal.aborted) {
    io.stderr.write(`interrupted: ${storedSummary(stored(), read, local)}\n`);
    return 130;
  }
  if (skipped > 0) {
    if (read === 0) throw new NothingSentError(skipped, plan.separator ?? '');
    io.stderr.write(
      `skipped ${skipped} line${skipped === 1 ? '' : 's'} without the key separator ${JSON.stringify(plan.separator)}; ${storedSummary(stored(), read, local)}\n`,
    );
  }
  return 0;
}

/**
 * The input until `signal` aborts (Ctrl-C): then it ends, even while waiting for the next chunk,
 * and a stream is destroyed (an open stdin would keep the process alive).
 */
async function* untilAborted<T>(input: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const it = input[Symbol.asyncIterator]();
  const aborted = new Promise<IteratorResult<T>>((res) => {
    const stop = () => {
      (input as { destroy?: () => void }).destroy?.();
      res({ done: true, value: undefined });
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
  try {
    for (;;) {
      const r = await Promise.race([it.next(), aborted]);
      if (r.done) return;
      yield r.value;
    }
  } finally {
    void it.return?.();
  }
}

/** A terminal: `> ` prompt, one record per line, `Ok!` once stored; errors are printed and the prompt comes back. */
async function interactive(producer: ProduceTarget, plan: ProducePlan, io: CliIO): Promise<number> {
  const rl = createInterface({
    input: io.stdin,
    output: io.stdout as NodeJS.WritableStream,
    prompt: '> ',
    terminal: true,
  });
  rl.on('SIGINT', () => rl.close());
  rl.prompt();
  let lineNo = 0;
  for await (const line of rl) {
    try {
      const r = lineRecord(Buffer.from(line, 'utf8'), plan, ++lineNo);
      if (plan.verbose && plan.separator !== null) io.stdout.write(verboseLine(r));
      await producer.send(r);
      io.stdout.write('Ok!\n');
    } catch (err) {
      if (!(err instanceof EddyError)) throw err;
      io.stderr.write(`Error: ${cliMessage(err)}\n`);
    }
    rl.prompt();
  }
  return 0;
}

/** What `-v` prints for a key-separated line, as fluvio produce: `[key] value`. */
function verboseLine(r: ProducerRecord): string {
  return `[${Buffer.from(r.key as Uint8Array).toString('utf8')}] ${Buffer.from(r.value as Uint8Array).toString('utf8')}\n`;
}

/** Fluvio's other spellings, folded into ProduceCliOptions by the action. */
interface ProduceAliases {
  transformsLine?: string[];
  sm?: string;
  smartmodulePath?: string;
  sm_path?: string;
  aInit?: string;
  transforms?: string;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function registerProduceCommand(program: Command, ctx: CliContext): void {
  const command = program
    .command('produce <topic>')
    .summary('write records to a topic, one per line of stdin or of a file')
    .description(
      'Write records to a topic, as `fluvio produce`: one record per line of stdin (a `> ` prompt on a terminal; ' +
        'Ctrl-D ends) or of --file. An empty line is an empty record, as in fluvio.\n\n' +
        'Examples:\n' +
        '  echo "hello world" | eddy produce greetings\n' +
        '  eddy produce greetings --file records.txt --key-separator ":"\n' +
        '  eddy produce images --file cat.png --raw --key cat\n' +
        '  eddy produce fruit --file fruit.txt --transforms-file clean.yaml',
    )
    .option('-f, --file <path>', 'read records from this file, one per line')
    .option('--raw', 'the whole input (file or stdin) is one record')
    .option('--key <key>', 'give every record this key')
    .option('--key-separator <sep>', 'split each line at the first <sep> into key and value')
    .option(
      '-p, --partition <n>',
      'write every record to this partition (default: by key hash, round-robin without key)',
    )
    .option('-v, --verbose', 'print each key-separated record as "[key] value" as it is sent, as fluvio produce')
    .option(
      '--compression <codec>',
      'store batches compressed: none, gzip, snappy, lz4 or zstd; consumers read the same records',
    )
    .option(
      '--max-request-size <size>',
      'the largest record (line) and batch, e.g. 1MB: a longer line is refused, as fluvio refuses a record over it',
    )
    .option(
      '--delivery-semantic <semantic>',
      'at-least-once (default) or at-most-once: accepted; a local write either commits or fails, so there is nothing to retry or skip waiting for',
    )
    .option(
      '--isolation <level>',
      'read_committed or read_uncommitted: accepted; every write waits for its transaction to commit, with no replicas to wait for',
    )
    .addOption(new Option('-m, --mirror <name>', 'a remote cluster (refused: Eddy has none)').hideHelp())
    .option('-t, --transforms-file <path>', 'run this transforms.yaml chain on records before they are stored')
    .addOption(new Option('--transforms <path>', 'alias of --transforms-file').hideHelp());
  const inline = inlineStepOptions(command, 'one producer-side chain step as JSON (repeatable)');
  command
    .option(
      '--smartmodule <module>',
      'run one SmartModule (registered name or .wasm path) on records before they are stored',
    )
    .addOption(new Option('--sm <module>', 'alias of --smartmodule').hideHelp())
    .option('--smartmodule-path <path>', 'run the SmartModule in this .wasm file (as --smartmodule with a path)')
    .addOption(new Option('--sm_path <path>', 'alias of --smartmodule-path').hideHelp())
    .option('--aggregate-initial <value>', 'initial accumulator of an aggregate --smartmodule')
    .addOption(new Option('--a-init <value>', 'alias of --aggregate-initial').hideHelp())
    .option('-e, --params <key=value>', "parameter for --smartmodule's init (repeatable)", collect)
    .option(
      '--linger <duration>',
      `how long a batch waits for more records, e.g. 10ms (default ${DEFAULT_TEXT.linger})`,
    )
    .option('--batch-size <size>', `batch size, e.g. 16KB (default ${DEFAULT_TEXT.batchSize})`)
    .addOption(memoryLimitOption())
    .addOption(recycleAfterOption())
    .addOption(fanOutOption())
    .option('--progress', 'show progress on stderr even when it is not a terminal')
    .option('--no-progress', 'never show progress')
    .action(async (topic: string, opts: ProduceCliOptions & ProduceAliases, cmd: Command) => {
      const { transformsLine: _l, sm, smartmodulePath, sm_path: smPath, aInit, transforms, ...rest } = opts;
      const o: ProduceCliOptions = { ...rest, transform: inline() };
      const paths = [smartmodulePath, smPath].filter((p) => p !== undefined);
      if (paths.length > 0 && (o.smartmodule !== undefined || sm !== undefined)) {
        throw new UsageError('--smartmodule and --smartmodule-path cannot be used together: give one module');
      }
      for (const alias of [sm, ...paths]) if (alias !== undefined) o.smartmodule ??= alias;
      if (aInit !== undefined) o.aggregateInitial ??= aInit;
      if (transforms !== undefined) o.transformsFile ??= transforms;
      ctx.done(await runProduce(topic, o, cmd, ctx.io()));
    });
}
