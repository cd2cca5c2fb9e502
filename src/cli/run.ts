import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { ConnectorConfig, RunningConnector } from '../connectors/index.js';
import type { Eddy, RunningDerived } from '../eddy.js';
import { EddyError } from '../errors.js';
import { formatDuration } from '../smartmodule/duration.js';
import { fanOutOption } from './chain-options.js';
import {
  dataDir,
  interruptSignal,
  isTTY,
  memoryLimitOption,
  openForWrite,
  recycleAfterOption,
  SECRETS_OPTION_HELP,
  secretStore,
} from './common.js';
import { CLI_DEFAULTS } from './defaults.js';
import { cliMessage } from './errors.js';
import { type CliContext, type CliIO, UsageError } from './format.js';
import { formatCount, parseDurationOption } from './units.js';

/**
 * `eddy run`: the foreground daemon. Runs every saved derived stream (or those named with
 * `--only`) and the connectors given with `--connector`, in one process that holds the data
 * directory's writer lock, until Ctrl-C or SIGTERM; then stops them cleanly (committed work stays
 * committed; the next `eddy run` resumes there). A status line on stderr shows records per second,
 * the lag of each stream and the errors.
 */

export interface RunOptions {
  connector?: string[];
  secrets?: string;
  only?: string[];
  statusInterval?: string;
  socketGroup?: string;
  http?: string;
}

/** Where `eddy run` and `eddy connector run` print: a status line redrawn in place on a terminal, plain lines otherwise. */
export class StatusPrinter {
  private last = '';
  private drawn = false;
  constructor(
    private readonly io: CliIO,
    private readonly tty = isTTY(io.stderr),
  ) {}

  /** A line that stays (errors, start and stop messages). */
  line(text: string): void {
    this.clear();
    this.io.stderr.write(`${text}\n`);
    if (this.tty && this.last) this.draw(this.last, true);
  }

  /** The status: redrawn on a terminal; elsewhere printed when it changed. */
  status(text: string): void {
    if (this.tty) {
      this.draw(text, true);
      return;
    }
    if (text !== this.last) this.io.stderr.write(`${text}\n`);
    this.last = text;
  }

  clear(): void {
    if (this.tty && this.drawn) this.io.stderr.write('\r\x1b[K');
    this.drawn = false;
  }

  /** The last status, kept on its own line; no more redraws after it. */
  finish(text: string): void {
    this.clear();
    if (this.tty || text !== this.last) this.io.stderr.write(`${text}\n`);
    this.last = '';
  }

  private draw(text: string, force: boolean): void {
    if (!force && text === this.last) return;
    this.io.stderr.write(`\r\x1b[K${text}`);
    this.last = text;
    this.drawn = true;
  }
}

function describeError(err: unknown): string {
  if (err instanceof EddyError) return cliMessage(err);
  return (err as Error)?.stack ?? String(err);
}

