import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parseKafkaEndpoint } from '../src/kafka/endpoint.js';
import { readProfiles, resolveProfile } from '../src/kafka/profiles.js';
import { envSecurity } from '../src/kafka/security.js';
import { runEddy } from './helpers/cli-in-process.js';

/**
 * Kafka profiles (`eddy profile …`, `kafka://@NAME/topic`) and TLS/SASL settings, without a
 * broker: the file's shape, its checks, and what an endpoint resolves to. The TLS handshake
 * itself is tested against a real broker in kafka-state.test.ts.
 */

function place() {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-profiles-'));
  const file = join(dir, 'conf', 'profiles.yaml');
  const env = { EDDY_PROFILES: file };
  const eddy = (...args: string[]) => runEddy(join(dir, 'data'), args, '', dir, env);
  return { dir, file, env, eddy };
}

test('eddy profile add, list, current, switch, rename, export and delete keep one file, readable by its owner only', async (t) => {
  const { dir, file, env, eddy } = place();
  t.regex((await eddy('profile', 'list')).stdout, /No profiles/);
  writeFileSync(join(dir, 'ca.pem'), 'not read until used');
  const add = await eddy(
    'profile',
    'add',
    'prod',
    'b1.example:9093,b2.example:9093',
    '--tls-ca',
    join(dir, 'ca.pem'),
    '--sasl-username',
    'alice',
    '--sasl-mechanism',
    'SCRAM-SHA-512',
  );
  t.is(add.code, 0, add.stderr);
  t.is(add.stdout, 'added profile prod (current)\n');
  t.is((await eddy('profile', 'add', 'dev', '127.0.0.1:9092')).stdout, 'added profile dev\n');
  t.is(statSync(file).mode & 0o777, 0o600);
  const list = (await eddy('profile', 'list')).stdout;
  t.regex(list, /\*\s+prod\s+b1\.example:9093,b2\.example:9093\s+tls, sasl scram-sha-512 alice/);
  t.regex(list, /\n\s+dev\s+127\.0\.0\.1:9092\s+plaintext/);
  t.is((await eddy('profile', 'current')).stdout, 'prod\n');
  t.is((await eddy('profile', 'switch', 'dev')).code, 0);
  t.is(resolveProfile('', env).name, 'dev');
  t.is((await eddy('profile', 'rename', 'prod', 'live')).code, 0);
  const exported = (await eddy('profile', 'export', 'live')).stdout;
  t.regex(exported, /live:\n\s+brokers:\n\s+- b1\.example:9093/);
  t.regex(exported, /mechanism: scram-sha-512/);
  t.false(/password/.test(readFileSync(file, 'utf8')));
  t.deepEqual(
    JSON.parse((await eddy('profile', 'list', '--json')).stdout).map((p: { name: string; current: boolean }) => [
      p.name,
      p.current,
    ]),
    [
      ['dev', true],
      ['live', false],
    ],
  );
  t.is((await eddy('profile', 'delete', 'dev')).stdout, 'deleted profile dev; no profile is current now\n');
  const none = await eddy('profile', 'current');
  t.is(none.code, 1);
  t.regex(none.stderr, /no current profile/);
  // Names and addresses are checked before anything is written.
  t.regex((await eddy('profile', 'add', 'Prod', 'x:1')).stderr, /profile name "Prod" is not valid/);
  t.regex((await eddy('profile', 'add', 'x', 'nohost')).stderr, /broker "nohost" is not HOST:PORT/);
  t.regex(
    (await eddy('profile', 'add', 'x', 'h:1', '--tls-cert', 'c.pem')).stderr,
    /--tls-cert and --tls-key go together/,
  );
  t.regex((await eddy('profile', 'switch', 'ghost')).stderr, /no profile ghost/);
});

