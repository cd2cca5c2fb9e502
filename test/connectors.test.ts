import test from 'ava';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type Eddy } from '../src/index.js';
import { parseConnectorConfig, startConnector, type ConnectorConfig } from '../src/connectors/index.js';
import { wasmPath } from './helpers/wasm.js';

// ------------------------------------------------------------------------------------- helpers

const fresh = async (): Promise<{ eddy: Eddy; work: string }> => {
  const work = mkdtempSync(join(tmpdir(), 'eddy-conn-'));
  return { eddy: await open(join(work, 'data'), { workers: 2, retentionCheckMs: 0 }), work };
};

async function serve(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
}

const close = (s: Server) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); });

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
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

const config = (yaml: string, baseDir = process.cwd()): ConnectorConfig => parseConnectorConfig(yaml, 'test.yml', baseDir);

// ------------------------------------------------------------------------------------- config

test('config: Fluvio\'s http-source shape', (t) => {
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
  t.like(c, { apiVersion: '0.1.0', name: 'cat-facts', version: '0.2.5', type: 'http-source', direction: 'source', topic: 'cat-facts', createTopic: true });
  t.deepEqual(c.params, { endpoint: 'https://catfact.ninja/fact', interval: '10s', output_parts: 'full' });
  t.deepEqual(c.transforms.map((s) => [s.uses, { ...s.params }]), [['infinyon/jolt@0.4.1', { spec: '[{"operation":"shift"}]' }]]);
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
  t.deepEqual(sink.consumer, { id: 'file-reader', start: 'beginning', partition: 1, commit: true });
  t.deepEqual(config('meta: { name: s, type: file-sink, topic: t, consumer: { offset: { start: 5, strategy: none } } }\nfile: { path: x }').consumer,
    { id: 's', start: { offset: 5 }, partition: undefined, commit: false });
  const generic = config('meta: { name: g, type: http, topic: t }\ndirection: sink\ncreate_topic: true\nparameters: { endpoint: "http://x" }');
  t.like(generic, { type: 'http-sink', direction: 'sink', createTopic: true, params: { endpoint: 'http://x' } });
  t.is(config('meta: { name: n, type: http-source, topic: t }').consumer.start, 'end', 'sinks start at the end by default, as Fluvio');
});

test('config errors name the file and field, with the fix', (t) => {
  t.throws(() => config('meta: { type: http-source, topic: t }'), { message: 'test.yml: meta.name: missing: give the connector a name' });
  t.throws(() => config('meta: { name: n, type: kafka-source, topic: t }'), { message: /meta\.type: "kafka-source" is not a connector Eddy has: use http-source, http-sink, file-sink/ });
  t.throws(() => config('meta: { name: n, type: http, topic: t }'), { message: /does not say source or sink/ });
  t.throws(() => config('meta: { name: n, type: http-source }'), { message: /meta\.topic: missing/ });
  t.throws(() => config('meta: { name: n, type: file-sink, topic: t, consumer: { offset: { start: middle } } }'), { message: /meta\.consumer\.offset\.start: "middle" is not a start/ });
  t.throws(() => config('meta: [1]'), { message: /meta: missing/ });
  t.throws(() => config('a: [1'), { message: /^test\.yml: invalid YAML/ });
  t.throws(() => config('meta: { name: n, type: http-source, topic: t }\ntransforms:\n  - with: {}'), { message: /transforms\[0\]\.uses: missing/ });
});

test('connector parameters are checked before anything runs', async (t) => {
  const { eddy } = await fresh();
  const signal = new AbortController().signal;
  await t.throwsAsync(startConnector(eddy, config('meta: { name: n, type: http-source, topic: t, create-topic: true }\nhttp: { interval: 1s }'), { signal }), { message: 'test.yml: http.endpoint: missing' });
  await t.throwsAsync(startConnector(eddy, config('meta: { name: n, type: http-source, topic: t }\nhttp: { endpoint: "http://x", interval: 5 }'), { signal }), { message: /http\.interval: 5 has no unit/ });
  await t.throwsAsync(startConnector(eddy, config('meta: { name: n, type: http-sink, topic: t }\nhttp: { endpoint: "not a url" }'), { signal }), { message: /http\.endpoint: "not a url" is not a URL/ });
  await t.throwsAsync(startConnector(eddy, config('meta: { name: n, type: http-sink, topic: t }\nhttp: { endpoint: "http://x", headers: ["nocolon"] }'), { signal }), { message: /http\.headers\[0\]: write each header as "Name: value"/ });
  await t.throwsAsync(startConnector(eddy, config('meta: { name: n, type: http-source, topic: missing }\nhttp: { endpoint: "http://x" }'), { signal }),
    { message: /topic "missing" does not exist; create it with `eddy topic create missing`, or set `create-topic: true` under meta in test\.yml/ });
  await eddy.createTopic('t');
  await t.throwsAsync(startConnector(eddy, config('meta: { name: n, type: file-sink, topic: t }\nfile: { path: x, format: "{{nope}}" }'), { signal }), { message: /file\.format: unknown placeholder \{\{nope\}\}/ });
  await t.throwsAsync(startConnector(eddy, config('meta: { name: n, type: file-sink, topic: t }\nfile: { path: x }\ntransforms: [{ uses: nowhere }]'), { signal }), { message: /"nowhere" is not registered/ });
  await eddy.close();
});

