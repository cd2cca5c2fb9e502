import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import {
  type LogFields,
  type Logger,
  type LogLevel,
  open,
  SmartModuleRuntimeError,
  stderrLogger,
} from '../src/index.js';
import { printingModule } from './helpers/printing-module.js';
import { wasmPath } from './helpers/wasm.js';

const run = promisify(execFile);
const child = fileURLToPath(new URL('./fixtures/logger-child.js', import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), 'eddy-logger-'));
const values = (list: string[]) => list.map((v) => ({ value: Buffer.from(v) }));

/** A host logger that keeps every call, and resolves `seen(level, text)` once a matching line came. */
function recording() {
  const lines: { level: LogLevel; message: string; fields: LogFields | undefined }[] = [];
  const waiters: { level: LogLevel; text: string; done: () => void }[] = [];
  const at =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      lines.push({ level, message, fields });
      for (const w of waiters.filter((w) => w.level === level && message.includes(w.text))) w.done();
    };
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  const seen = (level: LogLevel, text: string) =>
    new Promise<void>((done) => {
      if (lines.some((l) => l.level === level && l.message.includes(text))) done();
      else waiters.push({ level, text, done });
    });
  return { logger, lines, seen };
}

test("a host logger gets a derived stream's failure at level error, with the stream, code and error", async (t) => {
  const { logger, lines, seen } = recording();
  const eddy = await open(tmp(), { workers: 1, retentionCheckMs: 0, logger });
  await eddy.createTopic('in', { partitions: 1 });
  await eddy.createTopic('out', { partitions: 1 });
  await eddy.produce('in', values(['a1', 'bad']));
  const failed = seen('error', 'derived stream fragile/0 stopped');
  await eddy.startDerived({
    name: 'fragile',
    source: 'in',
    target: 'out',
    transforms: [{ uses: wasmPath('fail-on') }],
  });
  await failed;
  const line = lines.find((l) => l.level === 'error')!;
  t.is(line.fields?.['stream'], 'fragile/0');
  t.is(line.fields?.['code'], 'EDDY_SM_RUNTIME');
  t.true(line.fields?.['error'] instanceof SmartModuleRuntimeError);
  await eddy.close();
});

test('with an error listener, the listener has the failure and the logger hears it at debug only', async (t) => {
  const { logger, lines, seen } = recording();
  const eddy = await open(tmp(), { workers: 1, retentionCheckMs: 0, logger });
  await eddy.createTopic('in', { partitions: 1 });
  await eddy.createTopic('out', { partitions: 1 });
  await eddy.produce('in', values(['bad']));
  const heard: string[] = [];
  eddy.on('error', (i) => heard.push(i.stream));
  const failed = seen('debug', 'derived stream fragile/0 stopped');
  await eddy.startDerived({
    name: 'fragile',
    source: 'in',
    target: 'out',
    transforms: [{ uses: wasmPath('fail-on') }],
  });
  await failed;
  t.deepEqual(heard, ['fragile/0']);
  t.false(lines.some((l) => l.level === 'error'));
  await eddy.close();
});

test('a host logger gets what a module writes: stderr at warn, stdout at info, with module and stream fields', async (t) => {
  const dir = tmp();
  writeFileSync(join(dir, 'warns.wasm'), printingModule(2));
  writeFileSync(join(dir, 'says.wasm'), printingModule(1));
  const { logger, lines, seen } = recording();
  const eddy = await open(join(dir, 'data'), { workers: 1, retentionCheckMs: 0, baseDir: dir, logger });
  await eddy.createTopic('in', { partitions: 1 });
  await eddy.produce('in', values(['a']));
  const warned = seen('warn', 'from the module');
  const said = seen('info', 'from the module');
  // Both modules keep no record; each prints once per batch.
  for (const uses of ['warns.wasm', 'says.wasm'])
    for await (const _ of eddy.consume('in', { transforms: [{ uses }] })) t.fail();
  await Promise.all([warned, said]);
  const warn = lines.find((l) => l.level === 'warn')!;
  t.is(warn.fields?.['stream'], 'stderr');
  t.regex(String(warn.fields?.['module']), /warns/);
  const info = lines.find((l) => l.level === 'info' && l.message.includes('from the module'))!;
  t.is(info.fields?.['stream'], 'stdout');
  t.regex(String(info.fields?.['module']), /says/);
  await eddy.close();
});

test('by default nothing goes to stdout: module output and failures go to stderr (EddyWarning); EDDY_DEBUG adds a debug log', async (t) => {
  const dir = tmp();
  const printing = join(dir, 'says.wasm');
  writeFileSync(printing, printingModule(1));
  const env = { ...process.env };
  delete env['EDDY_DEBUG'];
  const quiet = await run(process.execPath, [child, join(dir, 'a'), printing, wasmPath('fail-on')], { env });
  t.is(quiet.stdout, '');
  t.regex(quiet.stderr, /from the module/);
  t.regex(quiet.stderr, /EddyWarning: derived stream fragile\/0 stopped/);
  const debug = await run(process.execPath, [child, join(dir, 'b'), printing, wasmPath('fail-on')], {
    env: { ...env, EDDY_DEBUG: '1' },
  });
  t.is(debug.stdout, '');
  t.regex(debug.stderr, /eddy info: module .*: from the module/);
  t.regex(debug.stderr, /eddy error: derived stream fragile\/0 stopped: [\s\S]*"code":"EDDY_SM_RUNTIME"/);
  t.notRegex(debug.stderr, /EddyWarning/);
});

test('stderrLogger writes from its level up, fields as JSON', (t) => {
  const out: string[] = [];
  const log = stderrLogger('warn', (l) => out.push(l));
  log.info('dropped');
  log.warn('kept', { code: 'EDDY_X', n: 1 });
  log.error('failed', { error: new Error('boom') });
  t.deepEqual(out, [
    'eddy warn: kept {"code":"EDDY_X","n":1}\n',
    'eddy error: failed {"error":{"name":"Error","message":"boom"}}\n',
  ]);
});
