import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { pack, unpack } from 'msgpackr';
import { bin, memoryGuard, read, setup, until } from './helpers/cli-process.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * Hostile and unbounded input on the paths that load modules and configs, and on the daemon's
 * socket: what a user names is read only when it is a regular file of bounded size, YAML aliases
 * cannot blow up, and a client of `eddy run` can neither read files through it nor stall it.
 * Every command runs as a real process; a memory guard kills one that reads without bound.
 */

const GiB = 1024 ** 3;
const isRoot = process.getuid?.() === 0;

function mkfifo(path: string): void {
  execFileSync('mkfifo', [path]);
}

/** A 533-byte-class "billion laughs": nine aliases of nine aliases of ..., 9^9 strings when expanded. */
function aliasBomb(indent: string): string {
  const names = 'abcdefghi';
  const lines = [`${indent}a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]`];
  for (let i = 1; i < names.length; i++)
    lines.push(
      `${indent}${names[i]}: &${names[i]} [${Array(9)
        .fill(`*${names[i - 1]}`)
        .join(',')}]`,
    );
  return lines.join('\n');
}

test('a module or transforms file that is a device, a FIFO or too large is refused with a stated error, without reading it', async (t) => {
  t.timeout(240_000);
  const { work, start, ok } = setup(t, 'eddy-hostile-');
  await ok(['topic', 'create', 'in']);
  await ok(['produce', 'in'], 'a\n');
  const fifo = join(work, 'module.fifo');
  mkfifo(fifo);
  const big = join(work, 'big.wasm');
  writeFileSync(big, '');
  truncateSync(big, 40 * 1024 * 1024); // sparse: costs no disk
  const run = async (args: string[]) => {
    const p = start(args);
    const guard = memoryGuard(t, p.child, GiB);
    const code = await p.exited;
    t.false(guard.exceeded(), `eddy ${args.join(' ')} read past 1 GiB`);
    return { code, stderr: p.err() };
  };

  for (const [uses, why] of [
    ['/dev/zero', /it is a character device; give the path of a regular file/],
    [fifo, /it is a FIFO \(named pipe\)/],
    [big, /larger than 33554432 bytes/],
  ] as const) {
    writeFileSync(join(work, 't.yaml'), `transforms:\n  - uses: ${uses}\n`);
    const consume = await run(['consume', 'in', '-B', '-d', '--transforms-file', 't.yaml']);
    t.is(consume.code, 1, consume.stderr);
    t.regex(consume.stderr, why);
    t.notRegex(consume.stderr, /this is a bug/);
    const register = await run(['smart-module', 'create', 'm', '--wasm-file', uses]);
    t.is(register.code, 1, register.stderr);
    t.regex(register.stderr, why);
  }
  // The transforms file itself, and a connector config, as a FIFO.
  const yamlFifo = join(work, 'config.fifo');
  mkfifo(yamlFifo);
  const viaFifo = await run(['consume', 'in', '-B', '-d', '--transforms-file', yamlFifo]);
  t.is(viaFifo.code, 1);
  t.regex(viaFifo.stderr, /config\.fifo: cannot read the transforms file: it is a FIFO/);
  const connector = await run(['connector', 'run', '--config', yamlFifo]);
  t.is(connector.code, 1);
  t.regex(connector.stderr, /cannot read the connector config \(it is a FIFO/);
  // `eddy test` reads its --file input whole.
  const testInput = await run(['test', '--wasm-file', wasmPath('map-uppercase'), '--file', '/dev/zero']);
  t.is(testInput.code, 1);
  t.regex(testInput.stderr, /--file \/dev\/zero: it is a character device/);
});

test('a YAML alias bomb in a transforms file or a connector config is refused at once', async (t) => {
  t.timeout(240_000);
  const { work, start, ok } = setup(t, 'eddy-hostile-');
  await ok(['topic', 'create', 'in']);
  await ok(['produce', 'in'], 'a\n');
  copyFileSync(wasmPath('map-uppercase'), join(work, 'upper.wasm'));
  const transforms = `lol:\n${aliasBomb('  ')}\ntransforms:\n  - uses: upper.wasm\n    with:\n      p: *i\n`;
  writeFileSync(join(work, 'bomb.yaml'), transforms);
  t.true(transforms.length < 600, `${transforms.length} bytes`);
  const consume = start(['consume', 'in', '-B', '-d', '--transforms-file', 'bomb.yaml']);
  const guard = memoryGuard(t, consume.child, GiB);
  t.is(await consume.exited, 1, consume.err());
  t.false(guard.exceeded());
  t.regex(consume.err(), /bomb\.yaml: aliases \(\*name\) expand the document by more than 10000 nodes/);

  writeFileSync(
    join(work, 'bomb.yml'),
    `meta: { name: x, type: file-sink, topic: in }\nfile: { path: out.txt }\nlol:\n${aliasBomb('  ')}\n`,
  );
  const connector = start(['connector', 'run', '--config', 'bomb.yml']);
  const cguard = memoryGuard(t, connector.child, GiB);
  t.is(await connector.exited, 1, connector.err());
  t.false(cguard.exceeded());
  t.regex(connector.err(), /bomb\.yml: aliases \(\*name\) expand the document/);
  t.notRegex(connector.err(), /this is a bug/);
});

/** A daemon (`eddy run` with one derived stream in → out) serving the data directory. */
async function daemon(
  t: Parameters<typeof setup>[0],
  extraArgs: string[] = [],
  spawnWith: { command?: string; args?: string[] } = {},
) {
  const s = setup(t, 'eddy-daemon-');
  await s.ok(['topic', 'create', 'in']);
  await s.ok(['topic', 'create', 'out']);
  await s.ok(['smart-module', 'create', 'upper', '--wasm-file', wasmPath('map-uppercase')]);
  await s.ok(['derive', 'create', 'copy', '--source', 'in', '--target', 'out', '--transform', '{"uses":"upper"}']);
  const run = spawnWith.command
    ? s.start([...spawnWith.args!, ...extraArgs], '', s.work, { command: spawnWith.command })
    : s.start(['run', ...extraArgs]);
  await until(
    () => (existsSync(join(s.data, 'eddy.sock')) && run.err().includes('Ctrl-C stops')) || run.child.exitCode !== null,
    120_000,
  );
  if (run.child.exitCode !== null) throw new Error(`eddy run exited ${run.child.exitCode}: ${run.err()}`);
  const count = async (topic: string) =>
    (await s.ok(['consume', topic, '-B', '-d'])).split('\n').filter(Boolean).length;
  return { ...s, run, count, sock: join(s.data, 'eddy.sock') };
}

test.serial(
  'through the daemon, a module path that is /dev/zero or a FIFO is refused by the producer; the daemon stays small, serves on, and stops on SIGINT',
  async (t) => {
    t.timeout(240_000);
    const { work, run, eddy, ok, count } = await daemon(t);
    const guard = memoryGuard(t, run.child, GiB);
    const fifo = join(work, 'm.fifo');
    mkfifo(fifo);
    for (const [path, why] of [
      ['/dev/zero', /\/dev\/zero: cannot read the file: it is a character device/],
      [fifo, /m\.fifo: cannot read the file: it is a FIFO/],
    ] as const) {
      const r = await eddy(['produce', 'in', '--smartmodule', path], 'x\n');
      t.is(r.code, 1, r.stderr);
      t.regex(r.stderr, why);
    }
    await ok(['produce', 'in'], 'still\nserving\n');
    t.is(await count('in'), 2);
    run.child.kill('SIGINT');
    t.is(await run.exited, 0, run.err());
    t.false(guard.exceeded(), `daemon peak RSS ${guard.peak()}`);
    t.log(`daemon peak RSS ${(guard.peak() / 2 ** 20).toFixed(0)} MiB`);
  },
);

test.serial(
  'the daemon socket is 0600 whatever the umask; another user can neither produce nor probe files through it',
  async (t) => {
    t.timeout(240_000);
    const { data, work, run, sock, eddy, count } = await daemon(t, [], {
      command: '/bin/sh',
      args: ['-c', `umask 000; exec "${process.execPath}" "${bin}" run`],
    });
    t.is(statSync(sock).mode & 0o777, 0o600);
    if (!isRoot) {
      t.log('not root: cannot run a client as another user; checked the mode only');
    } else {
      chmodSync(work, 0o755);
      chmodSync(data, 0o755); // the directory does not protect the socket here: its own mode must
      const secret = join(work, 'secret');
      writeFileSync(secret, 'root only');
      chmodSync(secret, 0o600);
      const nobody = { uid: 65534, gid: 65534 };
      const sane = await eddy(['--version'], '', work, nobody);
      t.is(sane.code, 0, `user nobody can run eddy: ${sane.stderr}`);
      const inject = await eddy(['produce', 'in', '--smartmodule', secret], 'injected\n', work, nobody);
      t.not(inject.code, 0);
      t.notRegex(inject.stderr, /WebAssembly/, 'no answer about a file nobody cannot read');
      const plain = await eddy(['produce', 'in'], 'injected\n', work, nobody);
      t.is(plain.code, 1);
      t.regex(
        plain.stderr,
        /cannot write the data directory .* \(EACCES\), and no eddy run serving it accepts this user/,
      );
      t.is(await count('in'), 0, 'nothing was stored for the other user');
    }
    run.child.kill('SIGTERM');
    t.is(await run.exited, 0, run.err());
  },
);

test.serial(
  "with --socket-group the socket is 0660 for that group; a member produces, and a module path is read with the member's rights, not the daemon's",
  async (t) => {
    if (!isRoot) {
      t.pass('needs root to run a client as another user');
      return;
    }
    t.timeout(240_000);
    const { data, work, run, sock, eddy, count } = await daemon(t, ['--socket-group', 'nogroup']);
    const st = statSync(sock);
    t.is(st.mode & 0o777, 0o660);
    t.is(st.gid, 65534);
    chmodSync(work, 0o755);
    chmodSync(data, 0o755);
    const secret = join(work, 'secret.wasm');
    writeFileSync(secret, 'root only, not wasm');
    chmodSync(secret, 0o600);
    const member = { uid: 65534, gid: 65534 };
    const ok = await eddy(['produce', 'in', '--smartmodule', 'upper'], 'from the group\n', work, member);
    t.is(ok.code, 0, ok.stderr);
    const probe = await eddy(['produce', 'in', '--smartmodule', secret], 'x\n', work, member);
    t.is(probe.code, 1);
    t.regex(probe.stderr, /secret\.wasm: cannot read the file: cannot read it \(EACCES\)/);
    t.notRegex(probe.stderr, /WebAssembly/);
    t.is(await count('in'), 1);
    run.child.kill('SIGINT');
    t.is(await run.exited, 0, run.err());
  },
);

/** A raw client of the daemon socket; `replies` collects decoded reply frames. */
function rawClient(path: string): Promise<{ socket: Socket; replies: unknown[]; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const replies: unknown[] = [];
    let buf = Buffer.alloc(0);
    let closed = false;
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        replies.push(unpack(buf.subarray(4, 4 + buf.readUInt32BE(0))));
        buf = buf.subarray(4 + buf.readUInt32BE(0));
      }
    });
    socket.on('close', () => {
      closed = true;
    });
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, replies, closed: () => closed }));
    socket.once('error', reject);
  });
}

