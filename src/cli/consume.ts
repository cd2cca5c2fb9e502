import { dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import type { Eddy, TransformInput } from '../eddy.js';
import { parseTransformSteps, readTransformsFile, type TransformStep } from '../smartmodule/transforms.js';
import type { StartPosition } from '../storage/consumer.js';
import { anchorUses, toTransformInputs } from '../connectors/transforms.js';
import { UsageError, type CliContext, type CliIO } from './format.js';
import { handleClosedOutput, interruptSignal, isTTY, memoryLimitOption, openForRead, openForWrite, OutputClosed, outputSettled, parseIntOption, timeoutOption, writeOut } from './common.js';
import { mergeAsync } from '../coordinator/merge.js';
import { compileTemplate, VALUE_OUTPUTS, type LineOptions, type ValueOutput } from './records.js';
import { RecordOutput } from './record-output.js';
import { TopicDeletedError } from './errors.js';
import { UnknownTopicError } from '../storage/errors.js';
import { batchDeliveredUpTo, recordDeliveredUpTo } from '../coordinator/transformed-consumer.js';
import { DEFAULT_COMMIT_RECORDS, DeliveryCommitter, type CommitPolicy } from '../storage/offset-committer.js';
import { parseDurationOption } from './units.js';
import { parseParams } from './test-command.js';

/**
 * `eddy consume <topic>`, as `fluvio consume`: where to start (`-B`, `-o`, `-T`), where to stop
 * (`-d`, `--end-offset`), which partitions (`-p`, default all, merged), SmartModules on the way
 * (`--filter`/`--map`/`--filter-map`/`--array-map`/`--aggregate`/`--smartmodule` by registered name
 * or `.wasm` path with `-e` parameters, or a chain with `--transforms-file`/`--transform`), and
 * how records print (one value per line, `-k`, `--format`, `-O`). Continuous until Ctrl-C unless
 * `-d`. `--consumer <name>` resumes from (and commits) that consumer's offsets.
 */

export interface ConsumeCliOptions {
  beginning?: boolean;
  offset?: string;
  tail?: string | true;
  endOffset?: string;
  disableContinuous?: boolean;
  partition?: string[];
  allPartitions?: boolean;
  keyValue?: boolean;
  format?: string;
  output?: string;
  filter?: string;
  map?: string;
  filterMap?: string;
  arrayMap?: string;
  aggregate?: string;
  smartmodule?: string;
  aggregateInitial?: string;
  params?: string[];
  transformsFile?: string;
  transform?: string[];
  consumer?: string;
  maxRecords?: string;
  commitInterval?: string;
  commitRecords?: string;
}

/** The module kind each flag asks for (null: any kind). */
const MODULE_FLAGS = [
  ['filter', '--filter', 'filter'],
  ['map', '--map', 'map'],
  ['filterMap', '--filter-map', 'filter_map'],
  ['arrayMap', '--array-map', 'array_map'],
  ['aggregate', '--aggregate', 'aggregate'],
  ['smartmodule', '--smartmodule', null],
] as const;

const KIND_FLAG: Readonly<Record<string, string>> = {
  filter: '--filter', map: '--map', filter_map: '--filter-map', array_map: '--array-map', aggregate: '--aggregate',
};

/** What a consume command line asks for, checked before anything is opened. */
export interface ConsumePlan {
  from: StartPosition;
  follow: boolean;
  /** Partitions to read (undefined: all). */
  partitions: number[] | undefined;
  endOffset: number | undefined;
  maxRecords: number | undefined;
  /** One module from a flag (`--filter x -e k=v`). */
  module: { flag: string; uses: string; kind: string | null; params: Record<string, string> } | null;
  transformsFile: string | undefined;
  inline: string[];
  aggregateInitial: Uint8Array | undefined;
  lines: LineOptions;
  consumer: string | undefined;
  /** When a named consumer commits. */
  commit: CommitPolicy;
}

export function planConsume(o: ConsumeCliOptions): ConsumePlan {
  const starts = [o.beginning && '-B/--beginning', o.offset !== undefined && '-o/--offset', o.tail !== undefined && '-T/--tail'].filter(Boolean);
  if (starts.length > 1) throw new UsageError(`${starts.join(' and ')} cannot be used together: give one start position`);
  let from: StartPosition = 'end';
  if (o.beginning) from = 'beginning';
  if (o.offset !== undefined) {
    const n = parseIntOption(o.offset, '-o/--offset', { allowNegative: true });
    from = n >= 0 ? { offset: n } : { fromEnd: -n };
  }
  if (o.tail !== undefined) from = { fromEnd: o.tail === true ? 10 : parseIntOption(o.tail, '-T/--tail') };

  const flags = MODULE_FLAGS.filter(([key]) => o[key] !== undefined);
  if (flags.length > 1) throw new UsageError(`${flags.map((f) => f[1]).join(' and ')} cannot be used together: give one module, or chain several with --transforms-file`);
  const inline = o.transform ?? [];
  if (o.transformsFile !== undefined && inline.length > 0) {
    throw new UsageError('--transforms-file and --transform cannot be used together: give the chain one way');
  }
  const chain = o.transformsFile !== undefined || inline.length > 0;
  if (chain && flags.length > 0) {
    throw new UsageError(`${flags[0]![1]} cannot be used with a transforms chain: add the module to the chain as a step instead`);
  }
  const params = o.params ?? [];
  if (params.length > 0 && flags.length === 0) {
    throw new UsageError(chain
      ? "-e/--params cannot be used with transforms: put each module's parameters in its step's `with:`"
      : '-e/--params needs a module to pass them to (--filter, --map, --smartmodule, ...)');
  }
  if (o.aggregateInitial !== undefined && !chain && flags.length === 0) {
    throw new UsageError('--aggregate-initial needs an aggregate module: add --aggregate <name>');
  }
  const f = flags[0];
  const module = f ? { flag: f[1], uses: o[f[0]]!, kind: f[2], params: parseParams(params) } : null;

  let output: ValueOutput = 'dynamic';
  if (o.output !== undefined) {
    if (!(VALUE_OUTPUTS as readonly string[]).includes(o.output)) throw new UsageError(`-O/--output must be one of ${VALUE_OUTPUTS.join(', ')}, got ${JSON.stringify(o.output)}`);
    output = o.output as ValueOutput;
  }
  if (o.format !== undefined && (o.keyValue || o.output !== undefined)) {
    throw new UsageError('--format sets the whole line: use {{key}} in it instead of -k, and leave out -O');
  }
  if (o.consumer !== undefined && o.consumer.trim() === '') throw new UsageError('--consumer needs a name');
  if (o.consumer === undefined && (o.commitInterval !== undefined || o.commitRecords !== undefined)) {
    throw new UsageError('--commit-interval and --commit-records set when a named consumer commits: add --consumer <name>');
  }
  const given = o.partition ?? [];
  if (o.allPartitions && given.length > 0) throw new UsageError('-A/--all-partitions and -p/--partition cannot be used together: give one');
  const commit: CommitPolicy = {};
  if (o.commitInterval !== undefined) commit.intervalMs = parseDurationOption(o.commitInterval, '--commit-interval');
  if (o.commitRecords !== undefined) commit.records = parseIntOption(o.commitRecords, '--commit-records', { min: 1 });

  return {
    from,
    follow: !o.disableContinuous,
    partitions: given.length === 0 ? undefined : [...new Set(given.map((p) => parseIntOption(p, '-p/--partition')))],
    endOffset: o.endOffset === undefined ? undefined : parseIntOption(o.endOffset, '--end-offset'),
    maxRecords: o.maxRecords === undefined ? undefined : parseIntOption(o.maxRecords, '--max-records', { min: 1 }),
    module,
    transformsFile: o.transformsFile,
    inline,
    aggregateInitial: o.aggregateInitial === undefined ? undefined : Buffer.from(o.aggregateInitial, 'utf8'),
    lines: { template: o.format === undefined ? null : compileTemplate(o.format), keyValue: !!o.keyValue, output },
    consumer: o.consumer,
    commit,
  };
}

/** The chain a plan names, with `.wasm` paths anchored where they were written. */
export async function planTransforms(eddy: Eddy, plan: Pick<ConsumePlan, 'module' | 'transformsFile' | 'inline'>, io: CliIO): Promise<TransformInput[]> {
  let steps: TransformStep[] = [];
  if (plan.module) {
    steps = anchorUses(eddy.modules, [{ uses: plan.module.uses, params: plan.module.params, lookback: null }], io.cwd);
  } else if (plan.transformsFile !== undefined) {
    const file = resolve(io.cwd, plan.transformsFile);
    steps = anchorUses(eddy.modules, await readTransformsFile(file), dirname(file));
  } else if (plan.inline.length > 0) {
    steps = anchorUses(eddy.modules, parseTransformSteps(plan.inline), io.cwd);
  }
  if (plan.module?.kind && steps.length === 1) {
    const { modules } = await eddy.resolveTransforms(toTransformInputs(steps));
    const kind = modules[0]!.kind;
    if (kind !== plan.module.kind) {
      throw new UsageError(`${plan.module.flag} ${plan.module.uses}: that module is a ${kind.replace('_', '-')}, not a ${plan.module.kind.replace('_', '-')}; use ${KIND_FLAG[kind] ?? '--smartmodule'} ${plan.module.uses}`);
    }
  }
  return toTransformInputs(steps);
}

export async function runConsume(topic: string, o: ConsumeCliOptions, cmd: Command, io: CliIO): Promise<number> {
  const plan = planConsume(o);
  const interrupt = interruptSignal(io);
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  if (interrupt.signal.aborted) stop.abort();
  interrupt.signal.addEventListener('abort', onInterrupt, { once: true });
  const releaseOutput = handleClosedOutput();
  // A named consumer commits its offsets: that needs the writer. Otherwise read-only, next to any writer.
  const eddy = plan.consumer !== undefined ? await openForWrite(cmd, io) : await openForRead(cmd, io);
  let committer: DeliveryCommitter | null = null;
  let started = false; // the topic existed: an unknown topic from here on was deleted meanwhile
  try {
    const meta = eddy.describeTopic(topic);
    for (const p of plan.partitions ?? []) {
      if (p >= meta.partitions) throw new UsageError(`-p/--partition ${p}: topic "${topic}" has ${meta.partitions} partition${meta.partitions === 1 ? '' : 's'} (0..${meta.partitions - 1})`);
    }
    started = true;
    const partitions = plan.partitions ?? Array.from({ length: meta.partitions }, (_, p) => p);
    const transforms = await planTransforms(eddy, plan, io);
    // The sources never commit: this command commits what reached stdout (see RecordOutput).
    const common = {
      from: plan.from,
      follow: plan.follow,
      signal: stop.signal,
      ...(plan.endOffset !== undefined ? { endOffset: plan.endOffset } : {}),
      ...(plan.consumer !== undefined ? { consumer: plan.consumer, autoCommit: false } : {}),
    };
    if (plan.consumer !== undefined) {
      committer = new DeliveryCommitter(eddy.storage, plan.consumer, topic, plan.commit, () => outputSettled(io));
      for (const p of partitions) {
        const start = eddy.storage.consume(topic, p, common);
        committer.begin(p, start.position, start.committed);
      }
    }
    const out = new RecordOutput(io, { ...plan.lines, escape: isTTY(io.stdout) },  plan.maxRecords, committer, plan.commit.records ?? DEFAULT_COMMIT_RECORDS);
    if (transforms.length > 0) {
      const stream = eddy.consume(topic, {
        ...common,
        transforms,
        partitions,
        ...(plan.aggregateInitial ? { aggregateInitial: plan.aggregateInitial } : {}),
      });
      for await (const b of stream.batches()) {
        const end = batchDeliveredUpTo(b);
        await out.batch(b.raw, b.baseOffset, b.baseTimestamp, b.partition, (offset, last) => recordDeliveredUpTo(end, offset, last, b.oneToOne));
        if (b.error) throw b.error;
        if (out.full) break;
      }
    } else {
      const sources = partitions.map((p) => tagged(p, eddy.consume(topic, { ...common, partition: p }).batches()));
      for await (const { partition, batch: b } of mergeAsync(sources, () => stop.abort())) {
        await out.batch(b.raw, b.baseOffset, b.baseTimestamp, partition, (offset, last) => (last ? b.lastOffset + 1 : offset + 1));
        if (out.full) break;
      }
    }
    return 0;
  } catch (err) {
    if (err instanceof OutputClosed) return 0;
    if (err instanceof UnknownTopicError && started) throw new TopicDeletedError(topic);
    throw err;
  } finally {
    stop.abort();
    interrupt.signal.removeEventListener('abort', onInterrupt);
    interrupt.dispose();
    try {
      await committer?.close();
    } finally {
      releaseOutput();
      await eddy.close();
    }
  }
}

/** Stored batches do not carry their partition: tag them by source. */
async function* tagged<B>(partition: number, batches: AsyncIterable<B>): AsyncGenerator<{ partition: number; batch: B }> {
  for await (const batch of batches) yield { partition, batch };
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function registerConsumeCommand(program: Command, ctx: CliContext): void {
  let inline: string[] = [];
  const pushInline = (value: string): string[] => (inline = [...inline, value]);
  program
    .command('consume <topic>')
    .summary('read records from a topic, optionally through SmartModules')
    .description(
      'Read records from a topic and print them, one value per line, as `fluvio consume`. By default it waits for new ' +
        'records (from the end) until Ctrl-C; -B starts at the beginning, -d stops at the end.\n\n' +
        'Examples:\n' +
        '  eddy consume greetings -B -d\n' +
        '  eddy consume greetings -T 5 -k\n' +
        '  eddy consume fruit -B -d --filter keep-a\n' +
        '  eddy consume fruit -B -d --map ./map-uppercase.wasm\n' +
        '  eddy consume numbers -B -d --aggregate sum --aggregate-initial 100\n' +
        '  eddy consume numbers -B -d --transforms-file transforms.yaml\n' +
        '  eddy consume greetings -B -d --format "{{offset}} {{time}} {{key}}={{value}}"',
    )
    .option('-B, --beginning', 'start from the first stored record')
    .option('-o, --offset <n>', 'start at this offset; a negative number counts from the end (-o -1 = the last record)')
    .option('-T, --tail [n]', 'start n records before the end (default 10)')
    .option('--end-offset <n>', 'stop after this offset (inclusive)')
    .addOption(new Option('--end <n>', 'alias of --end-offset').hideHelp())
    .option('-d, --disable-continuous', 'stop at the end of the topic instead of waiting for new records')
    .option('-p, --partition <n>', 'read this partition (repeatable; default: all partitions, merged)', collect)
    .option('-A, --all-partitions', 'read every partition, merged (the default)')
    .option('-k, --key-value', 'print records as "[key] value"')
    .option('--format <template>', 'print each record with this template: {{key}} {{value}} {{offset}} {{partition}} {{time}} {{timestamp}}')
    .option('-O, --output <type>', 'how values print: dynamic (text, or a note for binary; default), text, raw (bytes as stored), json (pretty)')
    .option('--filter <module>', 'run a filter SmartModule (registered name or .wasm path)')
    .option('--map <module>', 'run a map SmartModule')
    .option('--filter-map <module>', 'run a filter-map SmartModule')
    .option('--array-map <module>', 'run an array-map SmartModule')
    .option('--aggregate <module>', 'run an aggregate SmartModule')
    .option('--smartmodule <module>', 'run a SmartModule of any kind')
    .addOption(new Option('--smartmodule-path <path>', 'alias of --smartmodule').hideHelp())
    .option('--aggregate-initial <value>', 'initial accumulator of the aggregate')
    .option('-e, --params <key=value>', 'parameter for the module\'s init (repeatable)', collect)
    .option('--transforms-file <path>', 'run the chain of a transforms.yaml (uses: registered names or .wasm paths relative to it)')
    .addOption(new Option('--transforms <path>', 'alias of --transforms-file').hideHelp())
    .addOption(new Option('--transform <json>', 'one chain step as JSON, e.g. \'{"uses":"keep-a"}\' (repeatable)').argParser(pushInline))
    .addOption(new Option('--transforms-line <json>', 'alias of --transform').hideHelp().argParser(pushInline))
    .option('-c, --consumer <name>', 'a named consumer: start from its committed offsets, and commit what was printed')
    .option('--commit-interval <duration>', 'a named consumer commits at least this often while printing (default 1s)')
    .option('--commit-records <n>', `a named consumer commits at least every n printed records, and never prints more than n past its last commit (default ${DEFAULT_COMMIT_RECORDS})`)
    .option('--max-records <n>', 'stop after printing n records')
    .addOption(memoryLimitOption()).addOption(timeoutOption())
    .action(async (topic: string, opts: ConsumeCliOptions & { end?: string; smartmodulePath?: string; transforms?: string; transformsLine?: string[] }, cmd: Command) => {
      const { end, smartmodulePath, transforms, transformsLine: _l, ...rest } = opts;
      const o: ConsumeCliOptions = { ...rest, transform: inline };
      if (end !== undefined) o.endOffset ??= end;
      if (smartmodulePath !== undefined) o.smartmodule ??= smartmodulePath;
      if (transforms !== undefined) o.transformsFile ??= transforms;
      ctx.done(await runConsume(topic, o, cmd, ctx.io()));
    });
}
