import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import type { ErrorPolicy } from '../smartmodule/chain.js';
import {
  type ChainSource,
  fanOutOption,
  inlineStepOptions,
  type ModuleFlagOptions,
  planChain,
} from './chain-options.js';
import { memoryLimitOption, recycleAfterOption, startWorkers, timeoutOption } from './common.js';
import { type CliContext, UsageError } from './format.js';
import type { InputFormat } from './transform-input.js';

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
  recycleAfter?: string;
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
    .addOption(recycleAfterOption())
    .addOption(timeoutOption())
    .action(async (files: string[], opts: TransformCliOptions & { transformsLine?: string[] }, cmd: Command) => {
      const { transformsLine: _l, ...rest } = opts;
      const o = { ...rest, transform: inline() };
      const io = ctx.io();
      // The plan first (a usage error starts nothing), then the workers, which take ~0.15 s to
      // start: they start while the runner's code loads and the modules compile.
      const plan = planTransform(files, o, io.cwd);
      const pool = startWorkers(cmd, io, plan.fanOut ? undefined : 1);
      const { runTransform } = await import('./transform-run.js');
      ctx.done(await runTransform(plan, o, cmd, io, await pool));
    });
}
