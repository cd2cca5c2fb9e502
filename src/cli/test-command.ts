import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { fansOut } from '../coordinator/fan-out.js';
import { resolveUses, stepName } from '../coordinator/resolve.js';
import type { EddyError } from '../errors.js';
import { decodeRecords, encodeRecords, type RecordInput, type Record as StreamRecord } from '../protocol/index.js';
import { DurationError, parseDuration } from '../smartmodule/duration.js';
import {
  Chain,
  type ChainStep,
  type Lookback,
  loadModule,
  type SmartModule,
  SmartModuleInitError,
  type SmartModuleRuntimeError,
} from '../smartmodule/index.js';
import { stepConfig } from '../smartmodule/transforms.js';
import { MAX_INPUT_BYTES, readUserFile, UserFileError } from '../user-file.js';
import { isProject, projectConfig } from './build.js';
import { type ChainSource, fanOutOption, inlineStepOptions, planChain, readChain } from './chain-options.js';
import { memoryLimitOption, moduleLimits, recycleAfterOption, workerCount } from './common.js';
import {
  type CliContext,
  type CliIO,
  formatRecordLine,
  formatRuntimeError,
  NonUtf8ValueError,
  UsageError,
  utf8OrNull,
} from './format.js';
import type { TestSink } from './test-batches.js';

/**
 * `eddy test`: runs a SmartModule (or a chain) once over records given on the command line, with
 * the command line of `smdk test` (spec §8). Differences from smdk, on purpose: `uses` in a chain
 * is a `.wasm` path (relative to the transforms file), because `eddy test` opens no data directory
 * and so has no registered modules to look names up in; a runtime error prints the records before
 * it, then the error on stderr, and exits 1 (smdk only logs it and exits 0); `--lookback-age` and
 * `--aggregate-initial` exist.
 */

/** The options as commander hands them over. */
export interface TestCommandOptions {
  wasmFile?: string;
  text?: string;
  stdin?: boolean;
  file?: string;
  raw?: boolean;
  key?: string;
  keyValue?: boolean;
  params?: string[];
  transformsFile?: string;
  transforms?: string;
  /** `--transform` and `--transforms-line` values, in command-line order. */
  transform?: string[];
  /** false (`--no-fan-out`): run in this thread even when the chain could spread over workers. */
  fanOut?: boolean;
  record?: string[];
  lookbackLast?: string;
  lookbackAge?: string;
  aggregateInitial?: string;
  verbose?: boolean;
  packageName?: string;
  release?: string;
  memoryLimit?: string;
  recycleAfter?: string;
}

export type InputSpec =
  | { kind: 'text'; text: string }
  | { kind: 'stdin' }
  | { kind: 'file'; path: string; raw: boolean };

/** A command line checked and resolved into what to run, before any file is read. */
export interface TestPlan {
  input: InputSpec;
  key: Uint8Array | null;
  /** A single module (`--wasm-file`), or a chain from transforms (file or inline). */
  modules: ChainSource;
  /** The lookback every module gets (`-l` and/or `--lookback-age`); null = none. */
  lookback: Lookback | null;
  records: string[];
  initialAccumulator: Uint8Array | undefined;
  verbose: boolean;
  keyValue: boolean;
}

const utf8 = new TextEncoder();

