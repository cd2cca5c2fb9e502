import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { openStorage } from '../src/open-storage.js';
import { readBatchHeader } from '../src/storage/batch-format.js';
import { CODEC_MASK, CODEC_SHIFT } from '../src/storage/codecs.js';

/**
 * A Fluvio user's day, typed as they would type it to `fluvio`, through the real command line in
 * child processes: a topic with two partitions, two producers writing it at once from two
 * "terminals", consume with `-O json`, `-p 0 -p 1`, a named consumer stopped by `--max-records`
 * and resumed, and an http source connector whose header carries a secret from a secrets file
 * (its batches stored gzip-compressed, as meta.producer.compression asks).
 */

const bin = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'bin', 'eddy.js');
const SECRET = 'tok-5ecr3t-value';

function setup() {
  const work = mkdtempSync(join(tmpdir(), 'eddy-fluvio-day-'));
  const env = { ...process.env, EDDY_DATA_DIR: join(work, 'data'), EDDY_WORKERS: '1' };
  const start = (args: string[], stdin = '') => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: work, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const exited = new Promise<number>((res, rej) => {
      child.on('error', rej);
      child.on('close', (code, signal) => res(code ?? (signal ? -1 : 0)));
    });
    child.stdin.end(stdin);
    return { child, out: () => out, err: () => err, exited };
  };
  const run = async (args: string[], stdin = '') => {
    const p = start(args, stdin);
    const code = await p.exited;
    return { code, stdout: p.out(), stderr: p.err() };
  };
  const ok = async (args: string[], stdin = '') => {
    const r = await run(args, stdin);
    if (r.code !== 0) throw new Error(`eddy ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
    return r.stdout;
  };
  return { work, start, run, ok };
}

const lines = (s: string) => s.split('\n').filter(Boolean);

/** The JSON values `-O json` printed: pretty objects, one after another. */
function jsonValues(out: string): unknown[] {
  return out
    .split(/\n(?=\{)/)
    .filter((s) => s.trim() !== '')
    .map((s) => JSON.parse(s));
}

test('a Fluvio-shaped workflow: two producers at once, -O json, -p 0 -p 1, a resumed named consumer, a connector secret', async (t) => {
  t.timeout(180_000);
  const { work, start, run, ok } = setup();
  t.is(await ok(['topic', 'create', 'orders', '-p', '2']), 'topic "orders" created\n');

  // Two terminals produce at once, keyed so both partitions get records.
  const input = (who: string) =>
    `${Array.from({ length: 60 }, (_, i) => `${who}-${i % 7}:{"who":"${who}","n":${i}}`).join('\n')}\n`;
  const [a, b] = [
    start(['produce', 'orders', '--key-separator', ':'], input('alice')),
    start(['produce', 'orders', '--key-separator', ':'], input('bob')),
  ];
  t.deepEqual(await Promise.all([a.exited, b.exited]), [0, 0], a.err() + b.err());

  // -O json: every record, pretty-printed with sorted keys.
  const json = await ok(['consume', 'orders', '-B', '-d', '-O', 'json']);
  t.regex(json, /^\{\n {2}"n": \d+,\n {2}"who": "(alice|bob)"\n\}\n/);
  const all = jsonValues(json) as { who: string; n: number }[];
  t.is(all.length, 120);
  for (const who of ['alice', 'bob']) {
    const ns = all.filter((r) => r.who === who).map((r) => r.n);
    t.deepEqual(
      [...ns].sort((x, y) => x - y),
      Array.from({ length: 60 }, (_, i) => i),
      who,
    );
    // One producer's records of one key keep their order (one partition per key).
    for (let k = 0; k < 7; k++) {
      const ofKey = ns.filter((n) => n % 7 === k);
      t.deepEqual(
        ofKey,
        [...ofKey].sort((x, y) => x - y),
        `${who}-${k} in order`,
      );
    }
  }

  // -p 0 -p 1 reads both partitions; each alone reads its share.
  const both = lines(await ok(['consume', 'orders', '-B', '-d', '-p', '0', '-p', '1']));
  const p0 = lines(await ok(['consume', 'orders', '-B', '-d', '-p', '0']));
  const p1 = lines(await ok(['consume', 'orders', '-B', '-d', '-p', '1']));
  t.is(both.length, 120);
  t.true(p0.length > 0 && p1.length > 0);
  t.deepEqual([...both].sort(), [...p0, ...p1].sort());

  // A named consumer stopped by --max-records resumes exactly after what it printed.
  const first = lines(await ok(['consume', 'orders', '-B', '-d', '--consumer', 'billing', '--max-records', '45']));
  t.is(first.length, 45);
  const rest = lines(await ok(['consume', 'orders', '-d', '--consumer', 'billing']));
  t.is(rest.length, 75);
  t.deepEqual([...first, ...rest].sort(), [...both].sort());
  t.is(lines(await ok(['consume', 'orders', '-d', '--consumer', 'billing'])).length, 0);
  t.regex(await ok(['consumer', 'list']), /billing +orders +0 /);

  // An http source connector whose Authorization header holds a secret from a secrets file.
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    if (req.headers.authorization !== `Bearer ${SECRET}`) {
      res.statusCode = 401;
      res.end('no');
      return;
    }
    res.end(`{"status":"paid","n":${seen.length}}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/payments`;
  writeFileSync(
    join(work, 'payments.yml'),
    [
      'apiVersion: 0.1.0',
      'meta:',
      '  version: 0.1.0',
      '  name: payments',
      '  type: http-source',
      '  topic: payments',
      '  create-topic: true',
      '  producer:',
      '    compression: gzip',
      '  secrets:',
      '    - name: API_TOKEN',
      'http:',
      `  endpoint: ${url}`,
      '  interval: 200ms',
      '  headers:',
      '    - "Authorization: Bearer ${{ secrets.API_TOKEN }}"',
      '',
    ].join('\n'),
  );
  writeFileSync(join(work, 'secrets.env'), `API_TOKEN=${SECRET}\n`);
  // Without the secret it refuses to start, naming it (and not any value).
  const missing = await run(['connector', 'run', '--config', 'payments.yml']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /API_TOKEN/);
  const connector = start(['connector', 'run', '--config', 'payments.yml', '--secrets', 'secrets.env']);
  const end = Date.now() + 60_000;
  let got: string[] = [];
  while (Date.now() < end) {
    const r = await run(['consume', 'payments', '-B', '-d']);
    got = r.code === 0 ? lines(r.stdout) : [];
    if (got.length >= 2) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  connector.child.kill('SIGINT');
  t.is(await connector.exited, 0, connector.err());
  server.close();
  t.true(got.length >= 2, connector.err());
  t.regex(got[0]!, /^\{"status":"paid","n":\d+\}$/);
  t.true(
    seen.length >= 2 && seen.every((h) => h.authorization === `Bearer ${SECRET}`),
    'every request carried the resolved secret',
  );
  t.false(connector.err().includes(SECRET) || connector.out().includes(SECRET), 'the secret value is never printed');
  // meta.producer.compression: the source's batches are stored gzip-compressed (codec 1 in the flags).
  const storage = await openStorage(join(work, 'data'), { readOnly: true });
  const codecs = storage
    .partition('payments', 0)
    .readBatches(0)
    .map((b) => (readBatchHeader(b.value).flags & CODEC_MASK) >> CODEC_SHIFT);
  await storage.close();
  t.true(codecs.length > 0 && codecs.every((c) => c === 1), String(codecs));
});
