import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Kafka, SASLOptions } from 'kafkajs';
import { kafkaClient } from '../kafka/client.js';
import { KafkaAuthError } from '../kafka/errors.js';
import { brokerProblem } from '../kafka/profiles.js';
import { envSasl, envTls, type KafkaSecurity } from '../kafka/security.js';
import type { ConnectorConfig, Params } from './config.js';
import { ConnectorError } from './contract.js';

/**
 * The connection settings kafka-source and kafka-sink share, read from their `kafka:` section:
 *
 * ```yaml
 * kafka:
 *   url: localhost:9092            # bootstrap brokers, comma separated (or { secret: { name: URL } })
 *   security:                      # Fluvio's TLS settings; files relative to the config file
 *     security_protocol: ssl       # ssl | sasl_ssl | sasl_plaintext | plaintext
 *     ssl_ca:   { file: ca.pem }   # or { pem: "-----BEGIN …" }
 *     ssl_cert: { file: client.pem }
 *     ssl_key:  { file: client.key }
 *   options:                       # librdkafka-style client options, those Eddy's client has
 *     sasl.mechanism: SCRAM-SHA-256
 *     sasl.username: app
 *     sasl.password: ${{ secrets.KAFKA_PASSWORD }}
 * ```
 * TLS goes to the Kafka client's `ssl` (Node's TLS options). SASL comes from `options`, else from
 * EDDY_KAFKA_USERNAME / EDDY_KAFKA_PASSWORD / EDDY_KAFKA_SASL_MECHANISM as for `kafka://`
 * streams. An option the client has no equivalent for is refused with its name, not ignored.
 */
export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  ssl: { ca?: string[]; cert?: string; key?: string; passphrase?: string } | boolean | undefined;
  /** null: none given in the config (the environment's, if any, applies). */
  sasl: SASLOptions | null;
  /** What `options` set that only the sink's producer uses. */
  producer: { acks?: number; timeoutMs?: number; idempotent?: boolean };
  requestTimeoutMs: number | undefined;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const PROTOCOLS = ['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl'] as const;
const MECHANISMS = { plain: 'plain', 'scram-sha-256': 'scram-sha-256', 'scram-sha-512': 'scram-sha-512' } as const;

/** The librdkafka option names Eddy maps, and which connectors they apply to. */
const COMMON_OPTIONS = [
  'client.id',
  'security.protocol',
  'sasl.mechanism',
  'sasl.mechanisms',
  'sasl.username',
  'sasl.password',
  'ssl.ca.location',
  'ssl.certificate.location',
  'ssl.key.location',
  'ssl.key.password',
  'request.timeout.ms',
];
const SINK_OPTIONS = ['acks', 'request.required.acks', 'message.timeout.ms', 'enable.idempotence'];

