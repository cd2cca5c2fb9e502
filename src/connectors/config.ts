import { dirname, resolve } from 'node:path';
import { MAX_CONFIG_BYTES, readUserFile, UserFileError } from '../user-file.js';
import { parseUserYaml, userYamlToJs, UserYamlProblem } from '../user-yaml.js';
import { EddyError } from '../errors.js';
import { DurationError, parseDuration } from '../smartmodule/duration.js';
import { parseTransformsYaml, type TransformStep } from '../smartmodule/transforms.js';
import type { StartPosition } from '../storage/consumer.js';

/**
 * A connector config file in Fluvio's shape:
 *
 * ```yaml
 * apiVersion: 0.1.0
 * meta:
 *   version: 0.1.0
 *   name: cat-facts
 *   type: http-source          # http-source | http-sink | file-sink
 *   topic: cat-facts           # or { meta: { name: cat-facts }, partition: { count: 2 } }
 *   create-topic: true         # sources and sinks: create the topic when missing
 *   consumer:                  # sinks: where to start, and the named consumer that resumes
 *     id: cat-facts-sink
 *     partition: 0             # default: all partitions
 *     offset:
 *       start: beginning       # beginning | end (default) | an offset
 *       strategy: auto         # auto: commit as records are delivered (default) | none
 * http:                        # the connector's own section: `http:` for http-*, `file:` for file-sink
 *   endpoint: https://catfact.ninja/fact
 *   interval: 10s
 * transforms:                  # as in transforms.yaml; sources run them before storing
 *   - uses: infinyon/jolt@0.4.1
 *     with: { spec: ... }
 * ```
 *
 * The generic shape is accepted too: `meta.type: http` with `direction: source|sink` (in `meta` or
 * at the top), parameters under `parameters:`, and `create_topic` spelled with an underscore.
 * Parameter names take `-` or `_` alike (`output-parts` = `output_parts`).
 */

export type ConnectorType = 'http-source' | 'http-sink' | 'file-sink';
export const CONNECTOR_TYPES: readonly ConnectorType[] = ['http-source', 'http-sink', 'file-sink'];

export interface ConnectorConfig {
  apiVersion: string;
  name: string;
  version: string | null;
  type: ConnectorType;
  direction: 'source' | 'sink';
  topic: string;
  /** Create the topic when it does not exist (with `partitions`, default 1). */
  createTopic: boolean;
  partitions: number | undefined;
  /** The connector's parameters (keys with `-` turned into `_`). */
  params: Record<string, unknown>;
  transforms: TransformStep[];
  /** Sinks: the consumer reading the topic. */
  consumer: { id: string | null; start: StartPosition; partition: number | undefined; commit: boolean };
  /** Where the config came from (for messages) and the directory relative paths resolve against. */
  source: string;
  baseDir: string;
}

