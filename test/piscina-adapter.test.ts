import test from 'ava';
import { PinnedWorker } from '../src/coordinator/piscina-adapter.js';
import type { WorkerTask } from '../src/wire/messages.js';

/**
 * What the pool relies on in Piscina, checked against the installed version (see
 * piscina-adapter.ts): an upgrade that changes any of it fails here, not in a deadline kill.
 */

const probe = new URL('./fixtures/piscina-probe-worker.js', import.meta.url).href;
const ask = (w: PinnedWorker, op: 'where' | 'spin') => w.run<{ threadId: number }>({ op } as unknown as WorkerTask);
const next = (w: PinnedWorker, event: 'ready' | 'lost') => new Promise<number>((r) => w.once(event, r));

test('a pinned worker reports ready once with its id, and runs every task on its one thread', async (t) => {
  const w = new PinnedWorker(probe);
  const ready: number[] = [];
  w.on('ready', (id) => ready.push(id));
  const id = await next(w, 'ready');
  t.is(w.id, id);
  const threads = new Set(
    (await Promise.all(Array.from({ length: 20 }, () => ask(w, 'where')))).map((r) => r.threadId),
  );
  t.is(threads.size, 1, 'all tasks ran on one thread');
  t.deepEqual(ready, [id]);
  t.false(w.starting);
  await w.close();
});

test('terminate: the running task fails, lost comes with the old id before ready with a new one, the replacement takes tasks', async (t) => {
  const w = new PinnedWorker(probe);
  const first = await next(w, 'ready');
  const firstThread = (await ask(w, 'where')).threadId;
  const events: string[] = [];
  w.on('lost', (id) => {
    events.push(`lost ${id}`);
    // The replacement is under way as soon as the loss is known (what the pool's close waits for).
    queueMicrotask(() => events.push(`starting ${w.starting}`));
  });
  w.on('ready', (id) => events.push(`ready ${id === first ? 'same id' : 'new id'}`));
  const spinning = ask(w, 'spin');
  const replaced = next(w, 'ready');
  await w.terminate(first);
  await t.throwsAsync(spinning);
  const second = await replaced;
  t.deepEqual(events, [`lost ${first}`, 'starting true', 'ready new id']);
  t.is(w.id, second);
  t.not((await ask(w, 'where')).threadId, firstThread, 'tasks go to the replacement thread');
  // A stale id terminates nothing: the replacement keeps running.
  await w.terminate(first);
  t.is(w.id, second);
  t.truthy(await ask(w, 'where'));
  await w.close();
});

test('destroy ends a worker stuck in a task and starts no replacement', async (t) => {
  const w = new PinnedWorker(probe);
  await next(w, 'ready');
  const spinning = ask(w, 'spin');
  // Destroy, not close: the task never ends, so a graceful close would wait for it.
  await w.destroy();
  await t.throwsAsync(spinning);
  t.false(w.starting, 'no replacement after destroy');
  t.is(w.id, null);
});