export async function runDaemon(o: RunOptions, cmd: Command, io: CliIO): Promise<number> {
  const [{ readConnectorConfig, startConnector }, { KafkaDerivedStream }, { groupId, serveWrites }] = await Promise.all(
    [import('../connectors/index.js'), import('../kafka/derived.js'), import('./writer-socket.js')],
  );
  const connectorConfigs: ConnectorConfig[] = [];
  for (const path of o.connector ?? []) connectorConfigs.push(await readConnectorConfig(resolve(io.cwd, path)));
  const names = new Set(connectorConfigs.map((c) => c.name));
  if (names.size < connectorConfigs.length)
    throw new UsageError('two --connector configs have the same meta.name: give each connector its own name');
  const tty = isTTY(io.stderr);
  const socketGroup = o.socketGroup === undefined ? undefined : groupId(o.socketGroup);
  const intervalMs =
    o.statusInterval !== undefined
      ? parseDurationOption(o.statusInterval, '--status-interval')
      : tty
        ? CLI_DEFAULTS.statusIntervalTtyMs
        : CLI_DEFAULTS.statusIntervalMs;

  const interrupt = interruptSignal(io);
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  if (interrupt.signal.aborted) stop.abort();
  interrupt.signal.addEventListener('abort', onInterrupt, { once: true });
  const out = new StatusPrinter(io, tty);
  let eddy: Eddy | null = null;
  let served: Awaited<ReturnType<typeof serveWrites>> = null;
  let failures = 0;
  let errors = 0;
  let timer: NodeJS.Timeout | null = null;
  const derived = new Map<string, RunningDerived>();
  const connectors: RunningConnector[] = [];
  try {
    eddy = await openForWrite(cmd, io);
    const e = eddy;
    // `eddy produce` in another terminal writes through this process while it holds the directory.
    served = await serveWrites(e, dataDir(cmd, io), socketGroup === undefined ? {} : { group: socketGroup });
    if (o.http !== undefined) {
      const http = await e.serve(o.http, { onWarning: (w) => out.line(`warning: ${w}`) });
      out.line(`eddy run: metrics and status page on ${http.url} (also /metrics, /healthz, /readyz, /api/status)`);
    }
    // /readyz says "starting" until every stream and connector below has started.
    const starting = e.telemetry.hold();
    let saved = e.listDerived().map((d) => d.config);
    if (o.only && o.only.length > 0) {
      const unknown = o.only.filter((n) => !saved.some((c) => c.name === n));
      if (unknown.length)
        throw new UsageError(
          `--only ${unknown.join(', ')}: no derived stream by that name; \`eddy derive list\` shows them`,
        );
      saved = saved.filter((c) => o.only!.includes(c.name));
    }
    if (saved.length === 0 && connectorConfigs.length === 0) {
      throw new UsageError(
        `nothing to run: no derived streams in ${e.storage.dir}; create one with \`eddy derive create <name> --source <topic> --target <topic> --transforms-file <file>\`, or pass --connector <config.yml>`,
      );
    }

    e.on('error', ({ stream, error }) => {
      errors++;
      out.line(`error: ${stream}: ${describeError(error)}`);
    });
    // Every skipped record is counted; one line per error (a dropped batch skips many records at once).
    let skips = 0;
    let lastSkip: EddyError | null = null;
    e.on('skip', ({ stream, offset, error, deadLetterTopic }) => {
      skips++;
      if (error === lastSkip) return;
      lastSkip = error;
      out.line(
        `skipped: ${stream} offset ${offset}, kept in ${deadLetterTopic}: ${describeError(error).split('\n')[0]}`,
      );
    });
    for (const c of saved) {
      try {
        const d = await e.startDerived(c.name);
        derived.set(c.name, d);
        // Over Kafka, the consumer group decides which source partitions this process runs.
        if (d instanceof KafkaDerivedStream) {
          const owns = (ps: number[]) =>
            out.line(`${c.name}: this process owns partitions [${ps.join(',')}] of ${c.source}`);
          owns(d.partitions);
          d.group.on('assigned', owns);
          d.group.on('fenced', (p) =>
            out.line(
              `${c.name}: partition ${p} was taken over by another process; this process's batch in hand was not committed (fenced)`,
            ),
          );
        }
      } catch (err) {
        failures++;
        out.line(`error: derived stream ${c.name} did not start: ${describeError(err)}`);
      }
    }
    for (const config of connectorConfigs) {
      try {
        const running = await startConnector(e, config, { signal: stop.signal, secrets: secretStore(o, io) });
        running.on('error', (err) => {
          errors++;
          out.line(`error: connector ${config.name}: ${describeError(err)}`);
        });
        running.done.catch((err: unknown) => {
          failures++;
          out.line(`error: connector ${config.name} stopped: ${describeError(err)}`);
        });
        connectors.push(running);
        e.telemetry.trackConnector(running);
      } catch (err) {
        failures++;
        out.line(`error: connector ${config.name} did not start: ${describeError(err)}`);
      }
    }
    const parts = [
      ...[...derived.values()].map((d) => `${d.config.name} (${d.config.source} → ${d.config.target})`),
      ...connectors.map((c) => `connector ${c.config.name} (${c.summary})`),
    ];
    starting();
    if (parts.length === 0) return 1;
    out.line(`eddy run: ${parts.join(', ')}; Ctrl-C stops`);

    // Status: input records per second (source offsets committed), lag per stream, connector records, errors.
    const processed = () => e.listDerived().filter((d) => derived.has(d.config.name));
    const connectorRecords = () => connectors.reduce((s, c) => s + c.stats.records, 0);
    let prevIn =
      processed().reduce((s, d) => s + d.partitions.reduce((a, p) => a + p.offset, 0), 0) + connectorRecords();
    let prevAt = Date.now();
    const status = (): string => {
      const list = processed();
      const now = Date.now();
      const total = list.reduce((s, d) => s + d.partitions.reduce((a, p) => a + p.offset, 0), 0) + connectorRecords();
      const rate = ((total - prevIn) * 1000) / Math.max(1, now - prevAt);
      prevIn = total;
      prevAt = now;
      const lag = list.map((d) => `${d.config.name} ${formatCount(d.partitions.reduce((s, p) => s + p.lag, 0))}`);
      const conns = connectors.map((c) => `${c.config.name} ${formatCount(c.stats.records)} records`);
      // Over Kafka, the source partitions this process owns now (the group moves them as processes come and go).
      const owns = [...derived.values()].flatMap((d) =>
        d instanceof KafkaDerivedStream ? [`${d.config.name} [${d.partitions.join(',')}]`] : [],
      );
      return [
        `eddy run: ${formatCount(rate)} records/s`,
        ...(lag.length ? [`lag ${lag.join(', ')}`] : []),
        ...(owns.length ? [`owns partitions ${owns.join(', ')}`] : []),
        ...(conns.length ? [`connectors ${conns.join(', ')}`] : []),
        ...(skips > 0 ? [`${formatCount(skips)} skipped`] : []),
        `${errors} error${errors === 1 ? '' : 's'}`,
      ].join(' · ');
    };
    timer = setInterval(() => out.status(status()), intervalMs);

    const ended = Promise.all([
      ...[...derived.values()].map((d) => d.done()),
      ...connectors.map((c) => c.done.catch(() => {})),
    ]);
    const aborted = new Promise<void>((r) =>
      stop.signal.aborted ? r() : stop.signal.addEventListener('abort', () => r(), { once: true }),
    );
    await Promise.race([aborted, ended]);
    clearInterval(timer);
    timer = null;
    stop.abort();
    await served?.close();
    served = null;
    await Promise.all(connectors.map((c) => c.done.catch(() => {})));
    // All at once: each may wait up to its deadline for a batch in flight.
    await Promise.all([...derived.keys()].map((name) => e.stopDerived(name)));
    // After the stop: results committed while stopping (and their skip events) count in the last status.
    const final = status();
    const written = e
      .listDerived()
      .filter((d) => derived.has(d.config.name))
      .map((d) => {
        const skipped = d.partitions.reduce((s, p) => s + p.skipped, 0);
        return (
          `${d.config.name} wrote ${formatCount(d.partitions.reduce((s, p) => s + p.written, 0))} records` +
          (d.deadLetterTopic !== null ? `, skipped ${formatCount(skipped)} into ${d.deadLetterTopic}` : '')
        );
      });
    const moved = connectors.map(
      (c) =>
        `${c.config.name} ${c.config.direction === 'source' ? 'produced' : 'delivered'} ${formatCount(c.stats.records)} records`,
    );
    out.finish(final);
    out.line(`eddy run stopped (${[...written, ...moved].join('; ')})`);
    for (const d of derived.values()) if (d.errors.size > 0) failures++;
    return failures > 0 ? 1 : 0;
  } finally {
    if (timer) clearInterval(timer);
    stop.abort();
    interrupt.signal.removeEventListener('abort', onInterrupt);
    interrupt.dispose();
    await served?.close();
    await eddy?.close();
  }
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function registerRunCommand(program: Command, ctx: CliContext): void {
  program
    .command('run')
    .summary('run the saved derived streams (and connectors) until Ctrl-C')
    .description(
      'Run every derived stream saved with `eddy derive create` — and the connectors given with --connector — in the ' +
        'foreground until Ctrl-C or SIGTERM, with a status line on stderr (records/s, lag per stream, errors). ' +
        'Work is committed as it goes: stopping (even killing) it loses nothing, and the next `eddy run` resumes there. ' +
        'It holds the data directory for writing; `eddy consume` and the other reading commands work meanwhile.\n\n' +
        'Examples:\n' +
        '  eddy run\n' +
        '  eddy run --only big-sums --connector cat-facts.yml',
    )
    .option('--connector <config>', 'also run this connector config (repeatable)', collect)
    .option('-s, --secrets <file>', SECRETS_OPTION_HELP)
    .addOption(memoryLimitOption())
    .addOption(recycleAfterOption())
    .addOption(fanOutOption())
    .option('--only <name>', 'run only this derived stream (repeatable)', collect)
    .option(
      '--status-interval <duration>',
      `how often the status line updates (default ${formatDuration(CLI_DEFAULTS.statusIntervalTtyMs)} on a terminal, else ${formatDuration(CLI_DEFAULTS.statusIntervalMs)} and only when it changed)`,
    )
    .option(
      '--http <address>',
      'serve Prometheus /metrics, /healthz, /readyz, /api/status and a live status page on this address (<port> or <host>:<port>; a bare port listens on 127.0.0.1 only)',
    )
    .option(
      '--socket-group <group>',
      'let this group produce through the daemon too (its socket becomes mode 0660; default 0600, this user only)',
    )
    .action(async (o: RunOptions, cmd: Command) => {
      ctx.done(await runDaemon(o, cmd, ctx.io()));
    });
}