/** Checks the options of `eddy test` and says what to fix when they cannot work together. */
export function planTest(o: TestCommandOptions): TestPlan {
  if (o.packageName !== undefined || o.release !== undefined) {
    throw new UsageError(
      'eddy test does not build packages (-p/--package-name, --release); build the module first and pass it with --wasm-file PATH',
    );
  }
  const inputs = [o.text !== undefined && '--text', o.stdin && '--stdin', o.file !== undefined && '--file'].filter(
    Boolean,
  );
  if (inputs.length === 0) throw new UsageError('no input: give one of --text TEXT, --stdin or --file PATH');
  if (inputs.length > 1) throw new UsageError(`${inputs.join(' and ')} cannot be used together: give one input`);
  if (o.raw && o.file === undefined)
    throw new UsageError('--raw applies to --file only (the whole file becomes one record)');
  const input: InputSpec =
    o.text !== undefined
      ? { kind: 'text', text: o.text }
      : o.stdin
        ? { kind: 'stdin' }
        : { kind: 'file', path: o.file!, raw: !!o.raw };

  if (o.transformsFile !== undefined && o.transforms !== undefined && o.transformsFile !== o.transforms) {
    throw new UsageError('--transforms-file and --transforms are the same option; give it once');
  }
  const modules = planChain(
    { ...o, transformsFile: o.transformsFile ?? o.transforms },
    {
      modules: o.wasmFile === undefined ? [] : [{ flag: '--wasm-file', uses: o.wasmFile }],
      paramsFor: '--wasm-file',
      required:
        'no module: give --wasm-file PATH, or a chain with -t/--transforms-file PATH or --transform JSON, or run it inside a SmartModule project',
    },
  )!;

  let last: number | undefined;
  if (o.lookbackLast !== undefined) {
    if (!/^\d+$/.test(o.lookbackLast) || !Number.isSafeInteger(Number(o.lookbackLast))) {
      throw new UsageError(
        `-l/--lookback-last expects a number of records such as 10, got ${JSON.stringify(o.lookbackLast)}`,
      );
    }
    last = Number(o.lookbackLast);
  }
  let ageMs: number | undefined;
  if (o.lookbackAge !== undefined) {
    try {
      ageMs = parseDuration(o.lookbackAge);
    } catch (err) {
      if (err instanceof DurationError) throw new UsageError(`--lookback-age: ${err.message}`);
      throw err;
    }
  }
  const lookback: Lookback | null =
    last === undefined && ageMs === undefined
      ? null
      : ageMs === undefined
        ? { last: last ?? 0 }
        : { last: last ?? 0, ageMs };

  return {
    input,
    key: o.key === undefined ? null : utf8.encode(o.key),
    modules,
    lookback,
    records: o.record ?? [],
    initialAccumulator: o.aggregateInitial === undefined ? undefined : utf8.encode(o.aggregateInitial),
    verbose: !!o.verbose,
    keyValue: !!o.keyValue,
  };
}

/**
 * The look-back history `smdk test` builds from `-r` values (spec §6.7): values only, deltas 0, in
 * the order given, keeping the last N. With `--lookback-age` the `-r` records count as written just
 * now, so the age never excludes them (their timestamps inside `look_back` are still 0, as Fluvio
 * sends look-back records with base timestamp 0); with `last = 0` and an age, all of them are kept.
 */
export function lookbackHistory(records: readonly string[], lookback: Lookback | null): RecordInput[] {
  if (!lookback) return [];
  let kept: readonly string[];
  if (lookback.last > 0) kept = records.slice(Math.max(0, records.length - lookback.last));
  else if (lookback.ageMs != null) kept = records;
  else kept = [];
  return kept.map((v) => ({ value: utf8.encode(v) }));
}

/**
 * `--file` lines as Rust's `BufRead::lines` gives them: split on `\n`, a `\r` before the `\n`
 * removed, no empty line after a final newline; reading stops at the first line that is not UTF-8
 * (`stoppedAt` = its 0-based index).
 */
export function splitLines(bytes: Uint8Array): { lines: Uint8Array[]; stoppedAt: number | null } {
  const lines: Uint8Array[] = [];
  let start = 0;
  while (start < bytes.length) {
    const nl = bytes.indexOf(0x0a, start);
    let end = nl < 0 ? bytes.length : nl;
    if (nl >= 0 && end > start && bytes[end - 1] === 0x0d) end--;
    const line = bytes.subarray(start, end);
    if (utf8OrNull(line) === null) return { lines, stoppedAt: lines.length };
    lines.push(line);
    start = nl < 0 ? bytes.length : nl + 1;
  }
  return { lines, stoppedAt: null };
}

/** `--stdin`: the first line including its newline (empty input gives one empty record). */
export async function readFirstLine(stream: NodeJS.ReadableStream): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
    const nl = buf.indexOf(0x0a);
    if (nl >= 0) {
      chunks.push(buf.subarray(0, nl + 1));
      break;
    }
    chunks.push(buf);
  }
  const line = Buffer.concat(chunks);
  if (utf8OrNull(line) === null)
    throw new UsageError('the first line of stdin is not UTF-8 text; use --file PATH --raw for binary input');
  return new Uint8Array(line.buffer, line.byteOffset, line.length);
}

/** The input records of the plan (values only, deltas 0, every record with `--key`). */
export async function readInputRecords(plan: TestPlan, io: CliIO): Promise<RecordInput[]> {
  let values: Uint8Array[];
  const input = plan.input;
  if (input.kind === 'text') {
    values = [utf8.encode(input.text)];
  } else if (input.kind === 'stdin') {
    values = [await readFirstLine(io.stdin)];
  } else {
    const path = here(io, input.path);
    let bytes: Uint8Array;
    try {
      bytes = await readUserFile(path, MAX_INPUT_BYTES);
    } catch (err) {
      if (!(err instanceof UserFileError)) throw err;
      throw new UsageError(`--file ${input.path}: ${err.detail}`);
    }
    if (input.raw) {
      values = [bytes];
    } else {
      const { lines, stoppedAt } = splitLines(bytes);
      if (stoppedAt !== null) {
        io.stderr.write(
          `warning: --file ${input.path}: line ${stoppedAt + 1} is not UTF-8 text; reading stopped there (use --raw to send the whole file as one record)\n`,
        );
      }
      values = lines;
    }
  }
  return values.map((value) => (plan.key ? { key: plan.key, value } : { value }));
}