export function kafkaSettings(params: Params, config: ConnectorConfig): KafkaSettings {
  const url = params.string('url');
  const brokers = url
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (brokers.length === 0) throw params.error('url', 'missing: the Kafka brokers as HOST:PORT[,HOST:PORT…]');
  if (brokerProblem(brokers)) throw params.error('url', 'write the brokers as HOST:PORT[,HOST:PORT…] (no scheme)');
  const settings: KafkaSettings = {
    brokers,
    clientId: `eddy-${config.name}`,
    ssl: undefined,
    sasl: null,
    producer: {},
    requestTimeoutMs: undefined,
  };
  const protocol = { value: undefined as (typeof PROTOCOLS)[number] | undefined, field: '' };
  const tls: { ca?: string[]; cert?: string; key?: string; passphrase?: string } = {};

  const readFile = (field: string, path: string): string => {
    try {
      return readFileSync(resolve(config.baseDir, path), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw params.error(field, `cannot read ${path} (${code ?? (err as Error).message})`);
    }
  };
  const setProtocol = (field: string, v: unknown) => {
    const p = typeof v === 'string' ? v.toLowerCase().replace(/-/g, '_') : '';
    if (!(PROTOCOLS as readonly string[]).includes(p))
      throw params.error(field, `must be one of ${PROTOCOLS.join(', ')}`);
    protocol.value = p as (typeof PROTOCOLS)[number];
    protocol.field = field;
  };

  const security = params.value('security');
  if (security !== undefined && security !== null) {
    if (!isObj(security))
      throw params.error('security', 'must be a mapping (security_protocol, ssl_ca, ssl_cert, ssl_key)');
    for (const [key, v] of Object.entries(security)) {
      const k = key.replace(/-/g, '_');
      const field = `security.${key}`;
      if (k === 'security_protocol') setProtocol(field, v);
      else if (k === 'ssl_ca' || k === 'ssl_cert' || k === 'ssl_key') {
        if (!isObj(v) || Object.keys(v).some((f) => f !== 'file' && f !== 'pem'))
          throw params.error(field, 'write it as { file: PATH } or { pem: "-----BEGIN …" }');
        const text =
          typeof v['file'] === 'string'
            ? readFile(`${field}.file`, v['file'])
            : typeof v['pem'] === 'string'
              ? v['pem']
              : null;
        if (text === null) throw params.error(field, 'needs file (a path) or pem (the text)');
        if (k === 'ssl_ca') tls.ca = [text];
        else if (k === 'ssl_cert') tls.cert = text;
        else tls.key = text;
      } else throw params.error(field, 'unknown field; security takes security_protocol, ssl_ca, ssl_cert, ssl_key');
    }
  }

  const options = params.value('options');
  const sasl: { mechanism?: string; username?: string; password?: string } = {};
  if (options !== undefined && options !== null) {
    if (!isObj(options)) throw params.error('options', 'must be a mapping of client options (name: value)');
    const known = config.direction === 'sink' ? [...COMMON_OPTIONS, ...SINK_OPTIONS] : COMMON_OPTIONS;
    for (const [name, raw] of Object.entries(options)) {
      const field = `options.${name}`;
      if (!known.includes(name))
        throw params.error(
          field,
          `is not an option Eddy's Kafka client applies (it would be ignored); remove it. ${config.type} takes ${known.join(', ')}`,
        );
      if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean')
        throw params.error(field, 'must be a single value');
      const v = String(raw);
      const int = () => {
        if (!/^\d+$/.test(v) || Number(v) <= 0) throw params.error(field, 'must be a whole number of milliseconds');
        return Number(v);
      };
      switch (name) {
        case 'client.id':
          settings.clientId = v;
          break;
        case 'security.protocol':
          setProtocol(field, v);
          break;
        case 'sasl.mechanism':
        case 'sasl.mechanisms': {
          const m = v.toLowerCase();
          if (!(m in MECHANISMS)) throw params.error(field, `must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`);
          sasl.mechanism = m;
          break;
        }
        case 'sasl.username':
          sasl.username = v;
          break;
        case 'sasl.password':
          sasl.password = v;
          break;
        case 'ssl.ca.location':
          tls.ca = [readFile(field, v)];
          break;
        case 'ssl.certificate.location':
          tls.cert = readFile(field, v);
          break;
        case 'ssl.key.location':
          tls.key = readFile(field, v);
          break;
        case 'ssl.key.password':
          tls.passphrase = v;
          break;
        case 'request.timeout.ms':
          settings.requestTimeoutMs = int();
          break;
        case 'message.timeout.ms':
          settings.producer.timeoutMs = int();
          break;
        case 'acks':
        case 'request.required.acks': {
          const acks = v === 'all' ? -1 : Number(v);
          if (![-1, 0, 1].includes(acks)) throw params.error(field, 'must be all, -1, 0 or 1');
          settings.producer.acks = acks;
          break;
        }
        case 'enable.idempotence':
          if (v !== 'true' && v !== 'false') throw params.error(field, 'must be true or false');
          settings.producer.idempotent = v === 'true';
          break;
      }
    }
  }

  const hasTls = Object.keys(tls).length > 0;
  const p = protocol.value ?? (hasTls ? 'ssl' : sasl.username !== undefined ? 'sasl_plaintext' : 'plaintext');
  if (hasTls && (p === 'plaintext' || p === 'sasl_plaintext'))
    throw params.error(protocol.field, `is ${p} but TLS files are given; use ssl or sasl_ssl, or remove the TLS files`);
  if (p === 'ssl' || p === 'sasl_ssl') settings.ssl = hasTls ? tls : true;
  const saslGiven = Object.keys(sasl).length > 0;
  if (p.startsWith('sasl_') || saslGiven) {
    if (!p.startsWith('sasl_'))
      throw params.error(
        protocol.field || 'options',
        `sasl.* options need security.protocol sasl_plaintext or sasl_ssl`,
      );
    if (saslGiven) {
      if (sasl.username === undefined || sasl.password === undefined)
        throw params.error('options', 'set both sasl.username and sasl.password');
      const mechanism = (sasl.mechanism ?? 'plain') as keyof typeof MECHANISMS;
      settings.sasl = { mechanism: MECHANISMS[mechanism], username: sasl.username, password: sasl.password };
    }
  }
  return settings;
}

/** A refusal of the config's own SASL credentials names the config's fields, not the environment's. */
export function ownCredentialsError(err: unknown, settings: KafkaSettings, config: ConnectorConfig): unknown {
  if (!settings.sasl || !(err instanceof KafkaAuthError)) return err;
  return new KafkaAuthError(
    err.brokers,
    err.why,
    { cause: err.cause },
    `kafka.options sasl.username, sasl.password and sasl.mechanism in ${config.source}`,
  );
}

/**
 * The Kafka client a connector's settings describe. Its security: the connector's own
 * `security` TLS (true: the system's CAs) and `options` SASL; where the config gives none, the
 * environment's, as for `kafka://` streams.
 */
export function settingsClient(settings: KafkaSettings): Kafka {
  return kafkaClient(settings.brokers, settings.clientId, settingsSecurity(settings), {
    ...(settings.requestTimeoutMs !== undefined ? { requestTimeout: settings.requestTimeoutMs } : {}),
  });
}

/** Refuses a configured `kafka.partition` that the Kafka topic (of `count` partitions) lacks. */
export function checkKafkaPartition(
  connector: string,
  topic: string,
  partition: number | undefined,
  count: number,
): void {
  if (partition !== undefined && partition >= count)
    throw new ConnectorError(
      connector,
      `kafka.partition ${partition}: Kafka topic ${topic} has ${count} partition${count === 1 ? '' : 's'} (0..${count - 1})`,
    );
}

function settingsSecurity(settings: KafkaSettings): KafkaSecurity {
  const tls = settings.ssl === undefined || settings.ssl === false ? null : settings.ssl === true ? {} : settings.ssl;
  return {
    sasl: settings.sasl ?? envSasl(),
    tls: settings.ssl === undefined ? envTls() : tls,
  };
}
