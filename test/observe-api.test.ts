import test, { type ExecutionContext } from 'ava';
import { type Eddy, open, type Status } from '../src/index.js';
import { parseHttpAddress } from '../src/observe/address.js';
import { tempDir } from './helpers/storage.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * The HTTP endpoint of the embedding API (`open(dir, { http })`): metrics, health, readiness and
 * status JSON over real sockets, with real derived streams on real workers.
 */

const step = (name: string) => ({ uses: wasmPath(name), params: {}, lookback: null });

async function fresh(t: ExecutionContext, http = '127.0.0.1:0'): Promise<{ eddy: Eddy; base: string }> {
  const eddy = await open(tempDir(t, 'eddy-observe-'), { workers: 2, retentionCheckMs: 0, http });
  t.teardown(() => eddy.close());
  const base = eddy.http!.url;
  return { eddy, base };
}

async function get(url: string): Promise<{ status: number; type: string; text: string }> {
  const r = await fetch(url);
  return { status: r.status, type: r.headers.get('content-type') ?? '', text: await r.text() };
}
const status = async (base: string) => JSON.parse((await get(`${base}api/status`)).text) as Status;

/** Polls `f` until it returns a value (not undefined); generous deadline, no timing assumption. */
async function until<T>(f: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The value of one sample line of the Prometheus text format. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const lbl = line.slice(name.length).match(/^\{([^}]*)\}/)?.[1] ?? '';
    if (want.every((w) => lbl.split(',').includes(w))) return Number(line.split(' ').pop());
  }
  return undefined;
}

