import { type Command, Option } from 'commander';
import { batchEnd, recordEnd } from '../coordinator/delivery-ends.js';
import { anchorSteps } from '../coordinator/resolve.js';
import type { Eddy } from '../eddy.js';
import type { TransformStep } from '../smartmodule/transforms.js';
import type { StartPosition } from '../storage/consumer.js';
import { UnknownTopicError } from '../storage/errors.js';
import { type CommitPolicy, DEFAULT_COMMIT_RECORDS, DeliveryCommitter } from '../storage/offset-committer.js';
import {
  type ChainSource,
  fanOutOption,
  inlineStepOptions,
  type ModuleFlagOptions,
  planChain,
  readChain,
} from './chain-options.js';
import {
  handleClosedOutput,
  interruptSignal,
  isTTY,
  memoryLimitOption,
  OutputClosed,
  openForRead,
  openForWrite,
  outputSettled,
  parseIntOption,
  recycleAfterOption,
  startWorkers,
  timeoutOption,
} from './common.js';
import { CLI_DEFAULTS, DEFAULT_TEXT } from './defaults.js';
import { TopicDeletedError } from './errors.js';
import { type CliContext, type CliIO, UsageError } from './format.js';
import { RecordOutput } from './record-output.js';
import { compileTemplate, type LineOptions, VALUE_OUTPUTS, type ValueOutput } from './records.js';
import { parseDurationOption } from './units.js';

/**
 * `eddy consume <topic>`, as `fluvio consume`: where to start (`-B`, `-o`, `-T`), where to stop
 * (`-d`, `--end-offset`), which partitions (`-p`, default all, merged), SmartModules on the way
 * (`--filter`/`--map`/`--filter-map`/`--array-map`/`--aggregate`/`--smartmodule` by registered name
 * or `.wasm` path with `-e` parameters, or a chain with `--transforms-file`/`--transform`), and
 * how records print (one value per line, `-k`, `--format`, `-O`). Continuous until Ctrl-C unless
 * `-d`. `--consumer <name>` resumes from (and commits) that consumer's offsets.
 */

export interface ConsumeCliOptions extends ModuleFlagOptions {
  beginning?: boolean;
  head?: string;
  start?: string;
  offset?: string;
  tail?: string | true;
  endOffset?: string;
  disableContinuous?: boolean;
  partition?: string[];
  allPartitions?: boolean;
  keyValue?: boolean;
  format?: string;
  output?: string;
  /** `-J/--json-lines`: the same as `-O json-lines`. */
  jsonLines?: boolean;
  tableFormat?: string;
  suppressUnknown?: boolean;
  truncate?: boolean;
  isolation?: string;
  maxbytes?: string;
  mirror?: string;
  disableProgressbar?: boolean;
  consumer?: string;
  maxRecords?: string;
  commitInterval?: string;
  commitRecords?: string;
  fanOut?: boolean;
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
  filter: '--filter',
  map: '--map',
  filter_map: '--filter-map',
  array_map: '--array-map',
  aggregate: '--aggregate',
};

/** What a consume command line asks for, checked before anything is opened. */
export interface ConsumePlan {
  from: StartPosition;
  follow: boolean;
  /** Partitions to read (undefined: all). */
  partitions: number[] | undefined;
  endOffset: number | undefined;
  maxRecords: number | undefined;
  /** One module from a flag (`--filter x -e k=v`), or a chain; null: no SmartModule. */
  chain: ChainSource | null;
  /** The module kind a flag asks for (`--filter`: filter); null: any. */
  moduleKind: string | null;
  aggregateInitial: Uint8Array | undefined;
  lines: LineOptions;
  /** `--truncate`: cut values to the terminal's width. */
  truncate: boolean;
  consumer: string | undefined;
  /** When a named consumer commits. */
  commit: CommitPolicy;
}