export class ConnectorConfigError extends EddyError {
  constructor(readonly source: string, readonly field: string | null, problem: string) {
    super('EDDY_CONNECTOR_CONFIG', `${source}: ${field ? `${field}: ` : ''}${problem}`);
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keys with `-` and `_` made the same (`create-topic` → `create_topic`), at the top of an object. */
function normalizeKeys(o: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) out[k.replace(/-/g, '_')] = v;
  return out;
}

export function parseConnectorConfig(text: string, source = 'connector.yaml', baseDir = process.cwd()): ConnectorConfig {
  const doc = parseUserYaml(text);
  const root = doc instanceof UserYamlProblem ? doc : userYamlToJs(doc);
  if (root instanceof UserYamlProblem) throw new ConnectorConfigError(source, null, `${root.problem}${root.line ? ` (line ${root.line})` : ''}`);
  if (!isObj(root)) throw new ConnectorConfigError(source, null, 'must be a mapping with `apiVersion:`, `meta:` and the connector\'s parameters');
  const err = (field: string | null, problem: string) => new ConnectorConfigError(source, field, problem);

  const apiVersion = root['apiVersion'] ?? root['api_version'];
  if (apiVersion !== undefined && typeof apiVersion !== 'string') throw err('apiVersion', 'must be a version string such as 0.1.0');
  if (!isObj(root['meta'])) throw err('meta', 'missing: the connector needs `meta:` with name, type and topic');
  const meta = normalizeKeys(root['meta']);

  const name = meta['name'];
  if (typeof name !== 'string' || name.trim() === '') throw err('meta.name', 'missing: give the connector a name');
  const rawType = meta['type'];
  if (typeof rawType !== 'string') throw err('meta.type', `missing: one of ${CONNECTOR_TYPES.join(', ')}`);
  const direction = meta['direction'] ?? root['direction'];
  let type = rawType.toLowerCase();
  if (!type.endsWith('-source') && !type.endsWith('-sink')) {
    if (direction !== 'source' && direction !== 'sink') {
      throw err('meta.type', `${JSON.stringify(rawType)} does not say source or sink: use ${CONNECTOR_TYPES.join(', ')}, or add \`direction: source|sink\``);
    }
    type = `${type}-${direction}`;
  }
  if (!(CONNECTOR_TYPES as readonly string[]).includes(type)) {
    throw err('meta.type', `${JSON.stringify(rawType)} is not a connector Eddy has: use ${CONNECTOR_TYPES.join(', ')}`);
  }
  const t = type as ConnectorType;
  const dir = t.endsWith('-source') ? 'source' : 'sink';
  if (direction !== undefined && direction !== dir) throw err('direction', `${JSON.stringify(direction)} contradicts meta.type ${t}`);

  let topic: unknown = meta['topic'];
  let partitions: number | undefined;
  if (isObj(topic)) {
    const tm = topic as Obj;
    const count = (isObj(tm['partition']) ? (tm['partition'] as Obj)['count'] : undefined) ?? tm['partitions'];
    if (count !== undefined) {
      if (!Number.isInteger(count) || (count as number) < 1) throw err('meta.topic.partition.count', 'must be a positive whole number');
      partitions = count as number;
    }
    topic = (isObj(tm['meta']) ? (tm['meta'] as Obj)['name'] : undefined) ?? tm['name'];
  }
  if (typeof topic !== 'string' || topic === '') throw err('meta.topic', 'missing: name the topic the connector writes to or reads from');

  const createTopic = meta['create_topic'] ?? root['create_topic'] ?? false;
  if (typeof createTopic !== 'boolean') throw err('meta.create-topic', 'must be true or false');

  const version = meta['version'];
  const section = t.split('-')[0]!;
  const rawParams = root[section] ?? root['parameters'];
  if (rawParams !== undefined && !isObj(rawParams)) throw err(section, 'must be a mapping of parameters');
  const params = normalizeKeys((rawParams as Obj | undefined) ?? {});

  let transforms: TransformStep[] = [];
  if (root['transforms'] !== undefined && root['transforms'] !== null) {
    if (!Array.isArray(root['transforms'])) throw err('transforms', 'must be a list of steps (`- uses: ...`)');
    transforms = parseTransformsYaml(text, source);
  }

  const consumer: ConnectorConfig['consumer'] = { id: name, start: 'end', partition: undefined, commit: true };
  if (meta['consumer'] !== undefined) {
    if (!isObj(meta['consumer'])) throw err('meta.consumer', 'must be a mapping (id, partition, offset)');
    const c = normalizeKeys(meta['consumer']);
    if (c['id'] !== undefined) {
      if (typeof c['id'] !== 'string' || c['id'] === '') throw err('meta.consumer.id', 'must be a name');
      consumer.id = c['id'];
    }
    if (c['partition'] !== undefined) {
      if (!Number.isInteger(c['partition']) || (c['partition'] as number) < 0) throw err('meta.consumer.partition', 'must be a partition number (0 or more)');
      consumer.partition = c['partition'] as number;
    }
    if (c['offset'] !== undefined) {
      if (!isObj(c['offset'])) throw err('meta.consumer.offset', 'must be a mapping such as { start: beginning }');
      const o = normalizeKeys(c['offset']);
      const start = o['start'];
      if (start === 'beginning') consumer.start = 'beginning';
      else if (start === 'end' || start === undefined) consumer.start = 'end';
      else if (Number.isInteger(start) && (start as number) >= 0) consumer.start = { offset: start as number };
      else if (isObj(start) && Number.isInteger((start as Obj)['absolute'])) consumer.start = { offset: (start as Obj)['absolute'] as number };
      else if (isObj(start) && Number.isInteger((start as Obj)['from_end'] ?? (start as Obj)['from-end'])) consumer.start = { fromEnd: ((start as Obj)['from_end'] ?? (start as Obj)['from-end']) as number };
      else throw err('meta.consumer.offset.start', `${JSON.stringify(start)} is not a start: use beginning, end or an offset`);
      const strategy = o['strategy'];
      if (strategy !== undefined && strategy !== 'auto' && strategy !== 'none' && strategy !== 'manual') {
        throw err('meta.consumer.offset.strategy', 'must be auto (commit as records are delivered) or none');
      }
      if (strategy === 'none') consumer.commit = false;
    }
  }

  return {
    apiVersion: (apiVersion as string | undefined) ?? '0.1.0',
    name,
    version: typeof version === 'string' ? version : version === undefined ? null : String(version),
    type: t,
    direction: dir,
    topic,
    createTopic,
    partitions,
    params,
    transforms,
    consumer,
    source,
    baseDir,
  };
}

export async function readConnectorConfig(path: string): Promise<ConnectorConfig> {
  let text: string;
  try {
    text = (await readUserFile(path, MAX_CONFIG_BYTES)).toString('utf8');
  } catch (err) {
    if (!(err instanceof UserFileError)) throw err;
    throw new ConnectorConfigError(path, null, `cannot read the connector config (${err.detail})`);
  }
  return parseConnectorConfig(text, path, dirname(resolve(path)));
}

// ------------------------------------------------------------------------------------------------
// Parameter readers for the connectors (errors name the field).

export class Params {
  constructor(private readonly config: ConnectorConfig) {}

