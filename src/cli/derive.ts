import { basename } from 'node:path';
import { type Command, Option } from 'commander';
import { deadLetterTopic } from '../coordinator/derive-checks.js';
import type { DeriveConfig } from '../coordinator/derived.js';
import { anchorSteps } from '../coordinator/resolve.js';
import type { DerivedInfo } from '../eddy.js';
import { toErrorCode } from '../error-codes.js';
import { EddyError } from '../errors.js';
import { isKafkaDerive } from '../kafka/endpoint.js';
import type { TransformStep } from '../smartmodule/transforms.js';
import type { ModuleRegistry } from '../storage/registry.js';
import { fanOutOption, inlineStepOptions, planChain, readChain } from './chain-options.js';
import { openForRead, openForWrite, outputFormat, printJson, timeoutOption, withEddy } from './common.js';
import { cliMessage } from './errors.js';
import { type CliContext, type CliIO, UsageError } from './format.js';
import { formatCount, formatTable, parseDurationOption } from './units.js';

/**
 * `eddy derive create|list|delete`: derived streams, topic → SmartModule chain → topic, saved in
 * the data directory and run (exactly once, resuming where they stopped) by `eddy run`.
 */

export interface DeriveCreateOptions {
  source: string;
  target: string;
  transformsFile?: string;
  transform?: string[];
  policy?: string;
  timeout?: string;
  deadLetterTopic?: string;
  fanOut?: boolean;
}

/** Reads the chain of a `derive create` command line, with `.wasm` paths made absolute (`eddy run` may start elsewhere). */
async function chainOf(
  o: DeriveCreateOptions,
  io: CliIO,
  registry: Pick<ModuleRegistry, 'info'>,
): Promise<TransformStep[]> {
  const chain = planChain(o, {
    modules: [],
    paramsFor: '',
    required: 'no chain: give --transforms-file <transforms.yaml> or one --transform <json> per step',
  });
  const { steps, baseDir, source } = await readChain(chain, io);
  if (steps.length === 0)
    throw new UsageError('the chain has no steps: a derived stream needs at least one SmartModule');
  return anchorSteps(steps, { registry, baseDir }, source);
}

/** `eddy derive list`'s table, then one line per stopped partition with why it stopped. */
export function formatDerivedTable(list: readonly DerivedInfo[]): string {
  if (list.length === 0) return 'No derived streams found\n';
  const sum = (d: DerivedInfo, f: (p: DerivedInfo['partitions'][number]) => number) =>
    formatCount(d.partitions.reduce((s, p) => s + f(p), 0));
  const table = formatTable(
    ['NAME', 'SOURCE', 'TARGET', 'TRANSFORMS', 'POLICY', 'PROCESSED', 'WRITTEN', 'SKIPPED', 'LAG', 'STATUS'],
    list.map((d) => [
      d.config.name,
      d.config.source,
      d.config.target,
      d.config.transforms
        .map((t) => (t.uses.includes('/') && t.uses.endsWith('.wasm') ? basename(t.uses) : t.uses))
        .join(' | '),
      d.deadLetterTopic === null ? 'stop' : `skip → ${d.deadLetterTopic}`,
      sum(d, (p) => p.offset),
      // Over Kafka, the records written are counted by the processes that run the stream.
      isKafkaDerive(d.config) && !d.running ? '-' : sum(d, (p) => p.written),
      sum(d, (p) => p.skipped),
      sum(d, (p) => p.lag),
      d.partitions.some((p) => p.failure) ? 'failed' : d.running ? 'running' : 'ok',
    ]),
  );
  const failures = list.flatMap((d) =>
    d.partitions.flatMap((p) =>
      p.failure
        ? [
            `  ${d.config.name}/${p.partition} stopped at source offset ${p.failure.offset}: ${p.failure.code}: ${cliMessage(new EddyError(toErrorCode(p.failure.code), p.failure.message)).split('\n')[0]}\n`,
          ]
        : [],
    ),
  );
  return table + failures.join('');
}

