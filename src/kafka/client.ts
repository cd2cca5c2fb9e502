import { type Admin, Kafka, logLevel } from 'kafkajs';
import { EddyError } from '../errors.js';
import { KafkaTopicMissingError, kafkaError } from './errors.js';
import { envSecurity, type KafkaSecurity } from './security.js';

/**
 * The Kafka client (kafkajs: pure JavaScript, installs from the registry alone). Its own log is
 * off: every failure reaches the user as an EddyError through Eddy's events instead. Retries are
 * few and short, so an unreachable cluster ends in an error within seconds, not a retry loop.
 * Security (SASL, TLS) is the endpoint's profile's, else the environment's (security.ts).
 */
export function kafkaClient(brokers: string[], clientId: string, security: KafkaSecurity = envSecurity()): Kafka {
  const { sasl, tls } = security;
  return new Kafka({
    brokers,
    clientId,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
    ...(sasl ? { sasl } : {}),
    ...(tls ? { ssl: tls } : {}),
  });
}

/**
 * The consumer group session timeout from EDDY_KAFKA_SESSION_TIMEOUT_MS (default: the client's,
 * 30 s): how long the group waits for a silent process (a crash, a cut-off host) before its
 * partitions move. Heartbeats go at a third of it. The broker only accepts values between its
 * group.min.session.timeout.ms (6 s by default) and group.max.session.timeout.ms.
 */
export function kafkaSessionTimeout(
  env: NodeJS.ProcessEnv = process.env,
): { sessionTimeout: number; heartbeatInterval: number } | null {
  const raw = env['EDDY_KAFKA_SESSION_TIMEOUT_MS'];
  if (raw === undefined || raw === '') return null;
  const ms = Number(raw);
  if (!Number.isSafeInteger(ms) || ms < 1000)
    throw new EddyError(
      'EDDY_INVALID_ARGUMENT',
      `EDDY_KAFKA_SESSION_TIMEOUT_MS ${JSON.stringify(raw)} is not a whole number of milliseconds of at least 1000`,
    );
  return { sessionTimeout: ms, heartbeatInterval: Math.max(100, Math.floor(ms / 3)) };
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
