import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { wasmPath } from './helpers/wasm.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('the README embedding example runs: POST records, GET them through SmartModules, shut down cleanly', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'eddy-http-'));
  const proc = spawn(process.execPath, [join(root, 'examples', 'embedding', 'http-service.mjs')], {
    cwd: root,
    env: { ...process.env, EDDY_DATA_DIR: dataDir, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr += d;
  });
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      const m = /listening on (\d+)/.exec(String(d));
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (code) => reject(new Error(`server exited ${code}: ${stderr}`)));
  });
  const base = `http://127.0.0.1:${port}/topics/fruit`;
  const post = await fetch(base, { method: 'POST', body: 'apple\nkiwi\nbanana\nplum\ngrape' });
  t.is(post.status, 200);
  t.is(((await post.json()) as unknown[]).length, 5);
  const all = (await (await fetch(base)).text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).value);
  t.deepEqual(all.sort(), ['apple', 'banana', 'grape', 'kiwi', 'plum']);
  const filtered = await (
    await fetch(
      `${base}?uses=${encodeURIComponent(wasmPath('filter'))}&uses=${encodeURIComponent(wasmPath('map-uppercase'))}`,
    )
  ).text();
  t.deepEqual(
    filtered
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).value)
      .sort(),
    ['APPLE', 'BANANA', 'GRAPE'],
  );
  const bad = await fetch(`${base}?uses=no-such-module`);
  t.is(bad.status, 400);
  t.regex(await bad.text(), /not registered/);
  proc.kill('SIGINT');
  const [code] = await new Promise<[number | null]>((r) => proc.on('exit', (c) => r([c])));
  t.is(code, 0);
});
