import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { appendCustomSection, DEALLOC_ANY_SIZE_SECTION } from '../smartmodule/wasm-binary.js';

/**
 * Compiles AssemblyScript SmartModules written with the `@eddy/smartmodule-as` SDK to optimized
 * `.wasm`, with the assemblyscript programmatic API (one process, many modules). Used by the
 * fixture build, `eddy build` and tests.
 */

/** The package name user code imports the SDK by. */
export const SDK_PACKAGE = '@eddy/smartmodule-as';

/** Root of the Eddy checkout/package (this file is dist/src/sdk-build/compile.js). */
export function eddyRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

/** Directory of the bundled AssemblyScript SDK. */
export function sdkDir(): string {
  return join(eddyRoot(), 'sdk', 'assemblyscript');
}

/** The assemblyscript versions the SDK is written for: Eddy's optional peer dependency. */
export function compilerRange(): string {
  const pkg = JSON.parse(readFileSync(join(eddyRoot(), 'package.json'), 'utf8')) as {
    peerDependencies?: Record<string, string>;
  };
  return pkg.peerDependencies?.['assemblyscript'] ?? 'latest';
}

/** The one-line command that installs the compiler `eddy build` needs. */
export function compilerInstallHint(): string {
  return `npm install --save-dev assemblyscript@${compilerRange()}`;
}

/**
 * The module compiler is an optional peer dependency (with binaryen it weighs about 100 MB, which
 * programs that only run modules should not pay), so it may be absent: building then says how to
 * install it instead of failing on a module resolution error.
 */
export class CompilerMissingError extends Error {
  readonly code = 'EDDY_SDK_NO_COMPILER';
  constructor() {
    super(
      `building SmartModules needs the AssemblyScript compiler, which is not installed; install it with: ${compilerInstallHint()}`,
    );
    this.name = 'CompilerMissingError';
  }
}

/**
 * Directory of the assemblyscript compiler, or undefined when none is installed. Looked up from
 * Eddy's own location (a clone, or an install that added the peer), then from `projectDir` and the
 * current directory (a global or npx eddy building a project that installed its own compiler).
 */
export function findCompilerDir(projectDir?: string): string | undefined {
  const bases = [
    fileURLToPath(import.meta.url),
    ...(projectDir ? [join(resolve(projectDir), 'package.json')] : []),
    join(process.cwd(), 'package.json'),
  ];
  for (const base of bases) {
    try {
      return dirname(createRequire(base).resolve('assemblyscript/package.json'));
    } catch {
      /* not from here */
    }
  }
  return undefined;
}

/** Directory of the assemblyscript compiler Eddy compiles with; throws CompilerMissingError. */
export function compilerDir(projectDir?: string): string {
  const dir = findCompilerDir(projectDir);
  if (dir === undefined) throw new CompilerMissingError();
  return dir;
}