export function planConsume(o: ConsumeCliOptions): ConsumePlan {
  const from = planStart(o);
  checkFluvioOnly(o);
  const flags = MODULE_FLAGS.filter(([key]) => o[key] !== undefined);
  const chain = planChain(o, {
    modules: flags.map(([key, flag]) => ({ flag, uses: o[key]! })),
    paramsFor: '--filter, --map, --smartmodule, ...',
  });
  if (o.aggregateInitial !== undefined && chain === null) {
    throw new UsageError('--aggregate-initial needs an aggregate module: add --aggregate <name>');
  }

  const output = planOutput(o);
  if (o.consumer !== undefined && o.consumer.trim() === '') throw new UsageError('--consumer needs a name');
  if (o.consumer === undefined && (o.commitInterval !== undefined || o.commitRecords !== undefined)) {
    throw new UsageError(
      '--commit-interval and --commit-records set when a named consumer commits: add --consumer <name>',
    );
  }
  const given = o.partition ?? [];
  if (o.allPartitions && given.length > 0)
    throw new UsageError('-A/--all-partitions and -p/--partition cannot be used together: give one');
  const endOffset = o.endOffset === undefined ? undefined : parseIntOption(o.endOffset, '--end-offset');
  const absolute = typeof from === 'object' && 'offset' in from ? from.offset : undefined;
  if (endOffset !== undefined && absolute !== undefined && endOffset < absolute) {
    throw new UsageError(
      `--end-offset ${endOffset} is before the start offset ${absolute}: the end must be at or after the start`,
    );
  }
  const commit: CommitPolicy = {};
  if (o.commitInterval !== undefined) commit.intervalMs = parseDurationOption(o.commitInterval, '--commit-interval');
  if (o.commitRecords !== undefined) commit.records = parseIntOption(o.commitRecords, '--commit-records', { min: 1 });

  return {
    from,
    follow: !o.disableContinuous,
    partitions: given.length === 0 ? undefined : [...new Set(given.map((p) => parseIntOption(p, '-p/--partition')))],
    endOffset,
    maxRecords: o.maxRecords === undefined ? undefined : parseIntOption(o.maxRecords, '--max-records', { min: 1 }),
    chain,
    moduleKind: chain?.kind === 'module' ? flags[0]![2] : null,
    aggregateInitial: o.aggregateInitial === undefined ? undefined : Buffer.from(o.aggregateInitial, 'utf8'),
    lines: {
      template: o.format === undefined ? null : compileTemplate(o.format),
      keyValue: !!o.keyValue,
      output,
      suppressUnknown: !!o.suppressUnknown,
      ...(output === 'table' ? { table: { started: false } } : {}),
    },
    truncate: !!o.truncate,
    consumer: o.consumer,
    commit,
  };
}

/** Where to start: one of -B, -H, --start, -o, -T (Fluvio lets only one through). */
function planStart(o: ConsumeCliOptions): StartPosition {
  const starts = [
    o.beginning && '-B/--beginning',
    o.head !== undefined && '-H/--head',
    o.start !== undefined && '--start',
    o.offset !== undefined && '-o/--offset',
    o.tail !== undefined && '-T/--tail',
  ].filter(Boolean);
  if (starts.length > 1)
    throw new UsageError(`${starts.join(' and ')} cannot be used together: give one start position`);
  if (o.beginning) return 'beginning';
  if (o.head !== undefined) return { fromBeginning: parseIntOption(o.head, '-H/--head') };
  if (o.start !== undefined) return { offset: parseIntOption(o.start, '--start') };
  if (o.offset !== undefined) {
    const n = parseIntOption(o.offset, '-o/--offset', { allowNegative: true });
    return n >= 0 ? { offset: n } : { fromEnd: -n };
  }
  if (o.tail !== undefined)
    return { fromEnd: o.tail === true ? CLI_DEFAULTS.tailRecords : parseIntOption(o.tail, '-T/--tail') };
  return 'end';
}

const ISOLATIONS = [
  'read_committed',
  'ReadCommitted',
  'readCommitted',
  'readcommitted',
  'read_uncommitted',
  'ReadUncommitted',
  'readUncommitted',
  'readuncommitted',
];

