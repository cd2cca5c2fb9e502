import { type Admin, Kafka, type KafkaConfig, logLevel, type SASLOptions } from 'kafkajs';
import { KafkaAuthConfigError, KafkaTopicMissingError, kafkaError } from './errors.js';

/**
 * The Kafka client (kafkajs: pure JavaScript, installs from the registry alone). Its own log is
 * off: every failure reaches the user as an EddyError through Eddy's events instead. Retries are
 * few and short, so an unreachable cluster ends in an error within seconds, not a retry loop.
 * `tls` and `sasl` (a connector's own settings) take the place of the environment's SASL.
 */
export function kafkaClient(
  brokers: string[],
  clientId: string,
  own: Pick<KafkaConfig, 'ssl' | 'sasl' | 'requestTimeout'> = {},
): Kafka {
  const sasl = own.sasl ?? kafkaSasl();
  return new Kafka({
    brokers,
    clientId,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
    ...(sasl ? { sasl } : {}),
    ...(own.ssl !== undefined ? { ssl: own.ssl } : {}),
    ...(own.requestTimeout !== undefined ? { requestTimeout: own.requestTimeout } : {}),
  });
}

const MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

/**
 * SASL credentials from the environment (EDDY_KAFKA_USERNAME, EDDY_KAFKA_PASSWORD, and
 * EDDY_KAFKA_SASL_MECHANISM: plain, the default, scram-sha-256 or scram-sha-512), or none. From
 * the environment, not the stream's definition, so no password is saved in the data directory.
 */
export function kafkaSasl(env: NodeJS.ProcessEnv = process.env): SASLOptions | null {
  const username = env['EDDY_KAFKA_USERNAME'];
  const password = env['EDDY_KAFKA_PASSWORD'];
  const mechanism = (env['EDDY_KAFKA_SASL_MECHANISM'] ?? 'plain').toLowerCase();
  if (username === undefined && password === undefined) return null;
  if (!username || password === undefined)
    throw new KafkaAuthConfigError('set both EDDY_KAFKA_USERNAME and EDDY_KAFKA_PASSWORD, or neither');
  if (!(MECHANISMS as readonly string[]).includes(mechanism))
    throw new KafkaAuthConfigError(
      `EDDY_KAFKA_SASL_MECHANISM ${JSON.stringify(mechanism)} is not one of ${MECHANISMS.join(', ')}`,
    );
  return { mechanism: mechanism as (typeof MECHANISMS)[number], username, password };
}

/** Runs `f` with a connected admin client; errors come out as EddyErrors. */
export async function withAdmin<T>(kafka: Kafka, brokers: string[], f: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    return await f(admin);
  } catch (err) {
    throw kafkaError(err, brokers, 'Kafka admin');
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Partition count of each topic; throws KafkaTopicMissingError for the first one the cluster lacks. */
export async function topicPartitions(admin: Admin, brokers: string[], topics: string[]): Promise<number[]> {
  const existing = new Set(await admin.listTopics());
  for (const t of topics) if (!existing.has(t)) throw new KafkaTopicMissingError(t, brokers);
  const meta = await admin.fetchTopicMetadata({ topics });
  return topics.map((t) => meta.topics.find((m) => m.name === t)!.partitions.length);
}
