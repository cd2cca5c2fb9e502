import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import {
  type ConnectorConfig,
  envSecretStore,
  fileSecretStore,
  parseConnectorConfig,
  retryDelay,
  startConnector,
} from '../src/connectors/index.js';
import { type Eddy, open } from '../src/index.js';
import { wasmPath } from './helpers/wasm.js';

// ------------------------------------------------------------------------------------- helpers

const bin = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'bin', 'eddy.js');

const fresh = async (): Promise<{ eddy: Eddy; work: string }> => {
  const work = mkdtempSync(join(tmpdir(), 'eddy-conn-'));
  return { eddy: await open(join(work, 'data'), { workers: 2, retentionCheckMs: 0 }), work };
};

async function serve(
  handler: (req: IncomingMessage, body: string, res: ServerResponse) => void,
): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
}

const close = (s: Server) =>
  new Promise<void>((r) => {
    s.closeAllConnections();
    s.close(() => r());
  });

async function until(cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function values(eddy: Eddy, topic: string): Promise<string[]> {
  const out: string[] = [];
  for await (const r of eddy.consume(topic, { from: 'beginning' })) out.push(Buffer.from(r.value).toString());
  return out;
}

const config = (yaml: string, baseDir = process.cwd()): ConnectorConfig =>
  parseConnectorConfig(yaml, 'test.yml', baseDir);

// ------------------------------------------------------------------------------------- config

test("config: Fluvio's http-source shape", (t) => {
  const c = config(`
apiVersion: 0.1.0
meta:
  version: 0.2.5
  name: cat-facts
  type: http-source
  topic: cat-facts
  create-topic: true
http:
  endpoint: https://catfact.ninja/fact
  interval: 10s
  output-parts: full
transforms:
  - uses: infinyon/jolt@0.4.1
    with:
      spec: [{ operation: shift }]
`);
  t.like(c, {
    apiVersion: '0.1.0',
    name: 'cat-facts',
    version: '0.2.5',
    type: 'http-source',
    direction: 'source',
    topic: 'cat-facts',
    createTopic: true,
  });
  t.deepEqual(c.params, { endpoint: 'https://catfact.ninja/fact', interval: '10s', output_parts: 'full' });
  t.deepEqual(
    c.transforms.map((s) => [s.uses, { ...s.with }]),
    [['infinyon/jolt@0.4.1', { spec: '[{"operation":"shift"}]' }]],
  );
});

test('config: topic as an object, sink consumer settings, and the generic shape (type + direction + parameters)', (t) => {
  const sink = config(`
apiVersion: 0.2.0
meta:
  name: to-file
  type: file-sink
  topic: { meta: { name: events }, partition: { count: 3 } }
  consumer:
    id: file-reader
    partition: 1
    offset: { start: beginning, strategy: auto }
file:
  path: out.txt
`);
  t.like(sink, { type: 'file-sink', direction: 'sink', topic: 'events', partitions: 3, createTopic: false });
  t.deepEqual(sink.consumer, {
    id: 'file-reader',
    start: 'beginning',
    partition: 1,
    commit: true,
    flushPeriodMs: 1000,
  });
  t.deepEqual(
    config(
      'meta: { name: s, type: file-sink, topic: t, consumer: { offset: { start: 5, strategy: none, flush-period: 250ms } } }\nfile: { path: x }',
    ).consumer,
    { id: 's', start: { offset: 5 }, partition: undefined, commit: false, flushPeriodMs: 250 },
  );
  const generic = config(
    'meta: { name: g, type: http, topic: t }\ndirection: sink\ncreate_topic: true\nparameters: { endpoint: "http://x" }',
  );
  t.like(generic, { type: 'http-sink', direction: 'sink', createTopic: true, params: { endpoint: 'http://x' } });
  t.is(
    config('meta: { name: n, type: http-source, topic: t }').consumer.start,
    'end',
    'sinks start at the end by default, as Fluvio',
  );
});

test('config errors name the file and field, with the fix', (t) => {
  t.throws(() => config('meta: { type: http-source, topic: t }'), {
    message: 'test.yml: meta.name: missing: give the connector a name',
  });
  t.throws(() => config('meta: { name: n, type: mqtt-source, topic: t }'), {
    message:
      /meta\.type: "mqtt-source" is not a connector Eddy has: use http-source, http-sink, file-sink, kafka-source, kafka-sink/,
  });
  t.throws(() => config('meta: { name: n, type: http, topic: t }'), { message: /does not say source or sink/ });
  t.throws(() => config('meta: { name: n, type: http-source }'), { message: /meta\.topic: missing/ });
  t.throws(() => config('meta: { name: n, type: file-sink, topic: t, consumer: { offset: { start: middle } } }'), {
    message: /meta\.consumer\.offset\.start: "middle" is not a start/,
  });
  t.throws(() => config('meta: [1]'), { message: /meta: missing/ });
  t.throws(() => config('a: [1'), { message: /^test\.yml: invalid YAML/ });
  t.throws(() => config('meta: { name: n, type: http-source, topic: t }\ntransforms:\n  - with: {}'), {
    message: /transforms\[0\]\.uses: missing/,
  });
});

test('connector parameters are checked before anything runs', async (t) => {
  const { eddy } = await fresh();
  const signal = new AbortController().signal;
  await t.throwsAsync(
    startConnector(
      eddy,
      config('meta: { name: n, type: http-source, topic: t, create-topic: true }\nhttp: { interval: 1s }'),
      { signal },
    ),
    { message: 'test.yml: http.endpoint: missing' },
  );
  await t.throwsAsync(
    startConnector(
      eddy,
      config('meta: { name: n, type: http-source, topic: t }\nhttp: { endpoint: "http://x", interval: 5 }'),
      { signal },
    ),
    { message: /http\.interval: 5 has no unit/ },
  );
  await t.throwsAsync(
    startConnector(eddy, config('meta: { name: n, type: http-sink, topic: t }\nhttp: { endpoint: "not a url" }'), {
      signal,
    }),
    { message: /http\.endpoint: "not a url" is not a URL/ },
  );
  await t.throwsAsync(
    startConnector(
      eddy,
      config('meta: { name: n, type: http-sink, topic: t }\nhttp: { endpoint: "http://x", headers: ["nocolon"] }'),
      { signal },
    ),
    { message: /http\.headers\[0\]: write each header as "Name: value"/ },
  );
  await t.throwsAsync(
    startConnector(
      eddy,
      config('meta: { name: n, type: http-source, topic: missing }\nhttp: { endpoint: "http://x" }'),
      { signal },
    ),
    {
      message:
        /topic "missing" does not exist; create it with `eddy topic create missing`, or set `create-topic: true` under meta in test\.yml/,
    },
  );
  await eddy.createTopic('t');
  await t.throwsAsync(
    startConnector(
      eddy,
      config('meta: { name: n, type: file-sink, topic: t }\nfile: { path: x, format: "{{nope}}" }'),
      { signal },
    ),
    { message: /file\.format: unknown placeholder \{\{nope\}\}/ },
  );
  await t.throwsAsync(
    startConnector(
      eddy,
      config('meta: { name: n, type: file-sink, topic: t }\nfile: { path: x }\ntransforms: [{ uses: nowhere }]'),
      { signal },
    ),
    { message: /"nowhere" is not registered/ },
  );
  await eddy.close();
});

// ------------------------------------------------------------------------------------- http source

test('http source: polls the endpoint, runs the transforms before storing, creates the topic; failed requests produce nothing and polling goes on', async (t) => {
  const { eddy, work } = await fresh();
  let n = 0;
  const { url, server } = await serve((req, _body, res) => {
    n++;
    if (n === 2) {
      res.statusCode = 503;
      res.end('busy');
      return;
    }
    t.is(req.headers['x-token'], 'secret');
    t.is(req.headers['user-agent'], 'eddy-http-source');
    res.end(JSON.stringify({ fact: `cat ${n}` }));
  });
  const ac = new AbortController();
  const c = config(
    `
meta: { name: facts, type: http-source, topic: facts, create-topic: true }
http:
  endpoint: ${url}/fact
  interval: 30ms
  headers: ["X-Token: secret"]
transforms:
  - uses: upper.wasm
`,
    work,
  );
  // `uses` paths are relative to the config file's directory.
  const { copyFileSync } = await import('node:fs');
  copyFileSync(wasmPath('map-uppercase'), join(work, 'upper.wasm'));
  const running = await startConnector(eddy, c, { signal: ac.signal });
  const errors: string[] = [];
  running.on('error', (e) => errors.push(e.message));
  await until(() => running.stats.records >= 4);
  ac.abort();
  await running.done;
  await close(server);
  const got = await values(eddy, 'facts');
  t.deepEqual(got.slice(0, 4), ['{"FACT":"CAT 1"}', '{"FACT":"CAT 3"}', '{"FACT":"CAT 4"}', '{"FACT":"CAT 5"}']);
  t.is(running.stats.records, got.length);
  t.is(
    running.stats.bytes,
    got.reduce((a, v) => a + Buffer.byteLength(v), 0),
    'bytes of the values produced (the transform keeps their length)',
  );
  t.is(running.stats.errors, 1);
  t.regex(errors[0]!, /GET http:\/\/127\.0\.0\.1:\d+\/fact: HTTP 503 Service Unavailable; no record produced/);
  await eddy.close();
});

test('http source: output-parts full as JSON (status, headers, body), POST with a body; an unreachable endpoint is reported and retried', async (t) => {
  const { eddy } = await fresh();
  const { url, server } = await serve((req, body, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`${req.method} ${body}`);
  });
  await eddy.createTopic('full');
  const ac = new AbortController();
  const running = await startConnector(
    eddy,
    config(`
meta: { name: full, type: http-source, topic: full }
http: { endpoint: "${url}/x", method: POST, body: "hello", interval: 1s, output_parts: full, output_type: json }
`),
    { signal: ac.signal },
  );
  await until(() => running.stats.records >= 1);
  ac.abort();
  await running.done;
  await close(server);
  const [first] = await values(eddy, 'full');
  const j = JSON.parse(first!) as {
    status: { code: number; string: string };
    header: Record<string, string>;
    body: string;
  };
  t.is(j.status.code, 200);
  t.is(j.status.string, 'OK');
  t.is(j.header['content-type'], 'text/plain');
  t.is(j.body, 'POST hello');

  const ac2 = new AbortController();
  const down = await startConnector(
    eddy,
    config(`
meta: { name: down, type: http-source, topic: full }
http: { endpoint: "${url}/gone", interval: 20ms }
`),
    { signal: ac2.signal },
  );
  await until(() => down.stats.errors >= 2);
  ac2.abort();
  await down.done;
  t.regex(down.stats.lastError!, /GET http:\/\/127\.0\.0\.1:\d+\/gone failed: ECONNREFUSED; trying again in 20 ms/);
  t.is(down.stats.records, 0);
  await eddy.close();
});

