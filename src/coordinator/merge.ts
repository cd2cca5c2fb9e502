/**
 * Reads several async iterators at once and yields their items as they arrive; each iterator's
 * items stay in order. At most one item per iterator is pulled ahead, so a slow reader holds every
 * source back. Ends when all have ended; the first failure stops the others and is thrown.
 * `stop` is called when the merge ends early, before waiting for the other sources: it must make
 * them end (abort their signal).
 */
export async function* mergeAsync<T>(
  sources: readonly AsyncIterable<T>[],
  stop: () => void = () => {},
): AsyncGenerator<T, void, undefined> {
  if (sources.length === 1) {
    yield* sources[0]!;
    return;
  }
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  type Pending = Promise<{ i: number; r: IteratorResult<T> }>;
  const pending = new Map<number, Pending>();
  // Deleted and added again: the source just read goes to the back, so ready sources take turns.
  const pull = (i: number) => {
    pending.delete(i);
    pending.set(
      i,
      iterators[i]!.next().then((r) => ({ i, r })),
    );
  };
  iterators.forEach((_, i) => {
    pull(i);
  });
  try {
    while (pending.size > 0) {
      const { i, r } = await Promise.race(pending.values());
      if (r.done) {
        pending.delete(i);
        continue;
      }
      pull(i);
      yield r.value;
    }
  } finally {
    if (pending.size > 0) stop();
    // Stop the sources that are still running (their pending next() settles first).
    await Promise.allSettled(
      [...pending.keys()].map(async (i) => {
        await pending.get(i)!.catch(() => undefined);
        await iterators[i]!.return?.(undefined);
      }),
    );
  }
}
