import type { Document, LineCounter, Node, Scalar } from 'yaml';
import { EddyError } from '../errors.js';
import { MAX_CONFIG_BYTES, readUserFile, UserFileError } from '../user-file.js';
import { parseUserYaml, UserYamlProblem } from '../user-yaml.js';
import { isAlias, isMap, isScalar, isSeq, newLineCounter } from '../yaml-lib.js';
import { DurationError, parseDuration } from './duration.js';

/**
 * transforms.yaml (spec §7): a chain of SmartModule steps, each with its `with` parameters and an
 * optional look-back. The same steps can be given inline as JSON, one step per string
 * (`--transform '{"uses":"m.wasm","with":{"k":"v"}}'`).
 *
 * Parameter values become the strings `init` receives: a YAML string as-is; a sequence or a
 * mapping as compact JSON with object keys sorted byte-wise at every level and numbers in the
 * form they were written (`1.0` stays `1.0`). A bare number, boolean or null at the top of a
 * `with` entry is an error (quote it). YAML 1.2 core schema: only `true`/`false` are booleans.
 */

/**
 * One step of a transform chain, in transforms.yaml's shape (Fluvio's `TransformationStep`). The
 * API, `--transform`, transforms files and connector configs all give steps this way; `uses` is
 * resolved in one place (`resolveUses`), and `stepConfig` is the one conversion to what the engine
 * runs.
 */
export interface TransformStep {
  /**
   * The module: a registered SmartModule name (`my-filter`, or a Hub package name
   * `group/name@version`), else a `.wasm` path, relative to the file that names the step (or to
   * the working directory / `baseDir` for the API and the command line); `.wasm` may be left off.
   */
  uses: string;
  /** Parameter name → value, passed to the module's `init` (transforms.yaml's `with:`). */
  with?: Record<string, string>;
  /** transforms.yaml's `lookback:` (`age` in ms); absent or null: no look-back. */
  lookback?: { last?: number; ageMs?: number } | null;
  /** The module's wasm bytes, when the caller read them itself: `uses` then only names it (nothing is looked up). */
  wasm?: Uint8Array;
  /** @deprecated the earlier name of `with`; derived streams saved by earlier versions carry it. */
  params?: Record<string, string>;
}

/** A step as parsed from YAML or JSON: `with` always there (null prototype: any key is safe), `lookback` null when absent. */
export type ParsedStep = TransformStep & {
  with: Record<string, string>;
  lookback: { last: number; ageMs?: number } | null;
};

/** What the engine takes of a step besides its module (Fluvio: `SmartModuleConfig`). */
export interface StepConfig {
  params: Record<string, string>;
  lookback: { last: number; ageMs?: number } | null;
}

/** The one conversion of a step into the engine's parameters and look-back. */
export function stepConfig(step: TransformStep): StepConfig {
  const lb = step.lookback;
  return {
    params: { ...(step.params ?? {}), ...(step.with ?? {}) },
    lookback: lb ? { last: lb.last ?? 0, ...(lb.ageMs != null ? { ageMs: lb.ageMs } : {}) } : null,
  };
}

/**
 * A transforms file or inline step that cannot be used. `source` names the file (or
 * `--transform`), `step` the 0-based step index and `field` the dotted field path, when known.
 */
export class TransformsConfigError extends EddyError {
  constructor(
    readonly source: string,
    readonly step: number | null,
    readonly field: string | null,
    readonly problem: string,
    readonly line?: number,
    options?: { cause?: unknown },
  ) {
    const at = line !== undefined && line > 0 ? `:${line}` : '';
    const where = step === null ? (field ?? '') : `transforms[${step}]${field ? `.${field}` : ''}`;
    super('EDDY_TRANSFORMS', `${source}${at}: ${where ? `${where}: ` : ''}${problem}`, options);
  }
}

