import { dirname, resolve } from 'node:path';
import { EddyError } from '../errors.js';
import { DurationError, parseDuration } from '../smartmodule/duration.js';
import { parseTransformsYaml, type TransformStep } from '../smartmodule/transforms.js';
import { type BatchCodec, parseCodec } from '../storage/codecs.js';
import type { StartPosition } from '../storage/consumer.js';
import { parseSize, SizeError } from '../units.js';
import { MAX_CONFIG_BYTES, readUserFile, UserFileError } from '../user-file.js';
import { parseUserYaml, UserYamlProblem, userYamlToJs } from '../user-yaml.js';
import { CONNECTOR_DEFAULTS } from './defaults.js';
import { placeholderProblem, secretNameProblem } from './secrets.js';

/**
 * A connector config file in Fluvio's shape:
 *
 * ```yaml
 * apiVersion: 0.1.0
 * meta:
 *   version: 0.1.0
 *   name: cat-facts
 *   type: http-source          # http-source | http-sink | file-sink | kafka-source | kafka-sink
 *   topic: cat-facts           # or { meta: { name: cat-facts }, partition: { count: 2 } }
 *   create-topic: true         # sources and sinks: create the topic when missing
 *   secrets:                   # values for `${{ secrets.NAME }}` (see secrets.ts)
 *     - name: TOKEN
 *   producer:                  # sources: batching of the records they store
 *     linger: 100ms
 *     batch-size: 16 KB
 *     compression: gzip        # none | gzip | snappy | lz4 | zstd: how the source's batches are stored
 *   consumer:                  # sinks: where to start, and the named consumer that resumes
 *     id: cat-facts-sink
 *     partition: 0             # default: all partitions
 *     offset:
 *       start: beginning       # beginning | end (default) | an offset
 *       strategy: auto         # auto: commit as records are delivered (default) | none
 *       flush-period: 1s       # how often delivered offsets are committed (default 1s)
 * http:                        # the connector's own section: `http:`, `file:` or `kafka:` (the type's first word)
 *   endpoint: https://catfact.ninja/fact
 *   interval: 10s
 *   headers: ["Authorization: Bearer ${{ secrets.TOKEN }}"]
 * transforms:                  # as in transforms.yaml; sources run them before storing
 *   - uses: infinyon/jolt@0.4.1
 *     with: { spec: ... }
 * ```
 *
 * The generic shape is accepted too: `meta.type: http` with `direction: source|sink` (in `meta` or
 * at the top), parameters under `parameters:`, and `create_topic` spelled with an underscore.
 * Parameter names take `-` or `_` alike (`output-parts` = `output_parts`).
 *
 * Nothing written is ignored: a field Eddy does not know, or a Fluvio field it does not apply, is
 * refused with its path (`meta.consumer.max-bytes: ...`), and so is a connector parameter its
 * connector does not read (checked when the connector is created, see `Params.refuseUnread`).
 */

export type ConnectorType = 'http-source' | 'http-sink' | 'file-sink' | 'kafka-source' | 'kafka-sink';
export const CONNECTOR_TYPES: readonly ConnectorType[] = [
  'http-source',
  'http-sink',
  'file-sink',
  'kafka-source',
  'kafka-sink',
];

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
  /** Sinks: the consumer reading the topic; offsets are committed every `flushPeriodMs`. */
  consumer: {
    id: string | null;
    start: StartPosition;
    partition: number | undefined;
    commit: boolean;
    flushPeriodMs: number;
  };
  /** Sources: `meta.producer` (batching, and the codec the producer stores its batches with). */
  producer: { lingerMs?: number; batchSize?: number; compression?: BatchCodec };
  /** Names declared under `meta.secrets`; `${{ secrets.NAME }}` placeholders are still in the params. */
  secrets: string[];
  /** Where the config came from (for messages) and the directory relative paths resolve against. */
  source: string;
  baseDir: string;
}

