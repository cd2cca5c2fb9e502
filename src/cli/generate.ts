import { existsSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { compilerRange, compilerVersion, eddyRoot, findCompilerDir, SDK_PACKAGE } from '../sdk-build/compile.js';
import { type CliContext, type CliIO, processIO, UsageError } from './format.js';

/**
 * `eddy generate`: scaffolds an AssemblyScript SmartModule project, as `smdk generate` does for
 * Rust: package.json, asconfig.json, assembly/index.ts for the chosen kind (optionally with `init`
 * parameters and `look_back`), a README and an `npm test` that builds and runs it with `eddy test`.
 * The project depends on eddy (which carries the SDK) and the compiler by version, or on eddy by a
 * tarball copied into the project, so it can be copied or cloned and built anywhere; until its
 * `npm install`, node_modules links to this installation so that `npx eddy build` works at once.
 */

export type GenerateKind = 'filter' | 'map' | 'filter-map' | 'array-map' | 'aggregate';
export const GENERATE_KINDS: readonly GenerateKind[] = ['filter', 'map', 'filter-map', 'array-map', 'aggregate'];

export interface GenerateOptions {
  kind: GenerateKind;
  /** Add `init` reading the required parameter `key`. */
  params: boolean;
  /** Add `look_back`. */
  lookback: boolean;
  /** Records are JSON, read with the SDK's on-demand reader (`r.value.json()`). */
  json?: boolean;
  /** Parent directory of the new project (default: the current directory). */
  dir?: string;
  /** smdk's `--destination`: the project directory itself (overrides `dir`/name as the folder). */
  destination?: string;
  /** smdk's `--project-group`: the group `eddy load` registers the module under (group/name@version). */
  group?: string;
  /**
   * How the project depends on eddy: a version range (default `^` this version), or the path of a
   * packed eddy tarball, which is copied into the project's `vendor/` so that the project travels.
   */
  eddy?: string;
}

type GenerateIO = Pick<CliIO, 'stdout' | 'stderr'> & { cwd?: string };

const EXPORT_NAME: Record<GenerateKind, string> = {
  filter: 'filter',
  map: 'map',
  'filter-map': 'filter_map',
  'array-map': 'array_map',
  aggregate: 'aggregate',
};
const RUNNER: Record<GenerateKind, string> = {
  filter: 'runFilter',
  map: 'runMap',
  'filter-map': 'runFilterMap',
  'array-map': 'runArrayMap',
  aggregate: 'runAggregate',
};

/** What the generated module does, for the README and the source header. */
function behaviour(o: GenerateOptions): string {
  const p = o.params;
  if (o.json) return jsonBehaviour(o);
  switch (o.kind) {
    case 'filter':
      return p
        ? 'keeps the records whose value contains the parameter `key`'
        : 'keeps the records whose value contains "a"';
    case 'map':
      return p
        ? "upper-cases every value and sets every record's key to the parameter `key`"
        : 'upper-cases every value (keys kept)';
    case 'filter-map':
      return p
        ? 'keeps the records whose value contains the parameter `key`, upper-cased'
        : 'keeps the records whose value contains "a", upper-cased';
    case 'array-map':
      return p
        ? 'splits every value on the parameter `key` into one record per part'
        : 'splits every value on spaces into one record per word';
    case 'aggregate':
      return p ? 'concatenates the values, separated by the parameter `key`' : 'concatenates the values';
  }
}

function jsonBehaviour(o: GenerateOptions): string {
  const p = o.params;
  switch (o.kind) {
    case 'filter':
      return p
        ? 'keeps the JSON records whose "level" is the parameter `key`'
        : 'keeps the JSON records whose "level" is "error"';
    case 'map':
      return `projects JSON records to their "level" and "message"${p ? " and sets every record's key to the parameter `key`" : ''}`;
    case 'filter-map':
      return `keeps the JSON records whose "level" is ${p ? 'the parameter `key`' : '"error"'}, projected to their "message"`;
    case 'array-map':
      return p
        ? 'splits the JSON array in the member named by the parameter `key` into one record per element'
        : 'splits every JSON array into one record per element';
    case 'aggregate':
      return `keeps the running total of the JSON records' ${p ? 'member named by the parameter `key`' : '"amount"'}`;
  }
}

/** The transform of a JSON project: read on demand with `r.value.json()`, written with `jsonWriter()`. */
function jsonTransformSource(o: GenerateOptions, head: string): string {
  const skipSeen = o.lookback
    ? '    if (r.value.equals(last)) return false; // already seen in the look-back history\n'
    : '';
  const notJson = '// not JSON: the batch ends with a runtime error naming the byte offset';
  switch (o.kind) {
    case 'filter':
      return `${head}(r: Record): bool => {
${skipSeen}    return r.value.json().get("level").equals(key); ${notJson}
  });
}
`;
    case 'map':
      return `${head}(r: Record, out: Out): void => {
    let log = r.value.json(); ${notJson}
    let level = log.get("level"), message = log.get("message");
    if (!level.isString || !message.isString) { fail("expected string members \`level\` and \`message\`"); return; }
    // stringOf copies the string from the input (escapes re-written as serde_json writes them)
    out.value(jsonWriter().beginObject().key("level").stringOf(level).key("message").stringOf(message).endObject());
${o.params ? '    out.key(key);\n' : ''}  });
}
`;
    case 'filter-map':
      return `${head}(r: Record, out: Out): bool => {
${skipSeen}    let log = r.value.json(); ${notJson}
    if (!log.get("level").equals(key)) return false;
    let message = log.get("message");
    if (!message.isString) return fail("expected a string member \`message\`");
    out.value(jsonWriter().beginObject().key("message").stringOf(message).endObject());
    return true;
  });
}
`;
    case 'array-map':
      return `${head}(r: Record, out: ArrayOut): void => {
    let array = r.value.json()${o.params ? '.get(key)' : ''}; ${notJson}
    if (!array.isArray) { fail("expected an array"); return; }
    let it = array.items(); // walks the array in place, element by element
    while (it.next()) out.push(jsonWriter().rawOf(it.value)); // each element's text as it is
  });
}
`;
    case 'aggregate':
      return `${head}(acc: Bytes, r: Record, out: Out): void => {
    let total = acc.isEmpty ? 0.0 : acc.json().f64(); // the accumulator is the total so far
    let amount = r.value.json().get(${o.params ? 'key' : '"amount"'}); ${notJson}
    if (!amount.isNumber) { fail("expected a number member"); return; }
    out.value(jsonWriter().f64(total + amount.f64())); // written as serde_json writes an f64
  });
}
`;
  }
}

function transformSource(o: GenerateOptions): string {
  const fn = EXPORT_NAME[o.kind];
  const run = RUNNER[o.kind];
  const head = `export function ${fn}(ptr: i32, len: i32, version: i32): i32 {\n  return ${run}(ptr, len, version, `;
  if (o.json) return jsonTransformSource(o, head);
  switch (o.kind) {
    case 'filter':
      return `${head}(r: Record): bool => {
    if (!r.value.requireUtf8()) return false; // invalid UTF-8: a runtime error, like from_utf8(..)?
${o.lookback ? '    if (r.value.equals(last)) return false; // already seen in the look-back history\n' : ''}    return r.value.includes(key);
  });
}
`;
    case 'map':
      return `${head}(r: Record, out: Out): void => {
    out.value(r.valueString().toUpperCase()); // valueString(): invalid UTF-8 is a runtime error
${o.params ? '    out.key(key);\n' : ''}  });
}
`;
    case 'filter-map':
      return `${head}(r: Record, out: Out): bool => {
    if (!r.value.requireUtf8() || !r.value.includes(key)) return false;
${o.lookback ? '    if (r.value.equals(last)) return false; // already seen in the look-back history\n' : ''}    out.value(r.valueString().toUpperCase());
    return true;
  });
}
`;
    case 'array-map':
      return `${head}(r: Record, out: ArrayOut): void => {
    let parts = r.valueString().split(${o.params ? 'key' : '" "'});
    for (let i = 0; i < parts.length; i++) {
      if (parts[i].length > 0) out.push(parts[i]); // new records: no key, deltas 0
    }
  });
}
`;
    case 'aggregate':
      return `${head}(acc: Bytes, r: Record, out: Out): void => {
    let sofar = acc.toString();
    let next = r.valueString();
    out.value(sofar.length > 0 ? sofar${o.params ? ' + key' : ''} + next : next); // the new accumulator
  });
}
`;
  }
}

export function moduleSource(name: string, o: GenerateOptions): string {
  const imports = new Set<string>([RUNNER[o.kind], 'Record']);
  if (o.kind === 'map' || o.kind === 'filter-map' || o.kind === 'aggregate') imports.add('Out');
  if (o.kind === 'array-map') imports.add('ArrayOut');
  if (o.kind === 'aggregate') imports.add('Bytes');
  if (o.params) {
    imports.add('Params');
    imports.add('runInit');
  }
  if (o.lookback) imports.add('runLookBack');
  if (o.json && o.kind !== 'filter') {
    imports.add('jsonWriter');
    imports.add('fail');
  }
  const usesKey = o.kind === 'filter' || o.kind === 'filter-map' || o.params;
  const lines: string[] = [];
  lines.push(`// ${name}: a SmartModule ${o.kind} that ${behaviour(o)}.`);
  lines.push('// Build with `npx eddy build`; try it with `npm test` (see README.md).');
  lines.push(`import { ${[...imports].sort().join(', ')} } from "${SDK_PACKAGE}";`);
  lines.push(`export { alloc, dealloc } from "${SDK_PACKAGE}";`);
  lines.push('');
  if (usesKey)
    lines.push(
      o.params ? 'let key = ""; // set by init from the parameter `key`' : `let key = "${o.json ? 'error' : 'a'}";`,
    );
  if (o.lookback) lines.push('let last = ""; // the newest look-back record\'s value');
  if (usesKey || o.lookback) lines.push('');
  if (o.params) {
    lines.push('// Runs once with the parameters (`eddy test -e key=value`, or `with:` in transforms.yaml).');
    lines.push('export function init(ptr: i32, len: i32, version: i32): i32 {');
    lines.push('  return runInit(ptr, len, version, (params: Params): void => {');
    lines.push('    key = params.require("key"); // missing: init fails with "Missing param key"');
    lines.push('  });');
    lines.push('}');
    lines.push('');
  }
  if (o.lookback) {
    lines.push('// Runs once before the first batch with the history records (`eddy test -l N -r value ...`).');
    lines.push('export function look_back(ptr: i32, len: i32, version: i32): i32 {');
    lines.push('  return runLookBack(ptr, len, version, (r: Record): void => {');
    lines.push('    last = r.valueString();');
    lines.push('  });');
    lines.push('}');
    lines.push('');
  }
  lines.push(transformSource(o).trimEnd());
  return `${lines.join('\n')}\n`;
}

interface Sample {
  args: string[];
  prints: string[];
}

function jsonSample(args: string[], o: GenerateOptions): Sample {
  const log = '{"level":"error","message":"disk full","host":"db1"}';
  let prints: string[];
  switch (o.kind) {
    case 'filter':
      args.push('--text', log);
      prints = [log];
      break;
    case 'map':
      args.push('--text', log);
      prints = ['{"level":"error","message":"disk full"}'];
      break;
    case 'filter-map':
      args.push('--text', log);
      prints = ['{"message":"disk full"}'];
      break;
    case 'array-map':
      args.push('--text', o.params ? '{"items":[1,"two",{"n":3}]}' : '[1,"two",{"n":3}]');
      prints = ['1', '"two"', '{"n":3}'];
      break;
    case 'aggregate':
      args.push('--text', '{"amount":2.5}');
      prints = ['2.5'];
      break;
  }
  if (o.params)
    args.push(
      '-e',
      `key=${o.kind === 'array-map' ? 'items' : o.kind === 'map' ? 'fruit' : o.kind === 'aggregate' ? 'amount' : 'error'}`,
    );
  if (o.lookback) args.push('-l', '1', '-r', 'kiwi');
  return { args, prints };
}

function sample(name: string, o: GenerateOptions): Sample {
  const args = ['--wasm-file', `build/${name}.wasm`];
  if (o.json) return jsonSample(args, o);
  let prints: string[];
  switch (o.kind) {
    case 'filter':
      args.push('--text', 'apple');
      prints = ['apple'];
      break;
    case 'map':
      args.push('--text', 'apple');
      prints = ['APPLE'];
      break;
    case 'filter-map':
      args.push('--text', 'apple');
      prints = ['APPLE'];
      break;
    case 'array-map':
      args.push('--text', o.params ? 'apple,banana' : 'apple banana');
      prints = ['apple', 'banana'];
      break;
    case 'aggregate':
      args.push('--text', 'apple');
      prints = ['apple'];
      break;
  }
  if (o.params)
    args.push(
      '-e',
      `key=${o.kind === 'array-map' ? ',' : o.kind === 'map' ? 'fruit' : o.kind === 'aggregate' ? '+' : 'a'}`,
    );
  if (o.lookback) args.push('-l', '1', '-r', 'kiwi');
  return { args, prints };
}

const shellQuote = (s: string): string => (/^[\w./=,+:-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

function readme(name: string, o: GenerateOptions, s: Sample): string {
  const cmd = `npx eddy test ${s.args.map(shellQuote).join(' ')}`;
  return `# ${name}

A Fluvio SmartModule **${o.kind}** written in AssemblyScript with \`${SDK_PACKAGE}\`: it
${behaviour(o)}.${o.params ? '\n\nIt needs the parameter `key` (`-e key=...`); without it `init` fails with "Missing param key".' : ''}${o.lookback ? '\n\n`look_back` remembers the newest history record (`-l N -r value ...`); records equal to it are skipped.' : ''}

The .wasm runs in Eddy and in Fluvio (\`smdk test --wasm-file\`, \`fluvio sm create --wasm-file\`).

## Build

\`\`\`sh
npm install               # eddy (it carries the SDK) and the AssemblyScript compiler
npx eddy build            # → build/${name}.wasm
\`\`\`

## Try it

\`\`\`sh
${cmd}
\`\`\`

prints

\`\`\`
${s.prints.join('\n')}
\`\`\`

\`npm test\` builds and runs exactly that.

## Write your own

Edit \`assembly/index.ts\`. The SDK's README (\`node_modules/eddy/sdk/assemblyscript/README.md\`) lists the
record API (\`r.value\`, \`r.key\`, \`r.offset\`, \`r.timestamp\`, \`valueString()\`), how to report a
user error (\`fail("...")\`), parameters and look-back. For JSON values, read only what you need:
\`r.value.json().get("level").equals("warn")\` (see the SDK README's JSON section).
`;
}

/**
 * The assembly tsconfig: AssemblyScript's own (its standard library's types) plus the SDK's import
 * name mapped to the copy inside eddy, so that editors resolve both from the project's node_modules.
 */
const ASSEMBLY_TSCONFIG = {
  extends: '../node_modules/assemblyscript/std/assembly.json',
  compilerOptions: {
    paths: {
      [SDK_PACKAGE]: ['../node_modules/eddy/sdk/assemblyscript/index.ts'],
      '*': ['../node_modules/assemblyscript/std/assembly/*'],
    },
  },
  include: ['./**/*.ts'],
};

/** package.json's spec for eddy; a tarball is copied into `<dir>/vendor/`. */
async function eddyDependency(dir: string, spec: string | undefined, cwd: string): Promise<string> {
  if (spec === undefined) {
    const pkg = JSON.parse(readFileSync(join(eddyRoot(), 'package.json'), 'utf8')) as { version: string };
    return `^${pkg.version}`;
  }
  if (!/\.tgz$/.test(spec)) return spec;
  const from = resolve(cwd, spec);
  if (!existsSync(from)) throw new Error(`--eddy ${spec}: no such tarball`);
  await mkdir(join(dir, 'vendor'), { recursive: true });
  await copyFile(from, join(dir, 'vendor', basename(from)));
  return `file:vendor/${basename(from)}`;
}

function linkIfMissing(target: string, link: string): void {
  if (existsSync(link)) return;
  symlinkSync(relative(dirname(link), target), link);
}

export async function generateCommand(
  name: string,
  opts: GenerateOptions,
  io: GenerateIO = processIO(),
): Promise<number> {
  if (!/^[a-z0-9][a-z0-9_-]*$/i.test(name)) {
    io.stderr.write(`Error: invalid project name "${name}": use letters, digits, - and _\n`);
    return 1;
  }
  if (!GENERATE_KINDS.includes(opts.kind)) {
    io.stderr.write(`Error: unknown kind "${String(opts.kind)}"; one of ${GENERATE_KINDS.join(', ')}\n`);
    return 1;
  }
  if (opts.group !== undefined && !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(opts.group)) {
    io.stderr.write(
      `Error: invalid project group "${opts.group}": use lowercase letters, digits and '-', as Hub groups\n`,
    );
    return 1;
  }
  const cwd = io.cwd ?? process.cwd();
  const dir = opts.destination !== undefined ? resolve(cwd, opts.destination) : resolve(cwd, opts.dir ?? '.', name);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    io.stderr.write(`Error: ${dir} already exists and is not empty\n`);
    return 1;
  }
  const root = eddyRoot();
  const s = sample(name, opts);
  let eddyDep: string;
  try {
    eddyDep = await eddyDependency(dir, opts.eddy, cwd);
  } catch (err) {
    io.stderr.write(`Error: ${(err as Error).message}\n`);
    return 1;
  }
  const compiler = findCompilerDir(cwd);
  const pkg = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    description: `SmartModule ${opts.kind}: ${behaviour(opts)}`,
    // `eddy load` registers the build as group/name@version, as smdk load names it.
    ...(opts.group !== undefined ? { smartmodule: { group: opts.group } } : {}),
    scripts: {
      build: 'eddy build',
      test: `eddy build && eddy test ${s.args.map(shellQuote).join(' ')}`,
    },
    // Eddy carries the SDK (sdk/assemblyscript), so it and the compiler are all the project needs.
    devDependencies: {
      eddy: eddyDep,
      assemblyscript: compiler ? compilerVersion(cwd) : compilerRange(),
    },
  };
  const asconfig = {
    entries: ['assembly/index.ts'],
    options: {
      outFile: `build/${name}.wasm`,
      runtime: 'incremental',
      use: ['abort=__eddy_abort'],
      optimizeLevel: 3,
      shrinkLevel: 0,
    },
  };
  await mkdir(join(dir, 'assembly'), { recursive: true });
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  await writeFile(join(dir, 'asconfig.json'), `${JSON.stringify(asconfig, null, 2)}\n`);
  await writeFile(join(dir, 'assembly', 'index.ts'), moduleSource(name, opts));
  await writeFile(join(dir, 'assembly', 'tsconfig.json'), `${JSON.stringify(ASSEMBLY_TSCONFIG, null, 2)}\n`);
  await writeFile(join(dir, 'README.md'), readme(name, opts, s));
  await writeFile(join(dir, '.gitignore'), 'node_modules/\nbuild/\n');
  // What `npm install` would make, so that the project builds at once; `npm install` replaces these
  // links with the dependencies package.json names (nothing in package.json points at them).
  await mkdir(join(dir, 'node_modules', '.bin'), { recursive: true });
  linkIfMissing(root, join(dir, 'node_modules', 'eddy'));
  if (compiler) linkIfMissing(compiler, join(dir, 'node_modules', 'assemblyscript'));
  linkIfMissing(join(root, 'bin', 'eddy.js'), join(dir, 'node_modules', '.bin', 'eddy'));
  const shown = relative(cwd, dir) || '.';
  io.stdout.write(
    `Generated SmartModule ${opts.kind}${opts.json ? ' for JSON records' : ''}${opts.params ? ' with init parameters' : ''}${opts.lookback ? ' with look_back' : ''} in ${shown}\n\n` +
      `  cd ${shown}\n${compiler ? '' : '  npm install             # the AssemblyScript compiler is not installed yet\n'}  npx eddy build\n  npx eddy test ${s.args.map(shellQuote).join(' ')}\n`,
  );
  return 0;
}

/** Adds `eddy generate` to the program (for src/cli/main.ts). */
export function registerGenerateCommand(program: Command, ctx: CliContext): void {
  program
    .command('generate')
    .summary('scaffold an AssemblyScript SmartModule project')
    .description(
      'Create a new SmartModule project in AssemblyScript (like `smdk generate`): source for the chosen kind, ' +
        'build config, README and an npm test that runs it with `eddy test`.\n\n' +
        'Examples:\n' +
        '  eddy generate my-filter --kind filter\n' +
        '  eddy generate my-map --sm-type map --with-params --project-group acme\n' +
        '  eddy generate --destination ./modules/my-agg --sm-type aggregate --no-params\n' +
        '  eddy generate my-json-filter --kind filter --json',
    )
    .argument('[name]', 'project (folder) name; default: the last part of --destination')
    .option('--kind <kind>', `one of ${GENERATE_KINDS.join(', ')}`)
    .option('--sm-type <type>', "smdk's name for --kind")
    .option('--params', 'add init with a required parameter `key`', false)
    .option('--with-params', "smdk's name for --params")
    .option('--no-params', 'no init parameters (the default)')
    .option('--lookback', 'add look_back', false)
    .option('--json', "records are JSON: read them with the SDK's on-demand reader", false)
    .option('--dir <path>', 'where to create the project folder', '.')
    .option(
      '--eddy <spec>',
      'how the project depends on eddy: a version range, or a packed eddy .tgz (copied into the project)',
    )
    .option('--destination <path>', 'the project directory itself, as smdk (default: <dir>/<name>)')
    .option('--project-group <group>', 'the group eddy load registers the module under, as group/name@version')
    .option('--silent', 'accepted, as smdk: eddy generate never prompts')
    .action(
      async (
        given: string | undefined,
        o: {
          kind?: string;
          smType?: string;
          params: boolean;
          withParams?: boolean;
          lookback: boolean;
          json: boolean;
          dir: string;
          destination?: string;
          projectGroup?: string;
          eddy?: string;
        },
        cmd: Command,
      ) => {
        const io = ctx.io();
        if (o.kind !== undefined && o.smType !== undefined && o.kind !== o.smType)
          throw new UsageError('--kind and --sm-type are the same option; give it once');
        if (o.withParams && !o.params && cmd.getOptionValueSource('params') === 'cli')
          throw new UsageError('--with-params and --no-params cannot be used together');
        const name = given ?? (o.destination !== undefined ? basename(resolve(io.cwd, o.destination)) : undefined);
        if (name === undefined) throw new UsageError("give the project's name, or --destination <path>");
        const kind = (o.smType ?? o.kind ?? 'filter') as GenerateKind;
        ctx.done(
          await generateCommand(
            name,
            {
              kind,
              params: o.params || !!o.withParams,
              lookback: o.lookback,
              json: o.json,
              dir: o.dir,
              ...(o.destination !== undefined ? { destination: o.destination } : {}),
              ...(o.projectGroup !== undefined ? { group: o.projectGroup } : {}),
              ...(o.eddy ? { eddy: o.eddy } : {}),
            },
            io,
          ),
        );
      },
    );
}
