import type { Command } from 'commander';
import {
  brokerProblem,
  type KafkaProfile,
  PROFILE_NAME,
  profilesPath,
  profileYaml,
  readProfiles,
  writeProfiles,
} from '../kafka/profiles.js';
import { outputFormat, printJson, withOutputOptions } from './common.js';
import { type CliContext, UsageError } from './format.js';
import { formatTable } from './units.js';

/**
 * `eddy profile …`, as `fluvio profile`: named Kafka clusters (brokers, client id, TLS files,
 * SASL user) that `kafka://@NAME/topic` endpoints use, one of them current (`kafka://@/topic`).
 * The file is the user's, outside any data directory (kafka/profiles.ts).
 */

interface AddOptions {
  clientId?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsNoVerify?: boolean;
  saslUsername?: string;
  saslMechanism?: string;
  saslPasswordFile?: string;
}

function checkName(name: string): void {
  if (!PROFILE_NAME.test(name))
    throw new UsageError(
      `profile name ${JSON.stringify(name)} is not valid: use lowercase letters, digits and '-', starting with a letter or digit`,
    );
}

function profileFrom(address: string, o: AddOptions): KafkaProfile {
  const brokers = address.split(',');
  const problem = brokerProblem(brokers);
  if (problem) throw new UsageError(`${problem}; give the brokers as HOST:PORT[,HOST:PORT…]`);
  const p: KafkaProfile = { brokers };
  if (o.clientId) p.clientId = o.clientId;
  if (o.tlsCa || o.tlsCert || o.tlsKey || o.tlsNoVerify) {
    if (!o.tlsCert !== !o.tlsKey) throw new UsageError('--tls-cert and --tls-key go together: give both or neither');
    p.tls = {
      ...(o.tlsCa ? { ca: o.tlsCa } : {}),
      ...(o.tlsCert ? { cert: o.tlsCert, key: o.tlsKey! } : {}),
      ...(o.tlsNoVerify ? { verify: false } : {}),
    };
  }
  if (o.saslUsername) {
    p.sasl = {
      username: o.saslUsername,
      ...(o.saslMechanism ? { mechanism: o.saslMechanism.toLowerCase() } : {}),
      ...(o.saslPasswordFile ? { passwordFile: o.saslPasswordFile } : {}),
    };
  } else if (o.saslMechanism || o.saslPasswordFile) {
    throw new UsageError('--sasl-mechanism and --sasl-password-file need --sasl-username');
  }
  if (p.sasl?.mechanism && !['plain', 'scram-sha-256', 'scram-sha-512'].includes(p.sasl.mechanism))
    throw new UsageError(`--sasl-mechanism must be plain, scram-sha-256 or scram-sha-512, got ${o.saslMechanism}`);
  return p;
}

function security(p: KafkaProfile): string {
  const parts = [];
  if (p.tls) parts.push(p.tls.verify === false ? 'tls (unverified)' : p.tls.cert ? 'tls+cert' : 'tls');
  if (p.sasl) parts.push(`sasl ${p.sasl.mechanism ?? 'plain'} ${p.sasl.username}`);
  return parts.join(', ') || 'plaintext';
}