// ------------------------------------------------------------------------------------- http source

test('http source: polls the endpoint, runs the transforms before storing, creates the topic; failed requests produce nothing and polling goes on', async (t) => {
  const { eddy, work } = await fresh();
  let n = 0;
  const { url, server } = await serve((req, _body, res) => {
    n++;
    if (n === 2) { res.statusCode = 503; res.end('busy'); return; }
    t.is(req.headers['x-token'], 'secret');
    t.is(req.headers['user-agent'], 'eddy-http-source');
    res.end(JSON.stringify({ fact: `cat ${n}` }));
  });
  const ac = new AbortController();
  const c = config(`
meta: { name: facts, type: http-source, topic: facts, create-topic: true }
http:
  endpoint: ${url}/fact
  interval: 30ms
  headers: ["X-Token: secret"]
transforms:
  - uses: upper.wasm
`, work);
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
  const running = await startConnector(eddy, config(`
meta: { name: full, type: http-source, topic: full }
http: { endpoint: "${url}/x", method: POST, body: "hello", interval: 1s, output_parts: full, output_type: json }
`), { signal: ac.signal });
  await until(() => running.stats.records >= 1);
  ac.abort();
  await running.done;
  await close(server);
  const [first] = await values(eddy, 'full');
  const j = JSON.parse(first!) as { status: { code: number; string: string }; header: Record<string, string>; body: string };
  t.is(j.status.code, 200);
  t.is(j.status.string, 'OK');
  t.is(j.header['content-type'], 'text/plain');
  t.is(j.body, 'POST hello');

  const ac2 = new AbortController();
  const down = await startConnector(eddy, config(`
meta: { name: down, type: http-source, topic: full }
http: { endpoint: "${url}/gone", interval: 20ms }
`), { signal: ac2.signal });
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
  await eddy.produce('orders', ['o1', 'o2', 'o3'].map((v) => ({ value: Buffer.from(v) })));
  const received: string[] = [];
  let failNext = 2;
  const { url, server } = await serve((req, body, res) => {
    if (failNext > 0) { failNext--; res.statusCode = 500; res.end(); return; }
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
  await eddy.produce('jobs', ['j1', 'poison', 'j2'].map((v) => ({ value: Buffer.from(v) })));
  const received: string[] = [];
  let healthy = false;
  const { url, server } = await serve((_req, body, res) => {
    if (body === 'poison' && !healthy) { res.statusCode = 422; res.end(); return; }
    received.push(body);
    res.end();
  });
  const yaml = `
meta: { name: jobs-out, type: http-sink, topic: jobs, consumer: { offset: { start: beginning } } }
http: { endpoint: "${url}/", retries: 2, retry_backoff: 5ms }
`;
  const running = await startConnector(eddy, config(yaml), { signal: new AbortController().signal });
  const err = await t.throwsAsync(running.done);
  t.regex(err!.message, /^connector jobs-out: POST http:\/\/127\.0\.0\.1:\d+\/ failed: HTTP 422 Unprocessable Entity \(after 2 retries\); the record was not delivered and will be sent again on the next run$/);
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
  await eddy.produce('fruit', ['apple', 'kiwi', 'banana', 'plum'].map((v, i) => ({ value: Buffer.from(v), partition: i % 2 })));
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

  await eddy.produce('fruit', [{ value: Buffer.from('grape'), partition: 1 }, { value: Buffer.from('fig'), partition: 0 }]);
  ac = new AbortController();
  running = await startConnector(eddy, config(yaml, work), { signal: ac.signal });
  await until(() => read().includes('grape'));
  await new Promise((r) => setTimeout(r, 200));
  ac.abort();
  await running.done;
  t.deepEqual(read().split('\n').filter(Boolean).sort(), ['0:0 apple', '0:1 banana', '1:2 grape']);
  await eddy.close();
});
