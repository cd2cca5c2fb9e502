import { resolve } from 'node:path';
import type { Command } from 'commander';
import { EddyError } from '../errors.js';
import { fanOutOption } from './chain-options.js';
import { dataDir, interruptSignal, isTTY, openForWrite, SECRETS_OPTION_HELP, secretStore } from './common.js';
import { cliMessage } from './errors.js';
import type { CliContext, CliIO } from './format.js';
import { StatusPrinter } from './run.js';
import { formatCount } from './units.js';

/**
 * `eddy connector run --config <file.yml>`: runs one connector (Fluvio's config shape; see
 * src/connectors/config.ts) in the foreground until Ctrl-C or SIGTERM. Sources write into the
 * topic (transforms first); sinks read it with a named consumer and resume where they stopped.
 */
export async function runConnectorCommand(
  o: { config: string; secrets?: string },
  cmd: Command,
  io: CliIO,
): Promise<number> {
  const [{ readConnectorConfig, startConnector }, { serveWrites }] = await Promise.all([
    import('../connectors/index.js'),
    import('./writer-socket.js'),
  ]);
  const config = await readConnectorConfig(resolve(io.cwd, o.config));
  const secrets = secretStore(o, io);
  const interrupt = interruptSignal(io);
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  if (interrupt.signal.aborted) stop.abort();
  interrupt.signal.addEventListener('abort', onInterrupt, { once: true });
  const out = new StatusPrinter(io, isTTY(io.stderr));
  const eddy = await openForWrite(cmd, io);
  let served: Awaited<ReturnType<typeof serveWrites>> = null;
  try {
    served = await serveWrites(eddy, dataDir(cmd, io));
    const running = await startConnector(eddy, config, { signal: stop.signal, secrets });
    running.on('log', (line) => out.line(`[${config.name}] ${line}`));
    running.on('error', (err) => out.line(`[${config.name}] error: ${cliMessage(err)}`));
    out.line(`[${config.name}] ${config.type}: ${running.summary}; Ctrl-C stops`);
    let failed: unknown = null;
    try {
      await running.done;
    } catch (err) {
      failed = err;
    }
    const s = running.stats;
    if (failed) {
      out.line(`[${config.name}] stopped after ${formatCount(s.records)} records`);
      throw failed instanceof EddyError ? failed : new EddyError('EDDY_CONNECTOR', String(failed));
    }
    out.line(
      `[${config.name}] stopped: ${formatCount(s.records)} records ${config.direction === 'source' ? 'produced' : 'delivered'}, ${s.errors} error${s.errors === 1 ? '' : 's'}`,
    );
    return 0;
  } finally {
    stop.abort();
    interrupt.signal.removeEventListener('abort', onInterrupt);
    interrupt.dispose();
    await served?.close();
    await eddy.close();
  }
}

export function registerConnectorCommand(program: Command, ctx: CliContext): void {
  const connector = program
    .command('connector')
    .summary(
      'run connectors (http-source, http-sink, file-sink, kafka-source, kafka-sink) from Fluvio-style config files',
    )
    .description(
      "Connectors move records between a topic and the outside world. Their config files have Fluvio's shape:\n\n" +
        '  apiVersion: 0.1.0\n' +
        '  meta:\n' +
        '    version: 0.1.0\n' +
        '    name: cat-facts\n' +
        '    type: http-source          # http-source | http-sink | file-sink | kafka-source | kafka-sink\n' +
        '    topic: cat-facts\n' +
        '    create-topic: true\n' +
        '  http:\n' +
        '    endpoint: https://catfact.ninja/fact\n' +
        '    interval: 10s\n' +
        '  transforms:\n' +
        '    - uses: my-map\n\n' +
        'Secrets: declare them under meta.secrets ([{ name: TOKEN }]) and write ${{ secrets.TOKEN }} in the parameters; ' +
        'the values come from --secrets <file> (NAME=value lines) when given, else from the environment, and are never printed.\n\n' +
        'Sinks read with a named consumer (meta.consumer.id, default the connector name; meta.consumer.offset.start: ' +
        'beginning | end) and commit after delivery, so they resume where they stopped. To run connectors next to ' +
        'derived streams, use `eddy run --connector <file>`.',
    );
  connector
    .command('run')
    .description(
      'Run one connector in the foreground until Ctrl-C.\n\nExample:\n  eddy connector run --config cat-facts.yml',
    )
    .requiredOption('-c, --config <file>', 'the connector config (YAML)')
    .option('-s, --secrets <file>', SECRETS_OPTION_HELP)
    .addOption(fanOutOption())
    .action(async (o: { config: string; secrets?: string }, cmd: Command) => {
      ctx.done(await runConnectorCommand(o, cmd, ctx.io()));
    });
}