// ------------------------------------------------------------------------------------- http sink

test('http sink: POSTs each record in order, retries failures with backoff, resumes after a restart without repeats', async (t) => {
  const { eddy } = await fresh();
  await eddy.createTopic('orders', { partitions: 1 });
  await eddy.produce(
    'orders',
    ['o1', 'o2', 'o3'].map((v) => ({ value: Buffer.from(v) })),
  );
  const received: string[] = [];
  let failNext = 2;
  const { url, server } = await serve((req, body, res) => {
    if (failNext > 0) {
      failNext--;
      res.statusCode = 500;
      res.end();
      return;
    }
    t.is(req.method, 'PUT');
    t.is(req.headers['content-type'], 'application/json');
    received.push(body);
    res.end('ok');
  });
  const yaml = `
meta: { name: orders-out, type: http-sink, topic: orders, consumer: { offset: { start: beginning } } }
http: { endpoint: "${url}/ingest", method: put, headers: ["Content-Type: application/json"], retry-backoff: 10ms }
`;
  let ac = new AbortController();
  let running = await startConnector(eddy, config(yaml), { signal: ac.signal });
  await until(() => received.length >= 3);
  ac.abort();
  await running.done;
  t.deepEqual(received, ['o1', 'o2', 'o3']);
  t.is(running.stats.bytes, 6, 'bytes of the values delivered');
  t.is(running.stats.errors, 2, 'two failed attempts, retried');

  await eddy.produce('orders', [{ value: Buffer.from('o4') }]);
  ac = new AbortController();
  running = await startConnector(eddy, config(yaml), { signal: ac.signal });
  await until(() => received.length >= 4);
  ac.abort();
  await running.done;
  t.deepEqual(received, ['o1', 'o2', 'o3', 'o4']);
  await close(server);
  await eddy.close();
});

