import test from 'ava';
import { FluvioEngineServer, runFluvioChain } from '../src/conformance/fluvio-engine.js';
import { encodeRecords } from '../src/protocol/index.js';
import { comparable, harnessReady, loadCorpus, stepFor } from './helpers/conformance.js';

/**
 * The harness's serve mode answers each request as a single run of its own process would, also
 * after a request whose chain failed part way (its remaining batches are skipped, not read as the
 * next request) or failed to start: the property test relies on it for all of its cases.
 */

const run = harnessReady ? test : test.skip;
const text = (s: string) => new Uint8Array(Buffer.from(s));
const corpus = harnessReady ? loadCorpus() : [];
const byName = (name: string) => {
  const m = corpus.find((c) => c.name === name);
  if (!m) throw new Error(`no corpus module ${name}`);
  return m;
};
const batchesOf = (...values: string[][]) =>
  values.map((vs, i) => ({
    baseOffset: i * 10,
    baseTimestamp: 1_700_000_000_000,
    raw: encodeRecords(vs.map((v) => ({ value: text(v) }))),
  }));

run('served requests get the replies single runs get, in order, across failed chains', async (t) => {
  const requests = [
    { steps: [stepFor(byName('trap'))], batches: batchesOf(['a'], ['b', 'boom', 'c'], ['d']) },
    { steps: [stepFor(byName('filter'))], batches: batchesOf(['apple', 'kiwi'], [], ['banana']) },
    // filter-param needs its parameter: its init fails, and the request's batches are skipped.
    { steps: [stepFor(byName('filter-param'), { params: {} })], batches: batchesOf(['a'], ['b']) },
    { steps: [stepFor(byName('map-double'))], batches: batchesOf(['1', '2'], ['x']) },
  ];
  const server = new FluvioEngineServer();
  t.teardown(() => server.close());
  // All sent before any reply is read: the frames must come back in order.
  const served = await Promise.all(requests.map((r) => server.run(r.steps, r.batches)));
  for (const [i, r] of requests.entries()) {
    t.deepEqual(comparable(served[i]!), comparable(runFluvioChain(r.steps, r.batches)), `request ${i}`);
  }
  t.deepEqual(
    served[0]!.batches.map((b) => b.kind),
    ['ok', 'failed'],
  );
  t.not(served[2]!.setupFailure, null);
});
