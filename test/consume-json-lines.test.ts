import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { open } from '../src/index.js';

/**
 * Output people script against: `eddy consume -J` (one JSON object per record) and `--format`'s
 * `{{value:json}}`, on a topic of hostile values — binary, NUL and other controls, quotes,
 * backslashes, newlines, invalid UTF-8, a BOM, U+2028 — in a real process, every line parsed.
 */

const eddyBin = fileURLToPath(new URL('../../bin/eddy.js', import.meta.url));

const VALUES: Buffer[] = [
  Buffer.from('plain text'),
  Buffer.from('say "hi" \\ back\\slash'),
  Buffer.from('two\nlines\r\nand a tab\t'),
  Buffer.from([0, 1, 2, 0x1b, 0x5b, 0x33, 0x31, 0x6d, 0x7f]), // NUL, controls, an ESC sequence, DEL
  Buffer.from('\u0085 next-line and \u2028 line separator and \u009b CSI'),
  Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3]), // not UTF-8
  Buffer.from([0xed, 0xa0, 0x80]), // an encoded lone surrogate: not UTF-8
  Buffer.from('\ufeffBOM first'),
  Buffer.from('{"already":"json"}'),
  Buffer.alloc(0),
  Buffer.from('émoji 🍎 ünïcode'),
];
const KEYS: (Buffer | null)[] = VALUES.map((_, i) =>
  i % 3 === 0 ? null : i % 3 === 1 ? Buffer.from(`k"${i}\n`) : Buffer.from([0xc0, i]),
);

async function hostileTopic(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-jsonl-'));
  const eddy = await open(dir, { retentionCheckMs: 0 });
  await eddy.createTopic('hostile', { partitions: 2 });
  await eddy.produce(
    'hostile',
    VALUES.map((value, i) => ({ value, key: KEYS[i]!, partition: i % 2, timestamp: 1_700_000_000_000 + i })),
  );
  await eddy.close();
  return dir;
}

const consume = (dir: string, args: string[]): Buffer =>
  execFileSync(process.execPath, [eddyBin, 'consume', 'hostile', '-B', '-d', ...args], {
    env: { ...process.env, EDDY_DATA_DIR: dir, EDDY_WORKERS: '1' },
  });

/** The lines of stdout, each parsed; the output must be exactly lines ending in a newline. */
function parseLines(out: Buffer): unknown[] {
  const text = out.toString('utf8');
  if (Buffer.compare(Buffer.from(text, 'utf8'), out) !== 0) throw new Error('stdout is not valid UTF-8');
  if (!text.endsWith('\n')) throw new Error('the last line has no newline');
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line));
}

const bytesOf = (o: Record<string, unknown>, field: 'key' | 'value'): Buffer | null => {
  const v = o[field];
  if (v === null) return null;
  if (o[`${field}_encoding`] === 'base64') return Buffer.from(v as string, 'base64');
  return Buffer.from(v as string, 'utf8');
};

test('-J: one compact JSON object per record; every key and value comes back byte for byte', async (t) => {
  const dir = await hostileTopic();
  const out = consume(dir, ['-J']);
  const lines = parseLines(out) as Record<string, unknown>[];
  t.is(lines.length, VALUES.length);
  for (const o of lines) {
    t.deepEqual(
      Object.keys(o).filter((k) => !k.endsWith('_encoding')),
      ['topic', 'partition', 'offset', 'timestamp', 'key', 'value'],
    );
    t.is(o.topic, 'hostile');
    // Records went to partitions alternately: partition p, offset n is record 2n + p.
    const i = (o.offset as number) * 2 + (o.partition as number);
    t.is(o.timestamp, 1_700_000_000_000 + i);
    t.deepEqual(bytesOf(o, 'value'), VALUES[i], `value ${i}`);
    t.deepEqual(bytesOf(o, 'key'), KEYS[i], `key ${i}`);
  }
  // Text stays text; only what is not UTF-8 is base64, and says so.
  const byValue = (i: number) => lines.find((o) => (o.offset as number) * 2 + (o.partition as number) === i)!;
  t.is(byValue(0).value, 'plain text');
  t.is(byValue(5).value_encoding, 'base64');
  t.is(byValue(6).value_encoding, 'base64');
  t.is(byValue(7).value, '\ufeffBOM first');
  t.false('value_encoding' in byValue(3), 'controls are valid UTF-8: escaped, not base64');
  // No raw control byte reaches the terminal: the output is printable ASCII and UTF-8 text.
  t.false(/[\x00-\x09\x0b-\x1f\x7f]/.test(out.toString('latin1')), 'no C0 control or DEL but the newlines');
  t.false(/[\u0080-\u009f\u2028\u2029]/.test(out.toString('utf8')), 'no C1 control or line separator');
  t.deepEqual(consume(dir, ['-O', 'json-lines']), out, '-O json-lines is the same');
});

test('--format with {{value:json}} / {{key:json}} stays valid JSON for any value; :base64 gives the bytes', async (t) => {
  const dir = await hostileTopic();
  const lines = parseLines(
    consume(dir, [
      '--format',
      '{"p":{{partition}},"o":{{offset}},"key":"{{key:json}}","value":"{{value:json}}","b64":"{{value:base64}}"}',
    ]),
  ) as { p: number; o: number; key: string; value: string; b64: string }[];
  t.is(lines.length, VALUES.length);
  const lossy = new TextDecoder();
  for (const l of lines) {
    const i = l.o * 2 + l.p;
    t.is(l.value, lossy.decode(VALUES[i]!), `value ${i}: its text, as {{value}} prints it`);
    t.deepEqual(Buffer.from(l.b64, 'base64'), VALUES[i]);
    t.is(l.key, KEYS[i] === null ? 'null' : lossy.decode(KEYS[i]!));
  }
});

test('jq reads every line of -J (skipped with the reason where jq is not installed)', async (t) => {
  if (spawnSync('jq', ['--version']).status !== 0) {
    t.log('jq is not installed: JSON.parse above checked every line instead');
    t.pass();
    return;
  }
  const dir = await hostileTopic();
  const out = consume(dir, ['-J']);
  const r = spawnSync('jq', ['-c', '[.partition, .offset, (.value | length)]'], { input: out });
  t.is(r.status, 0, r.stderr.toString());
  t.is(r.stdout.toString().trim().split('\n').length, VALUES.length);
});

test('-J refuses what would change its lines: -F, -k, another -O, --truncate, --suppress-unknown', async (t) => {
  const dir = await hostileTopic();
  for (const extra of [['-F', '{{value}}'], ['-k'], ['-O', 'json'], ['--truncate'], ['--suppress-unknown']]) {
    const r = spawnSync(process.execPath, [eddyBin, 'consume', 'hostile', '-B', '-d', '-J', ...extra], {
      env: { ...process.env, EDDY_DATA_DIR: dir },
    });
    t.not(r.status, 0, extra.join(' '));
    t.regex(r.stderr.toString(), /-J\/--json-lines prints the whole record as JSON: leave out/);
  }
  const bad = spawnSync(process.execPath, [eddyBin, 'consume', 'hostile', '-B', '-d', '-F', '{{offset:base64}}'], {
    env: { ...process.env, EDDY_DATA_DIR: dir },
  });
  t.not(bad.status, 0);
  t.regex(bad.stderr.toString(), /only key and value have bytes/);
});