/** Parses the text of a transforms.yaml. `source` names it in errors (usually the file path). */
export function parseTransformsYaml(text: string, source = 'transforms.yaml'): ParsedStep[] {
  const lineCounter = newLineCounter();
  const doc = parseYaml(text, source, lineCounter);
  const ctx = new Ctx(doc, source, lineCounter, null);
  const root = ctx.deref(doc.contents as Node | null);
  if (root === null || (isScalar(root) && root.value === null)) {
    throw ctx.error(
      null,
      null,
      'the file is empty; it needs a `transforms:` list of steps, e.g.\ntransforms:\n  - uses: my-module.wasm',
    );
  }
  if (!isMap(root))
    throw ctx.error(
      null,
      null,
      `the top level must be a mapping with a \`transforms:\` list, not ${describe(root)}`,
      root,
    );
  const list = ctx.deref(mapGet(ctx, root, 'transforms'));
  if (list === undefined) {
    throw ctx.error(
      null,
      null,
      'the required `transforms:` list is missing, e.g.\ntransforms:\n  - uses: my-module.wasm',
      root,
    );
  }
  if (list === null || !isSeq(list)) {
    throw ctx.error(
      null,
      'transforms',
      `must be a list of steps (\`- uses: ...\`), not ${describe(list)}`,
      list ?? root,
    );
  }
  return list.items.map((item, i) => parseStep(ctx, ctx.deref(item as Node), i));
}

/**
 * Parses inline steps, one JSON object per string (`--transform`, alias `--transforms-line`).
 * Errors name the step as `--transform[i]`.
 */
export function parseTransformSteps(jsonSteps: readonly string[], source = '--transform'): ParsedStep[] {
  return jsonSteps.map((text, i) => parseTransformStep(text, i, source));
}

/** Parses one inline JSON step; `index` is its position in the chain. */
export function parseTransformStep(text: string, index = 0, source = '--transform'): ParsedStep {
  const label = `${source}[${index}]`;
  try {
    JSON.parse(text);
  } catch (err) {
    throw new TransformsConfigError(
      label,
      null,
      null,
      `not valid JSON (${(err as Error).message}); give one step as a JSON object, e.g. '{"uses":"my-module.wasm","with":{"key":"value"}}'`,
    );
  }
  // JSON is YAML 1.2: parse it again as YAML to see each number as it was written.
  const lineCounter = newLineCounter();
  const doc = parseYaml(text, label, lineCounter);
  const ctx = new Ctx(doc, label, lineCounter, index);
  return parseStep(ctx, ctx.deref(doc.contents as Node | null), index);
}

/** Reads and parses a transforms file. Errors name `source`: the path, or how the user wrote it. */
export async function readTransformsFile(path: string, source = path): Promise<ParsedStep[]> {
  let text: string;
  try {
    text = (await readUserFile(path, MAX_CONFIG_BYTES)).toString('utf8');
  } catch (err) {
    if (!(err instanceof UserFileError)) throw err;
    throw new TransformsConfigError(source, null, null, `cannot read the transforms file: ${err.detail}`, undefined, {
      cause: err,
    });
  }
  return parseTransformsYaml(text, source);
}

// ------------------------------------------------------------------------------------------------

class Ctx {
  /** Nodes being converted (alias cycles). */
  readonly active = new Set<Node>();
  constructor(
    readonly doc: Document,
    readonly source: string,
    readonly lines: LineCounter,
    /** For inline steps the step index is part of `source`; errors then omit `transforms[i]`. */
    readonly inlineIndex: number | null,
  ) {}

  deref(node: Node | null | undefined): Node | null | undefined {
    let n = node;
    for (let hops = 0; n && isAlias(n); hops++) {
      if (hops > 100) throw this.error(null, null, 'alias chain too long');
      n = n.resolve(this.doc) as Node | undefined;
    }
    return n;
  }

  lineOf(node: Node | null | undefined): number | undefined {
    const r = node?.range;
    return r ? this.lines.linePos(r[0]).line : undefined;
  }

  error(
    step: number | null,
    field: string | null,
    problem: string,
    node?: Node | null,
    cause?: unknown,
  ): TransformsConfigError {
    const line = this.inlineIndex === null ? this.lineOf(node) : undefined;
    if (this.inlineIndex !== null) {
      return new TransformsConfigError(this.source, null, field, problem, undefined, cause ? { cause } : undefined);
    }
    return new TransformsConfigError(this.source, step, field, problem, line, cause ? { cause } : undefined);
  }
}

function parseYaml(text: string, source: string, lineCounter: LineCounter): Document {
  const doc = parseUserYaml(text, lineCounter);
  if (doc instanceof UserYamlProblem) {
    throw new TransformsConfigError(
      source,
      null,
      null,
      doc.problem,
      doc.line,
      doc.cause ? { cause: doc.cause } : undefined,
    );
  }
  return doc;
}

