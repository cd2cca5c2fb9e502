import type { TopicConfig } from '../storage/storage.js';
import { MAX_CONFIG_BYTES, readUserFile, UserFileError } from '../user-file.js';
import { parseUserYaml, UserYamlProblem, userYamlToJs } from '../user-yaml.js';
import { UsageError } from './format.js';
import { SEGMENT_SIZE_REASON, type TopicCreateOptions, topicConfig } from './topic-options.js';

/**
 * `topic create -c/--config <file>`: Fluvio's topic configuration file, a YAML mapping
 * ```yaml
 * version: 0.1.0
 * meta: { name: my-topic }
 * partition: { count: 2, max-size: 10GB, replication: 1, ignore-rack-assignment: false }
 * retention: { time: 7d, segment-size: ... }
 * compression: { type: lz4 }
 * deduplication: { bounds: { count: 100, age: 1m }, filter: { transform: { uses: ... } } }
 * ```
 * Each setting goes through the same checks as its command-line flag. Fields Eddy cannot apply
 * (replica maps, segment sizes) are refused with their path, never ignored.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export async function readTopicConfigFile(path: string, shown: string): Promise<{ name: string; config: TopicConfig }> {
  const fail = (where: string, why: string): never => {
    throw new UsageError(`${shown}: ${where ? `${where}: ` : ''}${why}`);
  };
  let text = '';
  try {
    text = (await readUserFile(path, MAX_CONFIG_BYTES)).toString('utf8');
  } catch (err) {
    if (!(err instanceof UserFileError)) throw err;
    fail('', `cannot read the topic config file: ${err.detail}`);
  }
  const doc = parseUserYaml(text);
  if (doc instanceof UserYamlProblem) return fail(doc.line ? `line ${doc.line}` : '', doc.problem);
  const top = userYamlToJs(doc);
  if (top instanceof UserYamlProblem) return fail('', top.problem);
  if (!isObj(top)) return fail('', "must be a mapping with meta.name (Fluvio's topic config)");
  const section = (key: string, fields: readonly string[]): Obj => {
    const v = top[key];
    if (v === undefined || v === null) return {};
    if (!isObj(v)) return fail(key, 'must be a mapping');
    for (const f of Object.keys(v))
      if (!fields.includes(f)) fail(`${key}.${f}`, `unknown field (known: ${fields.join(', ')})`);
    return v;
  };
  for (const k of Object.keys(top)) {
    if (!['version', 'meta', 'partition', 'retention', 'compression', 'deduplication'].includes(k))
      fail(k, 'unknown field (known: version, meta, partition, retention, compression, deduplication)');
  }
  const meta = section('meta', ['name']);
  if (typeof meta['name'] !== 'string' || meta['name'] === '') fail('meta.name', "the topic's name is required");
  const partition = section('partition', ['count', 'max-size', 'replication', 'ignore-rack-assignment', 'maps']);
  const retention = section('retention', ['time', 'segment-size']);
  const compression = section('compression', ['type']);
  if (partition['maps'] !== undefined)
    fail('partition.maps', 'replica maps place partitions on SPUs; Eddy has one process: give partition.count instead');
  if (retention['segment-size'] !== undefined) fail('retention.segment-size', SEGMENT_SIZE_REASON);
  const str = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v));
  const o: TopicCreateOptions = {};
  const set = (key: Exclude<keyof TopicCreateOptions, 'dedup'>, v: unknown) => {
    const s = str(v);
    if (s !== undefined) o[key] = s;
  };
  set('partitions', partition['count']);
  set('maxPartitionSize', partition['max-size']);
  set('replication', partition['replication']);
  set('retentionTime', retention['time']);
  set('compressionType', compression['type']);
  const dedup = top['deduplication'];
  if (dedup !== undefined && dedup !== null) {
    if (!isObj(dedup) || !isObj(dedup['bounds'])) fail('deduplication', 'must have bounds: { count, age }');
    const bounds = (dedup as Obj)['bounds'] as Obj;
    if (bounds['count'] === undefined) fail('deduplication.bounds.count', 'required');
    o.dedup = true;
    set('dedupCount', bounds['count']);
    set('dedupAge', bounds['age']);
  }
  try {
    return { name: meta['name'] as string, config: topicConfig(o) };
  } catch (err) {
    if (err instanceof UsageError) fail('', err.message);
    throw err;
  }
}