function frameOf(value: unknown): Buffer {
  const body = pack(value);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

test.serial(
  'lying and slow socket clients are cut off or held back; a real producer beside them succeeds, and the daemon stops on SIGINT',
  async (t) => {
    t.timeout(240_000);
    const { run, sock, ok, count } = await daemon(t);
    const guard = memoryGuard(t, run.child, GiB);

    // Announces a 0xFFFFFFF0-byte frame: refused and disconnected at once.
    const huge = await rawClient(sock);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(0xfffffff0);
    huge.socket.write(Buffer.concat([head, Buffer.alloc(64 * 1024, 1)]));
    await until(() => huge.closed(), 120_000);
    t.like(huge.replies[0], { error: { code: 'EDDY_PROTOCOL' } });
    t.regex(
      (huge.replies[0] as { error: { message: string } }).error.message,
      /a frame of 4294967280 bytes was announced; the limit is 67108864/,
    );

    // Not msgpack: refused, and the daemon lives on.
    const garbage = await rawClient(sock);
    garbage.socket.write(Buffer.from([0, 0, 0, 1, 0xc1]));
    await until(() => garbage.closed(), 120_000);
    t.like(garbage.replies[0], { error: { code: 'EDDY_PROTOCOL' } });

    // Half a frame, then silence; and a session that floods requests without reading a reply.
    const slow = await rawClient(sock);
    slow.socket.write(Buffer.from([0, 0, 4, 0, 1, 2, 3]));
    const flood = await rawClient(sock);
    flood.socket.pause();
    flood.socket.write(frameOf({ op: 'open', topic: 'in', steps: [], options: {} }));
    const flush = frameOf({ op: 'flush' });
    for (let i = 0; i < 200_000; i++) flood.socket.write(flush);

    const lines = `${Array.from({ length: 2000 }, (_, i) => `r${i}`).join('\n')}\n`;
    await ok(['produce', 'in'], lines);
    t.is(await count('in'), 2000);
    t.false(slow.closed());

    run.child.kill('SIGINT');
    t.is(await run.exited, 0, run.err());
    t.false(guard.exceeded(), `daemon peak RSS ${guard.peak()}`);
    for (const c of [slow, flood]) c.socket.destroy();
  },
);

test.serial(
  'killing the daemon during two produces: they write the directory themselves and send again only what the daemon had not stored',
  async (t) => {
    t.timeout(400_000);
    for (let trial = 0; trial < 2; trial++) {
      const { run, start, ok, count } = await daemon(t);
      const producers = ['a', 'b'].map((name) => ({ name, p: start(['produce', 'in'], null), n: 0 }));
      const feedUntil = (x: (typeof producers)[number], stop: () => boolean) =>
        (async () => {
          while (!stop() && x.p.child.exitCode === null) {
            const chunk = `${Array.from({ length: 500 }, () => `${x.name} ${x.n++}`).join('\n')}\n`;
            if (!x.p.child.stdin!.write(chunk)) await new Promise((r) => x.p.child.stdin!.once('drain', r));
          }
        })();
      let killed = false;
      const feeding = producers.map((x) => feedUntil(x, () => killed));
      // Kill once records are being stored through the daemon, while more are on their way.
      for (const end = Date.now() + 120_000; (await count('in')) === 0; ) {
        if (Date.now() > end) t.fail('nothing was stored through the daemon');
      }
      run.child.kill('SIGKILL');
      killed = true;
      await run.exited;
      await Promise.all(feeding);
      // The produces go on by themselves: more lines, then the end of their input.
      await Promise.all(
        producers.map((x) =>
          feedUntil(
            x,
            (
              (more) => () =>
                x.n >= more
            )(x.n + 2000),
          ),
        ),
      );
      for (const x of producers) x.p.child.stdin!.end();
      for (const x of producers) {
        t.is(await x.p.exited, 0, x.p.err());
        t.notRegex(x.p.err(), /this is a bug|EPIPE|EDDY_WRITER_GONE/);
      }
      const values = (await ok(['consume', 'in', '-B', '-d'])).split('\n').filter(Boolean);
      for (const x of producers)
        t.deepEqual(
          values.filter((v) => v.startsWith(`${x.name} `)),
          Array.from({ length: x.n }, (_, i) => `${x.name} ${i}`),
          `producer ${x.name}: every line once, in order`,
        );
      t.is(values.length, producers[0]!.n + producers[1]!.n);
      t.log(`trial ${trial}: sent ${producers.map((x) => x.n).join(' + ')} lines, all stored once`);
    }
  },
);

test('a produce started while another process holds the data directory without serving it waits, then writes by itself', async (t) => {
  t.timeout(240_000);
  const { data, start, ok } = setup(t, 'eddy-wait-');
  await ok(['topic', 'create', 'in']);
  // A live process holds the lock, as a writer that is still starting does.
  const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' });
  t.teardown(() => holder.kill('SIGKILL'));
  const stat = read(`/proc/${holder.pid}/stat`);
  const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  const lock = join(data, 'eddy.lock');
  writeFileSync(
    lock,
    JSON.stringify({ pid: holder.pid, hostname: hostname(), startTime, command: 'eddy run', openedAt: Date.now() }),
  );
  const producer = start(['produce', 'in'], 'waited\n');
  await until(
    () => producer.err().includes('waiting up to 30s for process') || producer.child.exitCode !== null,
    120_000,
  );
  t.is(producer.child.exitCode, null, producer.err());
  unlinkSync(lock);
  t.is(await producer.exited, 0, producer.err());
  t.is(await ok(['consume', 'in', '-B', '-d']), 'waited\n');
});

test.serial('a produce started together with eddy run goes through it (not "in use")', async (t) => {
  t.timeout(240_000);
  const { start, ok } = setup(t, 'eddy-race-');
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
  for (let i = 0; i < 3; i++) {
    const run = start(['run']);
    const producer = start(['produce', 'in'], `r${i}\n`);
    t.is(await producer.exited, 0, producer.err());
    await until(() => run.err().includes('Ctrl-C stops') || run.child.exitCode !== null, 120_000);
    run.child.kill('SIGINT');
    await run.exited;
  }
  t.is(await ok(['consume', 'in', '-B', '-d']), 'r0\nr1\nr2\n');
});

test.serial(
  'past 256 sessions a produce is told the daemon is full, and the daemon still stops on SIGINT',
  async (t) => {
    t.timeout(240_000);
    const { run, sock, eddy, ok } = await daemon(t);
    const idle = await Promise.all(Array.from({ length: 256 }, () => rawClient(sock)));
    const refused = await eddy(['produce', 'in'], 'x\n');
    t.is(refused.code, 1);
    t.regex(
      refused.stderr,
      /closed the connection before the produce began \(it is stopping, or serves 256 producers already\); nothing was sent/,
    );
    idle.pop()!.socket.destroy(); // the daemon sees the close soon: retry until a session is free
    for (const end = Date.now() + 120_000; ; ) {
      const r = await eddy(['produce', 'in'], 'y\n');
      if (r.code === 0) break;
      if (Date.now() > end) t.fail(r.stderr);
    }
    t.is(await ok(['consume', 'in', '-B', '-d']), 'y\n');
    run.child.kill('SIGINT');
    t.is(await run.exited, 0, run.err());
    for (const c of idle) c.socket.destroy();
  },
);
