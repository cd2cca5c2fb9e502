import { Counter, Gauge, Registry } from 'prom-client';
import type { LatencyCounts } from './latency.js';
import { BatchLatency } from './latency-metric.js';
import type { Status } from './status.js';

/**
 * `/metrics` in Prometheus' text format. Every value is read from a telemetry snapshot when
 * Prometheus scrapes (collect callbacks), so the pipeline pays nothing per record for them; only
 * the batch latency histogram counts as results commit. `source` gives the snapshot to read
 * (the HTTP thread's renderer hands every metric family the same one) and `counts` the
 * batch-latency counts to write (the HTTP thread's copy of the coordinator's).
 */

type Labels = Record<string, string | number>;
export type Rows = (s: Status) => [Labels, number][];

/**
 * Per registry, what each family's text is made of for a snapshot (its rows: labels and values),
 * read once per snapshot and shared by the family's collect callback and the renderer, which
 * reuses a family's last text when its rows did not change (rendering.ts).
 */
const families = new WeakMap<Registry, Map<string, Rows>>();

export function familyRows(registry: Registry): ReadonlyMap<string, Rows> {
  return families.get(registry) ?? new Map();
}

/** The rows of the last snapshot asked for, kept until another is. */
function perSnapshot(rows: Rows): Rows {
  let last: { s: Status; rows: [Labels, number][] } | null = null;
  return (s) => {
    if (last?.s !== s) last = { s, rows: rows(s) };
    return last.rows;
  };
}

const streamLabels = ['stream', 'partition'] as const;
const moduleLabels = ['stream', 'step', 'module'] as const;
const partitionModuleLabels = ['stream', 'partition', 'step', 'module'] as const;
const connectorLabels = ['connector', 'direction'] as const;

const perPartition =
  (f: (p: Status['streams'][number]['partitions'][number]) => number): Rows =>
  (s) =>
    s.streams.flatMap((st) =>
      st.partitions.map((p) => [{ stream: st.name, partition: p.partition }, f(p)] as [Labels, number]),
    );
const perModule =
  (f: (m: Status['streams'][number]['modules'][number]) => number): Rows =>
  (s) =>
    s.streams.flatMap((st) =>
      st.modules.map((m) => [{ stream: st.name, step: m.step, module: m.module }, f(m)] as [Labels, number]),
    );
const perPartitionModule =
  (f: (m: Status['streams'][number]['partitions'][number]['modules'][number]) => number): Rows =>
  (s) =>
    s.streams.flatMap((st) =>
      st.partitions.flatMap((p) =>
        p.modules.map(
          (m) =>
            [{ stream: st.name, partition: p.partition, step: m.step, module: m.module }, f(m)] as [Labels, number],
        ),
      ),
    );
const perConnector =
  (f: (c: Status['connectors'][number]) => number): Rows =>
  (s) =>
    s.connectors.map((c) => [{ connector: c.name, direction: c.direction }, f(c)] as [Labels, number]);
const perTopicPartition =
  (f: (p: Status['topics'][number]['partitions'][number]) => number): Rows =>
  (s) =>
    s.topics.flatMap((t) =>
      t.partitions.map((p) => [{ topic: t.name, partition: p.partition }, f(p)] as [Labels, number]),
    );
const one =
  (f: (s: Status) => number): Rows =>
  (s) => [[{}, f(s)]];

