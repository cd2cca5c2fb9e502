import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { read, setup, until } from './helpers/cli-process.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * One process writes a data directory. While a long-running writer (`eddy connector run`,
 * `eddy run`) holds it, `eddy produce` from another process goes through that writer's socket;
 * when the writer is gone (even killed), `eddy produce` writes by itself again.
 */

test("produce goes through a running connector's process, a read-only consumer follows it and stops on SIGINT; transforms are anchored at the producer's directory; errors come back worded for the CLI", async (t) => {
  t.timeout(120_000);
  const { work, data, start, eddy, ok } = setup(t);
  await ok(['topic', 'create', 'events', '-p', '2']);
  writeFileSync(
    join(work, 'sink.yml'),
    'meta: { name: events-file, type: file-sink, topic: events, consumer: { offset: { start: beginning } } }\nfile: { path: events.txt }\n',
  );
  const sink = start(['connector', 'run', '--config', 'sink.yml']);
  await until(() => existsSync(join(data, 'eddy.sock')) && sink.err().includes('Ctrl-C stops'));

  // A reader next to the writer: continuous consume (read-only), stopped with a real SIGINT.
  const follower = start(['consume', 'events', '-k']);
  await new Promise((r) => setTimeout(r, 500));
  await ok(['produce', 'events'], 'one\ntwo\n');
  copyFileSync(wasmPath('map-uppercase'), join(work, 'upper.wasm'));
  await ok(['produce', 'events', '--key', 'k', '--transform', '{"uses":"upper.wasm"}'], 'three\n');
  const file = join(work, 'events.txt');
  await until(() => read(file).split('\n').filter(Boolean).length >= 3);
  t.deepEqual(read(file).split('\n').filter(Boolean).sort(), ['THREE', 'one', 'two']);
  await until(() => follower.out().split('\n').filter(Boolean).length >= 3);
  follower.child.kill('SIGINT');
  t.is(await follower.exited, 0, follower.err());
  t.deepEqual(follower.out().split('\n').filter(Boolean).sort(), ['[k] THREE', '[null] one', '[null] two']);

  const unknown = await eddy(['produce', 'nope'], 'x\n');
  t.is(unknown.code, 1);
  t.is(
    unknown.stderr,
    'Error: topic "nope" does not exist; create it with `eddy topic create nope` (`eddy topic list` shows the topics)\n',
  );
  const part = await eddy(['produce', 'events', '--partition', '5'], 'x\n');
  t.is(part.stderr, 'Error: --partition 5: topic "events" has 2 partitions (0..1)\n');
  const failing = await eddy(['produce', 'events', '--smartmodule', wasmPath('fail-on')], 'fine\nbad\n');
  t.is(failing.code, 1);
  t.regex(
    failing.stderr,
    /^Error: producer-side SmartModule failed for events\/\d, so none of that batch was stored:\nfail-on: cannot parse bad\n/,
  );

  // Fluvio's produce flags travel to the writer: a codec, and a module from a path with an initial accumulator.
  await ok(['produce', 'events', '--compression', 'gzip', '-p', '0'], 'four\n');
  await ok(
    ['produce', 'events', '-p', '1', '--smartmodule-path', wasmPath('aggregate-sum'), '--a-init', '10'],
    '1\n2\n',
  );
  const sunk = () => new Set(read(file).split('\n'));
  await until(() => ['four', '11', '13'].every((v) => sunk().has(v)));
  t.pass('the sink read the gzip batch and the aggregate outputs');

  // Other writing commands are refused with the holder named.
  const create = await eddy(['topic', 'create', 'more']);
  t.is(create.code, 1);
  t.regex(
    create.stderr,
    /is in use by process \d+ \(.*eddy\.js connector.*\); several `eddy produce` can write at once/,
  );

  sink.child.kill('SIGINT');
  t.is(await sink.exited, 0, sink.err());
  t.false(existsSync(join(data, 'eddy.sock')), 'the socket is removed on a clean stop');
  t.true((await ok(['consume', 'events', '-B', '-d', '-k'])).includes('[k] THREE\n'));
});

test('after the writer is killed, produce writes by itself (stale lock and socket), and a new eddy run serves again', async (t) => {
  t.timeout(60_000);
  const { work, data, start, ok } = setup(t);
  await ok(['topic', 'create', 'in']);
  await ok(['topic', 'create', 'out']);
  await ok([
    'derive',
    'create',
    'copy',
    '--source',
    'in',
    '--target',
    'out',
    '--transform',
    JSON.stringify({ uses: wasmPath('map-uppercase') }),
  ]);
  const first = start(['run']);
  await until(() => existsSync(join(data, 'eddy.sock')) && first.err().includes('Ctrl-C stops'));
  await ok(['produce', 'in'], 'a\n');
  first.child.kill('SIGKILL');
  await first.exited;
  t.true(existsSync(join(data, 'eddy.sock')), 'a killed writer leaves its socket behind');
  await ok(['produce', 'in'], 'b\n');
  const second = start(['run']);
  await until(() => second.err().includes('Ctrl-C stops'));
  await ok(['produce', 'in'], 'c\n');
  for (const end = Date.now() + 15_000; (await ok(['consume', 'out', '-B', '-d'])) !== 'A\nB\nC\n'; ) {
    if (Date.now() > end) t.fail('the derived stream did not catch up');
    await new Promise((r) => setTimeout(r, 100));
  }
  second.child.kill('SIGTERM');
  t.is(await second.exited, 0, second.err());
  t.is(await ok(['consume', 'in', '-B', '-d'], '', work), 'a\nb\nc\n');
});
