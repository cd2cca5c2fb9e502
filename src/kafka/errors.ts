import { EddyError } from '../errors.js';

/** A `kafka://` address that cannot be used. */
export class KafkaEndpointError extends EddyError {
  constructor(
    readonly endpoint: string,
    why: string,
  ) {
    super(
      'EDDY_KAFKA_ENDPOINT',
      `${endpoint}: ${why}; write it as kafka://HOST:PORT[,HOST:PORT…]/topic or kafka://@PROFILE/topic`,
    );
  }
}

/** No broker of the cluster answered. */
export class KafkaUnreachableError extends EddyError {
  constructor(
    readonly brokers: string[],
    why: string,
    options?: { cause?: unknown },
  ) {
    super(
      'EDDY_KAFKA_UNREACHABLE',
      `cannot reach the Kafka cluster at ${brokers.join(',')} (${why}); check the address and port and that the brokers run`,
      options,
    );
  }
}

/** The cluster refused the SASL credentials Eddy was given. */
export class KafkaAuthError extends EddyError {
  constructor(
    readonly brokers: string[],
    readonly why: string,
    options?: { cause?: unknown },
    /** Where the credentials came from: a connector names its own settings. */
    from = 'EDDY_KAFKA_USERNAME, EDDY_KAFKA_PASSWORD and EDDY_KAFKA_SASL_MECHANISM',
  ) {
    super(
      'EDDY_KAFKA_AUTH',
      `the Kafka cluster at ${brokers.join(',')} refused the credentials (${why}); check ${from} against the cluster's users`,
      options,
    );
  }
}

/** SASL settings in the environment that cannot be used. */
export class KafkaAuthConfigError extends EddyError {
  constructor(why: string) {
    super('EDDY_KAFKA_AUTH_CONFIG', `Kafka SASL settings: ${why}`);
  }
}

/** A Kafka setting from the environment (other than SASL's) that cannot be used. */
export class KafkaConfigError extends EddyError {
  constructor(why: string) {
    super('EDDY_KAFKA_CONFIG', `Kafka settings: ${why}`);
  }
}

/** A Kafka profile that is missing or cannot be used. */
export class KafkaProfileError extends EddyError {
  constructor(why: string) {
    super('EDDY_KAFKA_PROFILE', `Kafka profile: ${why}`);
  }
}

/** TLS settings (environment or profile) that cannot be used. */
export class KafkaTlsConfigError extends EddyError {
  constructor(why: string) {
    super('EDDY_KAFKA_TLS_CONFIG', `Kafka TLS settings: ${why}`);
  }
}

/** The TLS handshake with a broker failed: its certificate is not trusted, or it refused ours. */
export class KafkaTlsError extends EddyError {
  constructor(
    readonly brokers: string[],
    why: string,
    options?: { cause?: unknown },
  ) {
    super(
      'EDDY_KAFKA_TLS',
      `the TLS handshake with the Kafka cluster at ${brokers.join(',')} failed (${why}); set EDDY_KAFKA_TLS_CA (or the profile's CA) to the CA that signed the brokers' certificates, and EDDY_KAFKA_TLS_CERT/EDDY_KAFKA_TLS_KEY if the brokers require a client certificate`,
      options,
    );
  }
}

/** A source or target topic that the cluster does not have (Eddy does not create Kafka topics). */
export class KafkaTopicMissingError extends EddyError {
  constructor(
    readonly topic: string,
    readonly brokers: string[],
  ) {
    super(
      'EDDY_KAFKA_TOPIC_MISSING',
      `Kafka topic ${topic} does not exist on ${brokers.join(',')}; create it first (kafka-topics.sh --create --topic ${topic} --bootstrap-server ${brokers[0]})`,
    );
  }
}

/** A chain feature that Kafka endpoints do not support yet. */
export class KafkaUnsupportedError extends EddyError {
  constructor(
    readonly stream: string,
    what: string,
  ) {
    super(
      'EDDY_KAFKA_UNSUPPORTED',
      `derived stream ${stream}: ${what} is not supported with Kafka endpoints yet; use Eddy topics for this chain`,
    );
  }
}

/** An output record larger than the target topic accepts. */
export class KafkaRecordTooLargeError extends EddyError {
  constructor(
    readonly stream: string,
    readonly partition: number,
    readonly topic: string,
  ) {
    super(
      'EDDY_KAFKA_RECORD_TOO_LARGE',
      `derived stream ${stream}, partition ${partition}: an output record is larger than Kafka topic ${topic} accepts; raise the topic's max.message.bytes (and the broker's message.max.bytes) or make the chain's records smaller, then run again`,
    );
  }
}