/** A path from the command line, resolved against the command's directory (kept as given when that is ours). */
function here(io: CliIO, path: string): string {
  return io.cwd === process.cwd() ? path : resolve(io.cwd, path);
}

interface ResolvedStep {
  path: string;
  name: string;
  params: Record<string, string>;
}

/**
 * Each step's `.wasm`: `eddy test` opens no data directory, so `uses` resolves as a path only
 * (relative to the transforms file, or the working directory).
 */
async function resolveModules(plan: TestPlan, io: CliIO): Promise<ResolvedStep[]> {
  const m = plan.modules;
  if (m.kind === 'module') return [{ path: here(io, m.uses), name: '', params: m.params }];
  const { steps, baseDir, source } = await readChain(m, io);
  return steps.map((s, i) => {
    const ref = resolveUses(s.uses, { registry: null, baseDir }, stepName(source, i));
    return { path: (ref as { file: string }).file, name: s.uses, params: stepConfig(s).params };
  });
}

/**
 * As `smdk test` in a project: with no module and no chain given, inside a SmartModule project
 * (asconfig.json), the project's build is the module.
 */
export function withProjectBuild(o: TestCommandOptions, cwd: string): TestCommandOptions {
  const chosen =
    o.wasmFile !== undefined ||
    o.transformsFile !== undefined ||
    o.transforms !== undefined ||
    (o.transform?.length ?? 0) > 0;
  if (chosen || !isProject(cwd)) return o;
  const { out } = projectConfig(cwd);
  if (!existsSync(out)) {
    throw new UsageError(
      `this project's module ${relative(cwd, out)} is not built yet: run \`eddy build\` first, or give --wasm-file PATH`,
    );
  }
  return { ...o, wasmFile: out };
}

/**
 * Runs `eddy test`; returns the exit code. EddyErrors propagate (main prints them). `workers`:
 * threads to spread `--file` records over when the chain is stateless (1: this thread).
 */
export async function runTest(given: TestCommandOptions, io: CliIO, workers = 1): Promise<number> {
  const options = withProjectBuild(given, io.cwd);
  const plan = planTest(options);
  const resolved = await resolveModules(plan, io);
  const input = await readInputRecords(plan, io);

  if (plan.records.length > 0 && plan.lookback === null) {
    io.stderr.write(
      'warning: --record values feed look_back only with --lookback-last N (or --lookback-age); they are ignored\n',
    );
  }

  const loaded = new Map<string, Promise<SmartModule>>();
  const steps: ChainStep[] = [];
  for (const r of resolved) {
    const key = `${r.path}\0${r.name}`;
    if (!loaded.has(key))
      loaded.set(key, loadModule(r.path, { ...(r.name ? { name: r.name } : {}), ...moduleLimits(options) }));
    // `-l` / `--lookback-age` replace each step's YAML lookback; without them there is none (spec §8).
    steps.push({ module: await loaded.get(key)!, params: r.params, lookback: plan.lookback });
  }

  const printLine = (stream: 'stdout' | 'stderr', line: string, module: string) => {
    io.stderr.write(`[${module}] ${stream === 'stderr' ? 'stderr: ' : ''}${line}\n`);
  };
  const initRefused = (err: unknown): number => {
    if (!(err instanceof SmartModuleInitError)) throw err;
    // Fluvio's rendering, then where parameters come from in this command line.
    const where =
      plan.modules.kind === 'module' ? 'pass parameters with -e KEY=VALUE' : "set parameters in the step's `with:`";
    io.stderr.write(`Error: ${err.message}\n\nhint: init of ${err.module} refused its parameters; ${where}\n`);
    return 1;
  };
  // Outputs are printed once all are in (-v counts them first); module output as each call ends.
  const records: StreamRecord[] = [];
  const sink: TestSink = {
    log: (lines) => {
      for (const l of lines) printLine(l.stream, l.line, l.module);
    },
    outputs: (raw) => {
      for (const r of decodeRecords(raw)) records.push(r);
    },
  };
  const { runFannedOut, runHere, testBatches } = await import('./test-batches.js');
  const batches = testBatches(input);
  // Look-back history comes from -r values in this thread only; such a run stays here.
  const fanOut = workers > 1 && batches.length > 1 && plan.lookback === null && fansOut(steps, options.fanOut);
  let stop: EddyError | null;
  try {
    if (fanOut) {
      try {
        stop = await runFannedOut(
          resolved.map((r, i) => ({ module: steps[i]!.module, params: r.params, lookback: null })),
          workers,
          batches,
          sink,
        );
      } catch (err) {
        if (err instanceof SmartModuleInitError) return initRefused(err);
        throw err;
      }
    } else {
      let chain: Chain;
      try {
        chain = Chain.create(steps, {
          lookbackInInitParams: false,
          logger: printLine,
          ...(plan.initialAccumulator ? { initialAccumulator: plan.initialAccumulator } : {}),
        });
      } catch (err) {
        return initRefused(err);
      }
      try {
        const history = encodeRecords(lookbackHistory(plan.records, plan.lookback));
        chain.lookBack(() => history);
        stop = runHere(chain, batches, sink);
      } finally {
        chain.dispose();
      }
    }
  } catch (err) {
    // A failure (trap, memory limit) ends the run: the outputs of the batches before it still print.
    printRecords(records, plan, io);
    throw err;
  }
  printRecords(records, plan, io);
  if (stop) {
    io.stderr.write(`Error: ${formatRuntimeError(stop as SmartModuleRuntimeError)}\n`);
    return 1;
  }
  return 0;
}