test('metrics, status JSON and derive list give the same numbers; health and readiness follow the streams', async (t) => {
  const { eddy, base } = await fresh(t);
  t.regex(base, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  await eddy.createTopic('in', { partitions: 2 });
  await eddy.createTopic('out');
  const values = Array.from({ length: 400 }, (_, i) => ({
    value: Buffer.from(i % 2 ? `apple ${i}` : `plum ${i}`),
    partition: i % 2,
  }));
  await eddy.produce('in', values);
  await eddy.createDerived({ name: 'keep-a', source: 'in', target: 'out', transforms: [step('filter')] });

  const release = eddy.telemetry.hold();
  t.deepEqual(
    [(await get(`${base}readyz`)).status, JSON.parse((await get(`${base}readyz`)).text).status],
    [503, 'starting'],
  );
  await eddy.startDerived('keep-a');
  release();
  t.is((await get(`${base}readyz`)).status, 200);

  const s = await until(async () => {
    const x = await status(base);
    return x.streams[0]?.lag === 0 && x.streams[0].recordsIn === 400 ? x : undefined;
  });
  const st = s.streams[0]!;
  t.is(st.state, 'running');
  t.is(st.recordsOut, 200, 'values 1, 3, 5, … contain an a');
  t.is(st.modules[0]!.recordsIn, 400);
  t.true(st.modules[0]!.invocations > 0 && st.modules[0]!.nsPerRecord > 0 && st.modules[0]!.memoryBytes > 0);
  // One source of truth: the listing reads the same committed numbers.
  const listed = eddy.listDerived()[0]!;
  t.deepEqual(
    st.partitions.map((p) => [p.recordsIn, p.recordsOut, p.skipped, p.lag]),
    listed.partitions.map((p) => [p.offset, p.written, p.skipped, p.lag]),
  );

  const m = await until(async () => {
    const r = await get(`${base}metrics`);
    // The checkpoint a snapshot reads can be visible a moment before its commit event is counted.
    const counted = [0, 1].every(
      (p) => sample(r.text, 'eddy_commits_total', { stream: 'keep-a', partition: `${p}` })! > 0,
    );
    return sample(r.text, 'eddy_records_in_total', { stream: 'keep-a', partition: '1' }) === 200 && counted
      ? r
      : undefined;
  });
  t.regex(m.type, /^text\/plain; version=0\.0\.4/);
  t.is(sample(m.text, 'eddy_records_in_total', { stream: 'keep-a', partition: '0' }), 200);
  t.is(sample(m.text, 'eddy_records_out_total', { stream: 'keep-a', partition: '1' }), 200);
  t.is(sample(m.text, 'eddy_lag_records', { stream: 'keep-a', partition: '0' }), 0);
  t.true(sample(m.text, 'eddy_batch_latency_seconds_count', { stream: 'keep-a', partition: '0' })! > 0);
  t.true(sample(m.text, 'eddy_commits_total', { stream: 'keep-a', partition: '0' })! > 0);
  t.true(sample(m.text, 'eddy_module_invocations_total', { stream: 'keep-a', step: '0' })! > 0);
  t.true(sample(m.text, 'eddy_lmdb_map_size_bytes', {})! > 0);
  const fill = sample(m.text, 'eddy_lmdb_fill_ratio', {})!;
  t.true(fill > 0 && fill < 1, `LMDB fill ${fill}`);
  t.is(sample(m.text, 'eddy_workers', {}), 2);
  t.is(sample(m.text, 'eddy_healthy', {}), 1);
  // Topics: the numbers `eddy topic describe` prints, from the same storage call.
  const described = eddy.describeTopic('in');
  const topic = (await status(base)).topics.find((x) => x.name === 'in')!;
  t.deepEqual(
    [topic.records, topic.bytes, topic.partitions],
    [described.records, described.bytes, described.partitionInfo],
  );
  t.is(sample(m.text, 'eddy_topic_records', { topic: 'in', partition: '1' }), 200);
  t.is(
    sample(m.text, 'eddy_topic_next_offset', { topic: 'in', partition: '0' }),
    described.partitionInfo[0]!.nextOffset,
  );
  t.is(sample(m.text, 'eddy_topic_size_bytes', { topic: 'in', partition: '0' }), described.partitionInfo[0]!.bytes);
  t.deepEqual(JSON.parse((await get(`${base}healthz`)).text), { status: 'ok', errors: [] });

  // A module error stops a partition (policy stop): unhealthy, with the error as JSON.
  await eddy.createTopic('raw');
  await eddy.produce(
    'raw',
    ['fine', 'bad', 'never'].map((v) => ({ value: Buffer.from(v) })),
  );
  await eddy.createDerived({ name: 'parse', source: 'raw', target: 'out', transforms: [step('fail-on')] });
  eddy.on('error', () => {});
  await eddy.startDerived('parse');
  const h = await until(async () => {
    const r = await get(`${base}healthz`);
    return r.status === 503 ? r : undefined;
  });
  t.is(h.type, 'application/json');
  const body = JSON.parse(h.text) as {
    status: string;
    errors: { stream: string; partition: number; code: string; message: string }[];
  };
  t.is(body.status, 'unhealthy');
  t.deepEqual(
    body.errors.map((e) => [e.stream, e.partition, e.code]),
    [['parse', 0, 'EDDY_SM_RUNTIME']],
  );
  t.regex(body.errors[0]!.message, /cannot parse bad/);
  // The error is reported at once; the results before it commit after, then the failure is saved.
  const failed = await until(async () =>
    (await status(base)).streams.find(
      (x) => x.name === 'parse' && x.lastError !== null && x.partitions[0]?.failure != null,
    ),
  );
  t.is(failed.state, 'failed');
  t.regex(failed.lastError!.message, /cannot parse bad/);
  t.is(failed.recordsIn, 1, 'it stopped at the failing record');
});

test('deadline kills and restarts are counted per SmartModule: a chain whose second module loops names that module', async (t) => {
  const { eddy, base } = await fresh(t);
  await eddy.createTopic('in');
  await eddy.createTopic('out');
  // 'loop' passes fail-on (the first step) and makes spin (the second) loop until its deadline.
  await eddy.produce(
    'in',
    ['a', 'loop', 'b'].map((v) => ({ value: Buffer.from(v) })),
  );
  await eddy.createDerived({
    name: 'two',
    source: 'in',
    target: 'out',
    transforms: [step('fail-on'), step('spin')],
    policy: 'skip',
    deadlineMs: 300,
  });
  eddy.on('error', () => {}); // the skipped record is reported; the status below shows it
  await eddy.startDerived('two');
  // The submission that overran is skipped as a whole (here the one batch of three records).
  // The committed checkpoint is visible to readers a moment before the skip event that carries the
  // error reaches the telemetry, so wait for both.
  const s = await until(async () => {
    const x = (await status(base)).streams[0];
    return x?.lag === 0 && x.recordsIn === 3 && x.skipped > 0 && x.lastError !== null ? x : undefined;
  });
  t.is(s.recordsOut + s.skipped, 3);
  const [first, second] = s.modules;
  t.deepEqual([first!.deadlineKills, first!.restarts], [0, 0], 'the first module did not overrun');
  t.regex(second!.module, /spin/);
  t.true(second!.deadlineKills >= 1);
  t.true(second!.restarts >= 1);
  const p0 = s.partitions[0]!;
  t.deepEqual(
    p0.modules.map((m) => [m.step, m.deadlineKills, m.restarts]),
    [
      [0, 0, 0],
      [1, second!.deadlineKills, second!.restarts],
    ],
  );
  t.is(p0.deadlineKills, second!.deadlineKills);

  const m = (await get(`${base}metrics`)).text;
  const labels = (i: number) => ({ stream: 'two', partition: '0', step: String(i), module: s.modules[i]!.module });
  t.is(sample(m, 'eddy_module_deadline_kills_total', labels(1)), second!.deadlineKills);
  t.is(sample(m, 'eddy_module_restarts_total', labels(1)), second!.restarts);
  t.is(sample(m, 'eddy_module_deadline_kills_total', labels(0)), 0);
  t.is(sample(m, 'eddy_module_restarts_total', labels(0)), 0);
  t.is(sample(m, 'eddy_deadline_kills_total', { stream: 'two', partition: '0' }), second!.deadlineKills);
  t.regex(m, /# TYPE eddy_module_deadline_kills_total counter/);
  // The skipped record's error names the module that overran.
  t.regex(s.lastError!.message, /spin did not finish the batch at offset \d+ within 300 ms \(step 2 of /);
});

test('the page is one self-contained document; unknown paths and methods are refused', async (t) => {
  const { base } = await fresh(t, '0');
  t.regex(base, /^http:\/\/127\.0\.0\.1:/, 'a bare port listens on loopback');
  const page = await get(base);
  t.is(page.status, 200);
  t.regex(page.type, /^text\/html/);
  t.notRegex(page.text, /(src|href)=["']?(https?:)?\/\//, 'no external resources');
  t.is((await get(`${base}nope`)).status, 404);
  const post = await fetch(`${base}metrics`, { method: 'POST' }).catch((e: Error) => {
    throw new Error(`POST: ${String(e.cause)}`);
  });
  t.is(post.status, 405);
});

test('a port in use is a clear error at open, and the data directory is released', async (t) => {
  const { base } = await fresh(t);
  const port = new URL(base).port;
  const dir = tempDir(t, 'eddy-observe-');
  const err = await t.throwsAsync(open(dir, { http: `127.0.0.1:${port}` }));
  t.is((err as Error & { code?: string }).code, 'EDDY_HTTP_IN_USE');
  t.regex(
    err!.message,
    new RegExp(
      `cannot serve metrics and the status page on 127\\.0\\.0\\.1:${port}: the port is already in use.*port 0 for any free one`,
    ),
  );
  const again = await open(dir);
  await again.close();
});

test('addresses: bare port and :port are loopback; other hosts warn; bad ones are refused with how to write them', async (t) => {
  t.deepEqual(parseHttpAddress('9464'), { host: '127.0.0.1', port: 9464, loopback: true });
  t.deepEqual(parseHttpAddress(':9464'), { host: '127.0.0.1', port: 9464, loopback: true });
  t.deepEqual(parseHttpAddress('[::1]:80'), { host: '::1', port: 80, loopback: true });
  t.false(parseHttpAddress('0.0.0.0:1').loopback);
  for (const bad of ['abc', 'host:99999', '::1:80', '[nope]:1']) {
    const e = t.throws(() => parseHttpAddress(bad));
    t.is((e as Error & { code?: string }).code, 'EDDY_HTTP_ADDRESS', bad);
    t.regex(e!.message, /e\.g\. 127\.0\.0\.1:9464/);
  }
  const warnings: (Error & { code?: string })[] = [];
  const onWarning = (w: Error) => {
    if (w.name === 'EddyWarning') warnings.push(w);
  };
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const eddy = await open(tempDir(t, 'eddy-observe-'), { http: '0.0.0.0:0' });
  t.teardown(() => eddy.close());
  await until(async () => (warnings.length > 0 ? true : undefined));
  t.is(warnings[0]!.code, 'EDDY_HTTP_PUBLIC');
  t.regex(warnings[0]!.message, /reachable from other machines.*bind to 127\.0\.0\.1/);
});