test('http sink: a record that still fails after the retries stops the connector and is sent again by the next run', async (t) => {
  const { eddy } = await fresh();
  await eddy.createTopic('jobs');
  await eddy.produce(
    'jobs',
    ['j1', 'poison', 'j2'].map((v) => ({ value: Buffer.from(v) })),
  );
  const received: string[] = [];
  let healthy = false;
  const { url, server } = await serve((_req, body, res) => {
    if (body === 'poison' && !healthy) {
      res.statusCode = 503;
      res.end();
      return;
    }
    received.push(body);
    res.end();
  });
  const yaml = `
meta: { name: jobs-out, type: http-sink, topic: jobs, consumer: { offset: { start: beginning } } }
http: { endpoint: "${url}/", retries: 2, retry_backoff: 5ms }
`;
  const running = await startConnector(eddy, config(yaml), { signal: new AbortController().signal });
  const err = await t.throwsAsync(running.done);
  t.regex(
    err!.message,
    /^connector jobs-out: POST http:\/\/127\.0\.0\.1:\d+\/ failed: HTTP 503 Service Unavailable \(after 2 retries\); the record was not delivered and will be sent again on the next run$/,
  );
  t.deepEqual(received, ['j1']);
  healthy = true;
  const ac = new AbortController();
  const again = await startConnector(eddy, config(yaml), { signal: ac.signal });
  await until(() => received.length >= 3);
  ac.abort();
  await again.done;
  t.deepEqual(received, ['j1', 'poison', 'j2']);
  await close(server);
  await eddy.close();
});

