import { dirname, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { parseTransformSteps, readTransformsFile, type TransformStep } from '../smartmodule/transforms.js';
import { type CliIO, UsageError } from './format.js';

/**
 * The SmartModule options `consume`, `produce`, `derive create` and `test` share: one module from a
 * flag (`--filter`, `--smartmodule`, `--wasm-file`, with `-e` parameters), or a chain from
 * `--transforms-file` or `--transform` (one JSON step each). Checked and read the same way by all.
 */

/** The options as commander hands them over. */
export interface ChainCliOptions {
  transformsFile?: string;
  transform?: string[];
  params?: string[];
}

/** The one-module flags of the commands that run a chain over records (`consume`, `transform`). */
export interface ModuleFlagOptions extends ChainCliOptions {
  filter?: string;
  map?: string;
  filterMap?: string;
  arrayMap?: string;
  aggregate?: string;
  smartmodule?: string;
  aggregateInitial?: string;
}

/** Where a command line's steps come from. */
export type ChainSource =
  | { kind: 'module'; flag: string; uses: string; params: Record<string, string> }
  | { kind: 'transforms-file'; path: string }
  | { kind: 'inline'; steps: string[] };

export interface ChainRules {
  /** The module flags given (`--filter` and its value); several are refused. */
  modules: readonly { flag: string; uses: string }[];
  /** The module flags `-e` goes with, for its error (`--filter, --map, --smartmodule, ...`). */
  paramsFor: string;
  /** Said when neither a module nor a chain is given; absent: none is fine. */
  required?: string;
}

/** `-e key=value` list → params: split at the first `=`, a later key wins. */
export function parseParams(list: readonly string[]): Record<string, string> {
  const params: Record<string, string> = Object.create(null);
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq < 0) {
      throw new UsageError(
        `-e/--params expects KEY=VALUE, got ${JSON.stringify(item)}: write it as ${JSON.stringify(`${item}=value`)}`,
      );
    }
    params[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return params;
}

/** Checks that the chain is given one way; null when none is given (and none is required). */
export function planChain(o: ChainCliOptions, rules: ChainRules): ChainSource | null {
  const { modules } = rules;
  if (modules.length > 1) {
    throw new UsageError(
      `${modules.map((m) => m.flag).join(' and ')} cannot be used together: give one module, or chain several with --transforms-file`,
    );
  }
  const inline = o.transform ?? [];
  if (o.transformsFile !== undefined && inline.length > 0) {
    throw new UsageError('--transforms-file and --transform cannot be used together: give the chain one way');
  }
  const chainFlag = o.transformsFile !== undefined ? '--transforms-file' : inline.length > 0 ? '--transform' : null;
  const module = modules[0];
  if (chainFlag && module) {
    throw new UsageError(
      `${chainFlag} and ${module.flag} cannot be used together: add the module to the chain as a step (\`uses: ${module.uses}\`) instead`,
    );
  }
  if (!chainFlag && !module && rules.required) throw new UsageError(rules.required);
  const params = o.params ?? [];
  if (params.length > 0 && !module) {
    throw new UsageError(
      chainFlag
        ? "-e/--params cannot be used with transforms: put each module's parameters in its step's `with:`"
        : `-e/--params needs a module to pass them to (${rules.paramsFor})`,
    );
  }
  if (module) return { kind: 'module', flag: module.flag, uses: module.uses, params: parseParams(params) };
  if (o.transformsFile !== undefined) return { kind: 'transforms-file', path: o.transformsFile };
  return inline.length > 0 ? { kind: 'inline', steps: inline } : null;
}

/**
 * The steps as written, the directory their relative `uses` paths start from (the transforms
 * file's, else the working directory) and how errors name them (the file as given, `--transform`,
 * or the module's flag; see stepName).
 */
export async function readChain(
  chain: ChainSource | null,
  io: CliIO,
): Promise<{ steps: TransformStep[]; baseDir: string; source: string }> {
  if (chain === null) return { steps: [], baseDir: io.cwd, source: '' };
  if (chain.kind === 'module')
    return { steps: [{ uses: chain.uses, with: chain.params }], baseDir: io.cwd, source: chain.flag };
  if (chain.kind === 'inline')
    return { steps: parseTransformSteps(chain.steps), baseDir: io.cwd, source: '--transform' };
  const file = resolve(io.cwd, chain.path);
  return { steps: await readTransformsFile(file, chain.path), baseDir: dirname(file), source: chain.path };
}

/**
 * Adds `--transform <json>` and its alias `--transforms-line` to a command; the returned function
 * gives their values in command-line order (commander keeps an alias's values apart).
 */
export function inlineStepOptions(cmd: Command, help: string): () => string[] {
  let inline: string[] = [];
  const push = (value: string): string[] => (inline = [...inline, value]);
  cmd
    .addOption(new Option('--transform <json>', help).argParser(push))
    .addOption(new Option('--transforms-line <json>', 'alias of --transform').hideHelp().argParser(push));
  return () => inline;
}

/**
 * `--no-fan-out`: keep each partition's chain on one worker. By default a stateless chain (no
 * aggregate, no look-back) spreads a partition's batches over every worker, results in order.
 * `openForRead`/`openForWrite` pass it on as the API's `fanOut: false`.
 */
export const fanOutOption = (): Option =>
  new Option(
    '--no-fan-out',
    "run each partition's chain on one worker (default: a chain with no aggregate and no look-back spreads its batches over every worker, output in order)",
  );
