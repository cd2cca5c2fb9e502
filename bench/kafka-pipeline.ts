import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { open } from '../src/eddy.js';
import { wasmPath } from '../src/sdk-build/fixtures.js';
import { machine, median, table, writeResult } from './lib/harness.js';
import { type KafkaCluster, kafkaUnavailable, startKafka } from './lib/kafka-cluster.js';
import { type ModuleAlone, moduleAlone, nestedLogs, treeFilterWasm } from './lib/module-bound.js';

/**
 * bench/kafka-pipeline: Eddy's Kafka derived stream (the filter example, Kafka → Kafka, exactly
 * once) run by 1, 2 and 3 `eddy run` processes, against what a Node user would write instead, on
 * one real KRaft broker (scripts/kafka.sh on 127.0.0.1) sharing the machine:
 *
 *   - raw: kafkajs consume → produce, one transaction per fetched batch with sendOffsets, no processing;
 *   - js-filter: the same loop with the filter written in JS (keep values containing 'a');
 *     both in a process of their own (bench/lib/kafkajs-loop.ts), as each `eddy run` is;
 *   - eddy ×1, ×2, ×3: `eddy run` processes, each its own data directory, one consumer group;
 *   - lmdb: Eddy's embedded pipeline (LMDB topic → derived stream → LMDB topic) with the same module;
 *   - module-bound: one `eddy run` on W = 2 workers with an expensive module (the tree-reader JSON
 *     filter over ~4 KiB nested JSON logs, tens of µs per record: the module, not Kafka, is the
 *     bottleneck), against that module alone on 1 and on W plain threads in the same round
 *     (bench/lib/module-bound.ts). Goal: eddy ≥ 0.9 × (1-thread rate × the machine's W-thread
 *     scaling), where the scaling is W threads' rate ÷ one thread's, so the bound is the W-thread rate.
 *
 * Throughput. Each configuration gets a fresh source topic of 6 partitions and joins its group
 * first; then N records of 100 B are written in ONE producer transaction, so a read_committed
 * consumer sees none of them until the commit and then all at once. The clock starts when that
 * commit returns and each partition is done when the group's committed offset reaches its end
 * (read by polling the group's offsets, the same way for every configuration). A process's rate
 * is its partitions' records over the time until its last partition was done.
 *
 * Latency. With the same consumers still running, a producer writes at a steady rate well below
 * capacity (every 20 ms a slice, each record stamped with its send time as its Kafka timestamp,
 * which the filter's output keeps); a read_committed reader of the target takes arrival − stamp.
 *
 * CPU. Client-side CPU seconds per configuration (the loop's or the `eddy run` processes' from
 * /proc; the embedded pipeline's from process.cpuUsage), per source record: a measure that holds up better than
 * wall time on a shared machine. The broker's CPU is not in it.
 *
 *   node dist/bench/kafka-pipeline.js [records=120000] [rounds=3] [latency-rate=2000]
 *   EDDY_BENCH_MODULE_RECORDS=n and EDDY_BENCH_MODULE_WORKERS=w set the module-bound
 *   configuration's record count (24000) and W (2);
 *   EDDY_KAFKA_BOOTSTRAP=host:port uses a running broker; EDDY_BENCH_PROF=DIR writes CPU
 *   profiles of the `eddy run` processes there (node --cpu-prof).
 */

