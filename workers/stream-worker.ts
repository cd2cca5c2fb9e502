import { move } from 'piscina';
import {
  errorToWire, packFrame, unpackFrame, type BatchTask, type OpenTask, type RequestFrame, type ResultFrame,
  type WireResult, type WorkerTask,
} from '../src/coordinator/frames.js';
import { Chain, type ErrorPolicy } from '../src/smartmodule/chain.js';
import { SmartModule } from '../src/smartmodule/module.js';

/**
 * The Piscina worker: a table of the streams that live on this thread, each a chain of module
 * instances with its accumulators and look-back state. Compiled modules arrive from the
 * coordinator (compiled once per process); here they are only instantiated.
 */

interface LiveStream {
  chain: Chain;
  policy: ErrorPolicy;
  number: number;
}

const streams = new Map<string, LiveStream>();
const modules = new Map<string, SmartModule>();
let watch: Float64Array | null = null;

async function open(task: OpenTask): Promise<{ ok: true }> {
  watch ??= new Float64Array(task.watch);
  streams.get(task.stream)?.chain.dispose();
  streams.delete(task.stream);
  const loaded: SmartModule[] = [];
  for (const m of task.modules) {
    let mod = modules.get(m.descriptor.sha256 + m.descriptor.name);
    if (!mod) {
      mod = await SmartModule.fromCompiled(m.descriptor, m.compiled);
      modules.set(m.descriptor.sha256 + m.descriptor.name, mod);
    }
    loaded.push(mod);
  }
  const chain = Chain.create(
    task.steps.map((s) => ({ module: loaded[s.module]!, params: s.params, lookback: s.lookback })),
    // Outputs are borrowed (views into guest memory) and copied once, into the result frame.
    { accumulators: task.accumulators, freeOutput: task.freeOutput, borrowOutput: true },
  );
  try {
    chain.lookBack((_step, i) => task.history[i] ?? new Uint8Array(4));
  } catch (err) {
    chain.dispose();
    throw err;
  }
  streams.set(task.stream, { chain, policy: task.policy, number: task.streamNumber });
  return { ok: true };
}

function batch(task: BatchTask): Uint8Array {
  const live = streams.get(task.stream);
  const req = unpackFrame<RequestFrame>(task.frame);
  const out: ResultFrame = { seq: req.seq, results: [], metrics: [], fatal: null };
  if (!live) {
    out.fatal = { type: 'other', code: 'EDDY_STREAM_NOT_OPEN', message: `stream ${task.stream} is not open on this worker` };
    return packFrame(out);
  }
  // The watchdog slot tells the coordinator how long this call may take and whose it is.
  if (watch) { watch[1] = live.number; watch[0] = Date.now() + task.deadlineMs; }
  try {
    for (let i = 0; i < req.batches.length; i++) {
      const r = live.chain.processWith(req.batches[i]!, live.policy);
      // The next batch's call frees this borrowed output: own it unless it is the frame's last.
      const last = i === req.batches.length - 1 || r.error !== null;
      const result: WireResult = {
        raw: last ? r.raw : r.raw.slice(), count: r.count, accumulators: live.chain.accumulators,
        error: r.error ? errorToWire(r.error) : null, skipped: r.skipped.map(errorToWire),
      };
      out.results.push(result);
      if (r.error) break; // the stream stops at a runtime error (policy stop)
    }
  } catch (err) {
    // Trap, status or memory limit: the instance is gone; the coordinator decides what next.
    out.fatal = errorToWire(err);
    live.chain.dispose();
    streams.delete(task.stream);
  } finally {
    if (watch) watch[0] = 0;
  }
  out.metrics = live.chain.metrics;
  const frame = packFrame(out);
  live.chain.release();
  return frame;
}

export default async function handle(task: WorkerTask): Promise<unknown> {
  switch (task.op) {
    case 'open':
      try {
        return await open(task);
      } catch (err) {
        return { ok: false, error: errorToWire(err) };
      }
    case 'batch': {
      const frame = batch(task);
      return move(frame);
    }
    case 'close':
      streams.get(task.stream)?.chain.dispose();
      streams.delete(task.stream);
      return { ok: true };
  }
}
