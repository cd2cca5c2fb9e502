import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import type { Dedup, TopicConfig, TopicDescription, TopicSummary } from '../storage/storage.js';
import {
  listAction,
  openForRead,
  openForWrite,
  outputFormat,
  parseIntOption,
  printJson,
  withEddy,
  withOutputOptions,
} from './common.js';
import { DEFAULT_TEXT } from './defaults.js';
import { deleteEach } from './delete-each.js';
import { NothingToDeleteError } from './errors.js';
import { type CliContext, UsageError } from './format.js';
import { readTopicConfigFile } from './topic-config-file.js';
import { type TopicCreateOptions, topicConfig } from './topic-options.js';
import { formatBytes, formatCount, formatRetention, formatTable } from './units.js';

/**
 * `eddy topic create|list|describe|delete|add-partition`, as `fluvio topic …`: the same options
 * (`-p/--partitions`, `--retention-time`, `--max-partition-size`, `--compression-type`, `-d/--dry-run`,
 * `-c/--continue-on-error`) and
 * messages, tables for people and `-O json` for scripts.
 */

/**
 * `fluvio topic list`'s table: Fluvio's columns first, with what they are for one data directory
 * (computed partitions, one replica, always provisioned), then Eddy's record
 * counts, sizes and size limit.
 */
export function formatTopicTable(topics: readonly TopicSummary[]): string {
  if (topics.length === 0) return 'No topics found\n';
  return formatTable(
    [
      'NAME',
      'TYPE',
      'PARTITIONS',
      'REPLICAS',
      'RETENTION TIME',
      'COMPRESSION',
      'DEDUPLICATION',
      'STATUS',
      'REASON',
      'RECORDS',
      'SIZE',
      'MAX PARTITION SIZE',
    ],
    topics.map((t) => [
      t.name,
      'computed',
      String(t.partitions),
      '1',
      formatRetention(t.retentionMs),
      t.compression,
      formatDedup(t.dedup),
      'resolution::provisioned',
      '',
      formatCount(t.records),
      formatBytes(t.bytes),
      t.maxPartitionBytes === null ? 'none' : formatBytes(t.maxPartitionBytes),
    ]),
  );
}

/** A topic's deduplication, for tables: `none`, or its bounds. */
function formatDedup(d: Dedup | null | undefined): string {
  return d ? `count: ${d.count}, age: ${formatRetention(d.ageMs)}` : 'none';
}

/** `fluvio topic describe`'s `Name : value` block, then one row per partition. */
export function formatTopicDescription(d: TopicDescription): string {
  const fields: [string, string][] = [
    ['Name', d.name],
    ['Partition Count', String(d.partitions)],
    ['Retention Time', formatRetention(d.retentionMs)],
    ['Max Partition Size', d.maxPartitionBytes === null ? 'none' : formatBytes(d.maxPartitionBytes)],
    ['Compression', d.compression],
    ['Deduplication', formatDedup(d.dedup)],
    ['Records', formatCount(d.records)],
    ['Size', formatBytes(d.bytes)],
    ['Created', new Date(d.createdAt).toISOString()],
  ];
  const w = Math.max(...fields.map(([k]) => k.length));
  const block = fields.map(([k, v]) => ` ${k.padEnd(w)}  :  ${v}`).join('\n');
  const parts = formatTable(
    ['PARTITION', 'START OFFSET', 'HW', 'RECORDS', 'BATCHES', 'SIZE'],
    d.partitionInfo.map((p) => [
      String(p.partition),
      String(p.startOffset),
      String(p.nextOffset),
      formatCount(p.records),
      formatCount(p.batches),
      formatBytes(p.bytes),
    ]),
  );
  return `${block}\n -----------------\n${parts}`;
}

function topicJson(t: TopicSummary) {
  return {
    name: t.name,
    partitions: t.partitions,
    records: t.records,
    bytes: t.bytes,
    retentionMs: t.retentionMs,
    maxPartitionBytes: t.maxPartitionBytes,
    compression: t.compression,
    dedup: t.dedup ?? null,
    createdAt: new Date(t.createdAt).toISOString(),
  };
}

