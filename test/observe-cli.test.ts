import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { eddyProcesses, until } from './helpers/eddy-process.js';
import { tempDir } from './helpers/storage.js';
import { wasmPath } from './helpers/wasm.js';

/** `eddy run --http` as a real child process: a taken port fails at start, another host is warned about. */

async function setup(t: ExecutionContext) {
  const dir = tempDir(t, 'eddy-observe-cli-');
  const env = { ...process.env, EDDY_DATA_DIR: join(dir, 'data'), EDDY_WORKERS: '1' };
  const p = eddyProcesses(t, dir, env);
  await p.ok(['topic', 'create', 'in']);
  await p.ok(['topic', 'create', 'out']);
  await p.ok([
    'derive',
    'create',
    'keep-a',
    '--source',
    'in',
    '--target',
    'out',
    '--transform',
    JSON.stringify({ uses: wasmPath('filter') }),
  ]);
  return p;
}

test('eddy run --http on a port in use exits at start with EDDY_HTTP_IN_USE and what to do', async (t) => {
  const { start } = await setup(t);
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => taken.close());
  const port = (taken.address() as AddressInfo).port;
  const run = start(['run', '--http', `127.0.0.1:${port}`]);
  t.not(await run.exited, 0);
  t.regex(
    run.err(),
    new RegExp(`cannot serve metrics and the status page on 127\\.0\\.0\\.1:${port}: the port is already in use`),
  );
  t.regex(run.err(), /port 0 for any free one/);
  t.notRegex(run.err(), /eddy run: keep-a/, 'no stream started');
});

test('eddy run --http with a bare port listens on loopback; another host gets a warning line', async (t) => {
  const { start } = await setup(t);
  const local = start(['run', '--http', '0']);
  await until(() => /status page on http:\/\//.test(local.err()), 60_000);
  t.regex(local.err(), /status page on http:\/\/127\.0\.0\.1:\d+\//);
  t.notRegex(local.err(), /warning/);
  // Ready once the stream has opened (503 "starting" until then).
  const url = `${/status page on (\S+\/)/.exec(local.err())![1]}readyz`;
  let ready = 0;
  for (const end = Date.now() + 60_000; ready !== 200 && Date.now() < end; ) {
    ready = (await fetch(url)).status;
    if (ready !== 200) await new Promise((r) => setTimeout(r, 50));
  }
  t.is(ready, 200);
  local.child.kill('SIGTERM');
  t.is(await local.exited, 0);

  const open = start(['run', '--http', '0.0.0.0:0']);
  await until(() => /status page on http:\/\//.test(open.err()), 60_000);
  t.regex(
    open.err(),
    /warning: the status page and \/metrics at http:\/\/0\.0\.0\.0:\d+\/ are reachable from other machines/,
  );
  open.child.kill('SIGTERM');
  t.is(await open.exited, 0);
});