export class ConnectorConfigError extends EddyError {
  constructor(
    readonly source: string,
    readonly field: string | null,
    problem: string,
  ) {
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

/**
 * Refuses the keys of `o` (at `path`) that are neither `known` nor in `unsupported` (Fluvio
 * fields Eddy does not apply, with the reason). Keys compare with `-` and `_` alike.
 */
function checkFields(
  o: Obj,
  path: string,
  known: readonly string[],
  err: (field: string, problem: string) => Error,
  unsupported: Readonly<Record<string, string>> = {},
): void {
  for (const key of Object.keys(o)) {
    const k = key.replace(/-/g, '_');
    if (known.includes(k)) continue;
    const field = path ? `${path}.${key}` : key;
    const why = unsupported[k];
    if (why !== undefined) throw err(field, why);
    throw err(
      field,
      `unknown field; ${path ? `${path} takes` : 'the top level takes'} ${known.map((f) => f.replace(/_/g, '-')).join(', ')}`,
    );
  }
}

/** Calls `fn` with each string in `value` and its path (`http.headers[0]`). */
function eachString(value: unknown, path: string, fn: (text: string, path: string) => void): void {
  if (typeof value === 'string') fn(value, path);
  else if (Array.isArray(value))
    value.forEach((v, i) => {
      eachString(v, `${path}[${i}]`, fn);
    });
  else if (isObj(value)) for (const [k, v] of Object.entries(value)) eachString(v, path ? `${path}.${k}` : k, fn);
}

const TOPIC_SETTING =
  'is a topic setting the connector does not apply; create the topic first with `eddy topic create` and its flags, and remove it here';

export function parseConnectorConfig(
  text: string,
  source = 'connector.yaml',
  baseDir = process.cwd(),
): ConnectorConfig {
  const doc = parseUserYaml(text);
  const root = doc instanceof UserYamlProblem ? doc : userYamlToJs(doc);
  if (root instanceof UserYamlProblem)
    throw new ConnectorConfigError(source, null, `${root.problem}${root.line ? ` (line ${root.line})` : ''}`);
  if (!isObj(root))
    throw new ConnectorConfigError(
      source,
      null,
      "must be a mapping with `apiVersion:`, `meta:` and the connector's parameters",
    );
  const err = (field: string | null, problem: string) => new ConnectorConfigError(source, field, problem);

  const apiVersion = root['apiVersion'] ?? root['api_version'];
  if (apiVersion !== undefined && typeof apiVersion !== 'string')
    throw err('apiVersion', 'must be a version string such as 0.1.0');
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
      throw err(
        'meta.type',
        `${JSON.stringify(rawType)} does not say source or sink: use ${CONNECTOR_TYPES.join(', ')}, or add \`direction: source|sink\``,
      );
    }
    type = `${type}-${direction}`;
  }
  if (!(CONNECTOR_TYPES as readonly string[]).includes(type)) {
    throw err('meta.type', `${JSON.stringify(rawType)} is not a connector Eddy has: use ${CONNECTOR_TYPES.join(', ')}`);
  }
  const t = type as ConnectorType;
  const dir = t.endsWith('-source') ? 'source' : 'sink';
  if (direction !== undefined && direction !== dir)
    throw err('direction', `${JSON.stringify(direction)} contradicts meta.type ${t}`);

  let topic: unknown = meta['topic'];
  let partitions: number | undefined;
  if (isObj(topic)) {
    const tm = topic as Obj;
    checkFields(tm, 'meta.topic', ['meta', 'name', 'partition', 'partitions', 'version'], err, {
      retention: TOPIC_SETTING,
      compression: TOPIC_SETTING,
      deduplication: TOPIC_SETTING,
    });
    if (isObj(tm['meta'])) checkFields(tm['meta'] as Obj, 'meta.topic.meta', ['name'], err);
    if (isObj(tm['partition'])) {
      checkFields(tm['partition'] as Obj, 'meta.topic.partition', ['count'], err, {
        max_size: TOPIC_SETTING,
        replication: 'Eddy keeps one copy on one machine; remove it',
        ignore_rack_assignment: 'Eddy keeps one copy on one machine; remove it',
      });
    }
    const count = (isObj(tm['partition']) ? (tm['partition'] as Obj)['count'] : undefined) ?? tm['partitions'];
    if (count !== undefined) {
      if (!Number.isInteger(count) || (count as number) < 1)
        throw err('meta.topic.partition.count', 'must be a positive whole number');
      partitions = count as number;
    }
    topic = (isObj(tm['meta']) ? (tm['meta'] as Obj)['name'] : undefined) ?? tm['name'];
  }
  if (typeof topic !== 'string' || topic === '')
    throw err('meta.topic', 'missing: name the topic the connector writes to or reads from');

