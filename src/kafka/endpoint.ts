import { KafkaEndpointError } from './errors.js';
import { brokerProblem, PROFILE_NAME, resolveProfile } from './profiles.js';
import { envSecurity, type KafkaSecurity } from './security.js';

/**
 * A Kafka topic named as a derived stream's source or target: `kafka://HOST:PORT[,HOST:PORT…]/topic`,
 * or `kafka://@PROFILE/topic` (`kafka://@/topic`: the current profile) for a cluster kept in a
 * profile (profiles.ts). The hosts are the bootstrap brokers; the client learns the rest of the
 * cluster from them. Security comes from the profile, else from the environment.
 */
export interface KafkaEndpoint {
  brokers: string[];
  topic: string;
  /** The profile used (the current one's name for `@`), or null for brokers written out. */
  profile: string | null;
  /** The profile's client id, if it sets one. */
  clientId: string | null;
  security: KafkaSecurity;
}

const SCHEME = 'kafka://';

export function isKafkaEndpoint(s: string): boolean {
  return typeof s === 'string' && s.startsWith(SCHEME);
}

/** Parses a `kafka://` address (reading the profile it names); throws a KafkaEndpointError saying what is wrong. */
export function parseKafkaEndpoint(s: string, env: NodeJS.ProcessEnv = process.env): KafkaEndpoint {
  const rest = s.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const hosts = slash < 0 ? rest : rest.slice(0, slash);
  const topic = slash < 0 ? '' : rest.slice(slash + 1);
  if (hosts === '') throw new KafkaEndpointError(s, 'no broker address');
  if (topic === '' || topic.includes('/'))
    throw new KafkaEndpointError(s, 'no topic after the broker addresses (one path segment)');
  if (hosts.startsWith('@')) {
    const profile = hosts.slice(1);
    if (profile !== '' && !PROFILE_NAME.test(profile))
      throw new KafkaEndpointError(s, `${JSON.stringify(profile)} is not a profile name`);
    const { name, brokers, clientId, security } = resolveProfile(profile, env);
    return { brokers, topic, profile: name, clientId, security };
  }
  const brokers = hosts.split(',');
  const problem = brokerProblem(brokers);
  if (problem) throw new KafkaEndpointError(s, problem);
  return { brokers, topic, profile: null, clientId: null, security: envSecurity(env) };
}

/** Both ends of a Kafka derived stream: one cluster (a transaction cannot span two). */
export function kafkaEnds(
  source: string,
  target: string,
): { brokers: string[]; source: string; target: string; clientId: string | null; security: KafkaSecurity } {
  const s = parseKafkaEndpoint(source);
  if (!isKafkaEndpoint(target))
    throw new KafkaEndpointError(
      target,
      'a stream with a Kafka source needs a Kafka target (kafka://HOST:PORT/topic) on the same cluster for now',
    );
  const t = parseKafkaEndpoint(target);
  if (s.brokers.join(',') !== t.brokers.join(',') || s.profile !== t.profile) {
    throw new KafkaEndpointError(
      target,
      `the target must be on the same cluster as the source (${s.profile !== null ? `@${s.profile}` : s.brokers.join(',')}): output and offsets commit in one Kafka transaction`,
    );
  }
  return { brokers: s.brokers, source: s.topic, target: t.topic, clientId: s.clientId, security: s.security };
}

/** True when a derived stream reads or writes Kafka (either end). */
export function isKafkaDerive(config: { source: string; target: string }): boolean {
  return isKafkaEndpoint(config.source) || isKafkaEndpoint(config.target);
}
