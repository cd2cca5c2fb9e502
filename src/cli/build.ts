import { existsSync, readFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { CompileError, CompilerMissingError, compileModule } from '../sdk-build/compile.js';
import { type CliContext, type CliIO, processIO, UsageError } from './format.js';

/**
 * `eddy build`: compiles the AssemblyScript SmartModule project in `dir` (made by `eddy generate`
 * or by hand: `assembly/index.ts` importing `@eddy/smartmodule-as`) to an optimized .wasm, checks
 * it has the SmartModule shape, and prints the output path and size.
 */

export interface BuildOptions {
  /** Project directory (default: the current directory). */
  dir: string;
  /** Output .wasm path (default: `asconfig.json`'s outFile, else `build/<project name>.wasm`). */
  out?: string;
}

type BuildIO = Pick<CliIO, 'stdout' | 'stderr'> & { cwd?: string };

interface ProjectConfig {
  entry: string;
  out: string;
}

function readJson(file: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Entry and output of the project in `dir`, from asconfig.json and package.json when present. */
export function projectConfig(dir: string, out?: string): ProjectConfig {
  const asconfig = readJson(join(dir, 'asconfig.json'));
  const pkg = readJson(join(dir, 'package.json'));
  const entries = Array.isArray(asconfig?.['entries']) ? (asconfig!['entries'] as string[]) : [];
  const entry = resolve(dir, entries[0] ?? join('assembly', 'index.ts'));
  const options =
    (asconfig?.['targets'] as Record<string, Record<string, unknown>> | undefined)?.['release'] ??
    (asconfig?.['options'] as Record<string, unknown> | undefined);
  const configured = typeof options?.['outFile'] === 'string' ? (options['outFile'] as string) : undefined;
  const name =
    typeof pkg?.['name'] === 'string' ? (pkg['name'] as string).replace(/^@[^/]+\//, '') : basename(resolve(dir));
  return { entry, out: resolve(dir, out ?? configured ?? join('build', `${name}.wasm`)) };
}

/** Whether `dir` holds an AssemblyScript SmartModule project (as `eddy generate` makes: asconfig.json). */
export function isProject(dir: string): boolean {
  return existsSync(join(dir, 'asconfig.json'));
}

/** The project's name and version from package.json, and the group `eddy generate --project-group` wrote. */
export function projectPackage(dir: string): { name: string; version: string | null; group: string | null } {
  const pkg = readJson(join(dir, 'package.json'));
  const name =
    typeof pkg?.['name'] === 'string' ? (pkg['name'] as string).replace(/^@[^/]+\//, '') : basename(resolve(dir));
  const version = typeof pkg?.['version'] === 'string' ? (pkg['version'] as string) : null;
  const sm = pkg?.['smartmodule'] as Record<string, unknown> | undefined;
  return { name, version, group: typeof sm?.['group'] === 'string' ? (sm['group'] as string) : null };
}

const TRANSFORMS = ['filter', 'map', 'filter_map', 'array_map', 'aggregate'];

/** Problems with the built module's SmartModule shape (spec §1), empty when fine. */
export function shapeProblems(binary: Uint8Array): string[] {
  const mod = new WebAssembly.Module(binary);
  const exports = new Map(WebAssembly.Module.exports(mod).map((e) => [e.name, e.kind]));
  const problems: string[] = [];
  if (exports.get('memory') !== 'memory') problems.push('no `memory` export');
  for (const f of ['alloc', 'dealloc']) {
    if (exports.get(f) !== 'function')
      problems.push(`no \`${f}\` export — add \`export { alloc, dealloc } from "@eddy/smartmodule-as";\``);
  }
  const transforms = TRANSFORMS.filter((t) => exports.get(t) === 'function');
  if (transforms.length === 0) problems.push(`no transform export (one of ${TRANSFORMS.join(', ')})`);
  if (transforms.length > 1)
    problems.push(`several transform exports (${transforms.join(', ')}); Fluvio would use only ${transforms[0]}`);
  const imports = WebAssembly.Module.imports(mod).map((i) => `${i.module}.${i.name}`);
  const extra = imports.filter((i) => i !== 'env.copy_records');
  if (extra.length) problems.push(`unexpected imports: ${extra.join(', ')}`);
  if (!imports.includes('env.copy_records'))
    problems.push("no `env.copy_records` import (use the SDK's run… functions)");
  return problems;
}

export async function buildCommand(opts: BuildOptions, io: BuildIO = processIO()): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  const dir = resolve(cwd, opts.dir || '.');
  const cfg = projectConfig(dir, opts.out === undefined ? undefined : resolve(cwd, opts.out));
  if (!existsSync(cfg.entry)) {
    io.stderr.write(`Error: no SmartModule source at ${cfg.entry} (expected a project made by \`eddy generate\`)\n`);
    return 1;
  }
  let result: Awaited<ReturnType<typeof compileModule>>;
  try {
    result = await compileModule({ entry: cfg.entry, outFile: cfg.out });
  } catch (err) {
    if (err instanceof CompileError) {
      io.stderr.write(`Error: compilation failed\n${err.diagnostics}\n`);
      return 1;
    }
    if (err instanceof CompilerMissingError) {
      io.stderr.write(`Error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (result.diagnostics.trim())
    io.stderr.write(result.diagnostics.endsWith('\n') ? result.diagnostics : `${result.diagnostics}\n`);
  const problems = shapeProblems(result.binary);
  const shown = relative(cwd, cfg.out) || cfg.out;
  if (problems.length) {
    io.stderr.write(`Error: ${shown} is not a SmartModule:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 1;
  }
  io.stdout.write(`${shown} (${result.binary.length} bytes)\n`);
  return 0;
}

/** Adds `eddy build` to the program (for src/cli/main.ts). */
export function registerBuildCommand(program: Command, ctx: CliContext): void {
  program
    .command('build')
    .summary('compile an AssemblyScript SmartModule project to .wasm')
    .description(
      'Compile the AssemblyScript SmartModule project in the current directory (or --dir) to an optimized ' +
        '.wasm and print its path and size, as `smdk build` does for Rust.\n\n' +
        'Examples:\n' +
        '  eddy build\n' +
        '  eddy build --dir my-filter --out my-filter.wasm',
    )
    .option('--dir <path>', 'project directory', '.')
    .option('-o, --out <path>', 'output .wasm (default: build/<name>.wasm)')
    .addOption(
      new Option('-p, --package-name <name>', 'a cargo package (refused: an Eddy project has one module)').hideHelp(),
    )
    .addOption(
      new Option('--release <profile>', 'a cargo profile (refused: eddy build makes one optimized build)').hideHelp(),
    )
    .addOption(new Option('--nowasi', "accepted: Eddy's builds import no WASI functions").hideHelp())
    .action(async (o: { dir: string; out?: string; packageName?: string; release?: string }) => {
      const io = ctx.io();
      if (o.packageName !== undefined || o.release !== undefined) {
        throw new UsageError(
          '-p/--package-name and --release choose a cargo package and profile; an Eddy project has one module and one optimized build: leave them out',
        );
      }
      ctx.done(await buildCommand({ dir: o.dir, ...(o.out ? { out: o.out } : {}) }, io));
    });
}
