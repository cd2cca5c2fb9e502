import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import { KafkaAuthConfigError, KafkaTlsConfigError } from './errors.js';

/**
 * How Eddy authenticates to a Kafka cluster and encrypts the connection: SASL credentials and
 * TLS settings. They come from a profile (profiles.ts) or from the environment, never from a
 * stream's saved definition, so no secret lands in the data directory.
 */
export interface KafkaSecurity {
  sasl: SASLOptions | null;
  /** TLS for every connection (Node's tls.connect options), or null for plaintext. */
  tls: ConnectionOptions | null;
}

/** TLS settings as files: the CA that signed the brokers' certificates, and a client certificate and key. */
export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
  /** False accepts any broker certificate (testing only); true by default. */
  verify?: boolean;
}

const MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

/** SASL options from parts; throws KafkaAuthConfigError saying what is missing or wrong. */
export function saslOptions(
  username: string | undefined,
  password: string | undefined,
  mechanism: string | undefined,
  where: string,
): SASLOptions | null {
  if (username === undefined && password === undefined) return null;
  if (!username || password === undefined)
    throw new KafkaAuthConfigError(`${where}: give both a username and a password, or neither`);
  const m = (mechanism ?? 'plain').toLowerCase();
  if (!(MECHANISMS as readonly string[]).includes(m))
    throw new KafkaAuthConfigError(
      `${where}: SASL mechanism ${JSON.stringify(m)} is not one of ${MECHANISMS.join(', ')}`,
    );
  return { mechanism: m as (typeof MECHANISMS)[number], username, password };
}

/** Node TLS options from files; a file that cannot be read is named, with the setting it came from. */
export function tlsOptions(files: TlsFiles, where: string): ConnectionOptions {
  const read = (setting: string, path: string | undefined): Buffer | undefined => {
    if (path === undefined || path === '') return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new KafkaTlsConfigError(
        `${where}: cannot read ${setting} file ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
  };
  const ca = read('CA', files.ca);
  const cert = read('client certificate', files.cert);
  const key = read('client key', files.key);
  if ((cert === undefined) !== (key === undefined))
    throw new KafkaTlsConfigError(`${where}: give both a client certificate and its key, or neither`);
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert, key } : {}),
    rejectUnauthorized: files.verify !== false,
  };
}

const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes|on)$/i.test(v);

/** SASL from the environment: EDDY_KAFKA_USERNAME, EDDY_KAFKA_PASSWORD, EDDY_KAFKA_SASL_MECHANISM. */
export function envSasl(env: NodeJS.ProcessEnv = process.env): SASLOptions | null {
  return saslOptions(
    env['EDDY_KAFKA_USERNAME'],
    env['EDDY_KAFKA_PASSWORD'],
    env['EDDY_KAFKA_SASL_MECHANISM'],
    'EDDY_KAFKA_USERNAME, EDDY_KAFKA_PASSWORD, EDDY_KAFKA_SASL_MECHANISM',
  );
}

/**
 * TLS from the environment: EDDY_KAFKA_TLS=1 (the system's CAs) or any of EDDY_KAFKA_TLS_CA,
 * EDDY_KAFKA_TLS_CERT, EDDY_KAFKA_TLS_KEY (files); null for plaintext.
 */
export function envTls(env: NodeJS.ProcessEnv = process.env): ConnectionOptions | null {
  const files: TlsFiles = {
    ca: env['EDDY_KAFKA_TLS_CA'],
    cert: env['EDDY_KAFKA_TLS_CERT'],
    key: env['EDDY_KAFKA_TLS_KEY'],
  };
  const wanted = truthy(env['EDDY_KAFKA_TLS']) || Object.values(files).some((f) => f !== undefined && f !== '');
  return wanted ? tlsOptions(files, 'EDDY_KAFKA_TLS_CA, EDDY_KAFKA_TLS_CERT, EDDY_KAFKA_TLS_KEY') : null;
}

/** Security from the environment alone (endpoints that name their brokers). */
export function envSecurity(env: NodeJS.ProcessEnv = process.env): KafkaSecurity {
  return { sasl: envSasl(env), tls: envTls(env) };
}