const N = Number(process.argv[2] ?? 120_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const LAT_RATE = Number(process.argv[4] ?? 2000);
const LAT_SECONDS = 6;
const PARTITIONS = 6;
const VALUE = 100;
const PROCESSES = [1, 2, 3] as const;
const TARGET = 0.8;
/** The module-bound configuration: records, their size, workers, and its goal. */
const MB_RECORDS = Number(process.env['EDDY_BENCH_MODULE_RECORDS'] ?? 24_000);
const MB_BYTES = 4096;
const MB_WORKERS = Number(process.env['EDDY_BENCH_MODULE_WORKERS'] ?? 2);
const MB_TARGET = 0.9;
const MB_ENGINE_MS = 1500;

const here = dirname(fileURLToPath(import.meta.url));
const eddyBin = join(resolve(here, '..', '..'), 'bin', 'eddy.js');
const prof = process.env['EDDY_BENCH_PROF'];
/** Another build's bin/eddy.js (a checkout before a change): run as `eddy×1-base` in the same rounds, for before/after. */
const baseBin = process.env['EDDY_BENCH_BASE_BIN'];

const unavailable = process.env['EDDY_KAFKA_BOOTSTRAP'] ? null : kafkaUnavailable();
if (unavailable) {
  // Not a failure of `npm run bench` on a machine without Java: said and recorded as skipped.
  console.error(`kafka-pipeline skipped: ${unavailable}`);
  writeResult('kafka-pipeline', { skipped: unavailable });
  process.exit(0);
}

let cluster: KafkaCluster | null = null;
const children = new Set<ChildProcess>();
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    for (const c of children) c.kill('SIGKILL');
    void (cluster?.stop() ?? Promise.resolve()).then(() => process.exit(130));
  });
const bootstrap = process.env['EDDY_KAFKA_BOOTSTRAP'] ?? (cluster = await startKafka(1)).bootstrap;
const kafka = new Kafka({ brokers: bootstrap.split(','), clientId: 'eddy-bench', logLevel: logLevel.NOTHING });
const work = mkdtempSync(join(tmpdir(), 'eddy-bench-kpipe-'));
const filterWasm = join(work, 'filter.wasm');
copyFileSync(wasmPath('filter'), filterWasm);

const adminConn: Promise<Admin> = (async () => {
  const a = kafka.admin();
  await a.connect();
  return a;
})();
const admin = async <T>(f: (a: Admin) => Promise<T>): Promise<T> => f(await adminConn);

