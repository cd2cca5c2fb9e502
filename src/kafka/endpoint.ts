import { KafkaEndpointError } from './errors.js';

/**
 * A Kafka topic named as a derived stream's source or target: `kafka://HOST:PORT[,HOST:PORT…]/topic`.
 * The hosts are the bootstrap brokers; the client learns the rest of the cluster from them.
 */
export interface KafkaEndpoint {
  brokers: string[];
  topic: string;
}

const SCHEME = 'kafka://';

export function isKafkaEndpoint(s: string): boolean {
  return typeof s === 'string' && s.startsWith(SCHEME);
}

/** Parses `kafka://host:port[,host:port]/topic`; throws a KafkaEndpointError saying what is wrong. */
export function parseKafkaEndpoint(s: string): KafkaEndpoint {
  const rest = s.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const hosts = slash < 0 ? rest : rest.slice(0, slash);
  const topic = slash < 0 ? '' : rest.slice(slash + 1);
  if (hosts === '') throw new KafkaEndpointError(s, 'no broker address');
  if (topic === '' || topic.includes('/'))
    throw new KafkaEndpointError(s, 'no topic after the broker addresses (one path segment)');
  const brokers = hosts.split(',');
  for (const b of brokers) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(b);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
      throw new KafkaEndpointError(s, `broker ${JSON.stringify(b)} is not HOST:PORT`);
  }
  return { brokers, topic };
}

/** Both ends of a Kafka derived stream: one cluster (a transaction cannot span two). */
export function kafkaEnds(source: string, target: string): { brokers: string[]; source: string; target: string } {
  const s = parseKafkaEndpoint(source);
  if (!isKafkaEndpoint(target))
    throw new KafkaEndpointError(
      target,
      'a stream with a Kafka source needs a Kafka target (kafka://HOST:PORT/topic) on the same cluster for now',
    );
  const t = parseKafkaEndpoint(target);
  if (s.brokers.join(',') !== t.brokers.join(',')) {
    throw new KafkaEndpointError(
      target,
      `the target must be on the same cluster as the source (${s.brokers.join(',')}): output and offsets commit in one Kafka transaction`,
    );
  }
  return { brokers: s.brokers, source: s.topic, target: t.topic };
}

/** True when a derived stream reads or writes Kafka (either end). */
export function isKafkaDerive(config: { source: string; target: string }): boolean {
  return isKafkaEndpoint(config.source) || isKafkaEndpoint(config.target);
}
