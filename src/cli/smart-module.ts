import { resolve } from 'node:path';
import type { Command } from 'commander';
import { formatModuleTable } from '../storage/registry.js';
import { listAction, openForWrite, withEddy, withOutputOptions } from './common.js';
import { deleteEach } from './delete-each.js';
import { NothingToDeleteError } from './errors.js';
import type { CliContext } from './format.js';

/**
 * `eddy smart-module create|list|delete` (aliases `sm`, `smartmodule`), as `fluvio smart-module`:
 * modules are checked by the engine when registered and stored in the data directory; transforms
 * then name them (`uses: my-filter`, `--filter my-filter`).
 */
export function registerSmartModuleCommand(program: Command, ctx: CliContext): void {
  const sm = program
    .command('smart-module')
    .aliases(['sm', 'smartmodule'])
    .summary('register, list and delete SmartModules')
    .description(
      'Manage the SmartModules registered in the data directory, as `fluvio smart-module`. ' +
        'Registered names can be used anywhere a module is asked for (transforms `uses:`, consume --filter/--map/...).',
    );

  sm.command('create <name>')
    .description(
      'Register a SmartModule .wasm under a name (checked by the engine first; nothing invalid is stored). ' +
        "Names are Fluvio's: lowercase letters, digits and '-', or a Hub package name group/name@version.\n\n" +
        'Example:\n  eddy smart-module create keep-a --wasm-file filter.wasm',
    )
    .requiredOption('--wasm-file <path>', 'the compiled SmartModule')
    .option('--replace', 'replace a module already registered under this name')
    .action(async (name: string, o: { wasmFile: string; replace?: boolean }, cmd: Command) => {
      const io = ctx.io();
      const info = await withEddy(await openForWrite(cmd, io), (eddy) =>
        eddy.modules.register(name, resolve(io.cwd, o.wasmFile), o.replace ? { replace: true } : {}),
      );
      io.stdout.write(`smartmodule "${info.name}" has been created (${info.kind}, ${info.size} bytes)\n`);
    });

  const list = withOutputOptions(
    sm.command('list').description('List registered SmartModules: NAME, STATUS, SIZE as `fluvio smart-module list`.'),
  ).option('--filter <text>', 'only the modules whose name contains this text, as fluvio');
  list.action(
    listAction(
      ctx,
      (eddy) => eddy.modules.list().filter((m) => m.name.includes(list.opts<{ filter?: string }>().filter ?? '')),
      {
        table: formatModuleTable,
        json: (list) =>
          list.map((m) => ({
            name: m.name,
            kind: m.kind,
            size: m.size,
            sha256: m.sha256,
            registeredAt: new Date(m.registeredAt).toISOString(),
          })),
      },
    ),
  );

  sm.command('delete <names...>')
    .description('Delete registered SmartModules (derived streams and transforms that name them stop resolving).')
    .option(
      '-c, --continue-on-error',
      'go on with the other names when one cannot be deleted (the command still fails at the end)',
    )
    .action(async (names: string[], o: { continueOnError?: boolean }, cmd: Command) => {
      const io = ctx.io();
      await withEddy(await openForWrite(cmd, io), (eddy) =>
        deleteEach(io, 'smartmodule', names, !!o.continueOnError, async (name) => {
          if (!eddy.modules.info(name))
            throw new NothingToDeleteError('SmartModule', name, '`eddy smart-module list` shows them');
          await eddy.modules.delete(name);
        }),
      );
    });
}
