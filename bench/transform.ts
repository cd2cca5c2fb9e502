import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineThreads } from '../src/bench/engine-thread.js';
import { engineRate, mainThreadChain } from '../src/bench/runner.js';
import { lineBatches } from '../src/cli/transform-input.js';
import { ModuleResolver } from '../src/coordinator/resolve.js';
import { wasmPath } from '../src/sdk-build/fixtures.js';
import type { BatchInput } from '../src/smartmodule/types.js';
import { median, spread, table, writeResult } from './lib/harness.js';
import { writeJsonLog } from './lib/json-log.js';

/**
 * bench/transform: the batch path on the job Eddy exists for. Generates a seeded JSON log (1M
 * lines of ~95 B; a quarter at level debug), then, in alternating rounds of one run:
 *
 *   - `eddy transform` with the SDK's JSON filter (examples/filter-json) and with a byte filter
 *     (test/fixtures/modules/drop-debug-bytes: a substring search, no parsing), on W = all cores;
 *   - `eddy consume --filter` with each module on a one-partition topic holding the same lines;
 *   - `eddy consume -B -d` with no module (the print path alone);
 *   - `eddy produce --file` of the log into a new topic, with no module and through the byte filter
 *     (`--transforms-line`): the stored records are counted after each run, outside its time;
 *   - `jq -c 'select(.level != "debug")'` (Debian's jq; installed with apt-get when missing);
 *   - a plain Node readline + JSON.parse loop (bench/lib/node-json-filter.ts);
 *   - each Eddy command on empty input (an empty file, an empty topic): its own start — loading its
 *     code, starting the pool, compiling the module, exiting — to read it beyond; and `eddy --version`;
 *
 * and the engine alone on the same batches, on 1 and on W plain threads (no pool, no I/O: the
 * ceiling; W threads ÷ W × one thread is the machine's own scaling). Every command's output goes
 * to a file and is checked (the same 750 000 lines; produce: the records stored).
 *
 *   node dist/bench/transform.js [--lines N] [--rounds R]   → table on stdout, JSON in bench/results/transform.json
 */

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const eddyBin = join(root, 'bin', 'eddy.js');
const nodeLoop = join(here, 'lib', 'node-json-filter.js');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** jq from Debian's package: installed when missing (as root, or with sudo); null when that fails. */
function ensureJq(): string | null {
  const has = () => spawnSync('jq', ['--version'], { encoding: 'utf8' });
  let v = has();
  if (v.status !== 0) {
    const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
    const run = (args: string[]) =>
      spawnSync(sudo[0] ?? args[0]!, [...sudo.slice(1), ...(sudo.length ? args : args.slice(1))], { stdio: 'inherit' });
    run(['apt-get', 'update', '-qq']);
    run(['apt-get', 'install', '-y', '-qq', 'jq']);
    v = has();
  }
  return v.status === 0 ? v.stdout.trim() : null;
}

interface Run {
  ms: number;
  cpuMs: number | null;
  lines: number;
}

/** GNU time, when installed: the CPU seconds a command used (user + system, all its threads). */
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const CPU_MARK = 'eddy-bench-cpu';

/**
 * Runs a command with stdout into `out`; returns its wall time, its CPU time (on a shared machine
 * the steadier of the two) and the lines it wrote.
 */
