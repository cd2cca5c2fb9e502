import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Command, Option } from 'commander';
import type { BenchChain, BenchReport } from '../bench/bench.js';
import { BENCH_DEFAULTS } from '../bench/defaults.js';
import type { InputSpec } from '../bench/input.js';
import { compareLines, costLines, fmtRate } from '../bench/report-text.js';
import type { SessionStep } from '../coordinator/chain-session.js';
import { COORDINATOR_DEFAULTS } from '../coordinator/defaults.js';
import { resolveUses, stepName } from '../coordinator/resolve.js';
import { DurationError, formatDuration, parseDuration } from '../smartmodule/duration.js';
import { loadModule } from '../smartmodule/index.js';
import { readTransformsFile } from '../smartmodule/transforms.js';
import { MAX_CONFIG_BYTES, readUserFile, UserFileError } from '../user-file.js';
import { parseParams } from './chain-options.js';
import { isTTY, parseIntOption, workerCount } from './common.js';
import { type CliContext, type CliIO, UsageError } from './format.js';

/**
 * `eddy bench`: how fast a SmartModule (or a chain) runs in Eddy — through the real worker pool,
 * one ordered stream per worker, on records from a file, a JSON template or generated at random.
 * Reports throughput in and out, time per record, selectivity, batch latency, where the time goes
 * (host, module, IPC), module memory, instantiate/init times, and the same at W = 1..cores.
 * `--compare` runs a second module on identical input in alternating rounds; `--html` writes a
 * self-contained report with charts; `--json` prints one JSON object.
 */

export interface BenchCommandOptions {
  wasmFile?: string;
  transformsFile?: string;
  compare?: string;
  compareFluvio?: boolean;
  file?: string;
  jsonTemplate?: string;
  records?: string;
  recordSize?: string;
  seed?: string;
  params?: string[];
  batchSize?: string;
  frameBatches?: string;
  duration?: string;
  scaling?: boolean;
  maxSpread?: string;
  json?: boolean;
  html?: string;
  quiet?: boolean;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Loads a chain: one .wasm with -e params, or a transforms file's steps. Times each compile. */
async function loadChain(
  io: CliIO,
  o: { wasm?: string; transforms?: string; params: Record<string, string> },
): Promise<BenchChain> {
  const compileMs: number[] = [];
  const load = async (path: string, name?: string) => {
    const t = performance.now();
    const m = await loadModule(path, name ? { name } : {});
    compileMs.push(performance.now() - t);
    return m;
  };
  if (o.wasm !== undefined) {
    const path = resolve(io.cwd, o.wasm);
    const module = await load(path);
    return { label: o.wasm, steps: [{ module, params: o.params }], sources: [path], compileMs };
  }
  const file = resolve(io.cwd, o.transforms!);
  const steps = await readTransformsFile(file);
  if (steps.length === 0) throw new UsageError(`${o.transforms}: the transforms list is empty; nothing to measure`);
  const out: SessionStep[] = [];
  const sources: string[] = [];
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    const ref = resolveUses(s.uses, { registry: null, baseDir: dirname(file) }, stepName(o.transforms!, i));
    const path = (ref as { file: string }).file;
    out.push({ module: await load(path, s.uses), params: { ...s.with, ...o.params }, lookback: s.lookback });
    sources.push(path);
  }
  return { label: o.transforms!, steps: out, sources, compileMs };
}

function positive(text: string | undefined, what: string, def: number): number {
  if (text === undefined) return def;
  return parseIntOption(text, what, { min: 1 });
}

/** Checks the command line and builds the input spec. */
export function planInput(o: BenchCommandOptions, seedDefault: number): InputSpec {
  const given = [o.file !== undefined && '--file', o.jsonTemplate !== undefined && '--json-template'].filter(Boolean);
  if (given.length > 1) throw new UsageError(`${given.join(' and ')} cannot be used together: give the input one way`);
  const seed = o.seed === undefined ? seedDefault : parseIntOption(o.seed, '--seed');
  if (o.file !== undefined) {
    if (o.recordSize !== undefined)
      throw new UsageError('--record-size is for generated records; with --file each line is one record as it is');
    return {
      kind: 'file',
      path: o.file,
      records: o.records === undefined ? null : positive(o.records, '--records', 0),
    };
  }
  const records = positive(o.records, '--records', BENCH_DEFAULTS.records);
  if (o.jsonTemplate !== undefined) {
    if (o.recordSize !== undefined)
      throw new UsageError('--record-size is for generated records; a --json-template decides the size of its records');
    return { kind: 'template', template: o.jsonTemplate, records, seed };
  }
  return {
    kind: 'generated',
    records,
    recordSize: positive(o.recordSize, '--record-size', BENCH_DEFAULTS.recordSize),
    seed,
  };
}