  const createTopic = meta['create_topic'] ?? root['create_topic'] ?? false;
  if (typeof createTopic !== 'boolean') throw err('meta.create-topic', 'must be true or false');

  const version = meta['version'];
  const section = t.split('-')[0]!;
  checkFields(
    root,
    '',
    ['apiVersion', 'api_version', 'meta', 'direction', 'create_topic', 'parameters', 'transforms', section],
    err,
  );
  checkFields(
    meta,
    'meta',
    ['name', 'type', 'topic', 'version', 'create_topic', 'direction', 'consumer', 'producer', 'secrets'],
    err,
  );
  if (root[section] !== undefined && root['parameters'] !== undefined)
    throw err('parameters', `give the parameters once, under \`${section}:\` or \`parameters:\``);
  const rawParams = root[section] ?? root['parameters'];
  if (rawParams !== undefined && !isObj(rawParams)) throw err(section, 'must be a mapping of parameters');
  if (isObj(rawParams)) secretReferences(rawParams, root[section] !== undefined ? section : 'parameters', err);
  const params = normalizeKeys((rawParams as Obj | undefined) ?? {});
  const secrets = parseSecrets(meta['secrets'], err);
  const declared = new Set(secrets);
  eachString(root, '', (text, path) => {
    if (!/\$\{[{%#]/.test(text)) return;
    const inParams = path.startsWith(`${section}.`) || path.startsWith('parameters.') || path.startsWith('transforms[');
    if (!inParams)
      throw err(
        path,
        "placeholders such as `${{ secrets.NAME }}` can be used in the connector's parameters and in transforms' `with` only",
      );
    const problem = placeholderProblem(text, declared);
    if (problem) throw err(path, problem);
  });

  let transforms: TransformStep[] = [];
  if (root['transforms'] !== undefined && root['transforms'] !== null) {
    if (!Array.isArray(root['transforms'])) throw err('transforms', 'must be a list of steps (`- uses: ...`)');
    transforms = parseTransformsYaml(text, source);
  }

  const consumer: ConnectorConfig['consumer'] = {
    id: name,
    start: 'end',
    partition: undefined,
    commit: true,
    flushPeriodMs: CONNECTOR_DEFAULTS.flushPeriodMs,
  };
  if (meta['consumer'] !== undefined) {
    if (!isObj(meta['consumer'])) throw err('meta.consumer', 'must be a mapping (id, partition, offset)');
    if (dir === 'source')
      throw err('meta.consumer', 'a source does not read the topic; remove it (consumer settings are for sinks)');
    checkFields(meta['consumer'], 'meta.consumer', ['id', 'partition', 'offset'], err, {
      max_bytes: "Eddy's sinks read the local log directly and have no fetch size; remove it",
    });
    const c = normalizeKeys(meta['consumer']);
    if (c['id'] !== undefined) {
      if (typeof c['id'] !== 'string' || c['id'] === '') throw err('meta.consumer.id', 'must be a name');
      consumer.id = c['id'];
    }
    if (c['partition'] !== undefined && c['partition'] !== 'all') {
      if (!Number.isInteger(c['partition']) || (c['partition'] as number) < 0)
        throw err('meta.consumer.partition', 'must be a partition number (0 or more)');
      consumer.partition = c['partition'] as number;
    }
    if (c['offset'] !== undefined) {
      if (!isObj(c['offset'])) throw err('meta.consumer.offset', 'must be a mapping such as { start: beginning }');
      checkFields(c['offset'], 'meta.consumer.offset', ['start', 'strategy', 'flush_period'], err);
      const o = normalizeKeys(c['offset']);
      const start = o['start'];
      if (start === 'beginning') consumer.start = 'beginning';
      else if (start === 'end' || start === undefined) consumer.start = 'end';
      else if (Number.isInteger(start) && (start as number) >= 0) consumer.start = { offset: start as number };
      else if (isObj(start) && Number.isInteger((start as Obj)['absolute']))
        consumer.start = { offset: (start as Obj)['absolute'] as number };
      else if (isObj(start) && Number.isInteger((start as Obj)['from_end'] ?? (start as Obj)['from-end']))
        consumer.start = { fromEnd: ((start as Obj)['from_end'] ?? (start as Obj)['from-end']) as number };
      else
        throw err(
          'meta.consumer.offset.start',
          `${JSON.stringify(start)} is not a start: use beginning, end or an offset`,
        );
      const strategy = o['strategy'];
      if (strategy !== undefined && strategy !== 'auto' && strategy !== 'none' && strategy !== 'manual') {
        throw err('meta.consumer.offset.strategy', 'must be auto (commit as records are delivered) or none');
      }
      if (strategy === 'none') consumer.commit = false;
      if (o['flush_period'] !== undefined) consumer.flushPeriodMs = parseFlushPeriod(o['flush_period'], err);
    }
  }
  const producer = parseProducer(meta['producer'], dir, err);

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
    producer,
    secrets,
    source,
    baseDir,
  };
}

type FieldError = (field: string, problem: string) => Error;

/**
 * Fluvio's other way to write a secret parameter (`url: { secret: { name: URL } }`, as its
 * `SecretString` reads it) becomes the placeholder `${{ secrets.URL }}`, in place, so both forms
 * are checked against `meta.secrets` and substituted alike.
 */
function secretReferences(o: Obj, path: string, err: FieldError): void {
  for (const [k, v] of Object.entries(o)) {
    if (!isObj(v)) continue;
    const at = `${path}.${k}`;
    if (v['secret'] === undefined) {
      secretReferences(v, at, err);
      continue;
    }
    const ref = v['secret'];
    if (Object.keys(v).length !== 1 || !isObj(ref) || typeof ref['name'] !== 'string' || Object.keys(ref).length !== 1)
      throw err(at, 'a secret reference is written `{ secret: { name: NAME } }`');
    o[k] = `\${{ secrets.${ref['name']} }}`;
  }
}

/** `meta.secrets: [{ name: TOKEN }]` → the names, checked as Fluvio checks them. */
function parseSecrets(value: unknown, err: FieldError): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw err('meta.secrets', 'must be a list such as [{ name: TOKEN }]');
  return value.map((s, i) => {
    const at = `meta.secrets[${i}]`;
    if (!isObj(s) || typeof s['name'] !== 'string')
      throw err(at, "must be a mapping with the secret's name: { name: TOKEN }");
    checkFields(s, at, ['name'], err);
    const problem = secretNameProblem(s['name']);
    if (problem) throw err(`${at}.name`, problem);
    return s['name'];
  });
}

/** `flush-period: 2s`, or Fluvio's serialized form `{ secs: 2, nanos: 0 }`. */
function parseFlushPeriod(value: unknown, err: FieldError): number {
  const field = 'meta.consumer.offset.flush-period';
  if (isObj(value)) {
    checkFields(value, field, ['secs', 'nanos'], err);
    const secs = value['secs'] ?? 0;
    const nanos = value['nanos'] ?? 0;
    if (!Number.isInteger(secs) || !Number.isInteger(nanos) || (secs as number) < 0 || (nanos as number) < 0)
      throw err(field, 'secs and nanos must be whole numbers');
    const ms = (secs as number) * 1000 + Math.floor((nanos as number) / 1e6);
    if (ms <= 0) throw err(field, 'must be longer than 0');
    return ms;
  }
  if (typeof value !== 'string') throw err(field, 'must be a duration such as 1s');
  try {
    const ms = parseDuration(value);
    if (ms <= 0) throw err(field, 'must be longer than 0');
    return ms;
  } catch (e) {
    if (e instanceof DurationError) throw err(field, e.message);
    throw e;
  }
}

/** `meta.producer` (sources only): linger, batch-size and compression, applied to the connector's producer. */
function parseProducer(value: unknown, dir: 'source' | 'sink', err: FieldError): ConnectorConfig['producer'] {
  if (value === undefined || value === null) return {};
  if (dir === 'sink')
    throw err('meta.producer', 'a sink does not produce records; remove it (producer settings are for sources)');
  if (!isObj(value)) throw err('meta.producer', 'must be a mapping (linger, batch-size, compression)');
  checkFields(value, 'meta.producer', ['linger', 'batch_size', 'compression'], err);
  const p = normalizeKeys(value);
  const out: ConnectorConfig['producer'] = {};
  if (p['linger'] !== undefined) {
    if (typeof p['linger'] !== 'string') throw err('meta.producer.linger', 'must be a duration such as 100ms');
    try {
      out.lingerMs = parseDuration(p['linger']);
    } catch (e) {
      if (e instanceof DurationError) throw err('meta.producer.linger', e.message);
      throw e;
    }
  }
  if (p['batch_size'] !== undefined) {
    if (typeof p['batch_size'] !== 'string' && typeof p['batch_size'] !== 'number')
      throw err('meta.producer.batch-size', 'must be a size such as 16 KB');
    try {
      out.batchSize = parseSize(String(p['batch_size']));
    } catch (e) {
      if (e instanceof SizeError) throw err('meta.producer.batch-size', e.message);
      throw e;
    }
  }
  if (p['compression'] !== undefined) {
    try {
      out.compression = parseCodec(String(p['compression']), 'compression');
    } catch (e) {
      throw err('meta.producer.compression', (e as Error).message);
    }
  }
  return out;
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
  private readonly read = new Set<string>();
  constructor(private readonly config: ConnectorConfig) {}

  /** A parameter's value as written (a mapping, a list…), for a connector that checks it itself; marks it as read. */
  value(field: string): unknown {
    return this.raw(field);
  }

  /** A parameter's raw value; marks it as read. */
  private raw(field: string): unknown {
    this.read.add(field);
    return this.config.params[field];
  }

  /** Refuses the parameters the connector did not read: a misspelt or unsupported one is not ignored. */
  refuseUnread(): void {
    for (const field of Object.keys(this.config.params)) {
      if (this.read.has(field)) continue;
      const known = [...this.read].map((f) => f.replace(/_/g, '-')).join(', ');
      throw this.error(field, `unknown parameter for ${this.config.type}; it takes ${known}`);
    }
  }

  private section(): string {
    return this.config.type.split('-')[0]!;
  }

  error(field: string, problem: string): ConnectorConfigError {
    return new ConnectorConfigError(this.config.source, `${this.section()}.${field}`, problem);
  }

  string(field: string, fallback?: string): string {
    const v = this.raw(field);
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw this.error(field, 'missing');
    }
    if (typeof v !== 'string' && typeof v !== 'number') throw this.error(field, 'must be text');
    return String(v);
  }

  optionalString(field: string): string | undefined {
    return this.raw(field) === undefined || this.raw(field) === null ? undefined : this.string(field);
  }

  durationMs(field: string, fallback: string): number {
    const v = this.raw(field);
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
    const v = this.raw(field);
    if (v === undefined || v === null) return fallback;
    if (!Number.isInteger(v) || (v as number) < min) throw this.error(field, `must be a whole number (${min} or more)`);
    return v as number;
  }

  /** A size such as `8 MB` or a number of bytes. */
  bytes(field: string, fallback: number): number {
    const v = this.raw(field);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string' && typeof v !== 'number') throw this.error(field, 'must be a size such as 8 MB');
    try {
      return parseSize(String(v));
    } catch (err) {
      if (err instanceof SizeError) throw this.error(field, err.message);
      throw err;
    }
  }

  boolean(field: string, fallback: boolean): boolean {
    const v = this.raw(field);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw this.error(field, 'must be true or false');
    return v;
  }

  choice<T extends string>(field: string, choices: readonly T[], fallback: T): T {
    const v = this.raw(field) ?? fallback;
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v))
      throw this.error(field, `must be one of ${choices.join(', ')}`);
    return v as T;
  }

  /** HTTP headers as Fluvio writes them (`- "Name: value"`) or as a mapping. */
  headers(field = 'headers'): Record<string, string> {
    const v = this.raw(field);
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