export function createRegistry(counts: LatencyCounts, source: () => Status): Registry {
  const latency = new BatchLatency(counts);
  const registry = new Registry();
  const rowsOf = new Map<string, Rows>();
  families.set(registry, rowsOf);
  // Each value is set afresh from the snapshot at every collect (a counter through reset + inc).
  const counter = (name: string, help: string, labelNames: readonly string[], read: Rows) => {
    const rows = perSnapshot(read);
    rowsOf.set(name, rows);
    registry.registerMetric(
      new Counter({
        name,
        help,
        labelNames,
        registers: [],
        collect() {
          fill(
            rows,
            (l, v) => this.inc(l, v),
            () => this.reset(),
          );
        },
      }),
    );
  };
  const gauge = (name: string, help: string, labelNames: readonly string[], read: Rows) => {
    const rows = perSnapshot(read);
    rowsOf.set(name, rows);
    registry.registerMetric(
      new Gauge({
        name,
        help,
        labelNames,
        registers: [],
        collect() {
          fill(
            rows,
            (l, v) => this.set(l, v),
            () => this.reset(),
          );
        },
      }),
    );
  };
  const fill = (rows: Rows, put: (labels: Labels, v: number) => void, reset: () => void) => {
    reset();
    for (const [labels, v] of rows(source())) put(labels, v);
  };

  counter(
    'eddy_records_in_total',
    'Source records processed by a derived stream (committed source offset, as `eddy derive list` PROCESSED)',
    streamLabels,
    perPartition((p) => p.recordsIn),
  );
  counter(
    'eddy_records_out_total',
    'Records written to the target topic',
    streamLabels,
    perPartition((p) => p.recordsOut),
  );
  counter(
    'eddy_records_skipped_total',
    'Source records skipped (policy skip) and kept in the dead-letter topic',
    streamLabels,
    perPartition((p) => p.skipped),
  );
  counter(
    'eddy_errors_total',
    'Module errors, traps and deadline overruns seen by this process',
    streamLabels,
    perPartition((p) => p.errors),
  );
  counter(
    'eddy_bytes_in_total',
    'Record batch bytes read from the source by this process',
    streamLabels,
    perPartition((p) => p.bytesIn),
  );
  counter(
    'eddy_bytes_out_total',
    'Record batch bytes the chain produced in this process',
    streamLabels,
    perPartition((p) => p.bytesOut),
  );
  counter(
    'eddy_commits_total',
    'Results committed (output, dead letters and source offset in one transaction)',
    streamLabels,
    perPartition((p) => p.commits),
  );
  counter(
    'eddy_deadline_kills_total',
    'Workers terminated because a batch of this stream overran its deadline',
    streamLabels,
    perPartition((p) => p.deadlineKills),
  );
  counter(
    'eddy_stream_restarts_total',
    'Times the stream was restored on a new worker',
    streamLabels,
    perPartition((p) => p.restarts),
  );
  gauge(
    'eddy_lag_records',
    'Source records not yet processed',
    streamLabels,
    perPartition((p) => p.lag),
  );
  gauge(
    'eddy_stream_up',
    '1 while the partition runs, 0 when it failed or is not run by this process',
    streamLabels,
    perPartition((p) => (p.state === 'running' ? 1 : 0)),
  );
  registry.registerMetric(latency);
  // Its text changes only when a result commits.
  rowsOf.set(latency.name, () => [[{}, latency.version]]);

  counter(
    'eddy_module_invocations_total',
    'Calls into a SmartModule (one per batch)',
    moduleLabels,
    perModule((m) => m.invocations),
  );
  counter(
    'eddy_module_records_in_total',
    'Records handed to a SmartModule',
    moduleLabels,
    perModule((m) => m.recordsIn),
  );
  counter(
    'eddy_module_seconds_total',
    'Time spent inside a SmartModule',
    moduleLabels,
    perModule((m) => m.timeSeconds),
  );
  // Per partition too: each partition runs its own chain session, with its own deadline kills.
  counter(
    'eddy_module_deadline_kills_total',
    'Workers terminated because this SmartModule overran the batch deadline',
    partitionModuleLabels,
    perPartitionModule((m) => m.deadlineKills),
  );
  counter(
    'eddy_module_restarts_total',
    'Restarts of the stream on a new worker after this SmartModule overran the deadline (policy skip)',
    partitionModuleLabels,
    perPartitionModule((m) => m.restarts),
  );
  gauge(
    'eddy_module_memory_peak_bytes',
    "Largest linear memory of the SmartModule's instances",
    moduleLabels,
    perModule((m) => m.memoryBytes),
  );
  counter(
    'eddy_module_recycles_total',
    'Instances of the SmartModule replaced by fresh ones after the outputs they keep grew past recycleAfter',
    moduleLabels,
    perModule((m) => m.recycles),
  );

  counter(
    'eddy_connector_records_total',
    'Records a connector produced (source) or delivered (sink)',
    connectorLabels,
    perConnector((c) => c.records),
  );
  counter(
    'eddy_connector_bytes_total',
    "Bytes of the records' values and keys a connector produced (source) or delivered (sink)",
    connectorLabels,
    perConnector((c) => c.bytes),
  );
  counter(
    'eddy_connector_errors_total',
    'Errors a connector reported',
    connectorLabels,
    perConnector((c) => c.errors),
  );

  // Per topic partition, as `eddy topic describe` prints them (gauges: retention lowers them).
  gauge(
    'eddy_topic_records',
    'Records stored in a topic partition (RECORDS of `eddy topic describe`)',
    ['topic', 'partition'],
    perTopicPartition((p) => p.records),
  );
  gauge(
    'eddy_topic_size_bytes',
    'Bytes stored in a topic partition (SIZE of `eddy topic describe`)',
    ['topic', 'partition'],
    perTopicPartition((p) => p.bytes),
  );
  gauge(
    'eddy_topic_next_offset',
    'Offset the next record of a topic partition gets (HW of `eddy topic describe`)',
    ['topic', 'partition'],
    perTopicPartition((p) => p.nextOffset),
  );
  gauge(
    'eddy_topic_start_offset',
    'First stored offset of a topic partition (START OFFSET of `eddy topic describe`)',
    ['topic', 'partition'],
    perTopicPartition((p) => p.startOffset),
  );

  gauge(
    'eddy_workers',
    'Worker threads in the pool',
    [],
    one((s) => s.process.workers),
  );
  gauge(
    'eddy_worker_utilization_ratio',
    "Share of the workers' time spent in SmartModules over the last second",
    [],
    one((s) => s.process.workerUtilization),
  );
  gauge(
    'eddy_lmdb_map_size_bytes',
    'LMDB map size of the data directory',
    [],
    one((s) => s.process.lmdb.mapSizeBytes),
  );
  gauge(
    'eddy_lmdb_used_bytes',
    'LMDB pages in use up to the highest one written',
    [],
    one((s) => s.process.lmdb.usedBytes),
  );
  gauge(
    'eddy_lmdb_fill_ratio',
    'Share of the LMDB map in use (used ÷ map size); writes fail when it reaches 1',
    [],
    one((s) => s.process.lmdb.fill),
  );
  gauge('eddy_event_loop_delay_seconds', 'Coordinator event-loop delay over the last seconds', ['quantile'], (s) => [
    [{ quantile: '0.5' }, s.process.eventLoopDelay.p50Seconds],
    [{ quantile: '0.99' }, s.process.eventLoopDelay.p99Seconds],
    [{ quantile: '1' }, s.process.eventLoopDelay.maxSeconds],
  ]);
  gauge(
    'eddy_ready',
    '1 once every stream has opened (as /readyz)',
    [],
    one((s) => (s.ready ? 1 : 0)),
  );
  gauge(
    'eddy_healthy',
    '0 when a stream or connector stopped on an error (as /healthz)',
    [],
    one((s) => (s.healthy ? 1 : 0)),
  );
  // Two of the usual process metrics, under their usual names (read in the HTTP thread, they are
  // still the whole process'). prom-client's full default set is
  // left out: it costs about 1 ms per scrape (it reads /proc), 15 times all of the above.
  counter('process_cpu_seconds_total', 'User and system CPU time of this process', [], () => {
    const u = process.cpuUsage();
    return [[{}, (u.user + u.system) / 1e6]];
  });
  gauge('process_resident_memory_bytes', 'Resident memory of this process', [], () => [
    [{}, process.memoryUsage.rss()],
  ]);
  return registry;
}
