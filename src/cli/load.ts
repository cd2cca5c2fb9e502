import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { loadModule } from '../smartmodule/index.js';
import { isProject, projectConfig, projectPackage } from './build.js';
import { moduleLimits, openForWrite, withEddy } from './common.js';
import { type CliContext, UsageError } from './format.js';

/**
 * `eddy load`, as `smdk load`: registers a SmartModule project's build in the data directory, under
 * `group/name@version` when the project has a group (`eddy generate --project-group`), else under
 * its package name; `--name` chooses another. Loading again replaces the module, so the usual
 * loop is edit, `eddy build`, `eddy load`.
 */

export interface LoadOptions {
  name?: string;
  packagePath?: string;
  wasmFile?: string;
  dryRun?: boolean;
  packageName?: string;
  release?: string;
}

export function registerLoadCommand(program: Command, ctx: CliContext): void {
  program
    .command('load')
    .summary("register a SmartModule project's build (as smdk load)")
    .description(
      'Register the .wasm that `eddy build` made for the SmartModule project in the current directory ' +
        '(or --package-path), as `smdk load`: named group/name@version when the project has a group, else by its package name. ' +
        'An existing module of that name is replaced.\n\nExamples:\n  eddy build && eddy load\n  eddy load --package-path ./my-filter --name keep-a',
    )
    .option('--name <name>', 'register under this name instead')
    .option('--package-path <dir>', 'the project directory (default: the current directory)')
    .option('--wasm-file <path>', "register this .wasm instead of the project's build")
    .option('--dry-run', 'check the project and the module, and register nothing')
    .option('-p, --package-name <name>', 'a cargo package of a Rust workspace (refused: Eddy projects have one module)')
    .option('--release <profile>', 'a cargo profile (refused: eddy build has one optimized build)')
    .addOption(new Option('--nowasi', "accepted: Eddy's builds import no WASI functions").hideHelp())
    .action(async (o: LoadOptions, cmd: Command) => {
      const io = ctx.io();
      if (o.packageName !== undefined || o.release !== undefined) {
        throw new UsageError(
          '-p/--package-name and --release choose a cargo package and profile; an Eddy project has one module and one build: leave them out',
        );
      }
      const dir = resolve(io.cwd, o.packagePath ?? '.');
      if (o.wasmFile === undefined && !isProject(dir)) {
        throw new UsageError(
          `${relative(io.cwd, dir) || '.'} is not a SmartModule project (no asconfig.json): run it in one made by \`eddy generate\`, or give --package-path DIR or --wasm-file PATH`,
        );
      }
      const wasm = o.wasmFile !== undefined ? resolve(io.cwd, o.wasmFile) : projectConfig(dir).out;
      if (o.wasmFile === undefined && !existsSync(wasm)) {
        throw new UsageError(
          `the project's module ${relative(io.cwd, wasm)} is not built yet: run \`eddy build\` first`,
        );
      }
      const pkg = projectPackage(dir);
      const name = o.name ?? (pkg.group !== null ? `${pkg.group}/${pkg.name}@${pkg.version ?? '0.1.0'}` : pkg.name);
      io.stdout.write(`Loading package at: ${dir}\nFound SmartModule package: ${pkg.name}\n`);
      if (o.dryRun) {
        const module = await loadModule(wasm, { name, memoryLimit: moduleLimits({}).memoryLimit });
        io.stdout.write(`Dry run mode: ${name} is a valid ${module.kind} module; nothing was registered\n`);
        return;
      }
      const info = await withEddy(await openForWrite(cmd, io), (eddy) =>
        eddy.modules.register(name, wasm, { replace: true }),
      );
      io.stdout.write(`smartmodule "${info.name}" has been loaded (${info.kind}, ${info.size} bytes)\n`);
    });
}
