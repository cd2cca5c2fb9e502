import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { EddyError } from '../errors.js';
import { registerBenchCommand } from './bench.js';
import { registerBuildCommand } from './build.js';
import { registerCheckCommand } from './check.js';
import { closedOutputHandled, OutputClosed } from './common.js';
import { registerConnectorCommand } from './connector.js';
import { registerConsumeCommand } from './consume.js';
import { registerConsumerCommand } from './consumer.js';
import { DEFAULT_TEXT } from './defaults.js';
import { registerDeriveCommand } from './derive.js';
import { cliMessage } from './errors.js';
import { type CliContext, type CliIO, processIO } from './format.js';
import { registerGenerateCommand } from './generate.js';
import { registerLoadCommand } from './load.js';
import { registerPartitionCommand } from './partition.js';
import { registerProduceCommand } from './produce.js';
import { registerProfileCommand } from './profile.js';
import { registerRunCommand } from './run.js';
import { registerSmartModuleCommand } from './smart-module.js';
import { registerTestCommand } from './test-command.js';
import { registerTopicCommand } from './topic.js';
import { registerTransformCommand } from './transform.js';

/**
 * The `eddy` command line. Each command lives in its own file and exports a
 * `register…(program, ctx)` function; this file only builds the program, registers the commands
 * and turns errors into messages and exit codes.
 */

type Registrar = (program: Command, ctx: CliContext) => void;

/** Every command, in the order `eddy --help` lists them. Add new commands here. */
const COMMANDS: readonly Registrar[] = [
  registerTopicCommand,
  registerProduceCommand,
  registerConsumeCommand,
  registerTransformCommand,
  registerPartitionCommand,
  registerConsumerCommand,
  registerSmartModuleCommand,
  registerDeriveCommand,
  registerRunCommand,
  registerConnectorCommand,
  registerProfileCommand,
  registerCheckCommand,
  registerGenerateCommand,
  registerBuildCommand,
  registerTestCommand,
  registerLoadCommand,
  registerBenchCommand,
];

const DESCRIPTION =
  'Eddy is a multicore stream processor for Node.js: it runs Fluvio SmartModules (WebAssembly ' +
  'filters, maps, array-maps, filter-maps and aggregates, alone or chained) over streams of records, ' +
  'with the same results as Fluvio.\n\n' +
  "The commands are Fluvio's, on an embedded data directory (--data-dir, $EDDY_DATA_DIR, default ~/.eddy) " +
  'instead of a cluster: `eddy topic create`, `eddy produce`, `eddy consume` (with --filter/--map/... or ' +
  'a transforms file), `eddy smart-module create`, derived streams (`eddy derive create`, run by `eddy run`) ' +
  'and connectors (`eddy connector run --config`).\n\n' +
  'Write a module: `eddy generate <name>` scaffolds an AssemblyScript SmartModule project, `eddy build` ' +
  'compiles it to .wasm, and `eddy test` runs it (or any Fluvio-built .wasm) once over records from the ' +
  'command line, as `smdk generate` / `smdk build` / `smdk test` do.';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Builds the program (exported for tests and for generated docs). */
export function createProgram(ctx: CliContext): Command {
  const io = ctx.io();
  const program = new Command('eddy');
  // Settings first: subcommands copy them when they are created.
  program
    .description(DESCRIPTION)
    .version(version(), '-V, --version', 'print the version of eddy')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
    })
    .showHelpAfterError('(run `eddy <command> --help` for the options)')
    .option('--data-dir <dir>', 'data directory (default: $EDDY_DATA_DIR, else ~/.eddy)')
    .addOption(
      new Option('--workers <n>', 'worker threads for SmartModules (default: $EDDY_WORKERS, else one per core)'),
    )
    .addOption(
      new Option(
        '--max-record-bytes <size>',
        `largest record accepted when writing (default ${DEFAULT_TEXT.maxRecordBytes})`,
      ).hideHelp(),
    )
    .addHelpCommand('help [command]', 'show help for a command');
  for (const register of COMMANDS) register(program, ctx);
  return program;
}

/** Prints an error the way every command does: EddyErrors as one message, anything else with its stack. */
export function reportError(err: unknown, io: CliIO): number {
  if (err instanceof CommanderError) return err.exitCode; // commander has printed it (or the help)
  if (err instanceof OutputClosed) return 0;
  if (err instanceof EddyError) {
    io.stderr.write(`Error: ${cliMessage(err)}\n`);
    if (process.env['EDDY_DEBUG'] && err.stack) io.stderr.write(`${err.stack}\n`);
    return 1;
  }
  const e = err as Error | undefined;
  io.stderr.write(
    `Error: unexpected failure inside eddy (this is a bug; please report it with the command line):\n${e?.stack ?? String(err)}\n`,
  );
  return 1;
}

/**
 * Runs the CLI with `argv` as `process.argv` gives it (node, script, arguments...). Resolves to the
 * exit code; never calls process.exit.
 */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  let code = 0;
  if (io.stdout === process.stdout) {
    // `eddy consume ... | head`: a closed pipe ends the command quietly.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') {
        if (closedOutputHandled()) return; // the command stops and commits what it delivered
        process.exit(0);
      }
      throw err;
    });
  }
  const ctx: CliContext = {
    io: () => io,
    done: (c) => {
      code = c;
    },
  };
  try {
    await createProgram(ctx).parseAsync(argv, { from: 'node' });
    return code;
  } catch (err) {
    return reportError(err, io);
  }
}