/** Fluvio flags about a cluster: checked as Fluvio checks them, refused where Eddy has nothing to apply them to. */
function checkFluvioOnly(o: ConsumeCliOptions): void {
  if (o.mirror !== undefined)
    throw new UsageError(
      `-m/--mirror ${o.mirror}: Eddy has no remote clusters to mirror from; consume the topic itself`,
    );
  if (o.tableFormat !== undefined) {
    throw new UsageError(
      `--table-format ${o.tableFormat}: TableFormat not found (Eddy stores no TableFormat objects); use -O table, which lays out each JSON record's top-level keys`,
    );
  }
  if (o.isolation !== undefined && !ISOLATIONS.includes(o.isolation)) {
    throw new UsageError(
      `--isolation ${o.isolation}: unrecognized isolation; supported: read_committed (ReadCommitted), read_uncommitted (ReadUncommitted)`,
    );
  }
  if (o.maxbytes !== undefined) parseIntOption(o.maxbytes, '-b/--maxbytes', { min: 1 });
}

/** `-O` (case-insensitive, as Fluvio), and the flags it cannot go with. */
function planOutput(o: ConsumeCliOptions): ValueOutput {
  if (o.jsonLines) {
    const other = [
      o.output !== undefined && o.output.toLowerCase() !== 'json-lines' && '-O/--output',
      o.format !== undefined && '-F/--format',
      o.keyValue && '-k/--key-value',
      o.truncate && '--truncate',
      o.suppressUnknown && '--suppress-unknown',
    ].filter(Boolean);
    if (other.length > 0)
      throw new UsageError(`-J/--json-lines prints the whole record as JSON: leave out ${other.join(', ')}`);
    return 'json-lines';
  }
  if (o.format !== undefined && o.output !== undefined)
    throw new UsageError('-F/--format sets the whole line: leave out -O/--output');
  if (o.truncate && (o.format !== undefined || o.output !== undefined))
    throw new UsageError(
      '--truncate cannot be used with -O/--output or -F/--format (as in Fluvio): it cuts the default output',
    );
  if (o.output === undefined) return 'dynamic';
  const name = o.output.toLowerCase().replace('_', '-');
  if (name === 'full-table') {
    throw new UsageError(
      "-O full-table is Fluvio's interactive full-screen table, which Eddy does not have; use -O table (one table per JSON record) or -O json",
    );
  }
  if (!(VALUE_OUTPUTS as readonly string[]).includes(name))
    throw new UsageError(`-O/--output must be one of ${VALUE_OUTPUTS.join(', ')}, got ${JSON.stringify(o.output)}`);
  return name as ValueOutput;
}