/** The value node of `key` in a mapping (keys compared as strings); undefined if absent. */
function mapGet(ctx: Ctx, map: Node, key: string): Node | null | undefined {
  if (!isMap(map)) return undefined;
  for (const pair of map.items) {
    const k = ctx.deref(pair.key as Node | null);
    if (k && isScalar(k) && k.value === key) return (pair.value as Node | null) ?? null;
  }
  return undefined;
}

function describe(node: Node | null | undefined): string {
  if (node === null || node === undefined) return 'empty (null)';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'null';
    if (typeof v === 'string') return `the text ${JSON.stringify(v)}`;
    if (typeof v === 'number' || typeof v === 'bigint') return `the number ${scalarText(node)}`;
    if (typeof v === 'boolean') return `the boolean ${v}`;
  }
  return 'an unsupported value';
}

function scalarText(node: Scalar): string {
  return typeof node.source === 'string' && node.type === 'PLAIN' ? node.source : String(node.value);
}

function isNullNode(node: Node | null | undefined): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null);
}

function parseStep(ctx: Ctx, node: Node | null | undefined, i: number): ParsedStep {
  if (!node || !isMap(node)) {
    throw ctx.error(i, null, `a step must be a mapping with \`uses:\`, not ${describe(node)}`, node);
  }
  const usesNode = ctx.deref(mapGet(ctx, node, 'uses'));
  if (usesNode === undefined) throw ctx.error(i, 'uses', 'missing: every step needs `uses: <module>`', node);
  if (!usesNode || !isScalar(usesNode) || typeof usesNode.value !== 'string') {
    throw ctx.error(i, 'uses', `must be a module name (a string), not ${describe(usesNode)}`, usesNode ?? node);
  }
  const uses = usesNode.value;
  if (uses.trim() === '') throw ctx.error(i, 'uses', 'is empty: name the module to run', usesNode);

  const params: Record<string, string> = Object.create(null);
  const withNode = ctx.deref(mapGet(ctx, node, 'with'));
  if (!isNullNode(withNode)) {
    if (!isMap(withNode)) {
      throw ctx.error(i, 'with', `must be a mapping of parameter names to values, not ${describe(withNode)}`, withNode);
    }
    for (const pair of withNode.items) {
      const name = keyText(ctx, pair.key as Node | null, i, 'with');
      const field = `with.${name}`;
      const v = ctx.deref(pair.value as Node | null);
      params[name] = paramValue(ctx, v, i, field, name);
    }
  }

  let lookback: ParsedStep['lookback'] = null;
  const lbNode = ctx.deref(mapGet(ctx, node, 'lookback'));
  if (!isNullNode(lbNode)) {
    if (!isMap(lbNode)) {
      throw ctx.error(
        i,
        'lookback',
        `must be a mapping such as \`{ last: 10, age: 12s }\`, not ${describe(lbNode)}`,
        lbNode,
      );
    }
    const lastNode = ctx.deref(mapGet(ctx, lbNode, 'last'));
    let last = 0;
    if (!isNullNode(lastNode)) last = parseLast(ctx, lastNode!, i);
    const ageNode = ctx.deref(mapGet(ctx, lbNode, 'age'));
    if (isNullNode(ageNode)) {
      lookback = { last };
    } else {
      lookback = { last, ageMs: parseAge(ctx, ageNode!, i) };
    }
  }
  return { uses, with: params, lookback };
}

function keyText(ctx: Ctx, keyNode: Node | null, step: number, field: string): string {
  const k = ctx.deref(keyNode);
  if (k && isScalar(k) && typeof k.value === 'string') return k.value;
  throw ctx.error(
    step,
    field,
    `keys must be strings, found ${describe(k)}${k && isScalar(k) && k.value !== null ? ' (quote it)' : ''}`,
    k ?? keyNode,
  );
}

function parseLast(ctx: Ctx, node: Node, step: number): number {
  if (isScalar(node) && typeof node.value === 'number' && isIntegerText(node)) {
    const n = node.value;
    if (n < 0)
      throw ctx.error(step, 'lookback.last', `must be a count of records (0 or more), not ${scalarText(node)}`, node);
    if (!Number.isSafeInteger(n)) throw ctx.error(step, 'lookback.last', `${scalarText(node)} is too large`, node);
    return n;
  }
  throw ctx.error(step, 'lookback.last', `must be a whole number of records such as 10, not ${describe(node)}`, node);
}