export function registerTopicCommand(program: Command, ctx: CliContext): void {
  const topic = program
    .command('topic')
    .summary('create, list, describe and delete topics')
    .description(
      'Manage topics, as `fluvio topic`. A topic is a named log of records split into partitions, stored in the data directory.',
    );

  topic
    .command('create [name]')
    .description(
      'Create a topic.\n\nExamples:\n  eddy topic create greetings -p 2 --retention-time 1d --max-partition-size 1GB\n' +
        "  eddy topic create events --dedup --dedup-count 100 --dedup-age 1m\n  eddy topic create -c topic.yaml   # Fluvio's topic config file",
    )
    .option('-p, --partitions <n>', 'number of partitions', '1')
    .option(
      '--retention-time <duration>',
      `remove records older than this, e.g. 1h, 7d (default ${DEFAULT_TEXT.retention})`,
    )
    .option(
      '--max-partition-size <size>',
      `remove the oldest records while a partition is larger, e.g. 500MB, 10GB (default ${DEFAULT_TEXT.maxPartitionSize})`,
    )
    .option(
      '--compression-type <type>',
      'how batches are stored: any/none (as each producer chose; default), gzip, snappy or zstd (every batch with that codec), lz4 (each stored value, inside LMDB)',
    )
    .addOption(new Option('-r, --replication <n>', 'replicas (Eddy keeps 1)').hideHelp())
    .addOption(new Option('--segment-size <size>', 'refused: Eddy stores no segment files').hideHelp())
    .option(
      '--dedup',
      "drop a keyed record at produce when its key is among the partition's last --dedup-count keys, within --dedup-age",
    )
    .option('--dedup-count <n>', 'keys remembered per partition (default 5, as Fluvio)')
    .option('--dedup-age <duration>', 'how long a key is remembered, e.g. 5s, 1m (default 5s, as Fluvio)')
    .option(
      '-c, --config <file>',
      "read the topic from Fluvio's topic config file (YAML: meta.name, partition, retention, compression, deduplication)",
    )
    .option('-d, --dry-run', 'check the name and settings as create would, and create nothing')
    .action(
      async (
        given: string | undefined,
        o: TopicCreateOptions & { dryRun?: boolean; config?: string },
        cmd: Command,
      ) => {
        const io = ctx.io();
        let name: string;
        let config: TopicConfig;
        if (o.config !== undefined) {
          const flags = cmd.options.filter(
            (opt) =>
              !['config', 'dryRun'].includes(opt.attributeName()) &&
              cmd.getOptionValueSource(opt.attributeName()) === 'cli',
          );
          if (given !== undefined || flags.length > 0) {
            throw new UsageError(
              `-c/--config gives the whole topic: leave out ${given !== undefined ? 'the name' : flags.map((f) => f.long).join(', ')}`,
            );
          }
          ({ name, config } = await readTopicConfigFile(resolve(io.cwd, o.config), o.config));
        } else {
          if (given === undefined) throw new UsageError("give the topic's name, or -c/--config <file>");
          name = given;
          config = topicConfig(o);
        }
        if (o.dryRun) {
          const valid = await withEddy(await openForRead(cmd, io), async (eddy) => eddy.validateTopic(name, config));
          io.stdout.write(
            `topic "${name}" can be created (${valid.partitions} ${valid.partitions === 1 ? 'partition' : 'partitions'}); ` +
              'nothing was created (--dry-run)\n',
          );
          return;
        }
        await withEddy(await openForWrite(cmd, io), async (eddy) => {
          await eddy.createTopic(name, config);
        });
        io.stdout.write(`topic "${name}" created\n`);
      },
    );

  withOutputOptions(
    topic.command('list').description("List topics with Fluvio's columns, then their record counts and sizes."),
  ).action(
    listAction(ctx, (eddy) => eddy.listTopics(), { table: formatTopicTable, json: (topics) => topics.map(topicJson) }),
  );

  withOutputOptions(
    topic
      .command('describe <name>')
      .description("Show a topic's settings and its partitions (start offset, high watermark, records, size)."),
  ).action(async (name: string, o: { output?: string; json?: boolean }, cmd: Command) => {
    const io = ctx.io();
    const format = outputFormat(o);
    const d = await withEddy(await openForRead(cmd, io), async (eddy) => eddy.describeTopic(name));
    if (format === 'json') printJson(io, { ...topicJson(d), partitionInfo: d.partitionInfo });
    else io.stdout.write(formatTopicDescription(d));
  });

  topic
    .command('delete <names...>')
    .description('Delete topics, their records and the consumer offsets committed on them.')
    .option(
      '-c, --continue-on-error',
      'go on with the other names when one cannot be deleted (the command still fails at the end)',
    )
    .action(async (names: string[], o: { continueOnError?: boolean }, cmd: Command) => {
      const io = ctx.io();
      await withEddy(await openForWrite(cmd, io), (eddy) =>
        deleteEach(io, 'topic', names, !!o.continueOnError, async (name) => {
          if (!eddy.storage.topic(name))
            throw new NothingToDeleteError('topic', name, '`eddy topic list` shows the topics');
          await eddy.deleteTopic(name);
        }),
      );
    });

  topic
    .command('add-partition <topic>')
    .description(
      'Add partitions to a topic, numbered after the existing ones. Records already stored stay where they are; ' +
        'records produced from now on are spread over all partitions.\n\nExample:\n  eddy topic add-partition greetings -c 2',
    )
    .option('-c, --count <n>', 'number of partitions to add', '1')
    .action(async (name: string, o: { count: string }, cmd: Command) => {
      const io = ctx.io();
      const count = parseIntOption(o.count, '-c/--count', { min: 1 });
      const added = await withEddy(await openForWrite(cmd, io), async (eddy) => eddy.addPartitions(name, count));
      io.stdout.write(
        `added new partitions to topic: "${name}"\n${formatTable(
          ['PARTITION', 'SPU'],
          added.map((p) => [String(p), '0']),
        )}`,
      );
    });
}