export async function runBenchCommand(o: BenchCommandOptions, cmd: Command, io: CliIO): Promise<number> {
  const [{ runBench }, { requireFluvioEngine }, { buildInput }, { renderHtml }] = await Promise.all([
    import('../bench/bench.js'),
    import('../bench/fluvio.js'),
    import('../bench/input.js'),
    import('../bench/report-html.js'),
  ]);
  if ((o.wasmFile === undefined) === (o.transformsFile === undefined)) {
    throw new UsageError(
      o.wasmFile === undefined
        ? 'no module: give --wasm-file PATH or -t/--transforms-file PATH'
        : '--wasm-file and --transforms-file cannot be used together: list the module as a step of the transforms file instead',
    );
  }
  // Checked first: the harness is built apart (with cargo), and a missing one should not cost a bench run.
  if (o.compareFluvio) requireFluvioEngine();
  const params = parseParams(o.params ?? []);
  const workers = workerCount(cmd, io);
  const batchSize = positive(o.batchSize, '--batch-size', BENCH_DEFAULTS.batchSize);
  const frameBatches = positive(o.frameBatches, '--frame-batches', COORDINATOR_DEFAULTS.batchesPerSubmission);
  let durationMs: number = BENCH_DEFAULTS.durationMs;
  if (o.duration !== undefined) {
    try {
      durationMs = parseDuration(o.duration);
    } catch (err) {
      if (err instanceof DurationError) throw new UsageError(`--duration: ${err.message}`);
      throw err;
    }
    if (!(durationMs > 0)) throw new UsageError('--duration must be longer than 0');
  }
  const maxSpread =
    o.maxSpread === undefined
      ? BENCH_DEFAULTS.maxSpread
      : Number(o.maxSpread.replace(/%$/, '')) / (o.maxSpread.endsWith('%') ? 100 : 1);
  if (!(maxSpread > 0 && maxSpread < 10))
    throw new UsageError(`--max-spread expects a fraction such as 0.05 or 5%, got ${JSON.stringify(o.maxSpread)}`);
  let spec = planInput(o, (Date.now() ^ (process.pid << 8)) >>> 0);
  if (spec.kind === 'template' && spec.template.startsWith('@')) {
    const path = resolve(io.cwd, spec.template.slice(1));
    try {
      spec = { ...spec, template: (await readUserFile(path, MAX_CONFIG_BYTES)).toString('utf8').trim() };
    } catch (err) {
      if (!(err instanceof UserFileError)) throw err;
      throw new UsageError(`--json-template ${spec.template}: ${err.message}`);
    }
  }
  if (spec.kind === 'file') spec = { ...spec, path: resolve(io.cwd, spec.path) };

  const chain = await loadChain(io, {
    ...(o.wasmFile !== undefined ? { wasm: o.wasmFile } : { transforms: o.transformsFile! }),
    params,
  });
  const compare = o.compare !== undefined ? await loadChain(io, { wasm: o.compare, params }) : undefined;
  const input = await buildInput(spec, batchSize);
  const cores = availableParallelism();
  const scaling = o.scaling === false ? [workers] : Array.from({ length: Math.max(cores, workers) }, (_, i) => i + 1);

  const started = performance.now();
  const tty = isTTY(io.stderr);
  let shown = false;
  const progress = o.quiet
    ? undefined
    : (line: string) => {
        // Short runs stay quiet; long ones show each round (redrawn in place on a terminal).
        if (performance.now() - started < 1000) return;
        shown = true;
        io.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
      };
  let report: BenchReport;
  try {
    report = await runBench({
      chain,
      compare,
      input,
      workers,
      scaling,
      durationMs,
      maxSpread,
      frameBatches,
      compareFluvio: o.compareFluvio === true,
      ...(progress ? { progress } : {}),
    });
  } finally {
    if (shown && tty) io.stderr.write('\r\x1b[K');
  }
  if (report.errors > 0) {
    io.stderr.write(
      `warning: ${report.errors} record(s) failed in the module and were skipped (first: ${report.first_error?.split('\n')[0]}); ` +
        'the input may not suit this module: give records it accepts with --file or --json-template\n',
    );
  }
  if (!report.stable) {
    io.stderr.write(
      `note: the rounds did not settle within the time budget (spread ${(report.spread * 100).toFixed(1)}%); a longer --duration or a quieter machine gives steadier numbers\n`,
    );
  }
  if (o.html !== undefined) {
    const path = resolve(io.cwd, o.html);
    await writeFile(path, renderHtml(report));
    if (!o.json) io.stderr.write(`wrote ${path}\n`);
  }
  io.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return 0;
}

function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const n3 = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));

