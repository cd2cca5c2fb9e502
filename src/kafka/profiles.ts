import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseUserYaml, UserYamlProblem, userYamlToJs } from '../user-yaml.js';
import { stringify } from '../yaml-lib.js';
import { KafkaProfileError } from './errors.js';
import { envSasl, envTls, type KafkaSecurity, saslOptions, type TlsFiles, tlsOptions } from './security.js';

/**
 * Named Kafka cluster settings, as `fluvio profile` keeps named clusters: a user writes
 * `kafka://@prod/orders` instead of the brokers, and each machine's profile says where prod's
 * brokers are and how to reach them (TLS files, SASL user). A stream's saved definition keeps
 * only the name, so the same definition works on machines whose paths and secrets differ.
 *
 * The file is YAML, `$EDDY_PROFILES` or `$XDG_CONFIG_HOME/eddy/profiles.yaml` (default
 * `~/.config/eddy/profiles.yaml`), written with mode 0600:
 *
 *   current: prod
 *   profiles:
 *     prod:
 *       brokers: [b1.example:9093, b2.example:9093]
 *       client-id: eddy-prod            # optional
 *       tls: { ca: /etc/kafka/ca.pem, cert: …, key: …, verify: true }   # optional
 *       sasl: { mechanism: scram-sha-512, username: alice, password-file: /run/secrets/kafka }  # optional
 *
 * A SASL password comes from `password-file`, else from EDDY_KAFKA_PASSWORD; it is never stored
 * in the profile itself.
 */

export interface KafkaProfile {
  brokers: string[];
  clientId?: string;
  tls?: TlsFiles;
  sasl?: { mechanism?: string; username: string; passwordFile?: string };
}

export interface ProfilesFile {
  current: string | null;
  profiles: Record<string, KafkaProfile>;
}

export function profilesPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env['EDDY_PROFILES']) return env['EDDY_PROFILES'];
  const base = env['XDG_CONFIG_HOME'] || join(homedir(), '.config');
  return join(base, 'eddy', 'profiles.yaml');
}

/** Profile names as Fluvio's: lowercase letters, digits and '-', starting with a letter or digit. */
export const PROFILE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

const BROKER = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]/@,]+):(\d{1,5})$/;

/** Checks broker addresses (HOST:PORT); returns the problem, or null. */
export function brokerProblem(brokers: readonly string[]): string | null {
  if (brokers.length === 0) return 'no broker address';
  for (const b of brokers) {
    const m = BROKER.exec(b);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) return `broker ${JSON.stringify(b)} is not HOST:PORT`;
  }
  return null;
}

const KEYS: Record<string, readonly string[]> = {
  profile: ['brokers', 'client-id', 'tls', 'sasl'],
  tls: ['ca', 'cert', 'key', 'verify'],
  sasl: ['mechanism', 'username', 'password-file'],
};

function object(v: unknown, where: string, file: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new KafkaProfileError(`${file}: ${where} must be a mapping`);
  return v as Record<string, unknown>;
}

function only(o: Record<string, unknown>, kind: string, where: string, file: string): void {
  for (const k of Object.keys(o))
    if (!KEYS[kind]!.includes(k))
      throw new KafkaProfileError(
        `${file}: ${where} has an unknown field ${JSON.stringify(k)} (known: ${KEYS[kind]!.join(', ')})`,
      );
}

function str(v: unknown, where: string, file: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v === '') throw new KafkaProfileError(`${file}: ${where} must be a non-empty string`);
  return v;
}

function profileFrom(v: unknown, name: string, file: string): KafkaProfile {
  const where = `profile ${name}`;
  const o = object(v, where, file);
  only(o, 'profile', where, file);
  const brokers = o['brokers'];
  const list = typeof brokers === 'string' ? brokers.split(',') : brokers;
  if (!Array.isArray(list) || !list.every((b) => typeof b === 'string'))
    throw new KafkaProfileError(`${file}: ${where}.brokers must be a list of HOST:PORT`);
  const problem = brokerProblem(list as string[]);
  if (problem) throw new KafkaProfileError(`${file}: ${where}.brokers: ${problem}`);
  const p: KafkaProfile = { brokers: list as string[] };
  const clientId = str(o['client-id'], `${where}.client-id`, file);
  if (clientId) p.clientId = clientId;
  if (o['tls'] !== undefined && o['tls'] !== null) {
    const t = object(o['tls'], `${where}.tls`, file);
    only(t, 'tls', `${where}.tls`, file);
    if (t['verify'] !== undefined && typeof t['verify'] !== 'boolean')
      throw new KafkaProfileError(`${file}: ${where}.tls.verify must be true or false`);
    p.tls = {};
    for (const k of ['ca', 'cert', 'key'] as const) {
      const f = str(t[k], `${where}.tls.${k}`, file);
      if (f) p.tls[k] = f;
    }
    if (t['verify'] === false) p.tls.verify = false;
  }
  if (o['sasl'] !== undefined && o['sasl'] !== null) {
    const s = object(o['sasl'], `${where}.sasl`, file);
    only(s, 'sasl', `${where}.sasl`, file);
    const username = str(s['username'], `${where}.sasl.username`, file);
    if (!username) throw new KafkaProfileError(`${file}: ${where}.sasl needs a username`);
    p.sasl = { username };
    const mechanism = str(s['mechanism'], `${where}.sasl.mechanism`, file);
    if (mechanism) p.sasl.mechanism = mechanism;
    const passwordFile = str(s['password-file'], `${where}.sasl.password-file`, file);
    if (passwordFile) p.sasl.passwordFile = passwordFile;
  }
  return p;
}