function parseAge(ctx: Ctx, node: Node, step: number): number {
  if (isScalar(node) && typeof node.value === 'string') {
    try {
      return parseDuration(node.value);
    } catch (err) {
      if (err instanceof DurationError) throw ctx.error(step, 'lookback.age', err.message, node, err);
      throw err;
    }
  }
  if (isScalar(node) && typeof node.value === 'number') {
    throw ctx.error(
      step,
      'lookback.age',
      `${scalarText(node)} has no unit; write a duration such as 12s, 5m or 1h 30m`,
      node,
    );
  }
  throw ctx.error(step, 'lookback.age', `must be a duration such as 12s or 1h 30m, not ${describe(node)}`, node);
}

/** A top-level `with` value: strings as-is, collections as sorted compact JSON, bare scalars refused. */
function paramValue(ctx: Ctx, node: Node | null | undefined, step: number, field: string, name: string): string {
  if (node && isScalar(node) && typeof node.value === 'string') return node.value;
  if (node && (isMap(node) || isSeq(node))) return toJson(ctx, node, step, field);
  const shown = node && isScalar(node) && typeof node.source === 'string' ? node.source : '';
  const example = ctx.inlineIndex === null ? `${name}: "${shown}"` : `"${name}": "${shown}"`;
  if (isNullNode(node)) {
    throw ctx.error(
      step,
      field,
      `${shown ? `${shown} is null, not a string` : 'has no value'}; parameters are strings: give one, e.g. ${example}`,
      node ?? undefined,
    );
  }
  throw ctx.error(
    step,
    field,
    `${describe(node)} is not a string; parameters are strings, so quote it: ${example}`,
    node,
  );
}

const utf8 = new TextEncoder();

function toJson(ctx: Ctx, node: Node | null | undefined, step: number, field: string): string {
  const n = ctx.deref(node);
  if (isNullNode(n)) return 'null';
  if (ctx.active.has(n!)) throw ctx.error(step, field, 'a value contains itself (recursive alias)', n);
  if (isMap(n)) {
    ctx.active.add(n);
    const entries = n.items.map((pair) => {
      const key = keyText(ctx, pair.key as Node | null, step, field);
      return { key, bytes: utf8.encode(key), value: toJson(ctx, pair.value as Node | null, step, `${field}.${key}`) };
    });
    ctx.active.delete(n);
    entries.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
    return `{${entries.map((e) => `${JSON.stringify(e.key)}:${e.value}`).join(',')}}`;
  }
  if (isSeq(n)) {
    ctx.active.add(n);
    const parts = n.items.map((item, j) => toJson(ctx, item as Node | null, step, `${field}[${j}]`));
    ctx.active.delete(n);
    return `[${parts.join(',')}]`;
  }
  if (isScalar(n)) {
    const v = n.value;
    if (typeof v === 'string') return JSON.stringify(v);
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number' || typeof v === 'bigint') {
      const text = jsonNumber(n);
      if (text === null)
        throw ctx.error(step, field, `${scalarText(n)} has no JSON form; quote it to pass it as text`, n);
      return text;
    }
  }
  throw ctx.error(step, field, `${describe(n)} cannot be converted to JSON`, n);
}

const DECIMAL = /^([-+]?)([0-9]*)(?:(\.)([0-9]*))?([eE][-+]?[0-9]+)?$/;

function isIntegerText(node: Scalar): boolean {
  const src = typeof node.source === 'string' ? node.source : String(node.value);
  return /^[-+]?[0-9]+$/.test(src) || /^0x[0-9a-fA-F]+$/.test(src) || /^0o[0-7]+$/.test(src);
}

/**
 * A number as JSON text, kept as written where JSON allows it (`1.0`, `1e3`, big integers stay
 * exact); otherwise normalized without changing its value (`+5` → `5`, `007` → `7`, `.5` → `0.5`,
 * `1.` → `1.0`, `0x1F` → `31`). Infinity and NaN have no JSON form: null.
 */
function jsonNumber(node: Scalar): string | null {
  const src = typeof node.source === 'string' ? node.source.trim() : '';
  const m = DECIMAL.exec(src);
  if (m && (m[2] !== '' || (m[4] ?? '') !== '')) {
    const sign = m[1] === '-' ? '-' : '';
    const int = m[2]!.replace(/^0+(?=[0-9])/, '') || '0';
    const frac = m[3] ? `.${m[4] || '0'}` : '';
    return `${sign}${int}${frac}${m[5] ?? ''}`;
  }
  if (/^0x[0-9a-fA-F]+$/.test(src) || /^0o[0-7]+$/.test(src)) return BigInt(src).toString();
  const v = node.value;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}
