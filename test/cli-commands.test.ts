import { Readable } from 'node:stream';
import test from 'ava';
import { planConsume } from '../src/cli/consume.js';
import { cliMessage } from '../src/cli/errors.js';
import { UsageError } from '../src/cli/format.js';
import { lineChunks } from '../src/cli/line-chunks.js';
import { lineRecord, planProduce } from '../src/cli/produce.js';
import { Progress } from '../src/cli/progress.js';
import { batchText, compileTemplate, renderValue } from '../src/cli/records.js';
import { formatTopicTable } from '../src/cli/topic.js';
import { topicConfig } from '../src/cli/topic-options.js';
import { formatBytes, formatTable, parseBytes, parseRetention } from '../src/cli/units.js';
import { mergeAsync } from '../src/coordinator/merge.js';
import { encodeRecords } from '../src/protocol/index.js';
import {
  DataDirLockedError,
  ModuleExistsError,
  TopicExistsError,
  UnknownModuleError,
  UnknownTopicError,
} from '../src/storage/errors.js';

const b = (s: string) => Buffer.from(s);

// ------------------------------------------------------------------------------------- consume

test('consume start positions follow fluvio: default end, -B, -o N, -o -N from the end, -T [N]', (t) => {
  t.deepEqual(planConsume({}).from, 'end');
  t.true(planConsume({}).follow);
  t.deepEqual(planConsume({ beginning: true }).from, 'beginning');
  t.deepEqual(planConsume({ offset: '7' }).from, { offset: 7 });
  t.deepEqual(planConsume({ offset: '-1' }).from, { fromEnd: 1 });
  t.deepEqual(planConsume({ tail: true }).from, { fromEnd: 10 });
  t.deepEqual(planConsume({ tail: '3' }).from, { fromEnd: 3 });
  t.false(planConsume({ disableContinuous: true }).follow);
  t.is(planConsume({ endOffset: '5' }).endOffset, 5);
  t.deepEqual(planConsume({ partition: ['2'] }).partitions, [2]);
  t.deepEqual(planConsume({ partition: ['0', '2', '0'] }).partitions, [0, 2], 'several -p, each once');
  t.is(planConsume({}).partitions, undefined);
  t.is(planConsume({ allPartitions: true }).partitions, undefined);
  t.throws(() => planConsume({ allPartitions: true, partition: ['1'] }), {
    instanceOf: UsageError,
    message: /-A\/--all-partitions and -p\/--partition cannot be used together/,
  });
  t.deepEqual(planConsume({ consumer: 'c', commitInterval: '250ms', commitRecords: '50' }).commit, {
    intervalMs: 250,
    records: 50,
  });
  t.throws(() => planConsume({ commitRecords: '5' }), { instanceOf: UsageError, message: /add --consumer/ });
});

test('consume refuses options that contradict each other, saying what to do', (t) => {
  t.throws(() => planConsume({ beginning: true, offset: '3' }), {
    instanceOf: UsageError,
    message: /-B\/--beginning and -o\/--offset cannot be used together/,
  });
  t.throws(() => planConsume({ tail: true, offset: '3' }), { message: /give one start position/ });
  t.throws(() => planConsume({ filter: 'a', map: 'b' }), { message: /--filter and --map cannot be used together/ });
  t.throws(() => planConsume({ filter: 'a', transformsFile: 't.yaml' }), { message: /add the module to the chain/ });
  t.throws(() => planConsume({ transformsFile: 't.yaml', transform: ['{}'] }), { message: /give the chain one way/ });
  t.throws(() => planConsume({ params: ['k=v'] }), { message: /needs a module/ });
  t.throws(() => planConsume({ transformsFile: 't', params: ['k=v'] }), { message: /with:/ });
  t.throws(() => planConsume({ aggregateInitial: '0' }), { message: /add --aggregate/ });
  t.throws(() => planConsume({ offset: 'x' }), { message: /-o\/--offset expects a whole number/ });
  t.throws(() => planConsume({ output: 'tabular' }), {
    message: /-O\/--output must be one of dynamic, text, binary, json, raw, table/,
  });
  t.throws(() => planConsume({ format: '{{value}}', output: 'json' }), { message: /leave out -O/ });
  t.throws(() => planConsume({ format: '{{nope}}' }), { message: /unknown placeholder \{\{nope\}\}/ });
});

test('consume module flags carry their kind and -e parameters', (t) => {
  const p = planConsume({ filterMap: 'fm', params: ['a=1', 'b=x=y', 'a=2'] });
  t.like(p.chain, { kind: 'module', flag: '--filter-map', uses: 'fm' });
  t.is(p.moduleKind, 'filter_map');
  t.deepEqual({ ...(p.chain as { params: object }).params }, { a: '2', b: 'x=y' });
  t.is(planConsume({ smartmodule: 'x' }).moduleKind, null);
  t.deepEqual([...planConsume({ aggregate: 's', aggregateInitial: '100' }).aggregateInitial!], [...b('100')]);
});