/** Version of the assemblyscript compiler Eddy compiles with; throws CompilerMissingError. */
export function compilerVersion(projectDir?: string): string {
  const pkg = JSON.parse(readFileSync(join(compilerDir(projectDir), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** Compiler flags every SmartModule is built with: see sdk/assemblyscript/README.md. */
export const COMPILE_FLAGS: readonly string[] = [
  '--runtime',
  'incremental', // TLSF heap + GC: memory stays flat across batches (not `stub`)
  '--use',
  'abort=__eddy_abort', // no env.abort import: aborts trap
  '--optimizeLevel',
  '3',
  '--shrinkLevel',
  '0',
  '--noColors',
];

export interface CompileOptions {
  /** Entry file (e.g. `assembly/index.ts`). */
  entry: string;
  /** Where to write the .wasm; omitted: only returned. */
  outFile?: string;
  /** Also write a .wat text file next to it. */
  textFile?: string;
  /** Debug build: no optimization. Default false. */
  debug?: boolean;
  /** Extra raw asc arguments. */
  extraArgs?: string[];
}

export interface CompileResult {
  binary: Uint8Array;
  outFile?: string;
  /** Compiler diagnostics (warnings). */
  diagnostics: string;
  ms: number;
}

export class CompileError extends Error {
  readonly code = 'EDDY_SDK_COMPILE';
  constructor(
    readonly entry: string,
    readonly diagnostics: string,
  ) {
    super(`AssemblyScript compilation of ${entry} failed:\n${diagnostics}`);
    this.name = 'CompileError';
  }
}

type AscMain = (
  argv: string[],
  options: {
    stdout?: { write(chunk: Uint8Array | string): void };
    stderr?: { write(chunk: Uint8Array | string): void };
    readFile?: (filename: string, baseDir: string) => string | null | Promise<string | null>;
    writeFile?: (filename: string, contents: Uint8Array | string, baseDir: string) => void | Promise<void>;
  },
) => Promise<{ error: Error | null; stderr: { toString(): string } }>;

const ascMains = new Map<string, Promise<AscMain>>();
function loadAsc(projectDir: string): Promise<AscMain> {
  const dir = compilerDir(projectDir);
  let main = ascMains.get(dir);
  if (!main) {
    // Imported by file URL, so a compiler found from the project (not from Eddy) is the one used;
    // dynamic, which also keeps tsc from loading assemblyscript's typings (they declare a global
    // `console` namespace that would shadow Node's for the whole build).
    const url = pathToFileURL(join(dir, 'dist', 'asc.js')).href;
    main = (import(url) as Promise<{ main: AscMain; default?: { main: AscMain } }>).then(
      (mod) => mod.main ?? mod.default!.main,
    );
    ascMains.set(dir, main);
  }
  return main;
}

const SDK_MARK = `${sep}node_modules${sep}${SDK_PACKAGE.replace('/', sep)}${sep}`;

/**
 * Reads a source file; a file of the SDK package that is not installed next to the project
 * resolves to the bundled SDK, so examples and fixtures compile without an npm install.
 */
function readSource(filename: string, baseDir: string): string | null {
  const full = resolve(baseDir, filename);
  try {
    return readFileSync(full, 'utf8');
  } catch {
    const at = full.lastIndexOf(SDK_MARK);
    if (at < 0) return null;
    try {
      return readFileSync(join(sdkDir(), full.slice(at + SDK_MARK.length)), 'utf8');
    } catch {
      return null;
    }
  }
}

/** Compiles one module. Throws CompileError with the compiler's diagnostics on failure. */
export async function compileModule(opts: CompileOptions): Promise<CompileResult> {
  const entry = resolve(opts.entry);
  const baseDir = dirname(entry);
  const main = await loadAsc(baseDir);
  const started = performance.now();
  let binary: Uint8Array | null = null;
  let text: string | null = null;
  let stderr = '';
  const args = [
    relative(baseDir, entry) || entry,
    '--outFile',
    'module.wasm',
    ...(opts.textFile ? ['--textFile', 'module.wat'] : []),
    ...COMPILE_FLAGS,
    ...(opts.debug ? ['--debug', '--optimizeLevel', '0'] : []),
    ...(opts.extraArgs ?? []),
    '--baseDir',
    baseDir,
  ];
  const res = await main(args, {
    stdout: {
      write() {
        /* nothing */
      },
    },
    stderr: {
      write(chunk) {
        stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      },
    },
    readFile: readSource,
    writeFile(name, contents) {
      if (name.endsWith('.wasm')) binary = typeof contents === 'string' ? Buffer.from(contents) : contents;
      else if (name.endsWith('.wat'))
        text = typeof contents === 'string' ? contents : Buffer.from(contents).toString('utf8');
    },
  });
  if (res.error || !binary) throw new CompileError(opts.entry, stderr || String(res.error));
  // The SDK's dealloc (AssemblyScript's heap) frees a block whatever length it is told: say so, so
  // that hosts may free output buffers.
  const bin: Uint8Array = appendCustomSection(binary, DEALLOC_ANY_SIZE_SECTION);
  if (opts.outFile) {
    await mkdir(dirname(resolve(opts.outFile)), { recursive: true });
    await writeFile(opts.outFile, bin);
  }
  if (opts.textFile && text !== null) await writeFile(opts.textFile, text);
  return {
    binary: bin,
    ...(opts.outFile ? { outFile: resolve(opts.outFile) } : {}),
    diagnostics: stderr,
    ms: performance.now() - started,
  };
}

/** All `.ts` files under `dir` (recursively, skipping node_modules and dot folders), sorted. */
export function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      if (name.startsWith('.') || name === 'node_modules' || name === 'build') continue;
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (name.endsWith('.ts')) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/**
 * Hash of everything a module's binary depends on: its sources, the SDK sources, the compiler
 * version and the flags. Synchronous so that test helpers can check a cache cheaply.
 */
export function buildHash(sources: readonly string[]): string {
  const h = createHash('sha256');
  h.update(`asc ${compilerVersion()}\n${COMPILE_FLAGS.join(' ')}\n${DEALLOC_ANY_SIZE_SECTION}\n`);
  const sdk = sdkDir();
  for (const f of sourceFiles(join(sdk, 'assembly')).concat(join(sdk, 'index.ts'))) {
    h.update(relative(sdk, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  for (const f of sources) h.update(f).update('\0').update(readFileSync(f)).update('\0');
  return h.digest('hex');
}

/** Compiles `entry` to `outFile` unless `outFile.hash` records the same build hash. */
export async function compileCached(
  entry: string,
  outFile: string,
  sources: readonly string[],
): Promise<{ built: boolean; ms: number }> {
  const hash = buildHash(sources);
  const stamp = `${outFile}.hash`;
  if (existsSync(outFile) && existsSync(stamp) && (await readFile(stamp, 'utf8')) === hash)
    return { built: false, ms: 0 };
  const r = await compileModule({ entry });
  // Atomic replace: other processes (parallel test runs) may be reading or building the same file.
  await mkdir(dirname(outFile), { recursive: true });
  const tmp = `${outFile}.${process.pid}.tmp`;
  await writeFile(tmp, r.binary);
  await rename(tmp, outFile);
  await writeFile(`${stamp}.${process.pid}.tmp`, hash);
  await rename(`${stamp}.${process.pid}.tmp`, stamp);
  return { built: true, ms: r.ms };
}
