import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import test from 'ava';
import type { CliIO } from '../src/cli/format.js';
import { main } from '../src/cli/main.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * `eddy consume` with the flags of `fluvio consume` (crates/fluvio-cli consume/mod.rs and
 * record_format.rs): start positions, -O outputs byte for byte, --suppress-unknown, --truncate,
 * the status line on a terminal, and the cluster flags Eddy accepts or refuses with a reason.
 * In-process through main(), each test on its own data directory.
 */

interface Run {
  stdout: string;
  stderr: string;
}
interface Opts {
  stdin?: string | Buffer;
  tty?: { columns: number };
  code?: number;
}

/** Runs `eddy <args>` in-process; the exit code must be `code` (default 0). */
async function eddy(dir: string, args: string[], opts: Opts = {}): Promise<Run> {
  const run = { stdout: '', stderr: '' };
  const dec = new TextDecoder();
  const text = (c: string | Uint8Array) => (typeof c === 'string' ? c : dec.decode(c));
  const io: CliIO = {
    stdout: {
      write: (c: string | Uint8Array) => {
        run.stdout += text(c);
        return true;
      },
      ...(opts.tty ? { isTTY: true, columns: opts.tty.columns } : {}),
    },
    stderr: {
      write: (c) => {
        run.stderr += text(c);
        return true;
      },
    },
    stdin: Readable.from([Buffer.from(opts.stdin ?? '')]),
    cwd: process.cwd(),
    env: { EDDY_DATA_DIR: dir, EDDY_WORKERS: '2' },
  };
  const code = await main(['node', 'eddy', ...args], io);
  if (code !== (opts.code ?? 0)) throw new Error(`eddy ${args.join(' ')} exited ${code}: ${run.stderr}`);
  return run;
}

const ok = async (dir: string, args: string[], opts: Opts = {}): Promise<string> =>
  (await eddy(dir, args, opts)).stdout;

async function refused(
  t: { is: (a: unknown, b: unknown) => void; regex: (s: string, r: RegExp) => void },
  dir: string,
  args: string[],
  message: RegExp,
): Promise<void> {
  const r = await eddy(dir, args, { code: 1 });
  t.is(r.stdout, '');
  t.regex(r.stderr, message);
}

const BINARY = Buffer.from([
  0x00, 0x01, 0x41, 0x0a, 0x42, 0xff, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x7e, 0x20,
]);
// Fluvio's hex dump of BINARY: offset, two groups of 8 bytes, the printable characters between bars.
const DUMP =
  '00000000  00 01 41 0a 42 ff 03 04  05 06 07 08 09 0a 0b 0c  |  A.B        .  |\n' +
  '00000010  0d 7e 20                                          | ~              |\n' +
  `${'-'.repeat(78)}\n`;

/** A topic `mixed` holding: text, a JSON object, text that is not JSON, and a binary value. */
async function mixed(): Promise<string> {
  const dir = join(mkdtempSync(join(tmpdir(), 'eddy-consume-flags-')), 'data');
  await ok(dir, ['topic', 'create', 'mixed']);
  await ok(dir, ['produce', 'mixed'], { stdin: 'hello\n{"b":[1,{"z":0,"y":"q"}],"a":"x y"}\nnot json\n' });
  await ok(dir, ['produce', 'mixed', '--raw'], { stdin: BINARY });
  return dir;
}

async function numbers(n: number): Promise<string> {
  const dir = join(mkdtempSync(join(tmpdir(), 'eddy-consume-flags-')), 'data');
  await ok(dir, ['topic', 'create', 'n']);
  await ok(dir, ['produce', 'n'], { stdin: Array.from({ length: n }, (_, i) => `${i}\n`).join('') });
  return dir;
}

test('-O dynamic (the default): text as text, a binary value as a hex dump with a separator line', async (t) => {
  const dir = await mixed();
  const expected = `hello\n{"b":[1,{"z":0,"y":"q"}],"a":"x y"}\nnot json\n${DUMP}\n`;
  t.is(await ok(dir, ['consume', 'mixed', '-B', '-d']), expected);
  t.is(await ok(dir, ['consume', 'mixed', '-B', '-d', '-O', 'dynamic']), expected);
  // Fluvio's value names are case-insensitive.
  t.is(await ok(dir, ['consume', 'mixed', '-B', '-d', '-O', 'Dynamic']), expected);
});