/** The chain a plan names, with `.wasm` paths anchored where they were written. */
export async function planTransforms(
  eddy: Eddy,
  plan: Pick<ConsumePlan, 'chain' | 'moduleKind'>,
  io: CliIO,
): Promise<TransformStep[]> {
  const { steps, baseDir, source } = await readChain(plan.chain, io);
  const anchored = anchorSteps(steps, { registry: eddy.modules, baseDir }, source);
  const c = plan.chain;
  if (c?.kind === 'module' && plan.moduleKind) {
    const kind = (await eddy.resolveTransforms(anchored))[0]!.module.kind;
    if (kind !== plan.moduleKind) {
      throw new UsageError(
        `${c.flag} ${c.uses}: that module is a ${kind.replace('_', '-')}, not a ${plan.moduleKind.replace('_', '-')}; use ${KIND_FLAG[kind] ?? '--smartmodule'} ${c.uses}`,
      );
    }
  }
  return anchored;
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
  const early = plan.chain !== null ? { pool: await startWorkers(cmd, io) } : {};
  const eddy = plan.consumer !== undefined ? await openForWrite(cmd, io, early) : await openForRead(cmd, io, early);
  let committer: DeliveryCommitter | null = null;
  let started = false; // the topic existed: an unknown topic from here on was deleted meanwhile
  try {
    const meta = eddy.describeTopic(topic);
    for (const p of plan.partitions ?? []) {
      if (p >= meta.partitions)
        throw new UsageError(
          `-p/--partition ${p}: topic "${topic}" has ${meta.partitions} partition${meta.partitions === 1 ? '' : 's'} (0..${meta.partitions - 1})`,
        );
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
    const tty = isTTY(io.stdout);
    if (tty) io.stderr.write(`\x1b[1m${statusLine(topic, o, plan)}\x1b[0m\n`);
    const truncate = plan.truncate ? terminalWidth(io) : undefined;
    const lines = { ...plan.lines, escape: tty, topic, ...(truncate !== undefined ? { truncate } : {}) };
    const out = new RecordOutput(io, lines, plan.maxRecords, committer, plan.commit.records ?? DEFAULT_COMMIT_RECORDS);
    // Through a chain, the workers turn outputs into lines where the output format allows it, so
    // the main thread only copies bytes out (it was the bottleneck: ~150 ns per record to do it here).
    const workerLines = transforms.length > 0 ? out.workerLines : null;
    const stream = eddy.consume(topic, {
      ...common,
      partitions,
      // Each batch is printed (copied out) before the next is asked for: reads may reuse their buffers.
      reuseBuffers: true,
      ...(transforms.length > 0 ? { transforms } : {}),
      ...(workerLines ? { valueLines: workerLines } : {}),
      ...(plan.aggregateInitial ? { aggregateInitial: plan.aggregateInitial } : {}),
    });
    for await (const b of stream.batches()) {
      const end = batchEnd(b);
      const upTo = (offset: number, last: boolean) => recordEnd(end, offset, last, b.oneToOne);
      if (b.lines) await out.valueLines(b.raw, b.count, b.partition, upTo);
      else await out.batch(b.raw, b.baseOffset, b.baseTimestamp, b.partition, upTo);
      if (b.error) {
        await out.flush();
        throw b.error;
      }
      if (out.full) break;
    }
    await out.flush();
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

/** The line Fluvio prints (bold, on stderr) when stdout is a terminal: what is consumed, from where, to where. */
export function statusLine(topic: string, o: ConsumeCliOptions, plan: Pick<ConsumePlan, 'endOffset'>): string {
  let from = '';
  if (o.beginning) from = ' starting from the beginning of log';
  else if (o.head !== undefined) from = ` starting ${o.head} from the beginning of log`;
  else if (o.start !== undefined) from = ` starting at offset ${o.start}`;
  else if (o.tail !== undefined)
    from = ` starting ${o.tail === true ? CLI_DEFAULTS.tailRecords : o.tail} from the end of log`;
  const until = plan.endOffset !== undefined ? ` until offset ${plan.endOffset} (inclusive)` : '';
  return `Consuming records from '${topic}'${from}${until}`;
}

/** `--truncate`'s width: the terminal's columns; without a terminal, Fluvio's fallback of 65535. */
function terminalWidth(io: CliIO): number {
  const columns = (io.stdout as { columns?: unknown }).columns;
  return isTTY(io.stdout) && typeof columns === 'number' && columns > 0 ? columns : 65535;
}

/** Fluvio's other spellings of consume flags. */
interface ConsumeAliases {
  end?: string;
  sm?: string;
  smartmodulePath?: string;
  sm_path?: string;
  aInit?: string;
  transforms?: string;
  transformsLine?: string[];
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function registerConsumeCommand(program: Command, ctx: CliContext): void {
  const command = program
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
    .option('-H, --head <n>', 'start n records after the first stored record')
    .option('--start <n>', 'start at this absolute offset')
    .option('-o, --offset <n>', 'start at this offset; a negative number counts from the end (-o -1 = the last record)')
    .option('-T, --tail [n]', `start n records before the end (default ${CLI_DEFAULTS.tailRecords})`)
    .option('--end-offset <n>', 'stop after this offset (inclusive)')
    .addOption(new Option('--end <n>', 'alias of --end-offset').hideHelp())
    .option('-d, --disable-continuous', 'stop at the end of the topic instead of waiting for new records')
    .option('-p, --partition <n>', 'read this partition (repeatable; default: all partitions, merged)', collect)
    .option('-A, --all-partitions', 'read every partition, merged (the default)')
    .option('-k, --key-value', 'print records as "[key] value"')
    .option(
      '-F, --format <template>',
      'print each record with this template: {{key}} {{value}} {{offset}} {{partition}} {{time}} {{timestamp}}; {{value:json}} (any placeholder) escapes it for inside a JSON string, {{value:base64}}/{{key:base64}} write the bytes as base64',
    )
    .option(
      '-O, --output <type>',
      'how values print, as fluvio: dynamic (text, or a hex dump for binary; default), text (binary values as "binary: (N bytes)"), binary (hex dump), json (pretty, sorted keys; {"error": ...} for non-JSON), raw (bytes as stored, one per line), table (JSON objects as a table), json-lines (see -J)',
    )
    .option(
      '-J, --json-lines',
      'one compact JSON object per record (as kcat -J): topic, partition, offset, timestamp (ms), key, value; a key or value that is not valid UTF-8 is base64, with key_encoding/value_encoding "base64". Same as -O json-lines',
    )
    .option(
      '--suppress-unknown',
      'with -O text, print binary values as text; with -O json, skip values that are not JSON',
    )
    .option('--truncate', "cut each value to the terminal's width")
    .option('--table-format <name>', 'a Fluvio TableFormat (Eddy stores none: refused with that reason)')
    .option(
      '--isolation <level>',
      'read_committed or read_uncommitted: accepted; both read the same in Eddy, where records are visible only once their write transaction committed',
    )
    .option(
      '-b, --maxbytes <n>',
      "fluvio's fetch size per request: accepted; Eddy reads its local log batch by batch, without requests",
    )
    .option('--disable-progressbar', "accepted: Eddy prints no spinner (fluvio's shows one on a terminal)")
    .addOption(new Option('-m, --mirror <name>', 'a remote cluster (refused: Eddy has none)').hideHelp())
    .option('--filter <module>', 'run a filter SmartModule (registered name or .wasm path)')
    .option('--map <module>', 'run a map SmartModule')
    .option('--filter-map <module>', 'run a filter-map SmartModule')
    .option('--array-map <module>', 'run an array-map SmartModule')
    .option('--aggregate <module>', 'run an aggregate SmartModule')
    .option('--smartmodule <module>', 'run a SmartModule of any kind')
    .addOption(new Option('--sm <module>', 'alias of --smartmodule').hideHelp())
    .addOption(new Option('--smartmodule-path <path>', 'alias of --smartmodule').hideHelp())
    .addOption(new Option('--sm_path <path>', 'alias of --smartmodule').hideHelp())
    .option('--aggregate-initial <value>', 'initial accumulator of the aggregate')
    .addOption(new Option('--a-init <value>', 'alias of --aggregate-initial').hideHelp())
    .option('-e, --params <key=value>', "parameter for the module's init (repeatable)", collect)
    .option(
      '-t, --transforms-file <path>',
      'run the chain of a transforms.yaml (uses: registered names or .wasm paths relative to it)',
    )
    .addOption(new Option('--transforms <path>', 'alias of --transforms-file').hideHelp());
  const inline = inlineStepOptions(command, 'one chain step as JSON, e.g. \'{"uses":"keep-a"}\' (repeatable)');
  command
    .option('-c, --consumer <name>', 'a named consumer: start from its committed offsets, and commit what was printed')
    .option(
      '--commit-interval <duration>',
      `a named consumer commits at least this often while printing (default ${DEFAULT_TEXT.commitInterval})`,
    )
    .option(
      '--commit-records <n>',
      `a named consumer commits at least every n printed records, and never prints more than n past its last commit (default ${DEFAULT_COMMIT_RECORDS})`,
    )
    .option('--max-records <n>', 'stop after printing n records')
    .addOption(memoryLimitOption())
    .addOption(recycleAfterOption())
    .addOption(timeoutOption())
    .addOption(fanOutOption())
    .action(async (topic: string, opts: ConsumeCliOptions & ConsumeAliases, cmd: Command) => {
      const { end, smartmodulePath, sm, sm_path: smPath, aInit, transforms, transformsLine: _l, ...rest } = opts;
      const o: ConsumeCliOptions = { ...rest, transform: inline() };
      if (end !== undefined) o.endOffset ??= end;
      for (const alias of [sm, smartmodulePath, smPath]) if (alias !== undefined) o.smartmodule ??= alias;
      if (aInit !== undefined) o.aggregateInitial ??= aInit;
      if (transforms !== undefined) o.transformsFile ??= transforms;
      ctx.done(await runConsume(topic, o, cmd, ctx.io()));
    });
}
