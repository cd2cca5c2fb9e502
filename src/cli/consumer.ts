import type { Command } from 'commander';
import { formatDuration } from '../smartmodule/duration.js';
import type { CommittedOffset } from '../storage/storage.js';
import { listAction, openForWrite, parseIntOption, withEddy, withOutputOptions } from './common.js';
import { NothingToDeleteError } from './errors.js';
import { type CliContext, UsageError } from './format.js';
import { formatTable } from './units.js';

/**
 * `eddy consumer list|delete`, as `fluvio consumer`: the offsets named consumers
 * (`eddy consume --consumer <name>`) have committed. OFFSET is Fluvio's: the last offset the
 * consumer was delivered (it resumes after it; -1 when it has delivered nothing yet). Eddy stores
 * the next offset to read, shown as `nextOffset` in JSON.
 */

function lastSeen(committedAt: number, now: number): string {
  return formatDuration(Math.max(0, Math.floor((now - committedAt) / 1000)) * 1000);
}

export function formatConsumerTable(offsets: readonly CommittedOffset[], now = Date.now()): string {
  if (offsets.length === 0) return 'No consumers found\n';
  return formatTable(
    ['CONSUMER', 'TOPIC', 'PARTITION', 'OFFSET', 'LAST SEEN'],
    sorted(offsets).map((c) => [
      c.consumer,
      c.topic,
      String(c.partition),
      String(c.offset - 1),
      lastSeen(c.committedAt, now),
    ]),
  );
}

function sorted(offsets: readonly CommittedOffset[]): CommittedOffset[] {
  const key = (c: CommittedOffset) => [c.consumer, c.topic, c.partition] as const;
  return [...offsets].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return x[0] !== y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] !== y[1] ? (x[1] < y[1] ? -1 : 1) : x[2] - y[2];
  });
}

function consumerJson(c: CommittedOffset) {
  return {
    consumer: c.consumer,
    topic: c.topic,
    partition: c.partition,
    offset: c.offset - 1,
    nextOffset: c.offset,
    committedAt: new Date(c.committedAt).toISOString(),
  };
}

export function registerConsumerCommand(program: Command, ctx: CliContext): void {
  const consumer = program
    .command('consumer')
    .summary("list and delete named consumers' offsets")
    .description(
      'Consumer offsets, as `fluvio consumer`: where each named consumer (`eddy consume --consumer <name>`) resumes.',
    );

  withOutputOptions(
    consumer
      .command('list')
      .description(
        'List committed consumer offsets: CONSUMER, TOPIC, PARTITION, OFFSET (the last record delivered) and LAST SEEN (time since the last commit).',
      ),
  ).action(
    listAction(ctx, (eddy) => eddy.listConsumerOffsets(), {
      table: (offsets) => formatConsumerTable(offsets),
      json: (offsets) => sorted(offsets).map(consumerJson),
    }),
  );

  consumer
    .command('delete <consumer>')
    .description(
      "Delete a named consumer's committed offsets (all of them, or on one topic, or one partition of it): " +
        'it then starts again where a new consumer starts.\n\nExample:\n  eddy consumer delete billing -t orders -p 0',
    )
    .option('-t, --topic <topic>', 'only the offsets on this topic')
    .option('-p, --partition <n>', 'only the offset on this partition (needs --topic)')
    .action(async (name: string, o: { topic?: string; partition?: string }, cmd: Command) => {
      const io = ctx.io();
      const where: { topic?: string; partition?: number } = {};
      if (o.topic !== undefined) where.topic = o.topic;
      if (o.partition !== undefined) {
        if (o.topic === undefined) throw new UsageError("-p/--partition needs -t/--topic: say which topic's partition");
        where.partition = parseIntOption(o.partition, '-p/--partition');
      }
      const gone = await withEddy(await openForWrite(cmd, io), async (eddy) => eddy.deleteConsumerOffsets(name, where));
      if (gone.length === 0) {
        const scope =
          where.topic === undefined
            ? ''
            : ` on topic "${where.topic}"${where.partition === undefined ? '' : ` partition ${where.partition}`}`;
        throw new NothingToDeleteError(
          'consumer',
          name,
          `it has no committed offset${scope}; \`eddy consumer list\` shows the consumers`,
        );
      }
      for (const c of sorted(gone))
        io.stdout.write(`consumer "${c.consumer}" on topic "${c.topic}" and partition "${c.partition}" deleted\n`);
    });
}