test('-O text: binary values as "binary: (N bytes)", or as lossy text with --suppress-unknown', async (t) => {
  const dir = await mixed();
  const head = 'hello\n{"b":[1,{"z":0,"y":"q"}],"a":"x y"}\nnot json\n';
  t.is(await ok(dir, ['consume', 'mixed', '-B', '-d', '-O', 'text']), `${head}binary: (19 bytes)\n`);
  t.is(
    await ok(dir, ['consume', 'mixed', '-B', '-d', '-O', 'text', '--suppress-unknown']),
    `${head}${new TextDecoder().decode(BINARY)}\n`,
  );
});

test('-O binary: every value as a hex dump', async (t) => {
  const dir = await mixed();
  const out = await ok(dir, ['consume', 'mixed', '-o', '2', '-d', '-O', 'binary']);
  t.is(
    out,
    `00000000  6e 6f 74 20 6a 73 6f 6e                           |not json        |\n${'-'.repeat(78)}\n\n${DUMP}\n`,
  );
});

test('-O json: pretty JSON with keys in order, {"error": ...} for the rest, skipped with --suppress-unknown', async (t) => {
  const dir = await mixed();
  const out = await ok(dir, ['consume', 'mixed', '-B', '-d', '-O', 'json']);
  const records = out.split(/\n(?=\{)/);
  t.is(records.length, 4);
  t.is(records[1], '{\n  "a": "x y",\n  "b": [\n    1,\n    {\n      "y": "q",\n      "z": 0\n    }\n  ]\n}');
  for (const i of [0, 2, 3]) t.regex(records[i]!, /^\{\n {2}"error": "[^"\n]+"\n\}\n?$/);
  t.is(await ok(dir, ['consume', 'mixed', '-B', '-d', '-O', 'json', '--suppress-unknown']), `${records[1]}\n`);
});

test('-O raw: the stored bytes, one record per line; with -k behind "[key] "', async (t) => {
  const dir = await mixed();
  const bytes: Buffer[] = [];
  const io: CliIO = {
    stdout: {
      write: (c) => {
        bytes.push(Buffer.from(c));
        return true;
      },
    },
    stderr: { write: () => true },
    stdin: Readable.from([]),
    cwd: process.cwd(),
    env: { EDDY_DATA_DIR: dir, EDDY_WORKERS: '2' },
  };
  t.is(await main(['node', 'eddy', 'consume', 'mixed', '-o', '3', '-d', '-O', 'raw'], io), 0);
  t.deepEqual(Buffer.concat(bytes), Buffer.concat([BINARY, Buffer.from('\n')]));
  t.is(
    await ok(dir, ['consume', 'mixed', '-B', '-d', '-O', 'raw', '-k', '--end-offset', '1']),
    '[null] hello\n[null] {"b":[1,{"z":0,"y":"q"}],"a":"x y"}\n',
  );
});

test('-O table: one ASCII table per JSON object; the top border only for the first record, as Fluvio', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'eddy-consume-flags-')), 'data');
  await ok(dir, ['topic', 'create', 'rows']);
  await ok(dir, ['produce', 'rows'], { stdin: '{"name":"kiwi","n":3}\n{"name":"fig","n":12,"ok":true}\n[1]\nplain\n' });
  const out = await ok(dir, ['consume', 'rows', '-B', '-d', '-O', 'table']);
  const lines = out.split('\n');
  t.deepEqual(lines.slice(0, 5), ['+---+------+', '| n | name |', '+===+======+', '| 3 | kiwi |', '+---+------+']);
  t.deepEqual(lines.slice(5, 9), [
    '| n  | name | ok   |',
    '+====+======+======+',
    '| 12 | fig  | true |',
    '+----+------+------+',
  ]);
  t.is(lines[9], 'error: Unable to parse json as object map');
  t.regex(lines[10]!, /^error parsing record as json: /);
  t.is(lines.length, 12);
  t.is(lines[11], '');
});

