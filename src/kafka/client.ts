import { type Admin, type ITopicConfig, Kafka, logLevel } from 'kafkajs';
import { KafkaConfigError, KafkaTopicMissingError, kafkaError, kafkaErrorType } from './errors.js';
import { envSecurity, type KafkaSecurity } from './security.js';

/**
 * The Kafka client (kafkajs: pure JavaScript, installs from the registry alone). Its own log is
 * off: every failure reaches the user as an EddyError through Eddy's events instead. Retries are
 * few and short, so an unreachable cluster ends in an error within seconds, not a retry loop.
 * Security (SASL, TLS) is the endpoint's profile's, a connector's own settings, else the
 * environment's (security.ts).
 */
export function kafkaClient(
  brokers: string[],
  clientId: string,
  security: KafkaSecurity = envSecurity(),
  options: { requestTimeout?: number } = {},
): Kafka {
  const { sasl, tls } = security;
  return new Kafka({
    brokers,
    clientId,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
    ...(sasl ? { sasl } : {}),
    ...(tls ? { ssl: tls } : {}),
    ...(options.requestTimeout !== undefined ? { requestTimeout: options.requestTimeout } : {}),
  });
}

/** The client's (and Kafka's usual) session timeout: a member silent this long leaves the group. */
const SESSION_TIMEOUT_MS = 30_000;

/**
 * The consumer group's session timeout and heartbeat interval, from EDDY_KAFKA_SESSION_TIMEOUT_MS
 * (default 30 s): how long a process that went silent (crashed, cut off) keeps its partitions
 * before the group gives them to the others. Heartbeats go three times per timeout, at most every
 * 3 s. The broker accepts group.min.session.timeout.ms to group.max.session.timeout.ms (6 s to
 * 30 min by default) and refuses the join otherwise.
 */
export function kafkaSession(env: NodeJS.ProcessEnv = process.env): {
  sessionTimeout: number;
  heartbeatInterval: number;
} {
  const raw = env['EDDY_KAFKA_SESSION_TIMEOUT_MS'];
  const ms = raw === undefined || raw === '' ? SESSION_TIMEOUT_MS : Number(raw);
  if (!Number.isSafeInteger(ms) || ms <= 0)
    throw new KafkaConfigError(
      `EDDY_KAFKA_SESSION_TIMEOUT_MS ${JSON.stringify(raw)} is not a whole number of milliseconds (brokers accept 6000 to 1800000 by default)`,
    );
  return { sessionTimeout: ms, heartbeatInterval: Math.max(100, Math.min(3000, Math.floor(ms / 3))) };
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

/** How long a starting stream waits for a topic of its own that was just created to be served. */
const CREATED_TOPIC_READY_MS = 30_000;

/**
 * The partition count of one of Eddy's own topics (a changelog, a dead-letter topic), creating it
 * as `spec` says when missing. Not the client's wait for leaders, which gives up when the broker
 * it asks does not know the topic yet: created a moment ago (here, or by another process starting
 * the same stream), its partitions can be unknown to that broker, or without a leader, for a
 * while, so this waits for every partition to have one.
 */
export async function ensureTopic(admin: Admin, spec: ITopicConfig): Promise<number> {
  const { topic } = spec;
  if (!(await admin.listTopics()).includes(topic)) await admin.createTopics({ waitForLeaders: false, topics: [spec] });
  const deadline = Date.now() + CREATED_TOPIC_READY_MS;
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      const parts = meta.topics[0]?.partitions ?? [];
      if (parts.length > 0 && parts.every((p) => p.leader >= 0)) return parts.length;
    } catch (err) {
      const type = kafkaErrorType(err);
      if ((type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') || Date.now() > deadline)
        throw err;
    }
    if (Date.now() > deadline) throw new Error(`the partitions of Kafka topic ${topic} have no leader`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
