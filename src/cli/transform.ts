import { createWriteStream, existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { ChainSession, type SessionBatchResult, type SessionStep, type Ticket } from '../coordinator/chain-session.js';
import { COORDINATOR_DEFAULTS } from '../coordinator/defaults.js';
import { fanOutInFlight, fansOut } from '../coordinator/fan-out.js';
import { WorkerPool } from '../coordinator/pool.js';
import { anchorSteps, ModuleResolver, UnknownModuleError } from '../coordinator/resolve.js';
import type { EddyError } from '../errors.js';
import { openStorage } from '../open-storage.js';
import { indexRecords } from '../protocol/record.js';
import type { ErrorPolicy } from '../smartmodule/chain.js';
import type { TransformStep } from '../smartmodule/transforms.js';
import { STORAGE_DEFAULTS } from '../storage/defaults.js';
import type { Storage } from '../storage/storage.js';
import {
  type ChainSource,
  fanOutOption,
  inlineStepOptions,
  type ModuleFlagOptions,
  planChain,
  readChain,
} from './chain-options.js';
import {
  dataDir,
  handleClosedOutput,
  interruptSignal,
  isTTY,
  memoryLimitOption,
  moduleLimits,
  OutputClosed,
  timeoutOption,
  workerCount,
  writeOut,
} from './common.js';
import { cliMessage } from './errors.js';
import { type CliContext, type CliIO, UsageError } from './format.js';
import { Progress } from './progress.js';
import {
  type InputBatch,
  type InputFormat,
  inputChunks,
  inputReader,
  jsonBatches,
  type LinePiece,
  linePieces,
  pieceRecords,
  rawBatches,
} from './transform-input.js';
import { valueLines } from './value-lines.js';

/**
 * `eddy transform [files...]`: the batch path for files, in the spirit of `jq` for SmartModules.
 * Records come from files or stdin (one per line, one per file with `--raw`, or JSON lines with
 * keys), run through a chain on every core (a stateless chain fans out; see fan-out.ts), and their
 * outputs go to stdout or `--output` in input order. No data directory is written; one is read
 * only to find modules given by registered name.
 */

export interface TransformCliOptions extends ModuleFlagOptions {
  raw?: boolean;
  jsonRecords?: boolean;
  output?: string;
  keyValue?: boolean;
  policy?: string;
  skipped?: string;
  fanOut?: boolean;
  memoryLimit?: string;
  timeout?: string;
}

const MODULE_FLAGS = [
  ['filter', '--filter'],
  ['map', '--map'],
  ['filterMap', '--filter-map'],
  ['arrayMap', '--array-map'],
  ['aggregate', '--aggregate'],
  ['smartmodule', '--smartmodule'],
] as const;

export interface TransformPlan {
  files: string[];
  chain: ChainSource;
  format: InputFormat;
  output: string | null;
  keyValue: boolean;
  policy: ErrorPolicy;
  /** Where skipped records go (policy skip). */
  skippedFile: string;
  fanOut: boolean;
  aggregateInitial: Uint8Array | undefined;
}

export function planTransform(files: string[], o: TransformCliOptions, cwd: string): TransformPlan {
  const flags = MODULE_FLAGS.filter(([key]) => o[key] !== undefined);
  const chain = planChain(o, {
    modules: flags.map(([key, flag]) => ({ flag, uses: o[key]! })),
    paramsFor: '--filter, --map, --smartmodule, ...',
    required:
      'no SmartModule: give one with --filter/--map/--filter-map/--array-map/--aggregate/--smartmodule, or a chain with -t/--transforms-file or --transform',
  })!;
  if (o.raw && o.jsonRecords)
    throw new UsageError(
      '--raw and --json-records cannot be used together: a whole file is one record, or each line is one',
    );
  if (o.skipped !== undefined && o.policy !== 'skip')
    throw new UsageError('--skipped names where --policy skip keeps the records it skips: give --policy skip too');
  if (o.aggregateInitial !== undefined && o.aggregate === undefined && chain.kind === 'module') {
    throw new UsageError('--aggregate-initial needs an aggregate module: use --aggregate <module>');
  }
  const output = o.output === undefined ? null : resolve(cwd, o.output);
  for (const f of files) {
    if (f === '-') continue;
    const path = resolve(cwd, f);
    let file = false;
    try {
      file = statSync(path).isFile();
    } catch {
      throw new UsageError(`${f}: no such file`);
    }
    if (!file) throw new UsageError(`${f}: not a regular file`);
    if (path === output) throw new UsageError(`${f} is also the --output file: write the output elsewhere`);
  }
  if (files.filter((f) => f === '-').length > 1) throw new UsageError('- (stdin) can be given once');
  return {
    files: files.map((f) => (f === '-' ? f : resolve(cwd, f))),
    chain,
    format: o.raw ? 'raw' : o.jsonRecords ? 'json' : 'lines',
    output,
    keyValue: !!o.keyValue,
    policy: o.policy === 'skip' ? 'skip' : 'stop',
    skippedFile: resolve(cwd, o.skipped ?? (o.output !== undefined ? `${o.output}.skipped` : 'eddy-transform.skipped')),
    fanOut: o.fanOut !== false,
    aggregateInitial: o.aggregateInitial === undefined ? undefined : Buffer.from(o.aggregateInitial, 'utf8'),
  };
}

/**
 * The chain's steps, compiled. `.wasm` paths need nothing else; a registered name is looked up in
 * the data directory, opened read-only and only when a step needs it.
 */
async function resolveSteps(
  plan: TransformPlan,
  cmd: Command,
  io: CliIO,
  memoryLimit: number | undefined,
): Promise<SessionStep[]> {
  const { steps, baseDir, source } = await readChain(plan.chain, io);
  const load = memoryLimit !== undefined ? { memoryLimit } : {};
  let anchored: TransformStep[];
  try {
    anchored = anchorSteps(steps, { registry: null, baseDir }, source);
  } catch (err) {
    if (!(err instanceof UnknownModuleError)) throw err;
    const dir = dataDir(cmd, io);
    if (!existsSync(join(dir, 'data.mdb'))) throw err;
    let storage: Storage | null = null;
    try {
      storage = await openStorage(dir, { readOnly: true, retentionCheckMs: 0 });
      anchored = anchorSteps(steps, { registry: storage.modules, baseDir }, source);
      return await new ModuleResolver(storage.modules, baseDir, load).steps(anchored, source);
    } finally {
      await storage?.close();
    }
  }
  return new ModuleResolver(null, baseDir, load).steps(anchored, source);
}

/** One output batch as bytes to write: values one per line straight from the frame, or `[key] value` / JSON records. */
function outputBytes(raw: Uint8Array, plan: TransformPlan): Uint8Array | string {
  if (plan.format !== 'json' && !plan.keyValue) return valueLines(raw);
  const idx = indexRecords(raw);
  let text = '';
  for (let i = 0; i < idx.count; i++) {
    const key = idx.key(i);
    const value = Buffer.from(idx.value(i)).toString('utf8');
    if (plan.format === 'json')
      text += `${JSON.stringify({ key: key === null ? null : Buffer.from(key).toString('utf8'), value })}\n`;
    else text += `[${key === null ? 'null' : Buffer.from(key).toString('utf8')}] ${value}\n`;
  }
  return text;
}

/** A submission as the output side sees it: its records by index (for errors and the skipped file). */
interface Submitted {
  baseOffset: number;
  count: number;
  bytes: number;
  /** The result's `raw` is the values as lines, to write as they are. */
  valueLines: boolean;
  record(index: number): { line: number; key: Uint8Array | null; value: Uint8Array };
  /** Done with the input (its result written): its memory may be reused. */
  release(): void;
}

function batchInput(input: InputBatch): Submitted {
  let idx: ReturnType<typeof indexRecords> | undefined;
  return {
    baseOffset: input.baseOffset,
    count: input.count,
    bytes: input.bytes,
    valueLines: false,
    record(i) {
      idx ??= indexRecords(input.raw);
      return { line: input.lineNos[i]!, key: idx.key(i), value: idx.value(i) };
    },
    release() {},
  };
}

function pieceInput(piece: LinePiece, valueLines: boolean): Submitted {
  let records: ReturnType<typeof pieceRecords> | undefined;
  return {
    baseOffset: piece.baseOffset,
    count: piece.count,
    bytes: piece.bytes,
    valueLines,
    record(i) {
      records ??= pieceRecords(piece);
      const { line, value } = records(i);
      return { line, key: null, value };
    },
    release: () => piece.release(),
  };
}

/** The records of `input` a skipping result stepped over: a rejected record by its offset, a dropped batch whole. */
function skippedOf(b: SessionBatchResult, input: Submitted): { index: number; error: EddyError }[] {
  const out: { index: number; error: EddyError }[] = [];
  for (const error of b.skipped) {
    const at = (error as { offset?: unknown }).offset;
    if (error.code === 'EDDY_SM_RUNTIME' && typeof at === 'number') out.push({ index: at - input.baseOffset, error });
    else for (let i = 0; i < input.count; i++) out.push({ index: i, error });
  }
  return out.sort((a, b) => a.index - b.index);
}

export async function runTransform(files: string[], o: TransformCliOptions, cmd: Command, io: CliIO): Promise<number> {
  const plan = planTransform(files, o, io.cwd);
  const limits = moduleLimits(o);
  const steps = await resolveSteps(plan, cmd, io, limits.memoryLimit);
  const workers = workerCount(cmd, io);
  const stateless = fansOut(steps, plan.fanOut);
  // Enough submissions in flight to keep every worker busy while the main thread reads and writes.
  const maxInFlight = stateless ? fanOutInFlight(workers) : COORDINATOR_DEFAULTS.maxInFlight;
  const pool = new WorkerPool({ workers: stateless ? workers : 1 });
  const session = new ChainSession(pool, {
    id: 'transform',
    steps,
    policy: plan.policy,
    deadlineMs: limits.deadlineMs ?? COORDINATOR_DEFAULTS.deadlineMs,
    maxInFlight,
    stateless,
    ...(plan.aggregateInitial ? { initialAccumulator: plan.aggregateInitial } : {}),
  });
  const fileOut = plan.output === null ? null : createWriteStream(plan.output);
  const out: CliIO = fileOut ? { ...io, stdout: fileOut } : io;
  let skippedOut: ReturnType<typeof createWriteStream> | null = null;
  const releaseOutput = handleClosedOutput();
  const interrupt = interruptSignal(io);
  const total =
    plan.files.length > 0 && !plan.files.includes('-') ? plan.files.reduce((s, f) => s + statSync(f).size, 0) : null;
  const progress = new Progress(io.stderr, { total, tty: true, force: false });
  const showProgress = isTTY(io.stderr) && (fileOut !== null || !isTTY(io.stdout));
  let records = 0;
  let written = 0;
  let skipped = 0;
  try {
    await session.start();
    const window: { ticket: Ticket; input: Submitted }[] = [];
    /** Writes the oldest result; false when the chain stopped (policy stop). */
    const drainOne = async (): Promise<boolean> => {
      const { ticket, input } = window.shift()!;
      const r = await ticket.result;
      // Values as lines are written straight from the result's memory: it goes back to the
      // workers only once every write of it is done (a file stream writes later, from a thread).
      let writing = 0;
      let drained = false;
      const release = () => {
        drained = true;
        if (writing === 0) r.release();
      };
      const wrote = () => {
        if (--writing === 0 && drained) r.release();
      };
      for (const b of r.batches) {
        const bytes = input.valueLines ? b.raw : outputBytes(b.raw, plan);
        written += b.count;
        if (bytes.length > 0 && input.valueLines) {
          writing++;
          await writeOut(out, bytes, wrote);
        } else if (bytes.length > 0) await writeOut(out, bytes);
        for (const s of plan.policy === 'skip' ? skippedOf(b, input) : []) {
          skippedOut ??= createWriteStream(plan.skippedFile);
          skipped++;
          const rec = input.record(s.index);
          const line = {
            line: rec.line,
            error: { code: s.error.code, message: s.error.message.split('\n')[0] },
            key: rec.key === null ? null : Buffer.from(rec.key).toString('utf8'),
            value: Buffer.from(rec.value).toString('utf8'),
          };
          if (!skippedOut.write(`${JSON.stringify(line)}\n`))
            await new Promise<void>((res) => skippedOut!.once('drain', () => res()));
        }
        if (b.error) {
          release();
          const at = (b.error as { offset?: unknown }).offset;
          const where =
            typeof at === 'number'
              ? `\n    Input: ${plan.format === 'raw' ? 'file' : 'line'} ${input.record(at - input.baseOffset).line}`
              : '';
          progress.clear();
          io.stderr.write(`Error: ${cliMessage(b.error)}${where}\n`);
          io.stderr.write('hint: --policy skip steps over records a module rejects (they go to a side file)\n');
          return false;
        }
      }
      release();
      input.release();
      if (showProgress) progress.add(input.bytes, input.count);
      return true;
    };
    const maxLine = STORAGE_DEFAULTS.maxRecordBytes;
    const chunks = () => inputChunks(plan.files, io.stdin);
    if (plan.format === 'lines') {
      // Lines are split into records on the workers; values come back as lines, ready to write.
      const valueLines = !plan.keyValue;
      for await (const piece of linePieces(inputReader(plan.files, io.stdin), maxLine)) {
        if (interrupt.signal.aborted) break;
        records += piece.count;
        if (piece.count === 0) continue;
        const ticket = await session.submitLines({
          text: piece.text,
          baseOffset: piece.baseOffset,
          baseTimestamp: Date.now(),
          valueLines,
        });
        window.push({ ticket, input: pieceInput(piece, valueLines) });
        if (window.length >= maxInFlight && !(await drainOne())) return 1;
      }
    } else {
      const batches = plan.format === 'raw' ? rawBatches(plan.files, io.stdin) : jsonBatches(chunks(), maxLine);
      for await (const input of batches) {
        if (interrupt.signal.aborted) break;
        records += input.count;
        if (input.count === 0) continue;
        window.push({
          ticket: await session.submit({ baseOffset: input.baseOffset, baseTimestamp: Date.now(), raw: input.raw }),
          input: batchInput(input),
        });
        if (window.length >= maxInFlight && !(await drainOne())) return 1;
      }
    }
    while (window.length > 0) if (!(await drainOne())) return 1;
    if (showProgress) progress.finish();
    if (skipped > 0) {
      io.stderr.write(
        `skipped ${skipped} of ${records} record${records === 1 ? '' : 's'} a module rejected; they are in ${plan.skippedFile}\n`,
      );
    }
    if (interrupt.signal.aborted) {
      io.stderr.write(`interrupted after ${records} records (${written} written)\n`);
      return 130;
    }
    return 0;
  } catch (err) {
    if (err instanceof OutputClosed) return 0;
    throw err;
  } finally {
    interrupt.dispose();
    releaseOutput();
    await session.close();
    await pool.close();
    const sk = skippedOut as ReturnType<typeof createWriteStream> | null;
    if (sk) await new Promise((res) => sk.end(res));
    if (fileOut) await new Promise((res) => fileOut.end(res));
  }
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function registerTransformCommand(program: Command, ctx: CliContext): void {
  const command = program
    .command('transform [files...]')
    .summary('run SmartModules over files (or stdin) on every core, outputs in input order: no topic')
    .description(
      'Run a SmartModule (or a chain) over the records of files — one per line, as jq reads JSON lines — or of stdin, ' +
        'and print the outputs in input order, to stdout or --output. A chain with no aggregate and no look-back runs on ' +
        'every core. Nothing is stored: no topic, no data directory (one is only read to find modules given by registered name).\n\n' +
        'Examples:\n' +
        '  eddy transform logs.jsonl --filter filter-json.wasm > kept.jsonl\n' +
        '  cat logs.jsonl | eddy transform --map ./map-uppercase.wasm -o upper.txt\n' +
        '  eddy transform a.txt b.txt -t transforms.yaml --policy skip --skipped rejected.jsonl',
    )
    .option('--filter <module>', 'run a filter SmartModule (.wasm path or registered name)')
    .option('--map <module>', 'run a map SmartModule')
    .option('--filter-map <module>', 'run a filter-map SmartModule')
    .option('--array-map <module>', 'run an array-map SmartModule')
    .option('--aggregate <module>', 'run an aggregate SmartModule (on one worker: its state is one)')
    .option('--smartmodule <module>', 'run a SmartModule of any kind')
    .option('--aggregate-initial <value>', 'initial accumulator of the aggregate')
    .option('-e, --params <key=value>', "parameter for the module's init (repeatable)", collect)
    .option('-t, --transforms-file <path>', 'run the chain of a transforms.yaml');
  const inline = inlineStepOptions(command, 'one chain step as JSON, e.g. \'{"uses":"./keep-a.wasm"}\' (repeatable)');
  command
    .option('--raw', 'each file (or stdin) is one record, instead of one record per line')
    .option('--json-records', 'each line is a JSON record {"key": ..., "value": ...}; outputs print the same way')
    .option('-o, --output <file>', 'write the outputs to this file instead of stdout')
    .option('-k, --key-value', 'print outputs as "[key] value"')
    .addOption(
      new Option(
        '--policy <policy>',
        'what a module error does: stop (print what came before, report the record, exit 1) or skip (count the record, keep it in the --skipped file, go on)',
      )
        .choices(['stop', 'skip'])
        .default('stop'),
    )
    .option(
      '--skipped <file>',
      'with --policy skip: where skipped records go, one JSON line each (default <output>.skipped, else eddy-transform.skipped)',
    )
    .addOption(fanOutOption())
    .addOption(memoryLimitOption())
    .addOption(timeoutOption())
    .action(async (files: string[], opts: TransformCliOptions & { transformsLine?: string[] }, cmd: Command) => {
      const { transformsLine: _l, ...rest } = opts;
      ctx.done(await runTransform(files, { ...rest, transform: inline() }, cmd, ctx.io()));
    });
}