test('-H/--head N starts N records after the first (clamped to the end), --start N at an absolute offset, -T N before the end', async (t) => {
  const dir = await numbers(6);
  t.is(await ok(dir, ['consume', 'n', '-H', '2', '-d']), '2\n3\n4\n5\n');
  t.is(await ok(dir, ['consume', 'n', '--head', '0', '-d']), '0\n1\n2\n3\n4\n5\n');
  t.is(await ok(dir, ['consume', 'n', '-H', '99', '-d']), '');
  t.is(await ok(dir, ['consume', 'n', '--start', '4', '-d']), '4\n5\n');
  t.is(await ok(dir, ['consume', 'n', '--start', '1', '--end', '2', '-d']), '1\n2\n');
  t.is(await ok(dir, ['consume', 'n', '-T', '2', '-d']), '4\n5\n');
  t.is(await ok(dir, ['consume', 'n', '--tail', '3', '-d']), '3\n4\n5\n');
  await refused(
    t,
    dir,
    ['consume', 'n', '-H', '1', '--start', '2', '-d'],
    /-H\/--head and --start cannot be used together/,
  );
  await refused(t, dir, ['consume', 'n', '-B', '-T', '2', '-d'], /give one start position/);
  await refused(
    t,
    dir,
    ['consume', 'n', '--start', '4', '--end', '2', '-d'],
    /--end-offset 2 is before the start offset 4/,
  );
  await refused(t, dir, ['consume', 'n', '-H', '-1', '-d'], /-H\/--head/);
});

test('-F is --format; -k puts "[key] " before a template line as Fluvio does; -F with -O is refused', async (t) => {
  const dir = await numbers(2);
  t.is(await ok(dir, ['consume', 'n', '-B', '-d', '-F', '{{offset}}={{value}}']), '0=0\n1=1\n');
  t.is(await ok(dir, ['consume', 'n', '-B', '-d', '-k', '-F', '{{offset}}={{value}}']), '[null] 0=0\n[null] 1=1\n');
  await refused(t, dir, ['consume', 'n', '-B', '-d', '-F', '{{value}}', '-O', 'json'], /leave out -O/);
});

test('--truncate cuts values to the terminal width; refused with -O or -F, as Fluvio', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'eddy-consume-flags-')), 'data');
  await ok(dir, ['topic', 'create', 'long']);
  await ok(dir, ['produce', 'long'], { stdin: 'abcdefghijkl\nxy\n' });
  t.is(await ok(dir, ['consume', 'long', '-B', '-d', '--truncate'], { tty: { columns: 5 } }), 'abcde\nxy\n');
  // Not a terminal: Fluvio's fallback width (65535) leaves short values whole.
  t.is(await ok(dir, ['consume', 'long', '-B', '-d', '--truncate']), 'abcdefghijkl\nxy\n');
  // A "[key] value" line is not cut (Fluvio truncates only the plain value line).
  t.is(
    await ok(dir, ['consume', 'long', '-B', '-d', '--truncate', '-k'], { tty: { columns: 5 } }),
    '[null] abcdefghijkl\n[null] xy\n',
  );
  await refused(
    t,
    dir,
    ['consume', 'long', '-B', '-d', '--truncate', '-O', 'text'],
    /--truncate cannot be used with -O/,
  );
});

test('the status line Fluvio prints on a terminal goes to stderr, bold; nothing when stdout is not a terminal', async (t) => {
  const dir = await numbers(3);
  const tty = await eddy(dir, ['consume', 'n', '-H', '1', '--end', '1', '-d'], { tty: { columns: 80 } });
  t.is(tty.stdout, '1\n');
  t.is(
    tty.stderr,
    "\x1b[1mConsuming records from 'n' starting 1 from the beginning of log until offset 1 (inclusive)\x1b[0m\n",
  );
  const start = await eddy(dir, ['consume', 'n', '--start', '2', '-d'], { tty: { columns: 80 } });
  t.is(start.stderr, "\x1b[1mConsuming records from 'n' starting at offset 2\x1b[0m\n");
  const tail = await eddy(dir, ['consume', 'n', '-T', '1', '-d'], { tty: { columns: 80 } });
  t.is(tail.stderr, "\x1b[1mConsuming records from 'n' starting 1 from the end of log\x1b[0m\n");
  const piped = await eddy(dir, ['consume', 'n', '-B', '-d']);
  t.is(piped.stderr, '');
});

