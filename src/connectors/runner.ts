import { EventEmitter } from 'eventemitter3';
import { anchorSteps } from '../coordinator/resolve.js';
import type { Eddy } from '../eddy.js';
import { EddyError } from '../errors.js';
import { type ConnectorConfig, type ConnectorType, Params } from './config.js';
import { type ConnectorContext, ConnectorError, type ConnectorImpl, type ConnectorStats } from './contract.js';
import { fileSink } from './file-sink.js';
import { httpSink } from './http-sink.js';
import { httpSource } from './http-source.js';
import { kafkaSink } from './kafka-sink.js';
import { kafkaSource } from './kafka-source.js';
import {
  envSecretStore,
  readSecrets,
  redactError,
  redactor,
  type SecretStore,
  substituteDeep,
  substituteSteps,
} from './secrets.js';

/**
 * Runs a connector from its config: makes sure the topic exists (creating it with
 * `create-topic: true`), resolves the transforms (registered names or `.wasm` paths relative to
 * the config file), then runs the connector until the signal aborts it or it fails.
 */

export interface ConnectorEvents {
  /** Something worth a log line (start, errors, stop). */
  log: [line: string];
  error: [error: EddyError];
}

const IMPLEMENTATIONS: Readonly<Record<ConnectorType, (params: Params, config: ConnectorConfig) => ConnectorImpl>> = {
  'http-source': httpSource,
  'http-sink': httpSink,
  'file-sink': fileSink,
  'kafka-source': kafkaSource,
  'kafka-sink': kafkaSink,
};

export interface StartOptions {
  signal: AbortSignal;
  /** HTTP client (tests may pass their own). Default: the global fetch. */
  fetch?: typeof fetch;
  /** Where `meta.secrets` values come from. Default: the environment. */
  secrets?: SecretStore;
}

/** A started connector: `done` resolves when it stops (signal) and rejects when it fails. */
export class RunningConnector extends EventEmitter<ConnectorEvents> {
  readonly stats: ConnectorStats = { records: 0, bytes: 0, errors: 0, lastError: null, startedAt: Date.now() };
  done: Promise<void> = Promise.resolve();
  constructor(
    readonly config: ConnectorConfig,
    readonly summary: string,
  ) {
    super();
  }
}

/**
 * Checks the config, resolves its secrets, prepares the topic and transforms, and starts the
 * connector. Configuration problems (a missing secret, bad parameters, unknown topic or module)
 * reject here, before anything runs. No message of the connector shows a secret's value.
 */
export async function startConnector(
  eddy: Eddy,
  written: ConnectorConfig,
  options: StartOptions,
): Promise<RunningConnector> {
  const values = readSecrets(written.secrets, options.secrets ?? envSecretStore(), written.source);
  const redact = redactor(values.values());
  const config: ConnectorConfig = {
    ...written,
    params: substituteDeep(written.params, values) as ConnectorConfig['params'],
    transforms: substituteSteps(written.transforms, values),
  };
  try {
    return await start(eddy, config, options, redact);
  } catch (err) {
    throw redactError(err, redact);
  }
}

async function start(
  eddy: Eddy,
  config: ConnectorConfig,
  options: StartOptions,
  redact: (text: string) => string,
): Promise<RunningConnector> {
  const params = new Params(config);
  const impl = IMPLEMENTATIONS[config.type](params, config);
  params.refuseUnread();
  await prepareTopic(eddy, config);
  const transforms = anchorSteps(config.transforms, { registry: eddy.modules, baseDir: config.baseDir }, config.source);
  if (transforms.length > 0) await eddy.resolveTransforms(transforms); // modules that do not load fail now
  const running = new RunningConnector(config, redact(impl.summary));
  const ctx: ConnectorContext = {
    eddy,
    config,
    params,
    transforms,
    signal: options.signal,
    stats: running.stats,
    log: (line) => running.emit('log', redact(line)),
    error: (err) => {
      redactError(err, redact);
      running.stats.errors++;
      running.stats.lastError = err.message;
      running.emit('error', err);
    },
    fetch: options.fetch ?? fetch,
  };
  running.done = impl.run(ctx).catch((err: unknown) => {
    if (err instanceof EddyError) throw redactError(err, redact);
    throw redactError(new ConnectorError(config.name, (err as Error)?.message ?? String(err), { cause: err }), redact);
  });
  running.done.catch(() => {});
  return running;
}

/** Creates the topic when asked to, and checks the partition a sink reads. */
async function prepareTopic(eddy: Eddy, config: ConnectorConfig): Promise<void> {
  if (!eddy.storage.topic(config.topic)) {
    if (!config.createTopic) {
      throw new ConnectorError(
        config.name,
        `topic "${config.topic}" does not exist; create it with \`eddy topic create ${config.topic}\`, or set \`create-topic: true\` under meta in ${config.source}`,
      );
    }
    await eddy.createTopic(config.topic, {
      ...(config.partitions !== undefined ? { partitions: config.partitions } : {}),
    });
  }
  const topic = eddy.describeTopic(config.topic);
  if (config.consumer.partition !== undefined) {
    const n = topic.partitions;
    if (config.consumer.partition >= n) {
      throw new ConnectorError(
        config.name,
        `meta.consumer.partition ${config.consumer.partition}: topic "${config.topic}" has ${n} partition${n === 1 ? '' : 's'} (0..${n - 1})`,
      );
    }
  }
}