// ------------------------------------------------------------------------------------- file sink

test('file sink: appends one line per record (template), with sink-side transforms; a restart continues the file', async (t) => {
  const { eddy, work } = await fresh();
  await eddy.createTopic('fruit', { partitions: 2 });
  await eddy.produce(
    'fruit',
    ['apple', 'kiwi', 'banana', 'plum'].map((v, i) => ({ value: Buffer.from(v), partition: i % 2 })),
  );
  const yaml = `
meta:
  name: fruit-file
  type: file-sink
  topic: fruit
  consumer: { offset: { start: beginning } }
file:
  path: out/fruit.txt
  format: "{{partition}}:{{offset}} {{value}}"
transforms:
  - uses: ${wasmPath('filter')}
`;
  let ac = new AbortController();
  let running = await startConnector(eddy, config(yaml, work), { signal: ac.signal });
  const file = join(work, 'out', 'fruit.txt');
  const read = () => (existsSync(file) ? readFileSync(file, 'utf8') : '');
  await until(() => read().split('\n').length > 2);
  ac.abort();
  await running.done;
  t.deepEqual(read().split('\n').filter(Boolean).sort(), ['0:0 apple', '0:1 banana']);

  await eddy.produce('fruit', [
    { value: Buffer.from('grape'), partition: 1 },
    { value: Buffer.from('fig'), partition: 0 },
  ]);
  ac = new AbortController();
  running = await startConnector(eddy, config(yaml, work), { signal: ac.signal });
  await until(() => read().includes('grape'));
  await new Promise((r) => setTimeout(r, 200));
  ac.abort();
  await running.done;
  t.deepEqual(read().split('\n').filter(Boolean).sort(), ['0:0 apple', '0:1 banana', '1:2 grape']);
  await eddy.close();
});