let serial = 0;
const unique = (what: string) => `kp-${what}-${process.pid}-${++serial}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Creates a topic and waits until every partition has a leader. The client's own waitForLeaders
 * sometimes ends the process with an unhandled rejection (UNKNOWN_TOPIC_OR_PARTITION from a
 * metadata read that ran before the topic reached the broker's cache), so the wait is done here.
 */
async function createTopic(name: string): Promise<void> {
  await admin((a) => a.createTopics({ waitForLeaders: false, topics: [{ topic: name, numPartitions: PARTITIONS }] }));
  const end = performance.now() + 60_000;
  for (;;) {
    const ready = await admin((a) => a.fetchTopicMetadata({ topics: [name] })).then(
      (m) => m.topics[0]?.partitions.length === PARTITIONS && m.topics[0].partitions.every((p) => p.leader >= 0),
      () => false,
    );
    if (ready) return;
    if (performance.now() > end) throw new Error(`topic ${name} has no leaders after 60 s`);
    await sleep(100);
  }
}

/** 100-byte values of one letter b–y; every second one has an 'a', so the filter keeps half. */
function value(i: number): Buffer {
  const b = Buffer.alloc(VALUE, 98 + (i % 24));
  if (i % 2 === 0) b[i % VALUE] = 97;
  return b;
}
const kept = (v: Buffer) => v.includes(97);

/** What a throughput phase preloads: `count` records, record i being `value(i)` of `bytes` bytes. */
interface Load {
  count: number;
  bytes: number;
  value: (i: number) => Buffer;
}
const plain: Load = { count: N, bytes: VALUE, value };

/** Writes the load round-robin over the partitions in one transaction; resolves when it committed. */
async function preload(topic: string, load: Load): Promise<void> {
  const p = kafka.producer({ transactionalId: `${topic}-load`, idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  const tx = await p.transaction();
  // At most ~512 KiB per partition per request: under the broker's 1 MB batch limit for large records.
  const CHUNK = Math.max(1, Math.min(5000, Math.floor((PARTITIONS * 512 * 1024) / load.bytes)));
  for (let i = 0; i < load.count; i += CHUNK) {
    const messages = Array.from({ length: Math.min(CHUNK, load.count - i) }, (_, k) => ({
      value: load.value(i + k),
      partition: (i + k) % PARTITIONS,
    }));
    await tx.send({ topic, messages, acks: -1 });
  }
  await tx.commit();
  await p.disconnect();
}

/** Records per partition after preloading `count` (round-robin). */
const perPartition = (p: number, count = N) => Math.floor(count / PARTITIONS) + (p < count % PARTITIONS ? 1 : 0);

/**
 * From now until group `group` committed every partition's end of `topic`: per-partition done
 * times (ms after start), polling the group's offsets every 50 ms.
 */
async function watchGroup(
  group: string,
  topic: string,
  start: number,
  count: number,
  limitMs = 300_000,
): Promise<number[]> {
  const done: (number | null)[] = Array(PARTITIONS).fill(null);
  while (done.some((d) => d === null)) {
    if (performance.now() - start > limitMs) throw new Error(`group ${group} did not finish within ${limitMs} ms`);
    const [o] = await admin((a) => a.fetchOffsets({ groupId: group, topics: [topic] }));
    const t = performance.now() - start;
    for (const x of o?.partitions ?? [])
      if (done[x.partition] === null && Number(x.offset) >= perPartition(x.partition, count)) done[x.partition] = t;
    await sleep(50);
  }
  return done as number[];
}

/** CPU seconds of a process (all threads) from /proc, or 0 where there is no /proc. */
function procCpu(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (100 Hz)
  } catch {
    return 0;
  }
}
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

interface Runner {
  /** Source partitions each member owns (one member for the in-process loops). */
  members(): number[][];
  cpu(): number;
  stop(): Promise<void>;
}

/** kafkajs's own loop (bench/lib/kafkajs-loop.ts) in a process of its own; resolves once it joined its group. */
async function kafkajsLoop(source: string, target: string, group: string, filter: boolean): Promise<Runner> {
  const child = spawn(
    process.execPath,
    [
      join(here, 'lib', 'kafkajs-loop.js'),
      bootstrap,
      source,
      target,
      group,
      String(PARTITIONS),
      filter ? 'filter' : 'raw',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const closed = new Promise<void>((r) =>
    child.on('close', () => {
      children.delete(child);
      r();
    }),
  );
  const end = performance.now() + 120_000;
  while (!out.includes('joined')) {
    if (child.exitCode !== null) throw new Error(`kafkajs loop exited: ${out}`);
    if (performance.now() > end) throw new Error(`kafkajs loop did not join its group: ${out}`);
    await sleep(50);
  }
  return {
    members: () => [Array.from({ length: PARTITIONS }, (_, i) => i)],
    cpu: () => procCpu(child.pid!),
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await closed;
    },
  };
}

/** k `eddy run` processes, each with its own data directory and the same stream definition; resolves once the group settled. */
async function eddyRuns(
  k: number,
  source: string,
  target: string,
  name: string,
  bin = eddyBin,
  opts: { wasm?: string; workers?: number } = {},
): Promise<Runner> {
  const runs: { child: ChildProcess; out: () => string }[] = [];
  const eddy = (dir: string, args: string[]) => {
    const env = {
      ...process.env,
      EDDY_DATA_DIR: join(dir, 'data'),
      ...(opts.workers ? { EDDY_WORKERS: String(opts.workers) } : {}),
    };
    const node = prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [];
    const child = spawn(process.execPath, [...node, bin, ...args], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr!.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const exited = new Promise<number>((r) =>
      child.on('close', (code) => {
        children.delete(child);
        r(code ?? -1);
      }),
    );
    return { child, out: () => out, exited };
  };
  for (let i = 0; i < k; i++) {
    const dir = join(work, `${name}-${i}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'transforms.yaml'), `transforms:\n  - uses: ${opts.wasm ?? filterWasm}\n`);
    const create = eddy(dir, [
      'derive',
      'create',
      name,
      '--source',
      `kafka://${bootstrap}/${source}`,
      '--target',
      `kafka://${bootstrap}/${target}`,
      '--transforms-file',
      join(dir, 'transforms.yaml'),
    ]);
    if ((await create.exited) !== 0) throw new Error(`eddy derive create failed: ${create.out()}`);
    runs.push(eddy(dir, ['run', '--status-interval', '1s']));
  }
  const owned = (r: { out: () => string }): number[] | null => {
    const last = [...r.out().matchAll(/owns partitions \[([\d,]*)\]/g)].at(-1);
    return !last ? null : last[1] === '' ? [] : last[1]!.split(',').map(Number);
  };
  const end = performance.now() + 180_000;
  for (;;) {
    const sets = runs.map(owned);
    const all = sets.flatMap((s) => s ?? []).sort((a, b) => a - b);
    if (sets.every((s) => s && s.length > 0) && all.length === PARTITIONS && all.every((p, i) => p === i)) break;
    if (runs.some((r) => r.child.exitCode !== null))
      throw new Error(`eddy run exited: ${runs.map((r) => r.out()).join('\n')}`);
    if (performance.now() > end)
      throw new Error(`eddy run processes did not settle: ${runs.map((r) => r.out()).join('\n')}`);
    await sleep(100);
  }
  return {
    members: () => runs.map((r) => owned(r) ?? []),
    cpu: () => runs.reduce((s, r) => s + procCpu(r.child.pid!), 0),
    stop: async () => {
      await Promise.all(
        runs.map(
          (r) =>
            new Promise<void>((res) => {
              if (r.child.exitCode !== null) return res();
              r.child.once('close', () => res());
              r.child.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}

interface Throughput {
  total: number;
  perProcess: number[];
  cpuUsPerRecord: number;
}

/** Preloads the source in one transaction and times the runner's group to the end of every partition. */
async function throughput(r: Runner, source: string, group: string, load = plain): Promise<Throughput> {
  await preload(source, load);
  const t0 = performance.now();
  const cpu0 = r.cpu();
  const done = await watchGroup(group, source, t0, load.count);
  const cpu = r.cpu() - cpu0;
  const last = Math.max(...done);
  const perProcess = r.members().map((ps) => {
    const records = ps.reduce((s, p) => s + perPartition(p, load.count), 0);
    return (records * 1000) / Math.max(...ps.map((p) => done[p]!));
  });
  return { total: (load.count * 1000) / last, perProcess, cpuUsPerRecord: (cpu * 1e6) / load.count };
}

interface Latency {
  p50: number;
  p99: number;
  samples: number;
}

/** Steady produce into the source at LAT_RATE; end-to-end latency of the outputs read_committed from the target. */
async function latency(source: string, target: string): Promise<Latency> {
  const reader = kafka.consumer({ groupId: unique('lat-reader'), readUncommitted: false, maxWaitTimeInMs: 50 });
  const lat: number[] = [];
  let from = Number.POSITIVE_INFINITY;
  let joined!: () => void;
  const join = new Promise<void>((r) => {
    joined = r;
  });
  reader.on(reader.events.GROUP_JOIN, () => joined());
  await reader.connect();
  await reader.subscribe({ topic: target, fromBeginning: false });
  await reader.run({
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatch: async ({ batch }) => {
      const now = Date.now();
      for (const m of batch.messages) {
        const ts = Number(m.timestamp);
        if (ts >= from) lat.push(now - ts);
      }
    },
  });
  await join;
  await sleep(1000);
  const p = kafka.producer();
  await p.connect();
  const SLICE_MS = 20;
  const perSlice = Math.max(1, Math.round((LAT_RATE * SLICE_MS) / 1000));
  const t0 = performance.now();
  // The first second warms the path up and is not counted.
  const warm = Date.now() + 1000;
  let i = 0;
  let expected = 0;
  for (let slice = 0; performance.now() - t0 < LAT_SECONDS * 1000; slice++) {
    if (Date.now() >= warm && from === Number.POSITIVE_INFINITY) from = Date.now();
    const stamp = String(Date.now());
    const messages = Array.from({ length: perSlice }, () => {
      const v = value(i++);
      if (Date.now() >= from && kept(v)) expected++;
      return { value: v, partition: i % PARTITIONS, timestamp: stamp };
    });
    await p.send({ topic: source, messages, acks: 1 });
    const wait = t0 + (slice + 1) * SLICE_MS - performance.now();
    if (wait > 0) await sleep(wait);
  }
  await p.disconnect();
  const end = Date.now() + 30_000;
  while (lat.length < expected && Date.now() < end) await sleep(50);
  await reader.disconnect();
  const s = lat.sort((a, b) => a - b);
  const q = (f: number) => s[Math.min(s.length - 1, Math.floor(f * s.length))] ?? Number.NaN;
  if (lat.length < expected) console.error(`latency: ${lat.length} of ${expected} outputs arrived within 30 s`);
  return { p50: q(0.5), p99: q(0.99), samples: lat.length };
}

/** Eddy's embedded pipeline: an LMDB topic of 6 partitions through the same module to an LMDB topic, in this process. */
async function lmdbPipeline(): Promise<Throughput> {
  const dir = mkdtempSync(join(work, 'lmdb-'));
  const eddy = await open(dir);
  try {
    /** One derived stream over `records` stored records, from start to every partition caught up. */
    const run = async (name: string, records: number) => {
      await eddy.createTopic(`${name}-in`, { partitions: PARTITIONS });
      await eddy.createTopic(`${name}-out`);
      const CHUNK = 10_000;
      for (let i = 0; i < records; i += CHUNK)
        await eddy.produce(
          `${name}-in`,
          Array.from({ length: Math.min(CHUNK, records - i) }, (_, k) => ({
            value: value(i + k),
            partition: (i + k) % PARTITIONS,
          })),
        );
      await eddy.createDerived({
        name,
        source: `${name}-in`,
        target: `${name}-out`,
        transforms: [{ uses: filterWasm, params: {}, lookback: null }],
      });
      const doneAt: (number | null)[] = Array(PARTITIONS).fill(null);
      let finish!: () => void;
      const done = new Promise<void>((r) => {
        finish = r;
      });
      const t0 = performance.now();
      const cpu0 = selfCpu();
      const onLag = ({ stream, partition, lag }: { stream: string; partition: number; lag: number }) => {
        if (stream.startsWith(`${name}/`) && lag === 0 && doneAt[partition] === null) {
          doneAt[partition] = performance.now() - t0;
          if (doneAt.every((d) => d !== null)) finish();
        }
      };
      eddy.on('lag', onLag);
      await eddy.startDerived(name);
      await done;
      eddy.off('lag', onLag);
      const cpu = selfCpu() - cpu0;
      const ms = Math.max(...(doneAt as number[]));
      return {
        total: (records * 1000) / ms,
        perProcess: [(records * 1000) / ms],
        cpuUsPerRecord: (cpu * 1e6) / records,
      };
    };
    // The worker pool starts and compiles the module on first use: a small stream first, untimed
    // (the `eddy run` processes and the loops above are timed only after they started, too).
    await run('warm', 6000);
    return await run('f', N);
  } finally {
    await eddy.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

type Config = 'raw' | 'js-filter' | 'eddy×1' | 'eddy×2' | 'eddy×3' | 'eddy×1-base' | 'lmdb' | 'module-bound';
interface Row {
  round: number;
  config: Config;
  throughput: Throughput;
  latency: Latency | null;
  /** module-bound only: the module alone, the mean of its measures just before and just after eddy's. */
  alone?: ModuleAlone;
}

interface ModuleBoundRig {
  wasm: string;
  load: Load;
  alone: Awaited<ReturnType<typeof moduleAlone>>;
}
// Set on first use (a cast: the top level's later reads must not be narrowed to null).
let moduleBoundRig = null as ModuleBoundRig | null;

/**
 * One `eddy run` on MB_WORKERS workers with the expensive module, and the module alone on 1 and
 * on MB_WORKERS plain threads right before and right after it (while no `eddy run` is running).
 */
async function moduleBound(round: number): Promise<Row> {
  if (!moduleBoundRig) {
    const wasm = await treeFilterWasm();
    const value = nestedLogs(MB_BYTES);
    moduleBoundRig = {
      wasm,
      load: { count: MB_RECORDS, bytes: value(0).length, value },
      alone: await moduleAlone(wasm, value, MB_WORKERS),
    };
    await moduleBoundRig.alone.measure(300); // warm-up, untimed
  }
  const rig = moduleBoundRig;
  const source = unique('src');
  const target = unique('out');
  const group = unique('g');
  await createTopic(source);
  await createTopic(target);
  const before = await rig.alone.measure(MB_ENGINE_MS);
  const r = await eddyRuns(1, source, target, group, eddyBin, { wasm: rig.wasm, workers: MB_WORKERS });
  let t: Throughput;
  try {
    t = await throughput(r, source, group, rig.load);
  } finally {
    await r.stop();
  }
  const after = await rig.alone.measure(MB_ENGINE_MS);
  return {
    round,
    config: 'module-bound',
    throughput: t,
    latency: null,
    alone: {
      one: (before.one + after.one) / 2,
      w: (before.w + after.w) / 2,
      cpuUs: (before.cpuUs + after.cpuUs) / 2,
    },
  };
}

async function kafkaConfig(round: number, config: Config): Promise<Row> {
  const source = unique('src');
  const target = unique('out');
  const group = unique('g');
  await createTopic(source);
  await createTopic(target);
  const k = config.startsWith('eddy') ? Number(config.slice(5, 6)) : 0;
  const r =
    k > 0
      ? await eddyRuns(k, source, target, group, config === 'eddy×1-base' ? baseBin : eddyBin)
      : await kafkajsLoop(source, target, group, config === 'js-filter');
  try {
    const t = await throughput(r, source, group);
    const l = config === 'raw' ? null : await latency(source, target);
    return { round, config, throughput: t, latency: l };
  } finally {
    // Topics stay until the broker stops: deleting them mid-run made the admin's next metadata
    // refresh fail on the deleted names.
    await r.stop();
  }
}

const load0 = loadavg();
const rows: Row[] = [];
try {
  const all: Config[] = [
    'raw',
    'js-filter',
    ...PROCESSES.map((k) => `eddy×${k}` as Config),
    ...(baseBin ? ['eddy×1-base' as const] : []),
    'lmdb',
    'module-bound',
  ];
  // EDDY_BENCH_ONLY=raw,eddy×1: a subset (while profiling one configuration).
  const only = process.env['EDDY_BENCH_ONLY']?.split(',');
  const configs = all.filter((c) => !only || only.includes(c));
  for (let round = 1; round <= ROUNDS; round++)
    for (const config of round % 2 ? configs : [...configs].reverse()) {
      const row: Row =
        config === 'lmdb'
          ? { round, config, throughput: await lmdbPipeline(), latency: null }
          : config === 'module-bound'
            ? await moduleBound(round)
            : await kafkaConfig(round, config);
      rows.push(row);
      const t = row.throughput;
      console.error(
        `round ${round} ${config}: ${Math.round(t.total)} records/s` +
          (t.perProcess.length > 1 ? ` (per process ${t.perProcess.map(Math.round).join(', ')})` : '') +
          `, ${t.cpuUsPerRecord.toFixed(1)} µs CPU per record` +
          (row.latency
            ? `; latency p50 ${row.latency.p50} ms, p99 ${row.latency.p99} ms (${row.latency.samples})`
            : '') +
          (row.alone
            ? `; module alone ${Math.round(row.alone.one)} records/s on 1 thread (${row.alone.cpuUs.toFixed(1)} µs CPU per record), ${Math.round(row.alone.w)} on ${MB_WORKERS}`
            : ''),
      );
    }
} finally {
  await moduleBoundRig?.alone.close();
  await (await adminConn).disconnect().catch(() => {});
  for (const c of children) c.kill('SIGKILL');
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
}

const of = (c: Config) => rows.filter((r) => r.config === c);
const med = (c: Config, f: (r: Row) => number) => median(of(c).map(f));
/** Median over rounds of a per-round ratio of config a's total to config b's. */
const ratio = (a: Config, b: Config) =>
  median(
    of(a).map((r) => r.throughput.total / (of(b).find((x) => x.round === r.round)?.throughput.total ?? Number.NaN)),
  );
const configs = [...new Set(rows.map((r) => r.config))];
const summary = configs.map((c) => ({
  config: c,
  records_per_sec: med(c, (r) => r.throughput.total),
  per_process: of(c)[0]!.throughput.perProcess.map((_, i) => med(c, (r) => r.throughput.perProcess[i] ?? Number.NaN)),
  cpu_us_per_record: med(c, (r) => r.throughput.cpuUsPerRecord),
  latency_p50_ms: of(c)[0]!.latency ? med(c, (r) => r.latency!.p50) : null,
  latency_p99_ms: of(c)[0]!.latency ? med(c, (r) => r.latency!.p99) : null,
  // module-bound moves other records (4 KiB JSON, not 100 B): not comparable with the raw loop.
  vs_raw: c === 'module-bound' ? null : ratio(c, 'raw'),
}));
/**
 * module-bound: per round, eddy ÷ (module on 1 thread × the machine's W-thread scaling), the
 * scaling being W threads' rate ÷ one thread's (so the product is the W-thread rate); medians.
 */
const mbRows = of('module-bound');
const moduleBoundSummary = mbRows.length
  ? {
      workers: MB_WORKERS,
      records: MB_RECORDS,
      value_bytes: moduleBoundRig?.load.bytes ?? MB_BYTES,
      eddy_records_per_sec: median(mbRows.map((r) => r.throughput.total)),
      module_one_thread: median(mbRows.map((r) => r.alone!.one)),
      module_w_threads: median(mbRows.map((r) => r.alone!.w)),
      module_cpu_us_per_record: median(mbRows.map((r) => r.alone!.cpuUs)),
      eddy_cpu_us_per_record: median(mbRows.map((r) => r.throughput.cpuUsPerRecord)),
      machine_scaling: median(mbRows.map((r) => r.alone!.w / r.alone!.one)),
      ratio: median(mbRows.map((r) => r.throughput.total / r.alone!.w)),
      per_round_ratio: mbRows.map((r) => r.throughput.total / r.alone!.w),
      target: MB_TARGET,
    }
  : null;
const m = machine();
console.log(
  `${m.cpu}, ${m.cores} cores, Node ${m.node}; ${m.date}; commit ${m.commit}; load average ${load0.map((x) => x.toFixed(1)).join(' ')} at start, ${loadavg()
    .map((x) => x.toFixed(1))
    .join(
      ' ',
    )} at end; ${N} records of ${VALUE} B on ${PARTITIONS} partitions, ${ROUNDS} rounds (medians), latency at ${LAT_RATE} records/s`,
);
console.log(
  table([
    ['config', 'records/s', 'per process', 'CPU µs/record', 'latency p50 / p99 ms', '÷ raw tx loop'],
    ...summary.map((s) => [
      s.config,
      Math.round(s.records_per_sec),
      s.per_process.map(Math.round).join(', '),
      s.cpu_us_per_record.toFixed(1),
      s.latency_p50_ms === null ? '' : `${s.latency_p50_ms} / ${s.latency_p99_ms}`,
      s.vs_raw === null ? '' : s.vs_raw.toFixed(2),
    ]),
  ]),
);
if (moduleBoundSummary) {
  const b = moduleBoundSummary;
  console.log(
    `module-bound (${b.records} records of ${b.value_bytes} B, tree-reader JSON filter, eddy run on ${b.workers} workers): ` +
      `eddy ${Math.round(b.eddy_records_per_sec)} records/s; module alone ${Math.round(b.module_one_thread)} on 1 thread, ` +
      `${Math.round(b.module_w_threads)} on ${b.workers} (machine scaling ${b.machine_scaling.toFixed(2)}×); ` +
      `CPU µs per record: eddy run ${b.eddy_cpu_us_per_record.toFixed(1)}, module alone ${b.module_cpu_us_per_record.toFixed(1)}; ` +
      `eddy ÷ (1-thread rate × scaling) = ${b.ratio.toFixed(2)} (rounds ${b.per_round_ratio.map((x) => x.toFixed(2)).join(', ')}; target ≥ ${b.target})`,
  );
}
writeResult('kafka-pipeline', {
  machine: m,
  load_average_start: load0,
  load_average_end: loadavg(),
  records: N,
  rounds: ROUNDS,
  partitions: PARTITIONS,
  value_bytes: VALUE,
  latency_rate: LAT_RATE,
  target_vs_raw: TARGET,
  summary,
  module_bound: moduleBoundSummary,
  rows,
});