test('cluster flags: --isolation, -b/--maxbytes, --disable-progressbar accepted; --table-format, -m, -O full-table refused with the reason', async (t) => {
  const dir = await numbers(2);
  for (const level of ['read_committed', 'read_uncommitted', 'ReadCommitted', 'readuncommitted']) {
    t.is(await ok(dir, ['consume', 'n', '-B', '-d', '--isolation', level]), '0\n1\n');
  }
  t.is(await ok(dir, ['consume', 'n', '-B', '-d', '-b', '1048576', '--disable-progressbar']), '0\n1\n');
  t.is(await ok(dir, ['consume', 'n', '-B', '-d', '--maxbytes', '1']), '0\n1\n');
  await refused(
    t,
    dir,
    ['consume', 'n', '-B', '-d', '--isolation', 'serializable'],
    /unrecognized isolation; supported: read_committed/,
  );
  await refused(t, dir, ['consume', 'n', '-B', '-d', '-b', 'lots'], /-b\/--maxbytes/);
  await refused(t, dir, ['consume', 'n', '-B', '-d', '--table-format', 'fancy'], /TableFormat not found.*use -O table/);
  await refused(t, dir, ['consume', 'n', '-B', '-d', '-m', 'edge1'], /no remote clusters/);
  await refused(t, dir, ['consume', 'n', '-B', '-d', '-O', 'full-table'], /interactive full-screen table.*-O table/);
  await refused(t, dir, ['consume', 'n', '-B', '-d', '-O', 'full_table'], /interactive full-screen table/);
});

test("Fluvio's spellings of the module flags: --sm, --sm_path, --a-init, -t", async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'eddy-consume-flags-')), 'data');
  await ok(dir, ['topic', 'create', 'fruit']);
  await ok(dir, ['produce', 'fruit'], { stdin: 'apple\nkiwi\nbanana\n' });
  await ok(dir, ['sm', 'create', 'keep-a', '--wasm-file', wasmPath('filter')]);
  t.is(await ok(dir, ['consume', 'fruit', '-B', '-d', '--sm', 'keep-a']), 'apple\nbanana\n');
  t.is(await ok(dir, ['consume', 'fruit', '-B', '-d', '--sm_path', wasmPath('filter')]), 'apple\nbanana\n');
  const yaml = join(dir, '..', 'chain.yaml');
  writeFileSync(yaml, 'transforms:\n  - uses: keep-a\n');
  t.is(await ok(dir, ['consume', 'fruit', '-B', '-d', '-t', yaml]), 'apple\nbanana\n');
  await ok(dir, ['topic', 'create', 'nums']);
  await ok(dir, ['produce', 'nums'], { stdin: '1\n2\n' });
  t.is(
    await ok(dir, ['consume', 'nums', '-B', '-d', '--aggregate', wasmPath('aggregate-sum'), '--a-init', '10']),
    '11\n13\n',
  );
});

test('-k prints a key as text even when it is binary, as fluvio consume (lossy UTF-8)', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'eddy-consume-flags-')), 'data');
  await ok(dir, ['topic', 'create', 'keys']);
  await ok(dir, ['produce', 'keys', '--key-separator', ':'], { stdin: 'a\u0000b:v1\nplain:v2\n' });
  t.is(await ok(dir, ['consume', 'keys', '-B', '-d', '-k']), '[a\u0000b] v1\n[plain] v2\n');
});

test('through a chain, each -O prints what it prints without one (the workers write text and raw lines; binary falls back)', async (t) => {
  const dir = await mixed();
  // Keeps every value of `mixed` (none holds "debug"): the output must be the topic's own.
  const keepAll = ['--filter', wasmPath('drop-debug-bytes')];
  for (const o of [[], ['-O', 'text'], ['-O', 'raw'], ['-O', 'dynamic', '--max-records', '3'], ['-O', 'json']]) {
    const plain = await ok(dir, ['consume', 'mixed', '-B', '-d', ...o]);
    t.is(await ok(dir, ['consume', 'mixed', '-B', '-d', ...o, ...keepAll]), plain, o.join(' ') || 'dynamic');
  }
  // Text only: every batch goes out as lines made on the workers.
  await ok(dir, ['topic', 'create', 'words']);
  const words = Array.from({ length: 3000 }, (_, i) => `w${i} ${'x'.repeat(i % 50)}\n`).join('');
  await ok(dir, ['produce', 'words'], { stdin: words });
  t.is(await ok(dir, ['consume', 'words', '-B', '-d', ...keepAll]), words);
});
