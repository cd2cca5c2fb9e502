import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { openStorage } from '../src/storage/index.js';
import { DEFAULT_COMMIT_RECORDS } from '../src/storage/offset-committer.js';

/**
 * Named consumers as processes (bin/eddy.js), stopped the hard ways: SIGKILL over and over (what
 * comes again is bounded by the commit policy, nothing is lost), Ctrl-C (SIGINT: exactly what was
 * printed is committed) and a reader that closes the pipe (EPIPE). Every check is a count of
 * records: received, delivered again, missing.
 */

const eddyBin = fileURLToPath(new URL('../../bin/eddy.js', import.meta.url));
const PARTITIONS = 3;
const PER_PARTITION = 6000;
const TOTAL = PARTITIONS * PER_PARTITION;

async function topic(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-consume-kill-'));
  const store = await openStorage(dir, { retentionCheckMs: 0 });
  await store.createTopic('k', { partitions: PARTITIONS });
  for (let p = 0; p < PARTITIONS; p++) {
    for (let o = 0; o < PER_PARTITION; o += 100) {
      await store.append(
        'k',
        p,
        Array.from({ length: 100 }, (_, i) => ({ value: Buffer.from(`record ${p} ${o + i} ${'x'.repeat(40)}`) })),
      );
    }
  }
  await store.close();
  return dir;
}

interface Run {
  lines: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/**
 * Runs `eddy consume k ...args` and collects each record's `partition:offset`; `onLine` may stop it
 * (it gets the child and the number of lines so far). Reads stdout to the end: what the child wrote into
 * the pipe before it died is received too.
 */
function consume(
  dir: string,
  args: string[],
  onLine: (proc: ChildProcess, n: number) => void = () => {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    // Long lines: the pipe holds few of them, so a stop lands mid-topic.
    const proc = spawn(
      process.execPath,
      [eddyBin, 'consume', 'k', '--format', '{{partition}}:{{offset}} {{value}}', ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, EDDY_DATA_DIR: dir, EDDY_WORKERS: '1' },
      },
    );
    const lines: string[] = [];
    let rest = '';
    let stderr = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (d: string) => {
      const parts = (rest + d).split('\n');
      rest = parts.pop()!;
      for (const l of parts) {
        lines.push(l.slice(0, l.indexOf(' ')));
        onLine(proc, lines.length);
      }
    });
    proc.stderr!.on('data', (d) => {
      stderr += d;
    });
    proc.on('error', reject);
    proc.on('close', (code, signal) => resolve({ lines, code, signal, stderr }));
  });
}

async function committedOffsets(dir: string, name: string): Promise<number[]> {
  const store = await openStorage(dir, { readOnly: true, retentionCheckMs: 0 });
  try {
    return Array.from({ length: PARTITIONS }, (_, p) => store.committedOffset(name, 'k', p) ?? 0);
  } finally {
    await store.close();
  }
}

/** Each partition's records, in order and without gaps, from 0 to its end. */
function complete(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, seen: Set<string>): void {
  const missing = [];
  for (let p = 0; p < PARTITIONS; p++)
    for (let o = 0; o < PER_PARTITION; o++) if (!seen.has(`${p}:${o}`)) missing.push(`${p}:${o}`);
  t.deepEqual(missing.slice(0, 10), [], `${missing.length} records never delivered`);
}