test('kafka://@NAME/topic resolves brokers and security from the profile; the password from its file or the environment', (t) => {
  const { dir, file, env } = place();
  const pw = join(dir, 'pw');
  writeFileSync(pw, 's3cret\n');
  writeFileSync(join(dir, 'ca.pem'), 'CA BYTES');
  writeFileSync(
    join(dir, 'p.yaml'),
    `current: a\nprofiles:\n  a:\n    brokers: [h1:9093, h2:9093]\n    client-id: eddy-a\n    tls: { ca: ${join(dir, 'ca.pem')} }\n    sasl: { username: alice, password-file: ${pw}, mechanism: scram-sha-256 }\n  b:\n    brokers: h3:9092\n    sasl: { username: bob }\n`,
  );
  const e = { EDDY_PROFILES: join(dir, 'p.yaml') };
  const a = parseKafkaEndpoint('kafka://@/orders', e);
  t.deepEqual(a.brokers, ['h1:9093', 'h2:9093']);
  t.is(a.topic, 'orders');
  t.is(a.profile, 'a');
  t.is(a.clientId, 'eddy-a');
  t.deepEqual(a.security.sasl, { mechanism: 'scram-sha-256', username: 'alice', password: 's3cret' });
  t.is(Buffer.from(a.security.tls!.ca as Buffer).toString(), 'CA BYTES');
  t.true(a.security.tls!.rejectUnauthorized);
  // No password file: EDDY_KAFKA_PASSWORD, else a clear refusal.
  t.is(
    (parseKafkaEndpoint('kafka://@b/x', { ...e, EDDY_KAFKA_PASSWORD: 'pw' }).security.sasl as { password: string })
      .password,
    'pw',
  );
  t.throws(() => parseKafkaEndpoint('kafka://@b/x', e), {
    code: 'EDDY_KAFKA_PROFILE',
    message: /profile b has a SASL user but no password: set sasl\.password-file or EDDY_KAFKA_PASSWORD/,
  });
  t.throws(() => parseKafkaEndpoint('kafka://@c/x', e), { message: /no profile c in .*p\.yaml \(it has a, b\)/ });
  t.throws(() => parseKafkaEndpoint('kafka://@BAD/x', e), { code: 'EDDY_KAFKA_ENDPOINT' });
  // With no profiles file at all, `@` says how to make one.
  t.throws(() => parseKafkaEndpoint('kafka://@/x', env), { message: /no current profile in .*; pick one/ });
  t.false(statSync(dir).isFile());
  t.is(readProfiles(file).current, null);
});

test('a malformed profiles file is refused naming the file and the field', (t) => {
  const { dir } = place();
  const cases: [string, RegExp][] = [
    ['profiles:\n  a:\n    brokers: [h:1]\n    colour: red\n', /profile a has an unknown field "colour"/],
    ['profiles:\n  a:\n    brokers: [nope]\n', /profile a\.brokers: broker "nope" is not HOST:PORT/],
    [
      'profiles:\n  a:\n    brokers: [h:1]\n    tls: { verify: maybe }\n',
      /profile a\.tls\.verify must be true or false/,
    ],
    ['profiles:\n  a:\n    brokers: [h:1]\n    sasl: { mechanism: plain }\n', /profile a\.sasl needs a username/],
    ['profiles: [\n', /line \d+/],
    ['extra: 1\n', /unknown field "extra"/],
  ];
  for (const [i, [text, why]] of cases.entries()) {
    const f = join(dir, `bad${i}.yaml`);
    writeFileSync(f, text);
    t.throws(() => readProfiles(f), { code: 'EDDY_KAFKA_PROFILE', message: why }, text);
    t.throws(() => readProfiles(f), { message: new RegExp(f.replace(/[.]/g, '\\.')) });
  }
});

test('TLS and SASL from the environment: files read when set, a missing file or half a pair named', (t) => {
  const { dir } = place();
  t.deepEqual(envSecurity({}), { sasl: null, tls: null });
  t.deepEqual(envSecurity({ EDDY_KAFKA_TLS: '1' }).tls, { rejectUnauthorized: true });
  writeFileSync(join(dir, 'ca.pem'), 'CA');
  t.is(String(envSecurity({ EDDY_KAFKA_TLS_CA: join(dir, 'ca.pem') }).tls!.ca), 'CA');
  t.throws(() => envSecurity({ EDDY_KAFKA_TLS_CA: join(dir, 'missing.pem') }), {
    code: 'EDDY_KAFKA_TLS_CONFIG',
    message: /cannot read CA file .*missing\.pem \(ENOENT\)/,
  });
  t.throws(() => envSecurity({ EDDY_KAFKA_TLS_CERT: join(dir, 'ca.pem') }), {
    message: /give both a client certificate and its key, or neither/,
  });
  t.throws(() => envSecurity({ EDDY_KAFKA_USERNAME: 'u' }), { code: 'EDDY_KAFKA_AUTH_CONFIG' });
  t.throws(
    () => envSecurity({ EDDY_KAFKA_USERNAME: 'u', EDDY_KAFKA_PASSWORD: 'p', EDDY_KAFKA_SASL_MECHANISM: 'gssapi' }),
    {
      message: /"gssapi" is not one of plain, scram-sha-256, scram-sha-512/,
    },
  );
});