// ------------------------------------------------------------------------------------- secrets

const SECRET = 'tok-9f2c1a-very-secret';

test('secrets: ${{ secrets.NAME }} is resolved from the environment or a secrets file before the request; a missing one refuses to start, naming it', async (t) => {
  const { eddy, work } = await fresh();
  const seen: { auth?: string; key?: string; path?: string }[] = [];
  const { url, server } = await serve((req, _body, res) => {
    seen.push({
      auth: req.headers['authorization'],
      key: req.headers['x-api-key'] as string | undefined,
      path: req.url,
    });
    res.end('ok');
  });
  const yaml = `
meta: { name: s, type: http-source, topic: s, create-topic: true, secrets: [{ name: TOKEN }, { name: API_KEY }] }
http:
  endpoint: "${url}/x?key=\${{ secrets.API_KEY }}"
  interval: 1s
  headers: ["Authorization: Bearer \${{ secrets.TOKEN }}", "X-Api-Key: \${{secrets.API_KEY}}"]
`;
  // From the environment.
  const ac = new AbortController();
  const running = await startConnector(eddy, config(yaml), {
    signal: ac.signal,
    secrets: envSecretStore({ TOKEN: SECRET, API_KEY: 'k1' }),
  });
  await until(() => running.stats.records >= 1);
  ac.abort();
  await running.done;
  t.deepEqual(seen[0], { auth: `Bearer ${SECRET}`, key: 'k1', path: '/x?key=k1' });
  t.false(running.summary.includes('k1'), 'the summary line hides the value in the URL');

  // From a secrets file (NAME=value lines, trimmed), which replaces the environment as in cdk.
  const file = join(work, 'secrets.txt');
  writeFileSync(file, `# comment\n TOKEN = ${SECRET}-file\nAPI_KEY=k2\n`);
  const before = seen.length;
  const ac2 = new AbortController();
  const fromFile = await startConnector(eddy, config(yaml), { signal: ac2.signal, secrets: fileSecretStore(file) });
  await until(() => fromFile.stats.records >= 1);
  ac2.abort();
  await fromFile.done;
  // A poll of the first connector still in flight when it was stopped may arrive after `before`.
  t.deepEqual(
    seen.slice(before).find((s) => s.key !== 'k1'),
    { auth: `Bearer ${SECRET}-file`, key: 'k2', path: '/x?key=k2' },
  );
  t.true(
    seen.every((s) => !`${s.auth} ${s.key} ${s.path}`.includes('secrets.')),
    'no placeholder was ever sent',
  );
  const sent = seen.length;

  await t.throwsAsync(
    startConnector(eddy, config(yaml), { signal: ac2.signal, secrets: envSecretStore({ TOKEN: SECRET }) }),
    {
      code: 'EDDY_CONNECTOR_SECRET',
      message:
        'test.yml: meta.secrets: secret API_KEY has no value; set the environment variable API_KEY, or pass --secrets <file> with a line `API_KEY=...`',
    },
  );
  t.is(seen.length, sent, 'nothing was sent without the secret');
  await close(server);
  await eddy.close();
});

test('secrets: placeholders must be declared, well formed and in the parameters', (t) => {
  t.throws(
    () =>
      config(
        'meta: { name: n, type: http-sink, topic: t }\nhttp: { endpoint: "http://x", headers: ["A: ${{ secrets.NOPE }}"] }',
      ),
    {
      message: 'test.yml: http.headers[0]: secret NOPE is used but not declared; add `- name: NOPE` under meta.secrets',
    },
  );
  t.throws(
    () =>
      config('meta: { name: n, type: http-sink, topic: t, secrets: [{ name: 1ABC }] }\nhttp: { endpoint: "http://x" }'),
    { message: /meta\.secrets\[0\]\.name: secret name "1ABC" cannot start with a digit/ },
  );
  t.throws(
    () =>
      config(
        'meta: { name: n, type: http-sink, topic: t, secrets: [{ name: A }] }\nhttp: { endpoint: "http://x", body: "${{ env.A }}" }',
      ),
    { message: /http\.body: `\$\{\{ env\.A \}\}` is not a placeholder Eddy knows/ },
  );
  t.throws(
    () =>
      config(
        'meta: { name: "${{ secrets.A }}", type: http-sink, topic: t, secrets: [{ name: A }] }\nhttp: { endpoint: "http://x" }',
      ),
    {
      message:
        /meta\.name: placeholders such as .* can be used in the connector's parameters and in transforms' `with` only/,
    },
  );
});