/** Any other failure the Kafka client reported, with where it happened. */
export class KafkaClientError extends EddyError {
  constructor(where: string, why: string, options?: { cause?: unknown }) {
    super('EDDY_KAFKA', `${where}: ${why}`, options);
  }
}

/** Turns what the Kafka client threw into an EddyError (once translated, errors pass through). */
export function kafkaError(err: unknown, brokers: string[], where: string): EddyError {
  if (err instanceof EddyError) return err;
  const e = err as {
    name?: string;
    message?: string;
    cause?: { name?: string; message?: string; code?: string } | undefined;
    originalError?: unknown;
  };
  const inner = (e.originalError ?? e.cause) as { name?: string; message?: string; code?: string } | undefined;
  const names = [e.name, inner?.name];
  // Not retried: the same credentials are refused again.
  if (names.includes('KafkaJSSASLAuthenticationError'))
    return new KafkaAuthError(brokers, (inner?.message ?? e.message ?? 'authentication failed').replace(/\.$/, ''), {
      cause: err,
    });
  // Node's TLS errors carry a code (self-signed certificate, unknown CA, handshake alert, …).
  const tlsCode = [inner?.code, (e as { code?: string }).code].find(
    (c) => typeof c === 'string' && /CERT|SELF_SIGNED|TLS|SSL|UNABLE_TO_VERIFY|HOSTNAME/.test(c),
  );
  const tlsText = /certificate|handshake|ssl|tls alert/i.test(`${inner?.message ?? ''} ${e.message ?? ''}`);
  if (tlsCode || (tlsText && names.some((n) => n === 'KafkaJSConnectionError' || n === 'KafkaJSConnectionClosedError')))
    return new KafkaTlsError(brokers, tlsWhy(inner?.message ?? e.message ?? 'handshake failed'), { cause: err });
  // A SASL listener closes the connection on a client that does not authenticate.
  if (names.includes('KafkaJSConnectionClosedError'))
    return new KafkaUnreachableError(
      brokers,
      'the broker closed the connection; if its listener requires SASL, set EDDY_KAFKA_USERNAME and EDDY_KAFKA_PASSWORD',
      { cause: err },
    );
  if (
    names.includes('KafkaJSConnectionError') ||
    names.includes('KafkaJSBrokerNotFound') ||
    names.includes('KafkaJSConnectionClosedError') ||
    names.includes('KafkaJSRequestTimeoutError')
  ) {
    return new KafkaUnreachableError(brokers, (inner?.message ?? e.message ?? 'no answer').replace(/\.$/, ''), {
      cause: err,
    });
  }
  return new KafkaClientError(where, e.message ?? String(err), { cause: err });
}

/** OpenSSL's multi-line error text cut to what the user needs: the alert the broker sent, or the one line. */
function tlsWhy(message: string): string {
  const alert = /alert ([a-z ]+?)(?::|$)/i.exec(message);
  if (alert) return `the broker refused the handshake: ${alert[1]!.trim()}`;
  return message.replace(/\s+/g, ' ').trim().replace(/\.$/, '');
}

/**
 * Whether the client's error says this producer was fenced: another process opened the same
 * transactional id (it took the partition over), so this one may no longer commit.
 */
export function isFenced(err: unknown): boolean {
  for (
    let e = err as { type?: string; code?: number; cause?: unknown; originalError?: unknown } | undefined;
    e;
    e = (e.originalError ?? e.cause) as typeof e
  ) {
    if (e.type === 'INVALID_PRODUCER_EPOCH' || e.type === 'PRODUCER_FENCED' || e.code === 47 || e.code === 90)
      return true;
  }
  return false;
}

/**
 * Whether the client marked its error as one that retrying cannot fix (a bad request, not a broker
 * blip). The client's "retries exceeded" wrapper is itself marked so, but what it wraps decides:
 * a broker that went away or a coordinator that is moving is worth trying again later.
 */
export function isPermanent(err: unknown): boolean {
  for (
    let e = err as { name?: string; retriable?: boolean; cause?: unknown; originalError?: unknown } | undefined;
    e;
    e = (e.originalError ?? e.cause) as typeof e
  ) {
    if (e.retriable === false && e.name !== 'KafkaJSNumberOfRetriesExceeded') return true;
  }
  return false;
}

/** The client's protocol error type (MESSAGE_TOO_LARGE, …) anywhere in the cause chain, or null. */
export function kafkaErrorType(err: unknown): string | null {
  for (
    let e = err as { type?: string; cause?: unknown; originalError?: unknown } | undefined;
    e;
    e = (e.originalError ?? e.cause) as typeof e
  ) {
    if (typeof e.type === 'string') return e.type;
  }
  return null;
}