/** The profiles file (empty when there is none); a malformed one is refused naming the file and field. */
export function readProfiles(file = profilesPath()): ProfilesFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { current: null, profiles: {} };
    throw new KafkaProfileError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const doc = parseUserYaml(text);
  const js = doc instanceof UserYamlProblem ? doc : userYamlToJs(doc);
  if (js instanceof UserYamlProblem)
    throw new KafkaProfileError(`${file}${js.line ? `, line ${js.line}` : ''}: ${js.problem}`);
  if (js === null || js === undefined) return { current: null, profiles: {} };
  const o = object(js, 'the file', file);
  for (const k of Object.keys(o))
    if (k !== 'current' && k !== 'profiles')
      throw new KafkaProfileError(`${file}: unknown field ${JSON.stringify(k)} (known: current, profiles)`);
  const profiles: Record<string, KafkaProfile> = {};
  for (const [name, v] of Object.entries(object(o['profiles'] ?? {}, 'profiles', file))) {
    if (!PROFILE_NAME.test(name))
      throw new KafkaProfileError(`${file}: profile name ${JSON.stringify(name)} is not valid`);
    profiles[name] = profileFrom(v, name, file);
  }
  const current = str(o['current'], 'current', file) ?? null;
  return { current, profiles };
}

function toYaml(p: KafkaProfile): Record<string, unknown> {
  return {
    brokers: p.brokers,
    ...(p.clientId ? { 'client-id': p.clientId } : {}),
    ...(p.tls ? { tls: { ...p.tls } } : {}),
    ...(p.sasl
      ? {
          sasl: {
            username: p.sasl.username,
            ...(p.sasl.mechanism ? { mechanism: p.sasl.mechanism } : {}),
            ...(p.sasl.passwordFile ? { 'password-file': p.sasl.passwordFile } : {}),
          },
        }
      : {}),
  };
}

/** Writes the profiles file whole (a temp file renamed over it), readable by its owner only. */
export function writeProfiles(data: ProfilesFile, file = profilesPath()): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const body = {
    current: data.current,
    profiles: Object.fromEntries(Object.entries(data.profiles).map(([n, p]) => [n, toYaml(p)])),
  };
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, stringify(body), { mode: 0o600 });
  renameSync(tmp, file);
}

/** One profile as YAML (what `eddy profile export` prints). */
export function profileYaml(name: string, p: KafkaProfile): string {
  return stringify({ profiles: { [name]: toYaml(p) } });
}

/** A cluster resolved from a profile: where, how, and under which client id. */
export interface ResolvedCluster {
  /** The profile's name (the current one's, when none was named). */
  name: string;
  brokers: string[];
  clientId: string | null;
  security: KafkaSecurity;
}

/** Profile `name` (the current one for '') resolved for connecting: files read, password found. */
export function resolveProfile(name: string, env: NodeJS.ProcessEnv = process.env): ResolvedCluster {
  const file = profilesPath(env);
  const { current, profiles } = readProfiles(file);
  const wanted = name === '' ? current : name;
  if (!wanted)
    throw new KafkaProfileError(
      `no current profile in ${file}; pick one with eddy profile switch NAME, or name it (kafka://@NAME/topic)`,
    );
  const p = profiles[wanted];
  if (!p) {
    const known = Object.keys(profiles);
    throw new KafkaProfileError(
      `no profile ${wanted} in ${file}${known.length ? ` (it has ${known.join(', ')})` : ''}; add it with eddy profile add ${wanted} HOST:PORT`,
    );
  }
  const where = `profile ${wanted}`;
  // What the profile does not set comes from the environment (only then read, so unused variables cannot fail it).
  let sasl = p.sasl ? null : envSasl(env);
  if (p.sasl) {
    let password = env['EDDY_KAFKA_PASSWORD'];
    if (p.sasl.passwordFile) {
      try {
        password = readFileSync(p.sasl.passwordFile, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        throw new KafkaProfileError(
          `${where}: cannot read sasl.password-file ${p.sasl.passwordFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        );
      }
    }
    if (password === undefined)
      throw new KafkaProfileError(
        `${where} has a SASL user but no password: set sasl.password-file or EDDY_KAFKA_PASSWORD`,
      );
    sasl = saslOptions(p.sasl.username, password, p.sasl.mechanism, where);
  }
  const tls = p.tls ? tlsOptions(p.tls, where) : envTls(env);
  return { name: wanted, brokers: p.brokers, clientId: p.clientId ?? null, security: { sasl, tls } };
}