export function registerProfileCommand(program: Command, ctx: CliContext): void {
  const env = () => ctx.io().env ?? process.env;
  const profile = program
    .command('profile')
    .summary('named Kafka clusters for kafka://@NAME/topic endpoints')
    .description(
      'Kafka cluster profiles, as `fluvio profile`: a name for brokers, client id, TLS files and SASL user, ' +
        'used by endpoints written kafka://@NAME/topic (kafka://@/topic: the current profile). ' +
        `Kept in $EDDY_PROFILES, else $XDG_CONFIG_HOME/eddy/profiles.yaml (now ${profilesPath()}), mode 0600. ` +
        'A SASL password is never stored: it is read from --sasl-password-file or EDDY_KAFKA_PASSWORD when connecting.',
    );

  profile
    .command('add <name> <brokers>')
    .description(
      'Add or replace a profile. The first one added becomes current.\n\nExample:\n' +
        '  eddy profile add prod b1.example:9093,b2.example:9093 --tls-ca ca.pem --sasl-username alice --sasl-mechanism scram-sha-512',
    )
    .option('--client-id <id>', 'client id the Kafka client sends (default eddy-<stream>)')
    .option('--tls-ca <file>', "PEM file of the CA that signed the brokers' certificates (turns TLS on)")
    .option('--tls-cert <file>', 'PEM client certificate, for brokers that require one (with --tls-key)')
    .option('--tls-key <file>', 'PEM key of the client certificate')
    .option('--tls-no-verify', "TLS without checking the brokers' certificates (testing only)")
    .option('--sasl-username <user>', 'SASL user')
    .option('--sasl-mechanism <m>', 'plain (default), scram-sha-256 or scram-sha-512')
    .option('--sasl-password-file <file>', 'file holding the SASL password (else EDDY_KAFKA_PASSWORD)')
    .action((name: string, brokers: string, o: AddOptions) => {
      checkName(name);
      const file = profilesPath(env());
      const data = readProfiles(file);
      const replaced = name in data.profiles;
      data.profiles[name] = profileFrom(brokers, o);
      data.current ??= name;
      writeProfiles(data, file);
      ctx
        .io()
        .stdout.write(
          `${replaced ? 'replaced' : 'added'} profile ${name}${data.current === name ? ' (current)' : ''}\n`,
        );
    });

  withOutputOptions(profile.command('list').description('List the profiles; * marks the current one.')).action(
    (o: { output?: string; json?: boolean }) => {
      const format = outputFormat(o);
      const { current, profiles } = readProfiles(profilesPath(env()));
      const io = ctx.io();
      const names = Object.keys(profiles).sort();
      if (format === 'json') {
        printJson(
          io,
          names.map((n) => ({ name: n, current: n === current, ...profiles[n] })),
        );
        return;
      }
      if (names.length === 0) {
        io.stdout.write('No profiles; add one with eddy profile add NAME HOST:PORT\n');
        return;
      }
      io.stdout.write(
        formatTable(
          ['', 'PROFILE', 'BROKERS', 'SECURITY'],
          names.map((n) => [n === current ? '*' : '', n, profiles[n]!.brokers.join(','), security(profiles[n]!)]),
        ),
      );
    },
  );

  profile
    .command('current')
    .description('Print the current profile')
    .action(() => {
      const { current } = readProfiles(profilesPath(env()));
      if (!current) throw new UsageError('no current profile; add one with eddy profile add NAME HOST:PORT');
      ctx.io().stdout.write(`${current}\n`);
    });

  profile
    .command('switch <name>')
    .description('Make a profile current (what kafka://@/topic uses)')
    .action((name: string) => {
      const file = profilesPath(env());
      const data = readProfiles(file);
      if (!(name in data.profiles)) throw new UsageError(`no profile ${name}; eddy profile list shows the profiles`);
      data.current = name;
      writeProfiles(data, file);
      ctx.io().stdout.write(`current profile is ${name}\n`);
    });

  profile
    .command('delete <name>')
    .description('Delete a profile')
    .action((name: string) => {
      const file = profilesPath(env());
      const data = readProfiles(file);
      if (!(name in data.profiles)) throw new UsageError(`no profile ${name}; eddy profile list shows the profiles`);
      delete data.profiles[name];
      if (data.current === name) data.current = null;
      writeProfiles(data, file);
      ctx.io().stdout.write(`deleted profile ${name}${data.current === null ? '; no profile is current now' : ''}\n`);
    });

  profile
    .command('rename <from> <to>')
    .description('Rename a profile (streams saved with kafka://@FROM/… keep the old name: create them again)')
    .action((from: string, to: string) => {
      checkName(to);
      const file = profilesPath(env());
      const data = readProfiles(file);
      if (!(from in data.profiles)) throw new UsageError(`no profile ${from}; eddy profile list shows the profiles`);
      if (to in data.profiles) throw new UsageError(`profile ${to} exists already; delete it first`);
      data.profiles[to] = data.profiles[from]!;
      delete data.profiles[from];
      if (data.current === from) data.current = to;
      writeProfiles(data, file);
      ctx.io().stdout.write(`renamed profile ${from} to ${to}\n`);
    });

  profile
    .command('export [name]')
    .description('Print a profile (default: the current one) as YAML, to copy to another machine')
    .action((name: string | undefined) => {
      const { current, profiles } = readProfiles(profilesPath(env()));
      const n = name ?? current;
      if (!n) throw new UsageError('no current profile; name the profile to export');
      const p = profiles[n];
      if (!p) throw new UsageError(`no profile ${n}; eddy profile list shows the profiles`);
      ctx.io().stdout.write(profileYaml(n, p));
    });
}