test('record lines: value per line, [key] value with -k, templates with fluvio placeholders, -O outputs', (t) => {
  const raw = encodeRecords([
    { value: b('apple') },
    { key: b('k'), value: b('kiwi'), offsetDelta: 1, timestampDelta: 5 },
  ]);
  t.is(batchText(raw, 10, 1000, 0, { template: null, keyValue: false, output: 'dynamic' }), 'apple\nkiwi\n');
  t.is(batchText(raw, 10, 1000, 0, { template: null, keyValue: true, output: 'dynamic' }), '[null] apple\n[k] kiwi\n');
  const tpl = compileTemplate('{{offset}}/{{partition}} {{ key }}={{value}} {{time}} {{timestamp}}');
  t.is(
    batchText(raw, 10, 1000, 3, { template: tpl, keyValue: false, output: 'dynamic' }),
    '10/3 null=apple 1970-01-01T00:00:01.000Z 1000\n11/3 k=kiwi 1970-01-01T00:00:01.005Z 1005\n',
  );
  t.is(
    renderValue(new Uint8Array([0xff, 0x00]), 'dynamic'),
    `00000000  ff 00${' '.repeat(45)}|${' '.repeat(16)}|\n${'-'.repeat(78)}\n`,
  );
  t.is(renderValue(new Uint8Array([0xff, 0x00]), 'text'), 'binary: (2 bytes)');
  t.is(renderValue(b('{"a":1}'), 'json'), '{\n  "a": 1\n}');
  t.regex(renderValue(b('plain'), 'json')!, /^\{\n {2}"error": "[^"\n]+"\n\}$/);
  t.deepEqual(
    [...(batchText(raw, 0, 0, 0, { template: null, keyValue: false, output: 'raw' }) as Uint8Array)],
    [...b('apple\nkiwi\n')],
  );
});

// ------------------------------------------------------------------------------------- produce

test('produce splits lines as bytes across chunks (CRLF, no newline at the end); an empty line is an empty record, as fluvio produce sends it', async (t) => {
  const chunks = [b('app'), b('le\r\nki'), b('wi\n\nba'), b('nana')];
  const lines: string[] = [];
  let bytes = 0;
  for await (const c of lineChunks(Readable.from(chunks))) {
    lines.push(...c.lines.map((l) => l.toString()));
    bytes += c.bytes;
  }
  t.deepEqual(lines, ['apple', 'kiwi', '', 'banana']);
  t.is(bytes, 19);
  const plan = planProduce({});
  t.deepEqual(lineRecord(b(''), plan, 1), { value: b('') });
  t.deepEqual(lineRecord(b('v'), plan, 1), { value: b('v') });
});

test('produce keys: --key on every record, --key-separator splits at the first separator, --partition', (t) => {
  const keyed = planProduce({ key: 'user-1', partition: '1' });
  t.deepEqual(lineRecord(b('hello'), keyed, 1), { key: b('user-1'), value: b('hello'), partition: 1 });
  const sep = planProduce({ keySeparator: '::' });
  const r = lineRecord(b('a::b::c'), sep, 1)!;
  t.is(Buffer.from(r.key as Uint8Array).toString(), 'a');
  t.is(Buffer.from(r.value as Uint8Array).toString(), 'b::c');
  t.throws(() => lineRecord(b('nokey'), sep, 4), {
    code: 'EDDY_NO_KEY_SEPARATOR',
    message: /line 4 has no key separator "::"/,
  });
  t.throws(() => planProduce({ key: 'a', keySeparator: ':' }), { message: /cannot be used together/ });
  t.throws(() => planProduce({ raw: true, keySeparator: ':' }), { message: /no lines to split/ });
  t.throws(() => planProduce({ transformsFile: 'a', smartmodule: 'b' }), {
    message: /--transforms-file and --smartmodule cannot be used together/,
  });
  t.throws(() => planProduce({ params: ['a=b'] }), { message: /needs a module/ });
  t.is(planProduce({ linger: '10ms', batchSize: '32KiB' }).producer.lingerMs, 10);
  t.is(planProduce({ batchSize: '32KiB' }).producer.batchSize, 32768);
});

test('progress: a bar on a terminal, plain lines elsewhere, nothing for quick jobs unless forced', (t) => {
  let out = '';
  const sink = {
    write: (s: string) => {
      out += s;
    },
  };
  const quick = new Progress(sink, { total: 100, tty: true, force: false, delayMs: 10_000 });
  quick.add(100, 10);
  quick.finish();
  t.is(out, '');
  const forced = new Progress(sink, { total: 2000, tty: false, force: true });
  forced.add(1000, 50);
  forced.finish();
  t.regex(out, /^stored 50 records \(50%, 1 kB \/ 2 kB, [\d,]+ records\/s\)\n/);
  out = '';
  const bar = new Progress(sink, { total: 1000, tty: true, force: true });
  bar.add(500, 5);
  t.regex(out, /^\r\x1b\[K\[#{12}\.{12}\] {2}50%/);
});

// ------------------------------------------------------------------------------------- topics, units, errors

test('topic create options: partitions, retention as a duration, sizes with units, compression', (t) => {
  t.deepEqual(
    topicConfig({ partitions: '3', retentionTime: '1h 30m', maxPartitionSize: '10GB', compressionType: 'lz4' }),
    { partitions: 3, retentionMs: 5_400_000, maxPartitionBytes: 10e9, compression: 'lz4' },
  );
  t.throws(() => topicConfig({ partitions: '0' }), { message: /-p\/--partitions must be 1 or more/ });
  t.throws(() => topicConfig({ retentionTime: '5' }), {
    message: /--retention-time: invalid duration "5": the number 5 has no unit/,
  });
  t.throws(() => topicConfig({ maxPartitionSize: 'lots' }), { message: /expects a size such as 500MB/ });
  t.throws(() => topicConfig({ compressionType: 'brotli' }), {
    message: /--compression-type brotli is unknown: use any \(or none\), gzip, snappy, lz4 or zstd/,
  });
  t.is(topicConfig({ compressionType: 'ANY' }).compression, 'none');
  t.is(topicConfig({ compressionType: 'gzip' }).compression, 'gzip');
  t.throws(() => topicConfig({ replication: '3' }), { message: /one copy/ });
  t.is(parseBytes('1 KiB', 'x'), 1024);
  t.is(parseBytes('1.5mb', 'x'), 1_500_000);
  t.is(parseBytes('512', 'x'), 512);
  t.is(parseRetention('7d'), 7 * 86_400_000);
  t.is(formatBytes(0), '0 B');
  t.is(formatBytes(1234), '1.2 kB');
  t.is(formatBytes(100e9), '100 GB');
});

test('tables: two-space indent, left-aligned columns, no trailing spaces; empty list messages', (t) => {
  t.is(
    formatTable(
      ['NAME', 'N'],
      [
        ['a', '1'],
        ['long-name', '22'],
      ],
    ),
    '  NAME       N\n  a          1\n  long-name  22\n',
  );
  t.is(formatTopicTable([]), 'No topics found\n');
  const table = formatTopicTable([
    {
      name: 'fruit',
      id: 1,
      partitions: 2,
      retentionMs: 86_400_000,
      maxPartitionBytes: null,
      compression: 'none',
      createdAt: 0,
      records: 1234,
      bytes: 2048,
    },
  ]);
  t.is(
    table,
    '  NAME   TYPE      PARTITIONS  REPLICAS  RETENTION TIME  COMPRESSION  DEDUPLICATION  STATUS                   REASON  RECORDS  SIZE  MAX PARTITION SIZE\n' +
      '  fruit  computed  2           1         1d              none         none           resolution::provisioned          1,234    2 kB  none\n',
  );
});

test('library errors get the command that fixes them', (t) => {
  t.is(
    cliMessage(new UnknownTopicError('fruit')),
    'topic "fruit" does not exist; create it with `eddy topic create fruit` (`eddy topic list` shows the topics)',
  );
  t.regex(cliMessage(new TopicExistsError('fruit')), /eddy topic delete fruit/);
  t.regex(cliMessage(new UnknownModuleError('keep-a')), /eddy smart-module create keep-a --wasm-file <path>/);
  t.regex(cliMessage(new ModuleExistsError('keep-a')), /eddy smart-module delete keep-a/);
  const locked = cliMessage(
    new DataDirLockedError('/d', { pid: 42, hostname: 'elsewhere', startTime: null, command: 'eddy run', openedAt: 0 }),
  );
  t.regex(
    locked,
    /in use by process 42 \(eddy run\); several `eddy produce` can write at once, any other writer needs the directory to itself.*eddy consume.*remove \/d\/eddy\.lock$/,
  );
});

// ------------------------------------------------------------------------------------- merge

test('mergeAsync interleaves sources as items arrive, keeps each in order, and stops the rest early', async (t) => {
  const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
  async function* src(name: string, n: number, ms: number) {
    for (let i = 0; i < n; i++) {
      await delay(ms);
      yield `${name}${i}`;
    }
  }
  const got: string[] = [];
  for await (const x of mergeAsync([src('a', 3, 5), src('b', 3, 7)])) got.push(x);
  t.deepEqual(
    got.filter((x) => x.startsWith('a')),
    ['a0', 'a1', 'a2'],
  );
  t.deepEqual(
    got.filter((x) => x.startsWith('b')),
    ['b0', 'b1', 'b2'],
  );
  let stopped = false;
  const ac = new AbortController();
  async function* forever() {
    while (!ac.signal.aborted) {
      await delay(2);
      yield 'x';
    }
  }
  for await (const _ of mergeAsync([forever(), forever()], () => {
    stopped = true;
    ac.abort();
  }))
    break;
  t.true(stopped);
});
