import type { Command } from 'commander';
import { DataCorruptError } from '../storage/errors.js';
import type { CheckReport } from '../storage/storage.js';
import { dataDir, printJson } from './common.js';
import type { CliContext } from './format.js';
import { formatBytes, formatCount } from './units.js';

/**
 * `eddy check`: verifies a data directory without changing it — the data file against its meta
 * pages, then every stored batch (checksum, header, records, contiguous offsets). Prints what is
 * damaged, by topic, partition and offset; exits 1 when anything is. Runs next to a writer (it
 * opens the directory read-only and checks one snapshot).
 */

export function registerCheckCommand(program: Command, ctx: CliContext): void {
  program
    .command('check')
    .summary('verify the data directory (checksums, headers, offsets)')
    .description(
      "Verify the data directory: its data file against LMDB's meta pages, then every stored batch's " +
        'checksum, header and records, and that offsets are contiguous. Changes nothing. Exits 1 and lists each ' +
        'damaged place (topic, partition, offset) when something is damaged.',
    )
    .option('--json', 'print the report as JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const io = ctx.io();
      const dir = dataDir(cmd, io);
      let report: CheckReport;
      const { openStorage } = await import('../storage/storage.js');
      try {
        const store = await openStorage(dir, { readOnly: true, retentionCheckMs: 0 });
        try {
          report = store.check();
        } finally {
          await store.close();
        }
      } catch (err) {
        if (!(err instanceof DataCorruptError)) throw err;
        report = {
          dir,
          topics: 0,
          partitions: 0,
          batches: 0,
          records: 0,
          bytes: 0,
          damage: [],
          fileDamage: err.message,
        };
      }
      if (o.json) printJson(io, report);
      else io.stdout.write(formatReport(report));
      ctx.done(report.damage.length > 0 || report.fileDamage ? 1 : 0);
    });
}

function formatReport(r: CheckReport): string {
  if (r.fileDamage) return `DAMAGED  ${r.fileDamage}\n`;
  const lines = r.damage.map(
    (d) =>
      `DAMAGED  topic "${d.topic}" partition ${d.partition}${d.offset >= 0 ? ` offset ${d.offset}` : ''}: ${d.detail}\n`,
  );
  const summary =
    `checked ${r.dir}: ${r.topics} topic${r.topics === 1 ? '' : 's'}, ${r.partitions} partition${r.partitions === 1 ? '' : 's'}, ` +
    `${formatCount(r.batches)} batches, ${formatCount(r.records)} records, ${formatBytes(r.bytes)}`;
  const verdict = r.damage.length
    ? `${r.damage.length} damaged place${r.damage.length === 1 ? '' : 's'} found`
    : 'no damage found';
  return `${lines.join('')}${summary}: ${verdict}\n`;
}
