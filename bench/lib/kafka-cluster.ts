import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** scripts/kafka.sh of this checkout (this file runs from dist/bench/lib/; the Kafka tests and bench/kafka-client share it). */
export const kafkaScript = join(
  resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'),
  'scripts',
  'kafka.sh',
);

const has = (cmd: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/**
 * Why a real Kafka broker cannot be started here, or null when it can: Java is needed, and mvn
 * unless the broker's jars are already cached (CI has both; `.ci/run` fetches the jars first).
 */
export function kafkaUnavailable(): string | null {
  if (!has('java')) return 'java is not installed (a JDK 17+ runs the Kafka broker)';
  const version = process.env['EDDY_KAFKA_VERSION'] ?? '3.9.1';
  const cache = join(process.env['EDDY_KAFKA_CACHE'] ?? join(homedir(), '.cache', 'eddy'), `kafka-${version}`, 'ok');
  if (!existsSync(cache) && !has('mvn'))
    return 'mvn is not installed and the Kafka jars are not cached (scripts/kafka.sh fetch)';
  return null;
}

export interface KafkaCluster {
  /** host:port,… */
  bootstrap: string;
  /** With `saslUsers`: the SASL_PLAINTEXT listeners (mechanism PLAIN), host:port,… */
  saslBootstrap: string | null;
  /** With `tls`: the SSL listeners (client certificate required), host:port,… and the test certificates' files. */
  tlsBootstrap: string | null;
  tlsFiles: { ca: string; cert: string; key: string } | null;
  stop(): Promise<void>;
  /** Stops node `i` (1-based; SIGTERM, a controlled shutdown), keeping its data. */
  stopNode(i: number): Promise<void>;
  /** Starts node `i` again on its ports and data; resolves once it serves. */
  startNode(i: number): Promise<void>;
}

/** Runs scripts/kafka.sh with `args`; rejects with its stderr. */
function script(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise<string>((res, rej) => {
    execFile('bash', [kafkaScript, ...args], { timeout: 300_000, env }, (err, stdout, stderr) => {
      if (err) rej(new Error(`scripts/kafka.sh ${args[0]} failed: ${stderr || err.message}`));
      else res(stdout);
    });
  });
}

/**
 * Starts `nodes` real KRaft brokers on 127.0.0.1 (or `host`, an address of this machine) with
 * scripts/kafka.sh (in a temp dir of their own); `saslUsers` (user → password) adds a SASL/PLAIN
 * listener accepting them, `tls` an SSL listener whose certificates (a throwaway CA's) are in
 * `tlsFiles`.
 */
export async function startKafka(
  nodes: 1 | 3 = 1,
  options: { saslUsers?: Record<string, string>; tls?: boolean; host?: string } = {},
): Promise<KafkaCluster> {
  const dir = join(mkdtempSync(join(tmpdir(), 'eddy-kafka-')), 'cluster');
  const users = Object.entries(options.saslUsers ?? {}).map(([u, p]) => `${u}:${p}`);
  const env = {
    ...process.env,
    ...(users.length ? { EDDY_KAFKA_SASL_USERS: users.join(',') } : {}),
    ...(options.host ? { EDDY_KAFKA_HOST: options.host } : {}),
    ...(options.tls ? { EDDY_KAFKA_TLS: '1' } : {}),
  };
  const out = await script(['start', String(nodes), dir], env);
  const bootstrap = out.trim().split('\n').pop()!;
  return {
    bootstrap,
    saslBootstrap: users.length ? readFileSync(join(dir, 'bootstrap-sasl'), 'utf8').trim() : null,
    tlsBootstrap: options.tls ? readFileSync(join(dir, 'bootstrap-tls'), 'utf8').trim() : null,
    tlsFiles: options.tls
      ? {
          ca: join(dir, 'tls', 'ca.pem'),
          cert: join(dir, 'tls', 'client.pem'),
          key: join(dir, 'tls', 'client-key.pem'),
        }
      : null,
    stop: () =>
      new Promise<void>((res) => {
        execFile('bash', [kafkaScript, 'stop', dir], () => res());
      }),
    stopNode: async (i) => {
      await script(['stop-node', String(i), dir]);
    },
    startNode: async (i) => {
      await script(['start-node', String(i), dir]);
    },
  };
}