test('secrets: `eddy connector run --secrets` sends the value and never prints it (status lines, errors, EDDY_DEBUG stacks)', async (t) => {
  t.timeout(60_000);
  const work = mkdtempSync(join(tmpdir(), 'eddy-secrets-'));
  const received: string[] = [];
  const { url, server } = await serve((req, _body, res) => {
    received.push(String(req.headers['authorization']));
    res.statusCode = 500; // every request fails, so the value passes through the error paths
    res.end();
  });
  writeFileSync(join(work, 'secrets.txt'), `TOKEN=${SECRET}\n`);
  writeFileSync(
    join(work, 'sink.yml'),
    `
meta: { name: leaky, type: http-sink, topic: t, create-topic: true, secrets: [{ name: TOKEN }], consumer: { offset: { start: beginning } } }
http: { endpoint: "${url}/in/\${{ secrets.TOKEN }}", headers: ["Authorization: Bearer \${{ secrets.TOKEN }}"], retries: 1, retry-backoff: 5ms }
`,
  );
  const env = { ...process.env, EDDY_DATA_DIR: join(work, 'data'), EDDY_WORKERS: '1', EDDY_DEBUG: '1' };
  const run = (args: string[], stdin = '') =>
    new Promise<{ code: number; out: string }>((res) => {
      const child = spawn(process.execPath, [bin, ...args], { cwd: work, env, stdio: ['pipe', 'pipe', 'pipe'] });
      child.stdin.end(stdin);
      t.teardown(() => {
        if (child.exitCode === null) child.kill('SIGKILL');
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.on('close', (code) => res({ code: code ?? -1, out }));
    });
  t.is((await run(['topic', 'create', 't'])).code, 0);
  t.is((await run(['produce', 't'], 'one\n')).code, 0);

  const failed = await run(['connector', 'run', '--config', 'sink.yml', '--secrets', 'secrets.txt']);
  t.is(failed.code, 1);
  t.deepEqual(
    received,
    [`Bearer ${SECRET}`, `Bearer ${SECRET}`],
    'the server got the resolved header, once and once retried',
  );
  t.regex(failed.out, /POST http:\/\/127\.0\.0\.1:\d+\/in\/\*\*\*\* failed: HTTP 500 Internal Server Error/);
  t.false(failed.out.includes(SECRET), failed.out);

  const missing = await run(['connector', 'run', '--config', 'sink.yml']);
  t.is(missing.code, 1);
  t.regex(missing.out, /meta\.secrets: secret TOKEN has no value; set the environment variable TOKEN/);
  t.is(received.length, 2);
  await close(server);
});

// ------------------------------------------------------------------------------------- nothing ignored

test('config: what Eddy does not apply is refused with the field named, never ignored', async (t) => {
  const refuse = (yaml: string, message: RegExp) => t.throws(() => config(yaml), { message });
  refuse(
    'meta: { name: n, type: http-source, topic: t, colour: red }',
    /^test\.yml: meta\.colour: unknown field; meta takes name, type, topic/,
  );
  refuse(
    'meta: { name: n, type: http-source, topic: t }\nhttp: { endpoint: "http://x" }\nextra: 1',
    /^test\.yml: extra: unknown field; the top level takes/,
  );
  refuse(
    'meta: { name: n, type: file-sink, topic: t, producer: { compression: gzip } }\nfile: { path: x }',
    /meta\.producer: a sink does not produce records; remove it/,
  );
  refuse(
    'meta: { name: n, type: http-source, topic: t, producer: { compression: brotli } }',
    /meta\.producer\.compression: compression "brotli" is unknown: use none, gzip, snappy, lz4, zstd/,
  );
  refuse(
    'meta: { name: n, type: http-source, topic: t, producer: { acks: all } }',
    /meta\.producer\.acks: unknown field; meta\.producer takes linger, batch-size, compression/,
  );
  refuse(
    'meta: { name: n, type: file-sink, topic: t, consumer: { max-bytes: 1MB } }\nfile: { path: x }',
    /meta\.consumer\.max-bytes: Eddy's sinks read the local log directly/,
  );
  refuse(
    'meta: { name: n, type: http-source, topic: { meta: { name: t }, retention: { time: 2m } } }',
    /meta\.topic\.retention: is a topic setting the connector does not apply/,
  );
  t.deepEqual(
    config(
      'meta: { name: n, type: http-source, topic: t, producer: { linger: 5ms, batch-size: "2 KB", compression: lz4 } }',
    ).producer,
    { lingerMs: 5, batchSize: 2000, compression: 'lz4' },
  );
  t.is(
    config('meta: { name: n, type: http-source, topic: t, producer: { compression: GZIP } }').producer.compression,
    'gzip',
  );

  const { eddy } = await fresh();
  const signal = new AbortController().signal;
  await eddy.createTopic('t');
  const start = (yaml: string) => startConnector(eddy, config(yaml), { signal });
  await t.throwsAsync(
    start('meta: { name: n, type: http-source, topic: t }\nhttp: { endpoint: "http://x", stream: true }'),
    { message: /^test\.yml: http\.stream: true is not supported/ },
  );
  await t.throwsAsync(
    start('meta: { name: n, type: http-source, topic: t }\nhttp: { endpoint: "ws://127.0.0.1:1/feed" }'),
    { message: /^test\.yml: http\.endpoint: ws:\/\/ is not supported/ },
  );
  await t.throwsAsync(
    start('meta: { name: n, type: http-sink, topic: t }\nhttp: { endpoint: "http://x", compression-type: gzip }'),
    { message: /^test\.yml: http\.compression_type: unknown parameter for http-sink; it takes endpoint, method/ },
  );
  await eddy.close();
});

// ------------------------------------------------------------------------------------- redirects, retries, limits

test('http source: a cross-origin redirect is not followed by default; when allowed, configured headers stay behind; same-origin ones are followed', async (t) => {
  const { eddy } = await fresh();
  const other: Record<string, string | undefined>[] = [];
  const b = await serve((req, _body, res) => {
    other.push({
      key: req.headers['x-api-key'] as string | undefined,
      auth: req.headers['authorization'],
      ua: req.headers['user-agent'],
    });
    res.end('from b');
  });
  const a = await serve((req, _body, res) => {
    if (req.url === '/same') {
      res.statusCode = 302;
      res.setHeader('location', '/final');
      res.end();
      return;
    }
    if (req.url === '/final') {
      res.end(`final ${String(req.headers['x-api-key'])}`);
      return;
    }
    res.statusCode = 302;
    res.setHeader('location', `${b.url}/steal`);
    res.end();
  });
  await eddy.createTopic('r');
  const yaml = (path: string, extra = '') => `
meta: { name: r, type: http-source, topic: r }
http: { endpoint: "${a.url}${path}", interval: 1s, headers: ["X-Api-Key: k-123", "Authorization: Bearer t"]${extra} }
`;
  const once = async (y: string) => {
    const ac = new AbortController();
    const running = await startConnector(eddy, config(y), { signal: ac.signal });
    await until(() => running.stats.records + running.stats.errors >= 1);
    ac.abort();
    await running.done;
    return running.stats;
  };
  const refused = await once(yaml('/go'));
  t.is(refused.records, 0);
  t.regex(
    refused.lastError!,
    /HTTP 302 redirect to http:\/\/127\.0\.0\.1:\d+\/steal not followed \(follow-redirects: same-origin\); point the endpoint at the final address, or set follow-redirects: any/,
  );
  t.is(other.length, 0, 'the other origin got no request');

  t.is((await once(yaml('/go', ', follow-redirects: any'))).records, 1);
  t.deepEqual(
    other,
    [{ key: undefined, auth: undefined, ua: 'eddy-http-source' }],
    'no configured header crossed the origin',
  );

  t.is((await once(yaml('/same'))).records, 1);
  t.deepEqual(await values(eddy, 'r'), ['from b', 'final k-123'], 'a same-origin redirect keeps the headers');
  await close(a.server);
  await close(b.server);
  await eddy.close();
});

test('http sink: a 307/308 redirect sends the body again; a 4xx other than 408/429 is not retried; retry waits have jitter and a cap', async (t) => {
  const { eddy } = await fresh();
  await eddy.createTopic('red');
  await eddy.produce(
    'red',
    ['r1', 'r2', 'bad'].map((v) => ({ value: Buffer.from(v) })),
  );
  const got: string[] = [];
  let badTries = 0;
  const { url, server } = await serve((req, body, res) => {
    if (req.url === '/in') {
      res.statusCode = body === 'r2' ? 308 : 307;
      res.setHeader('location', '/moved');
      res.end();
      return;
    }
    if (body === 'bad') {
      badTries++;
      res.statusCode = 400;
      res.end();
      return;
    }
    got.push(`${req.method} ${req.url} ${body}`);
    res.end();
  });
  const running = await startConnector(
    eddy,
    config(`
meta: { name: red, type: http-sink, topic: red, consumer: { offset: { start: beginning } } }
http: { endpoint: "${url}/in", retries: 5, retry-backoff: 1ms }
`),
    { signal: new AbortController().signal },
  );
  const err = await t.throwsAsync(running.done);
  t.deepEqual(got, ['POST /moved r1', 'POST /moved r2']);
  t.is(badTries, 1, 'a 400 is not retried');
  t.regex(err!.message, /failed: HTTP 400 Bad Request \(not retried: the server refused the request itself\)/);
  await close(server);
  await eddy.close();

  // Exponential from the base, never above the cap, between half and all of it.
  t.deepEqual(
    [0, 1, 2, 3].map((a) => retryDelay(a, 100, 1000, () => 0)),
    [50, 100, 200, 400],
  );
  t.deepEqual(
    [0, 1, 2, 3, 4, 60].map((a) => retryDelay(a, 100, 1000, () => 1)),
    [100, 200, 400, 800, 1000, 1000],
  );
});

test('http source: an endless response body is cut at max-body-size with a clear error, and polling goes on', async (t) => {
  const { eddy } = await fresh();
  let sent = 0;
  let open = 0;
  const { url, server } = await serve((_req, _body, res) => {
    open++;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const pump = () => {
      while (res.write(chunk)) {
        sent += chunk.length;
        if (res.destroyed) return;
      }
      sent += chunk.length;
    };
    res.on('drain', pump);
    res.on('close', () => {
      open--;
    });
    pump();
  });
  await eddy.createTopic('big');
  const ac = new AbortController();
  const running = await startConnector(
    eddy,
    config(`
meta: { name: big, type: http-source, topic: big }
http: { endpoint: "${url}/endless", interval: 10ms, max-body-size: 256 KiB }
`),
    { signal: ac.signal },
  );
  await until(() => running.stats.errors >= 2);
  ac.abort();
  await running.done;
  t.is(running.stats.records, 0);
  t.regex(
    running.stats.lastError!,
    /GET http:\/\/127\.0\.0\.1:\d+\/endless failed: the response body of GET http:\/\/127\.0\.0\.1:\d+\/endless is larger than max-body-size \(262144 bytes\); raise max-body-size if it is expected/,
  );
  await until(() => open === 0);
  t.true(sent < 2 * 8 * 1024 * 1024, `the server stopped after ${sent} bytes`);
  await close(server);
  await eddy.close();
});