/** The output records, one line each (`-v`: their count first). */
function printRecords(records: StreamRecord[], plan: TestPlan, io: CliIO): void {
  let text = plan.verbose ? `${records.length} records outputted\n` : '';
  try {
    records.forEach((r, i) => {
      text += `${formatRecordLine(r.key, r.value, plan.keyValue, i)}\n`;
    });
  } catch (err) {
    // A value that is not text stops printing (spec §8): what came before it is still shown.
    if (err instanceof NonUtf8ValueError) io.stdout.write(text);
    throw err;
  }
  io.stdout.write(text);
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Adds `eddy test` to the program; its exit code goes to `ctx.done`. */
export function registerTestCommand(program: Command, ctx: CliContext): void {
  const command = program
    .command('test')
    .summary('run a SmartModule (or a chain) once over records given on the command line')
    .description(
      'Run a SmartModule .wasm (or a transforms chain) once over records given on the command line and ' +
        'print the output records, one value per line. Same command line as `smdk test`.\n\n' +
        'Examples:\n' +
        '  eddy test --wasm-file filter.wasm --text apple\n' +
        '  eddy test --wasm-file m.wasm --file input.txt -e threshold=5 -v\n' +
        '  eddy test --wasm-file m.wasm --text 4 --lookback-last 1 --record 2 --record 3\n' +
        '  eddy test -t transforms.yaml --stdin -k',
    )
    .option('--wasm-file <path>', 'the SmartModule .wasm to run (default inside a project: its build, as smdk test)')
    .option('--text <text>', 'input: one record with this value')
    .option('--stdin', 'input: the first line of stdin (newline included) as one record')
    .option('--file <path>', 'input: one record per line of this file')
    .option('--raw', 'with --file: the whole file as one record')
    .option('--key <key>', 'give every input record this key')
    .option('-k, --key-value', 'print output records as "[key] value"')
    .option('-e, --params <key=value>', 'parameter passed to init (repeatable; the last value of a key wins)', collect)
    .option('-t, --transforms-file <path>', 'run the chain of a transforms.yaml (uses = .wasm paths relative to it)')
    .addOption(new Option('--transforms <path>', 'alias of --transforms-file').hideHelp());
  const inline = inlineStepOptions(
    command,
    'one chain step as JSON, e.g. \'{"uses":"m.wasm","with":{"k":"v"}}\' (repeatable)',
  );
  command
    .option('-r, --record <value>', 'a look-back history record (repeatable, oldest first)', collect)
    .option('-l, --lookback-last <n>', 'look-back: the last N --record values are given to look_back')
    .option(
      '--lookback-age <duration>',
      'look-back by age, e.g. 1h 30m (counts as a lookback; --record values are all recent)',
    )
    .option('--aggregate-initial <value>', 'initial accumulator of aggregate modules')
    .option('-v, --verbose', 'print "N records outputted" first')
    .addOption(memoryLimitOption())
    .addOption(recycleAfterOption())
    .addOption(new Option('-p, --package-name <name>').hideHelp())
    .addOption(new Option('--release <profile>').hideHelp())
    .addOption(
      new Option('--nowasi', 'accepted: a project has one build, and the SDK imports no WASI functions').hideHelp(),
    )
    .addOption(fanOutOption())
    .action(async (opts: TestCommandOptions & { transformsLine?: string[] }, cmd: Command) => {
      const { transformsLine: _alias, ...rest } = opts;
      const io = ctx.io();
      ctx.done(await runTest({ ...rest, transform: inline() }, io, rest.file !== undefined ? workerCount(cmd, io) : 1));
    });
}
