import test from 'ava';
import { tempStorage } from './helpers/storage.js';

/**
 * LMDB shows a commit to readers as soon as its writer thread has committed, before the commit's
 * promise has run on the main thread and moved the partition's end. A reader in the writing
 * process must get only what the end covers: handed a batch past it, it would ask next for an
 * offset past the end and be told it is out of range (seen in a test that consumed a topic while
 * a connector in the same process wrote it).
 */
test('a read in the writing process stops at the acknowledged end, even when LMDB already shows a later commit', async (t) => {
  const { store } = await tempStorage(t);
  await store.createTopic('t');
  const producer = store.producer('t', { lingerMs: 0 });
  await producer.sendAll([{ value: Buffer.from('a') }, { value: Buffer.from('b') }]);
  const log = store.partition('t', 0);
  t.is(log.nextOffset, 2);

  // lmdb-js calls its 'aftercommit' listeners when the commit is visible, before the promises of
  // that commit (and so the partition's end) move on: read there, as a consumer could.
  let inWindow: { nextOffset: number; read: [number, number][]; fromEnd: unknown } | null = null;
  const onCommit = () => {
    if (inWindow) return;
    store.env.resetReadTxn();
    if ([...log.db.getKeys({ start: 2, limit: 1 })].length === 0) return;
    let fromEnd: unknown;
    try {
      fromEnd = log.readBatches(2).length;
    } catch (err) {
      fromEnd = (err as Error).message;
    }
    inWindow = {
      nextOffset: log.nextOffset,
      read: log.readBatches(0).map((b) => [b.baseOffset, b.lastOffset]),
      fromEnd,
    };
  };
  (store.env as unknown as { on(e: string, f: () => void): void }).on('aftercommit', onCommit);
  const sent = producer.sendAll([{ value: Buffer.from('c') }]);
  await sent;
  t.truthy(inWindow, 'the commit was seen before it was acknowledged');
  const w = inWindow as unknown as { nextOffset: number; read: [number, number][]; fromEnd: unknown };
  t.is(w.nextOffset, 2, 'visible in LMDB, not acknowledged yet');
  t.deepEqual(w.read, [[0, 1]], 'only the acknowledged batch is read');
  t.is(w.fromEnd, 0, 'the end is where reading stops');
  t.deepEqual(
    log.readBatches(2).map((b) => b.baseOffset),
    [2],
  );
});
