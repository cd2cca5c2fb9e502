import type { Command } from 'commander';
import type { TopicDescription } from '../storage/storage.js';
import { listAction, withOutputOptions } from './common.js';
import type { CliContext } from './format.js';
import { formatBytes, formatCount, formatTable } from './units.js';

/**
 * `eddy partition list`, as `fluvio partition list`: one row per partition of every topic. Of
 * Fluvio's columns, those that describe replication across SPUs (MIRROR, REPLICAS, LRS,
 * FOLLOWER OFFSETS) have nothing to show on one machine and are left out; the leader is always
 * 0 (this process), and HW equals LEO (a record is visible once it is stored).
 */

interface PartitionRow {
  topic: string;
  partition: number;
  leader: number;
  resolution: 'Online';
  bytes: number;
  baseOffset: number;
  hw: number;
  leo: number;
  records: number;
}

function partitionRows(topics: readonly TopicDescription[]): PartitionRow[] {
  return topics.flatMap((t) =>
    t.partitionInfo.map((p) => ({
      topic: t.name,
      partition: p.partition,
      leader: 0,
      resolution: 'Online' as const,
      bytes: p.bytes,
      baseOffset: p.startOffset,
      hw: p.nextOffset,
      leo: p.nextOffset,
      records: p.records,
    })),
  );
}

export function formatPartitionTable(rows: readonly PartitionRow[]): string {
  if (rows.length === 0) return 'No partitions found\n';
  return formatTable(
    ['TOPIC', 'PARTITION', 'LEADER', 'RESOLUTION', 'SIZE', 'BASE', 'HW', 'LEO', 'RECORDS'],
    rows.map((r) => [
      r.topic,
      String(r.partition),
      String(r.leader),
      r.resolution,
      formatBytes(r.bytes),
      String(r.baseOffset),
      String(r.hw),
      String(r.leo),
      formatCount(r.records),
    ]),
  );
}

export function registerPartitionCommand(program: Command, ctx: CliContext): void {
  const partition = program
    .command('partition')
    .summary('list partitions')
    .description('Partition operations, as `fluvio partition`.');

  withOutputOptions(
    partition
      .command('list')
      .description(
        'List every partition of every topic: leader, size, first offset (BASE), high watermark (HW), log end (LEO) and records.',
      ),
  ).action(
    listAction(ctx, (eddy) => partitionRows(eddy.listTopics().map((t) => eddy.describeTopic(t.name))), {
      table: formatPartitionTable,
      json: (rows) => rows,
    }),
  );
}
