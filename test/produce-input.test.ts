import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import type { CliIO } from '../src/cli/format.js';
import { lineChunks } from '../src/cli/line-chunks.js';
import { main } from '../src/cli/main.js';
import { openStorage } from '../src/storage/index.js';

/**
 * `eddy produce` and its input: lines without the key separator are skipped and reported (the
 * others are stored), every message about stored records gives the true count (a failure in one
 * partition, Ctrl-C), and line splitting is linear and refuses an over-long line at the limit.
 */

const eddyBin = fileURLToPath(new URL('../../bin/eddy.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function eddy(dir: string, args: string[], stdin: string | Readable = ''): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: {
      write: (c) => {
        stdout += typeof c === 'string' ? c : Buffer.from(c).toString();
        return true;
      },
    },
    stderr: {
      write: (c) => {
        stderr += typeof c === 'string' ? c : Buffer.from(c).toString();
        return true;
      },
    },
    stdin: typeof stdin === 'string' ? Readable.from([Buffer.from(stdin)]) : stdin,
    cwd: process.cwd(),
    env: { EDDY_DATA_DIR: dir, EDDY_WORKERS: '1' },
  };
  const code = await main(['node', 'eddy', ...args], io);
  return { code, stdout, stderr };
}

const fresh = () => join(mkdtempSync(join(tmpdir(), 'eddy-produce-')), 'data');

async function records(dir: string, topic: string): Promise<number> {
  const store = await openStorage(dir, { readOnly: true, retentionCheckMs: 0 });
  try {
    return store.describeTopic(topic).records;
  } finally {
    await store.close();
  }
}

test('a line without the key separator is reported and skipped; the others are stored (exit 0); all bad is exit 1', async (t) => {
  const dir = fresh();
  await eddy(dir, ['topic', 'create', 'ks']);
  const r = await eddy(dir, ['produce', 'ks', '--key-separator', ':'], 'a:1\nb:2\nc:3\nnosep\nd:4\n');
  t.is(r.code, 0);
  t.is(
    r.stderr,
    'warning: line 4 has no key separator ":": write each line as KEY:VALUE; skipped it\n' +
      'skipped 1 line without the key separator ":"; 4 of the 4 records read were stored\n',
  );
  t.is((await eddy(dir, ['consume', 'ks', '-B', '-d', '-k'])).stdout, '[a] 1\n[b] 2\n[c] 3\n[d] 4\n');
  const none = await eddy(dir, ['produce', 'ks', '--key-separator', ':'], 'x\ny\n');
  t.is(none.code, 1);
  t.regex(none.stderr, /Error: none of the 2 lines had the key separator ":", so nothing was sent or stored\n$/);
  t.is(await records(dir, 'ks'), 4);
});

test('a record over the limit in one partition: the message states how many of the input were stored, and that is the truth', async (t) => {
  const dir = fresh();
  await eddy(dir, ['topic', 'create', 't3', '-p', '3']);
  // The line fits the limit, the encoded record does not: refused by the partition it goes to.
  const big = 'x'.repeat(996);
  const r = await eddy(
    dir,
    ['--max-record-bytes', '1000', 'produce', 't3', '--key-separator', ':'],
    `a:small1\nb:${big}\nc:small3\n`,
  );
  t.is(r.code, 1);
  t.regex(r.stderr, /over the 1000-byte limit/);
  t.notRegex(r.stderr, /nothing was stored/);
  const m = /(\d+) of the 3 records read were stored\n$/.exec(r.stderr);
  t.truthy(m, r.stderr);
  t.is(Number(m![1]), await records(dir, 't3'), 'the count given is the count stored');
  t.is(await records(dir, 't3'), 2);
});

test('a line over the record limit is refused as soon as it passes the limit, without reading the rest', async (t) => {
  const dir = fresh();
  await eddy(dir, ['topic', 'create', 'long']);
  // 64 MiB without a newline, made as it is read; count what was read.
  const chunk = Buffer.alloc(64 * 1024, 0x78);
  let pulled = 0;
  const endless = new Readable({
    read() {
      if (pulled >= 64 * 1024 * 1024) return void this.push(null);
      pulled += chunk.length;
      this.push(chunk);
    },
  });
  const r = await eddy(dir, ['--max-record-bytes', '1MiB', 'produce', 'long'], withFirst('ok\n', endless));
  t.is(r.code, 1);
  t.regex(
    r.stderr,
    /^Error: line 2 is longer than 1048576 bytes, the largest record allowed; raise the limit with --max-record-bytes/,
  );
  t.regex(r.stderr, /\n1 of the 1 record read was stored\n$/);
  t.true(pulled <= 1024 * 1024 + 32 * chunk.length, `read ${pulled} bytes of the line before refusing it`);
});

/** `first`, then the chunks of `rest`. */
function withFirst(first: string, rest: Readable): Readable {
  return Readable.from(
    (async function* () {
      yield Buffer.from(first);
      for await (const c of rest) yield c as Buffer;
    })(),
  );
}

test('line splitting is linear: a long line in many chunks is copied once, not once per chunk', async (t) => {
  const chunks = Array.from({ length: 512 }, () => Buffer.alloc(8192, 0x61));
  chunks.push(Buffer.from('\nb\n'));
  const concat = Buffer.concat;
  let copied = 0;
  Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
    const out = concat(list, total);
    copied += out.length;
    return out;
  }) as typeof Buffer.concat;
  const lines: number[] = [];
  try {
    for await (const c of lineChunks(Readable.from(chunks))) lines.push(...c.lines.map((l) => l.length));
  } finally {
    Buffer.concat = concat;
  }
  t.deepEqual(lines, [512 * 8192, 1]);
  t.true(copied <= 2 * 512 * 8192, `${copied} bytes copied for a ${512 * 8192}-byte line`);
});

test('Ctrl-C during a produce from stdin stops it and states the true count stored', async (t) => {
  t.timeout(120_000);
  const dir = fresh();
  // Made by another process: this one only opens the directory read-only, to count.
  execFileSync(process.execPath, [eddyBin, 'topic', 'create', 'live'], { env: { ...process.env, EDDY_DATA_DIR: dir } });
  const proc = spawn(process.execPath, [eddyBin, 'produce', 'live', '--linger', '0ms'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, EDDY_DATA_DIR: dir },
  });
  let stderr = '';
  proc.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((res) => proc.on('close', (code) => res(code)));
  proc.stdin!.write(Array.from({ length: 1000 }, (_, i) => `r${i}\n`).join(''));
  // Wait until the records are stored (the input stays open), then Ctrl-C.
  const stored = () =>
    execFileSync(process.execPath, [eddyBin, 'consume', 'live', '-B', '-d'], {
      env: { ...process.env, EDDY_DATA_DIR: dir },
    })
      .toString()
      .split('\n').length - 1;
  while (stored() < 1000) await new Promise((r) => setTimeout(r, 50));
  proc.kill('SIGINT');
  t.is(await exited, 130, stderr);
  t.is(stderr, 'interrupted: 1000 of the 1000 records read were stored\n');
  t.is(stored(), 1000);
});