function timed(command: string, args: string[], out: string, env: NodeJS.ProcessEnv): Run {
  const fd = openSync(out, 'w');
  const t0 = performance.now();
  const [cmd, argv] = TIME ? [TIME, ['-f', `${CPU_MARK} %U %S`, command, ...args]] : [command, args];
  const r = spawnSync(cmd, argv, { stdio: ['ignore', fd, 'pipe'], env, maxBuffer: 1 << 26 });
  const ms = performance.now() - t0;
  closeSync(fd);
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}: ${r.stderr?.toString()}`);
  const cpu = new RegExp(`${CPU_MARK} ([\\d.]+) ([\\d.]+)`).exec(r.stderr?.toString() ?? '');
  const cpuMs = cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : null;
  const text = readFileSync(out);
  let lines = 0;
  for (let i = text.indexOf(0x0a); i >= 0; i = text.indexOf(0x0a, i + 1)) lines++;
  return { ms, cpuMs, lines };
}

export async function runTransformBench(): Promise<Record<string, unknown>> {
  const LINES = arg('--lines', 1_000_000);
  const ROUNDS = arg('--rounds', 3);
  const W = availableParallelism();
  const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-transform-'));
  const load = [loadavg()[0]!];
  try {
    const log = join(dir, 'logs.jsonl');
    const bytes = await writeJsonLog(log, LINES);
    const jq = ensureJq();
    const modules = { json: wasmPath('filter-json'), bytes: wasmPath('drop-debug-bytes') };
    const env = { ...process.env, EDDY_DATA_DIR: join(dir, 'data'), EDDY_WORKERS: String(W) };
    const eddy = (args: string[]) => [eddyBin, ...args];
    // The one-partition topic consume reads (stored once, outside the timings), and empty input
    // for each command's own start.
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '');
    for (const args of [
      ['topic', 'create', 'logs'],
      ['produce', 'logs', '--file', log],
      ['topic', 'create', 'empty'],
    ]) {
      const r = spawnSync(process.execPath, eddy(args), { env, stdio: ['ignore', 'ignore', 'pipe'] });
      if (r.status !== 0) throw new Error(`eddy ${args.join(' ')}: ${r.stderr}`);
    }

    const out = join(dir, 'out');
    /**
     * `eddy produce` of the log into a new one-partition topic; the Run's lines are the records it
     * stored (counted afterwards, untimed), and the topic is deleted again so the store stays small.
     */
    let topics = 0;
    const produced = (extra: string[]): Run => {
      const topic = `p${topics++}`;
      const setup = (args: string[]) => {
        const r = spawnSync(process.execPath, eddy(args), {
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
          maxBuffer: 1 << 28,
        });
        if (r.status !== 0) throw new Error(`eddy ${args.join(' ')}: ${r.stderr}`);
        return r.stdout;
      };
      setup(['topic', 'create', topic]);
      const r = timed(process.execPath, eddy(['produce', topic, '--file', log, '--no-progress', ...extra]), out, env);
      const stored = setup(['consume', topic, '-B', '-d', '-O', 'raw']);
      let lines = 0;
      for (let i = stored.indexOf(0x0a); i >= 0; i = stored.indexOf(0x0a, i + 1)) lines++;
      setup(['topic', 'delete', topic]);
      return { ...r, lines };
    };
    const jobs: Record<string, () => Run> = {
      'process start (eddy --version)': () => timed(process.execPath, eddy(['--version']), out, env),
      // Each command on empty input: its start (code, pool, module) and its exit, no records.
      [startOf('eddy transform, JSON filter')]: () =>
        timed(process.execPath, eddy(['transform', empty, '--filter', modules.json]), out, env),
      [startOf('eddy transform, byte filter')]: () =>
        timed(process.execPath, eddy(['transform', empty, '--filter', modules.bytes]), out, env),
      [startOf('consume --filter, JSON filter')]: () =>
        timed(process.execPath, eddy(['consume', 'empty', '-B', '-d', '--filter', modules.json]), out, env),
      [startOf('consume --filter, byte filter')]: () =>
        timed(process.execPath, eddy(['consume', 'empty', '-B', '-d', '--filter', modules.bytes]), out, env),
      [startOf('consume -B -d, no module')]: () =>
        timed(process.execPath, eddy(['consume', 'empty', '-B', '-d']), out, env),
      'eddy transform, JSON filter': () =>
        timed(process.execPath, eddy(['transform', log, '--filter', modules.json]), out, env),
      'eddy transform, byte filter': () =>
        timed(process.execPath, eddy(['transform', log, '--filter', modules.bytes]), out, env),
      'consume --filter, JSON filter': () =>
        timed(process.execPath, eddy(['consume', 'logs', '-B', '-d', '--filter', modules.json]), out, env),
      'consume --filter, byte filter': () =>
        timed(process.execPath, eddy(['consume', 'logs', '-B', '-d', '--filter', modules.bytes]), out, env),
      'consume -B -d, no module': () => timed(process.execPath, eddy(['consume', 'logs', '-B', '-d']), out, env),
      'eddy produce, no module': () => produced([]),
      'eddy produce through the byte filter': () =>
        produced(['--transforms-line', JSON.stringify({ uses: modules.bytes })]),
      'node readline + JSON.parse': () => timed(process.execPath, [nodeLoop, log], out, env),
      ...(jq
        ? { 'jq -c select(.level != "debug")': () => timed('jq', ['-c', 'select(.level != "debug")', log], out, env) }
        : {}),
    };
    const names = Object.keys(jobs);
    const times = new Map<string, number[]>(names.map((n) => [n, []]));
    const cpus = new Map<string, number[]>(names.map((n) => [n, []]));
    const expected = LINES - Math.ceil(LINES / 4);
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate the order, so no command always runs after the same one.
      const order = round % 2 === 0 ? names : [...names].reverse();
      for (const name of order) {
        const r = jobs[name]!();
        // Lines out, or for produce the records stored.
        const want = name.startsWith('process')
          ? 1
          : name.endsWith(EMPTY)
            ? 0
            : name.includes('no module')
              ? LINES
              : expected;
        if (r.lines !== want) throw new Error(`${name}: ${r.lines} lines out, expected ${want}`);
        times.get(name)!.push(r.ms);
        if (r.cpuMs !== null) cpus.get(name)!.push(r.cpuMs);
      }
      load.push(loadavg()[0]!);
    }

    // The engine alone on the same batches (the first 200 000 lines), 1 and W plain threads.
    const sample = join(dir, 'sample.jsonl');
    spawnSync('sh', ['-c', `head -n 200000 '${log}' > '${sample}'`]);
    const batches: BatchInput[] = [];
    for await (const b of lineBatches(
      (async function* () {
        yield readFileSync(sample);
      })(),
      1 << 20,
    )) {
      batches.push({ baseOffset: b.baseOffset, baseTimestamp: 0, raw: b.raw });
    }
    const engine: Record<string, { one: number; w: number; scaling: number; cpu_ns_per_record: number }> = {};
    for (const [kind, path] of Object.entries(modules)) {
      const steps = await new ModuleResolver(null).steps([{ uses: path }]);
      const chain = mainThreadChain(steps);
      const ones: number[] = [];
      const ws: number[] = [];
      const cpuNs: number[] = [];
      const threads = await EngineThreads.open(W, steps, batches);
      for (let round = 0; round < ROUNDS; round++) {
        const r = engineRate(chain, batches, 700);
        ones.push(r.recordsPerSec);
        cpuNs.push((r.cpuMs * 1e6) / r.records);
        ws.push(await threads.rate(700));
      }
      await threads.close();
      chain.dispose();
      engine[kind] = {
        one: median(ones),
        w: median(ws),
        scaling: median(ws) / (W * median(ones)),
        cpu_ns_per_record: median(cpuNs),
      };
    }

    const med = (name: string) => median(times.get(name)!);
    const cpu = (name: string) => (cpus.get(name)!.length > 0 ? median(cpus.get(name)!) : NaN);
    /**
     * Eddy's commands are read beyond their own start (the same command on empty input: loading
     * its code, starting the pool, compiling the module, exiting); the others (their start is a few
     * ms) as they ran.
     */
    const beyond = (name: string) => (jobs[startOf(name)] ? med(name) - med(startOf(name)) : med(name));
    const rate = (name: string) => LINES / (beyond(name) / 1000);
    const tJson = med('eddy transform, JSON filter');
    const tBytes = med('eddy transform, byte filter');
    const jqName = 'jq -c select(.level != "debug")';
    const goals = {
      transform_vs_engine_w_json: rate('eddy transform, JSON filter') / engine['json']!.w,
      transform_vs_engine_w_bytes: rate('eddy transform, byte filter') / engine['bytes']!.w,
      jq_over_transform_json: jq ? med(jqName) / tJson : null,
      jq_over_transform_bytes: jq ? med(jqName) / tBytes : null,
      consume_over_transform_json: med('consume --filter, JSON filter') / tJson,
      consume_over_transform_bytes: med('consume --filter, byte filter') / tBytes,
      node_loop_over_transform_json: med('node readline + JSON.parse') / tJson,
      node_loop_over_transform_bytes: med('node readline + JSON.parse') / tBytes,
      consume_no_module_beyond_start_s: beyond('consume -B -d, no module') / 1000,
      produce_through_module_over_plain: med('eddy produce through the byte filter') / med('eddy produce, no module'),
    };
    /** The same comparisons in CPU time (less shaken by other load than wall time; not what a user waits for). */
    const cpuRatios = {
      jq_over_transform_json: jq ? cpu(jqName) / cpu('eddy transform, JSON filter') : null,
      jq_over_transform_bytes: jq ? cpu(jqName) / cpu('eddy transform, byte filter') : null,
      consume_over_transform_json: cpu('consume --filter, JSON filter') / cpu('eddy transform, JSON filter'),
      consume_over_transform_bytes: cpu('consume --filter, byte filter') / cpu('eddy transform, byte filter'),
      node_loop_over_transform_json: cpu('node readline + JSON.parse') / cpu('eddy transform, JSON filter'),
      node_loop_over_transform_bytes: cpu('node readline + JSON.parse') / cpu('eddy transform, byte filter'),
      consume_no_module_beyond_start_s:
        (cpu('consume -B -d, no module') - cpu(startOf('consume -B -d, no module'))) / 1000,
      engine_cpu_s_json: (LINES * engine['json']!.cpu_ns_per_record) / 1e9,
      engine_cpu_s_bytes: (LINES * engine['bytes']!.cpu_ns_per_record) / 1e9,
      // The share of eddy transform's CPU that is the module's own work (the rest: start, reading, frames, printing).
      engine_over_transform_cpu_json:
        (LINES * engine['json']!.cpu_ns_per_record) / 1e6 / cpu('eddy transform, JSON filter'),
      engine_over_transform_cpu_bytes:
        (LINES * engine['bytes']!.cpu_ns_per_record) / 1e6 / cpu('eddy transform, byte filter'),
    };
    const rows = names.map((n) => [
      n,
      (med(n) / 1000).toFixed(2),
      n.startsWith('process') || n.endsWith(EMPTY) ? '' : (beyond(n) / 1000).toFixed(2),
      n.startsWith('process') || n.endsWith(EMPTY) ? '' : `${(rate(n) / 1e6).toFixed(2)}M`,
      spread(times.get(n)!).toFixed(2),
      (cpu(n) / 1000).toFixed(2),
    ]);
    console.log(
      `bench/transform: ${LINES} lines, ${(bytes / 1e6).toFixed(0)} MB, W = ${W}, ${ROUNDS} rounds; load average ${load.map((l) => l.toFixed(1)).join(' → ')}`,
    );
    console.log(
      table([
        ['command', 'wall s (median)', 's beyond its start', 'input records/s', 'spread', 'CPU s (all threads)'],
        ...rows,
      ]),
    );
    console.log(
      table([
        ['engine alone', '1 thread rec/s', `${W} threads rec/s`, 'machine scaling', 'CPU ns/record'],
        ...Object.entries(engine).map(([k, e]) => [
          k,
          `${(e.one / 1e6).toFixed(2)}M`,
          `${(e.w / 1e6).toFixed(2)}M`,
          e.scaling.toFixed(2),
          e.cpu_ns_per_record.toFixed(0),
        ]),
      ]),
    );
    console.log(
      table([
        ['goal', 'result', 'target'],
        ...Object.entries(goals).map(([k, v]) => [k, v === null ? '–' : v.toFixed(2), GOALS[k] ?? '']),
      ]),
    );
    console.log(
      table([
        ['in CPU time', 'result'],
        ...Object.entries(cpuRatios).map(([k, v]) => [k, v === null || Number.isNaN(v) ? '–' : v.toFixed(2)]),
      ]),
    );
    const result = {
      lines: LINES,
      bytes,
      workers: W,
      rounds: ROUNDS,
      jq,
      load_average: load,
      file_mb: statSync(log).size / 1e6,
      times_ms: Object.fromEntries(names.map((n) => [n, times.get(n)])),
      median_ms: Object.fromEntries(names.map((n) => [n, med(n)])),
      cpu_ms: Object.fromEntries(names.map((n) => [n, cpus.get(n)])),
      engine,
      goals,
      cpu_ratios: cpuRatios,
    };
    console.log(`wrote ${writeResult('transform', result)}`);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The job timing a command's start: the command on empty input. */
const EMPTY = ', empty input';
const startOf = (name: string): string => `${name}${EMPTY}`;

const GOALS: Record<string, string> = {
  transform_vs_engine_w_json: '≥ 0.85',
  transform_vs_engine_w_bytes: '≥ 0.85 (until I/O bound)',
  jq_over_transform_json: '≥ 2',
  jq_over_transform_bytes: '≥ 2',
  consume_over_transform_json: '≤ 1.2',
  consume_over_transform_bytes: '≤ 1.2',
  consume_no_module_beyond_start_s: '≤ 0.3',
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await runTransformBench();