/** The human-readable report. */
export function formatReport(r: BenchReport): string {
  const lines = [
    `eddy bench: ${r.module.label} (${r.module.steps.map((x) => x.kind).join(' → ')})`,
    `input: ${r.input.description}; ${r.input.batches} batches of ${r.input.batch_size} records`,
    `workers: ${r.workers} (${r.partitions} streams${r.frame_batches > 1 ? `, ${r.frame_batches} batches per frame` : ''}); ${r.rounds} rounds, spread ${(r.spread * 100).toFixed(1)}%${r.stable ? '' : ' (not settled)'}`,
    '',
    pad([
      ['', 'in', 'out'],
      ['records/s', fmtRate(r.records_per_sec), fmtRate(r.records_out_per_sec)],
      ['MB/s', n3(r.mb_per_sec_in), n3(r.mb_per_sec_out)],
      ['ns per record', n3(r.ns_per_record), ''],
      ['selectivity', r.selectivity.toFixed(3), ''],
      ['batch latency', `p50 ${n3(r.batch_latency_ms_p50)} ms`, `p99 ${n3(r.batch_latency_ms_p99)} ms`],
    ]),
    '',
    `engine alone on one thread: ${fmtRate(r.engine_single_thread_records_per_sec)} records/s; efficiency ${r.efficiency.toFixed(2)} (records/s ÷ (W × that))`,
    ...costLines(r),
    `peak module memory ${(r.peak_module_memory_bytes / 1048576).toFixed(2)} MiB${r.module_recycles > 0 ? ` (instances recycled ${r.module_recycles}×: the module keeps its outputs)` : ''}; compile ${n3(r.compile_ms)} ms, instantiate ${r.instantiate_ms.toFixed(3)} ms, ` +
      `init ${r.init_ms.toFixed(3)} ms, stream open ${n3(r.stream_open_ms)} ms`,
    '',
    'scaling',
    pad([
      ['workers', 'records/s', 'spread', 'efficiency', 'p50 ms', 'p99 ms'],
      ...r.scaling.map((p) => [
        String(p.workers),
        fmtRate(p.records_per_sec),
        `${(p.spread * 100).toFixed(1)}%`,
        p.efficiency.toFixed(2),
        n3(p.batch_latency_ms_p50),
        n3(p.batch_latency_ms_p99),
      ]),
    ]),
  ];
  if (r.compare) {
    const c = r.compare;
    lines.push(
      '',
      `compare (identical input, W=${c.workers}, ${c.rounds} alternating rounds, spread ${(c.spread * 100).toFixed(1)}%)`,
      pad([
        ['module', 'records/s', 'ns/record', 'selectivity', 'p50 ms', 'engine 1-thread rec/s'],
        ...[c.a, c.b].map((x) => [
          x.label,
          fmtRate(x.records_per_sec),
          n3(x.ns_per_record),
          x.selectivity.toFixed(3),
          n3(x.batch_latency_ms_p50),
          fmtRate(x.engine_single_thread_records_per_sec),
        ]),
      ]),
      `ratio ${c.a.label} / ${c.b.label}: ${c.ratio.toFixed(3)} through the pool, ${c.engine_ratio.toFixed(3)} for the engine alone`,
      ...compareLines(r),
    );
  }
  if (r.fluvio) {
    const f = r.fluvio;
    lines.push(
      '',
      `Fluvio's engine (fluvio-smartengine, one chain instance on one thread, as a Fluvio SPU runs it) against Eddy's, ${f.rounds} alternating rounds`,
      pad([
        ['', 'records/s', 'ns/record'],
        ["Fluvio's engine, one thread", fmtRate(f.fluvio_records_per_sec), n3(1e9 / f.fluvio_records_per_sec)],
        ["Eddy's engine, one thread", fmtRate(f.eddy_records_per_sec), n3(1e9 / f.eddy_records_per_sec)],
        [`Eddy through the pool, W=${f.workers}`, fmtRate(r.records_per_sec), n3(r.ns_per_record)],
      ]),
      `ratio Eddy's engine / Fluvio's engine: ${f.ratio.toFixed(3)} (spread ${(f.spread * 100).toFixed(1)}%); Eddy at W=${f.workers} / Fluvio's one instance: ${f.eddy_workers_vs_fluvio.toFixed(3)}`,
      `CPU per record of each engine's thread: Fluvio ${n3(f.fluvio_cpu_ns_per_record)} ns, Eddy ${n3(f.eddy_cpu_ns_per_record)} ns; Eddy's speed in CPU time ${f.cpu_ratio.toFixed(3)}× Fluvio's (spread ${(f.cpu_spread * 100).toFixed(1)}%; holds on a busy machine, where wall time does not)`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function registerBenchCommand(program: Command, ctx: CliContext): void {
  program
    .command('bench')
    .summary('measure how fast a SmartModule (or chain) runs in Eddy')
    .description(
      "Measure a SmartModule .wasm (or a transforms chain) through Eddy's worker pool: one ordered stream per " +
        'worker thread (the global --workers, default one per core), batches submitted with pipelining. After a ' +
        'warm-up, each round is one pass over the input; rounds repeat until the last three agree within ' +
        '--max-spread or the --duration budget is spent, and the spread is reported. The same is measured at ' +
        'W = 1..cores (scaling) unless --no-scaling.\n\n' +
        'Reports records/s and MB/s in and out, ns per record, selectivity (out/in), batch latency p50/p99, the ' +
        'time split per record (host encode/copy/decode/GC, module, IPC), peak module memory, compile/instantiate/' +
        'init times, and the efficiency against the engine alone on one thread.\n\n' +
        'Input: --file (one record per line), --json-template (placeholders {{seq}} {{int}} {{int:MIN:MAX}} {{float}} ' +
        '{{float:MIN:MAX}} {{word}} {{text:N}} {{choice:a|b|c}} {{bool}} {{ts}} {{uuid}}; @path reads the template ' +
        'from a file), or random a–z values (--record-size). --records is how many input records (default ' +
        BENCH_DEFAULTS.records +
        '; ' +
        'file lines repeat to reach it). --seed makes generated input repeatable (default: random, reported). ' +
        "Modules that parse their input want records they accept, e.g. --json-template '{{int:0:1000}}' for numbers, " +
        '\'[{{int}},{{int}}]\' for JSON arrays, \'{"level":"{{choice:info|debug|warn}}","message":"{{word}}"}\'; records a ' +
        'module rejects are counted, skipped and reported.\n\n' +
        'Examples:\n' +
        '  eddy bench --wasm-file filter.wasm\n' +
        "  eddy bench --wasm-file sum.wasm --json-template '{{int:0:100}}' --records 50000 --json\n" +
        '  eddy bench --wasm-file new.wasm --compare old.wasm --file events.txt --html report.html\n' +
        '  eddy bench --wasm-file filter.wasm --compare-fluvio\n' +
        '  eddy --workers 2 bench -t transforms.yaml --duration 10s',
    )
    .option('--wasm-file <path>', 'the SmartModule .wasm to measure')
    .option(
      '-t, --transforms-file <path>',
      'measure the chain of a transforms.yaml (uses = .wasm paths relative to it)',
    )
    .option('--compare <path>', 'a second .wasm run on identical input in alternating rounds; reports ratios')
    .option(
      '--compare-fluvio',
      "also run the module (or chain) through Fluvio's own engine (fluvio-smartengine, built by `bash conformance/build-fluvio-engine.sh`; $EDDY_FLUVIO_ENGINE names another binary) and Eddy's, one thread each, in alternating rounds",
    )
    .option('--file <path>', 'input: one record per line of this file')
    .option(
      '--json-template <template>',
      'input: records from a template with placeholders (see above); @path reads it from a file',
    )
    .option(
      '--records <n>',
      `input records (default ${BENCH_DEFAULTS.records}; a round passes over them at least once)`,
    )
    .option('--record-size <bytes>', `size of generated values (default ${BENCH_DEFAULTS.recordSize})`)
    .option('--seed <n>', 'seed of generated input (default random)')
    .option('-e, --params <key=value>', 'parameter passed to init (repeatable)', collect)
    .option('--batch-size <n>', `records per batch (default ${BENCH_DEFAULTS.batchSize})`)
    .option(
      '--frame-batches <n>',
      `batches per submission to a worker (one message); default ${COORDINATOR_DEFAULTS.batchesPerSubmission}, as Eddy's consumers and derived streams submit (latency is per submission)`,
    )
    .option(
      '--duration <time>',
      `time budget per measured configuration, e.g. 2s, 500ms (default ${formatDuration(BENCH_DEFAULTS.durationMs)})`,
    )
    .option(
      '--max-spread <fraction>',
      `stop repeating once the last rounds agree within this (default ${BENCH_DEFAULTS.maxSpread})`,
    )
    .option('--no-scaling', 'measure only at --workers, not at W = 1..cores')
    .option('--json', 'print one JSON object instead of the table')
    .option('--html <file>', 'also write a self-contained HTML report with charts')
    .option('-q, --quiet', 'no progress on stderr')
    .addOption(new Option('--workers <n>', 'worker threads (same as the global --workers)').hideHelp())
    .action(async (opts: BenchCommandOptions & { workers?: string }, cmd: Command) => {
      ctx.done(await runBenchCommand(opts, cmd, ctx.io()));
    });
}