  private section(): string {
    return this.config.type.split('-')[0]!;
  }

  error(field: string, problem: string): ConnectorConfigError {
    return new ConnectorConfigError(this.config.source, `${this.section()}.${field}`, problem);
  }

  string(field: string, fallback?: string): string {
    const v = this.config.params[field];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw this.error(field, 'missing');
    }
    if (typeof v !== 'string' && typeof v !== 'number') throw this.error(field, 'must be text');
    return String(v);
  }

  optionalString(field: string): string | undefined {
    return this.config.params[field] === undefined || this.config.params[field] === null ? undefined : this.string(field);
  }

  durationMs(field: string, fallback: string): number {
    const v = this.config.params[field];
    const text = v === undefined || v === null ? fallback : v;
    if (typeof text === 'number') throw this.error(field, `${text} has no unit; write a duration such as 10s or 500ms`);
    if (typeof text !== 'string') throw this.error(field, 'must be a duration such as 10s');
    try {
      return parseDuration(text);
    } catch (err) {
      if (err instanceof DurationError) throw this.error(field, err.message);
      throw err;
    }
  }

  integer(field: string, fallback: number, min = 0): number {
    const v = this.config.params[field];
    if (v === undefined || v === null) return fallback;
    if (!Number.isInteger(v) || (v as number) < min) throw this.error(field, `must be a whole number (${min} or more)`);
    return v as number;
  }

  choice<T extends string>(field: string, choices: readonly T[], fallback: T): T {
    const v = this.config.params[field] ?? fallback;
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) throw this.error(field, `must be one of ${choices.join(', ')}`);
    return v as T;
  }

  /** HTTP headers as Fluvio writes them (`- "Name: value"`) or as a mapping. */
  headers(field = 'headers'): Record<string, string> {
    const v = this.config.params[field];
    const out: Record<string, string> = {};
    if (v === undefined || v === null) return out;
    if (Array.isArray(v)) {
      for (const [i, h] of v.entries()) {
        const at = typeof h === 'string' ? h.indexOf(':') : -1;
        if (typeof h !== 'string' || at <= 0) throw this.error(`${field}[${i}]`, 'write each header as "Name: value"');
        out[h.slice(0, at).trim()] = h.slice(at + 1).trim();
      }
      return out;
    }
    if (isObj(v)) {
      for (const [k, val] of Object.entries(v)) out[k] = String(val);
      return out;
    }
    throw this.error(field, 'must be a list of "Name: value" strings');
  }
}