test('SIGKILL mid-output: what is delivered again is bounded by --commit-records (default and set), nothing is lost', async (t) => {
  t.timeout(600_000);
  const dir = await topic();
  // The defaults (which a time-only commit exceeds), then a small record bound with the interval out of the way.
  for (const [name, bound, args] of [
    ['dflt', DEFAULT_COMMIT_RECORDS, []],
    ['fifty', 50, ['--commit-records', '50', '--commit-interval', '1h']],
  ] as const) {
    const seen = new Set<string>();
    const again: number[] = [];
    let finished = false;
    for (let run = 0; run < 60 && !finished; run++) {
      // Killed once it has printed 2,500 records (or at the end).
      const r = await consume(dir, ['-B', '-d', '--consumer', name, ...args], (proc, n) => {
        if (n >= 2500) proc.kill('SIGKILL');
      });
      let dup = 0;
      for (const l of r.lines) {
        if (seen.has(l)) dup++;
        seen.add(l);
      }
      again.push(dup);
      finished = r.signal === null;
      if (finished) t.is(r.code, 0, r.stderr);
    }
    t.true(
      finished,
      `the consumer got to the end (delivered again per restart: ${again.join(' ')}; ${seen.size} seen)`,
    );
    complete(t, seen);
    t.log(
      `${name}: bound ${bound}, ${again.length - 1} kills, delivered again per restart: ${again.join(' ')} (total ${again.reduce((a, b) => a + b, 0)} of ${TOTAL})`,
    );
    t.true(
      again.every((d) => d <= bound),
      `at most ${bound} records delivered again after a kill: ${again.join(' ')}`,
    );
  }
});

test('Ctrl-C (SIGINT) on a following named consumer over merged partitions commits exactly what was printed', async (t) => {
  t.timeout(300_000);
  const dir = await topic();
  let interrupted = false;
  const first = await consume(dir, ['-B', '--consumer', 'int'], (proc, n) => {
    if (n >= 4000 && !interrupted) {
      interrupted = true;
      proc.kill('SIGINT');
    }
  });
  t.is(first.code, 0, first.stderr);
  t.true(first.lines.length >= 4000 && first.lines.length < TOTAL, `${first.lines.length} printed before Ctrl-C`);
  const second = await consume(dir, ['-B', '-d', '--consumer', 'int']);
  t.is(second.code, 0, second.stderr);
  const seen = new Set(first.lines);
  const dup = second.lines.filter((l) => seen.has(l)).length;
  for (const l of second.lines) seen.add(l);
  t.is(dup, 0, 'nothing printed before Ctrl-C comes again');
  t.is(first.lines.length + second.lines.length, TOTAL);
  complete(t, seen);
});

test('a reader that closes the pipe (EPIPE) ends the consume quietly with what reached the pipe committed', async (t) => {
  t.timeout(300_000);
  const dir = await topic();
  const first = await consume(dir, ['-B', '-d', '--consumer', 'pipe'], (proc, n) => {
    if (n === 1000) proc.stdout!.destroy();
  });
  t.is(first.code, 0, first.stderr);
  t.is(first.stderr, '');
  const committed = await committedOffsets(dir, 'pipe');
  // Everything the reader got is committed; what the pipe took after it was committed too (it was delivered).
  for (const l of first.lines) {
    const [p, o] = l.split(':').map(Number) as [number, number];
    t.true(o < committed[p]!, `${l} is committed (${committed.join(', ')})`);
  }
  const second = await consume(dir, ['-B', '-d', '--consumer', 'pipe']);
  t.is(
    second.lines.length,
    TOTAL - committed.reduce((a, b) => a + b, 0),
    'the rest comes, from the committed offsets on',
  );
  for (const l of second.lines) {
    const [p, o] = l.split(':').map(Number) as [number, number];
    if (o < committed[p]!) t.fail(`${l} was committed but delivered again`);
  }
});

test('a following consumer ends with a clear message when its topic is deleted', async (t) => {
  t.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'eddy-consume-deleted-'));
  const env = { ...process.env, EDDY_DATA_DIR: dir };
  execFileSync(process.execPath, [eddyBin, 'topic', 'create', 'gone'], { env });
  execFileSync(process.execPath, [eddyBin, 'produce', 'gone'], { env, input: 'a\n' });
  const proc = spawn(process.execPath, [eddyBin, 'consume', 'gone', '-B'], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stderr = '';
  proc.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((res) => proc.on('close', (code) => res(code)));
  // Once it has printed the record it waits for more; then the topic goes.
  await new Promise<void>((res) => proc.stdout!.once('data', () => res()));
  execFileSync(process.execPath, [eddyBin, 'topic', 'delete', 'gone'], { env });
  t.is(await exited, 1);
  t.is(
    stderr,
    'Error: topic "gone" was deleted while it was being consumed; the records printed before were all it had\n',
  );
});