export function registerDeriveCommand(program: Command, ctx: CliContext): void {
  const derive = program
    .command('derive')
    .summary('create, list and delete derived streams (topic → SmartModules → topic), run by `eddy run`')
    .description(
      'Derived streams read a source topic, run each record through a SmartModule chain, and write the output ' +
        'to a target topic, exactly once: the output, the source offset and aggregate state commit together, so a stopped or ' +
        'killed `eddy run` resumes without losing or repeating records. Source partition p writes to target partition ' +
        'p mod (target partitions).',
    );

  const create = derive
    .command('create <name>')
    .description(
      'Save a derived stream (start it with `eddy run`).\n\nExample:\n' +
        '  eddy derive create big-sums --source numbers --target sums --transforms-file transforms.yaml\n' +
        '  eddy derive create shout --source fruit --target loud --transform \'{"uses":"keep-a"}\' --transform \'{"uses":"upper"}\'',
    )
    .requiredOption('--source <topic>', 'topic to read')
    .requiredOption('--target <topic>', 'topic to write')
    .option(
      '--transforms-file <path>',
      'the chain, as a transforms.yaml (uses: registered names or .wasm paths relative to it)',
    );
  const inline = inlineStepOptions(create, 'one chain step as JSON (repeatable)');
  create
    .addOption(
      new Option(
        '--policy <policy>',
        'what a SmartModule error does: stop (the partition stops at the failing record) or skip (the record is counted, reported and kept in the dead-letter topic)',
      )
        .choices(['stop', 'skip'])
        .default('stop'),
    )
    .addOption(timeoutOption())
    .addOption(fanOutOption())
    .option(
      '--dead-letter-topic <topic>',
      'with --policy skip: the topic that keeps the skipped records (default <name>-dlq, created if missing)',
    )
    .action(async (name: string, o: DeriveCreateOptions, cmd: Command) => {
      const io = ctx.io();
      await withEddy(await openForWrite(cmd, io), async (eddy) => {
        const transforms = await chainOf({ ...o, transform: inline() }, io, eddy.modules);
        const config: DeriveConfig = { name, source: o.source, target: o.target, transforms };
        if (o.policy === 'skip') config.policy = 'skip';
        if (o.deadLetterTopic !== undefined) {
          if (o.policy !== 'skip')
            throw new UsageError('--dead-letter-topic keeps the records --policy skip skips: give --policy skip too');
          config.deadLetterTopic = o.deadLetterTopic;
        }
        if (o.fanOut === false) config.fanOut = false;
        if (o.timeout !== undefined) config.deadlineMs = parseDurationOption(o.timeout, '--timeout');
        await eddy.createDerived(config);
        const dlqTopic = deadLetterTopic(config);
        const dlq = dlqTopic === null ? '' : `; skipped records go to ${dlqTopic}`;
        io.stdout.write(
          `derived stream "${name}" created: ${o.source} → ${transforms.length} SmartModule${transforms.length === 1 ? '' : 's'} → ${o.target}${dlq}; start it with \`eddy run\`\n`,
        );
      });
    });

  derive
    .command('list')
    .description(
      'List derived streams with their progress (source records processed, records written, records skipped into the dead-letter topic, lag behind the source) and, for a stopped partition, why it stopped.',
    )
    .addOption(new Option('-O, --output <type>', 'output format: table or json'))
    .option('--json', 'print JSON (same as -O json)')
    .action(async (o: { output?: string; json?: boolean }, cmd: Command) => {
      const io = ctx.io();
      const format = outputFormat(o);
      const list = await withEddy(await openForRead(cmd, io), async (eddy) => eddy.readDerived());
      if (format === 'json') {
        printJson(
          io,
          list.map((d) => ({
            name: d.config.name,
            source: d.config.source,
            target: d.config.target,
            transforms: d.config.transforms,
            policy: d.config.policy ?? 'stop',
            deadLetterTopic: d.deadLetterTopic,
            partitions: d.partitions,
          })),
        );
      } else {
        io.stdout.write(formatDerivedTable(list));
      }
    });

  derive
    .command('delete <names...>')
    .description('Delete derived streams and their saved progress (their target and dead-letter topics stay).')
    .action(async (names: string[], _o: unknown, cmd: Command) => {
      const io = ctx.io();
      await withEddy(await openForWrite(cmd, io), async (eddy) => {
        for (const n of names) {
          await eddy.deleteDerived(n);
          io.stdout.write(`derived stream "${n}" deleted\n`);
        }
      });
    });
}
