import { BroadcastChannel } from 'node:worker_threads';
import { move } from 'piscina';
import { LineEncoder } from '../src/protocol/line-records.js';
import { Chain, type ErrorPolicy } from '../src/smartmodule/chain.js';
import { SmartModule } from '../src/smartmodule/module.js';
import type { ModuleLogger } from '../src/smartmodule/types.js';
import { FrameBufferPool } from '../src/wire/frame-buffers.js';
import type {
  BatchTask,
  LinesTask,
  ModuleLogLine,
  OpenReply,
  OpenTask,
  ReadTask,
  ValueLinesMode,
  WorkerTask,
} from '../src/wire/messages.js';
import { unpackFrame } from '../src/wire/request-frame.js';
import { type ResultFrame, ResultFrameWriter } from '../src/wire/result-frame.js';
import { WatchSlot } from '../src/wire/watch-slot.js';
import { errorToWire } from '../src/wire/wire-error.js';

/**
 * The Piscina worker: a table of the sessions that live on this thread, each a chain of module
 * instances with its accumulators and look-back state. Compiled modules arrive from the
 * coordinator (compiled once per process); here they are only instantiated.
 */

interface LiveSession {
  chain: Chain;
  policy: ErrorPolicy;
  number: number;
  /** How long one submission may run (ms), from the open message. */
  deadlineMs: number;
  /** Capacity for this session's next result frame (learned from the last one). */
  frameBytes: number;
  /** Module output not yet handed back (OpenTask.captureLog), else null. */
  log: ModuleLogLine[] | null;
}

const sessions = new Map<string, LiveSession>();
const modules = new Map<string, SmartModule>();
/** Result-frame buffers the coordinator handed back, written again instead of new ones. */
const frameBuffers = new FrameBufferPool(8);
/** This worker's watchdog slot, from the first open message (the same in every one). */
let watch: WatchSlot | null = null;
/** Module output goes to the pool's logger through its channel (one per pool, opened once here). */
const logChannels = new Map<string, ModuleLogger>();

function moduleLogger(name: string): ModuleLogger {
  let log = logChannels.get(name);
  if (!log) {
    const channel = new BroadcastChannel(name);
    channel.unref();
    log = (stream, line, module) => channel.postMessage({ stream, line, module } satisfies ModuleLogLine);
    logChannels.set(name, log);
  }
  return log;
}

/** Opens a session; init and look_back errors come back as data, with the output captured before them. */
async function open(task: OpenTask): Promise<OpenReply> {
  const log: ModuleLogLine[] | null = task.captureLog ? [] : null;
  try {
    await openWith(task, log);
  } catch (err) {
    return { ok: false, error: errorToWire(err), ...(log?.length ? { log } : {}) };
  }
  return log ? { ok: true, log: log.splice(0) } : { ok: true };
}

async function openWith(task: OpenTask, log: ModuleLogLine[] | null): Promise<void> {
  watch ??= new WatchSlot(task.watch);
  sessions.get(task.session)?.chain.dispose();
  sessions.delete(task.session);
  const loaded: SmartModule[] = [];
  for (const m of task.modules) {
    // The limits are part of the key: the same bytes loaded with another cap or recycle size differ.
    const d = m.descriptor;
    const key = `${d.sha256}:${d.name}:${d.memoryLimit}:${d.recycleAfter}`;
    let mod = modules.get(key);
    if (!mod) {
      mod = await SmartModule.fromCompiled(d, m.compiled);
      modules.set(key, mod);
    }
    loaded.push(mod);
  }
  const chain = Chain.create(
    task.steps.map((s) => ({ module: loaded[s.module]!, params: s.params, lookback: s.lookback })),
    // Outputs are borrowed (views into guest memory) and copied once, into the result frame.
    {
      accumulators: task.accumulators,
      freeOutput: task.freeOutput,
      borrowOutput: true,
      ...(log
        ? { logger: (stream, line, module) => log.push({ stream, line, module }) }
        : task.logChannel
          ? { logger: moduleLogger(task.logChannel) }
          : {}),
    },
  );
  if (watch) chain.reportStepTo(watch.stepCell);
  try {
    chain.lookBack((_step, i) => task.history[i] ?? new Uint8Array(4));
  } catch (err) {
    chain.dispose();
    throw err;
  }
  sessions.set(task.session, {
    chain,
    policy: task.policy,
    number: task.sessionNumber,
    deadlineMs: task.deadlineMs,
    frameBytes: 1 << 20,
    log,
  });
}

/**
 * Runs batches through a session's chain and packs one result frame. Each output is a borrowed view
 * into module memory, copied once, into the frame, before the next batch reuses that memory.
 */
function run(
  sessionId: string,
  seq: number,
  batches: Iterable<{ baseOffset: number; baseTimestamp: number; lastOffset: number; raw: Uint8Array }>,
  valueLines: ValueLinesMode | null = null,
): Uint8Array {
  const live = sessions.get(sessionId);
  const out: ResultFrame = { seq, results: [], metrics: [], fatal: null };
  const writer = new ResultFrameWriter(live?.frameBytes ?? 4096, frameBuffers);
  if (!live) {
    out.fatal = {
      type: 'other',
      code: 'EDDY_SESSION_NOT_OPEN',
      message: `chain session ${sessionId} is not open on this worker`,
    };
    return writer.finish(out);
  }
  // The watchdog slot tells the coordinator how long this call may take and whose it is.
  watch?.begin(live.number, live.deadlineMs);
  try {
    for (const b of batches) {
      const r = live.chain.processWith(b, live.policy);
      watch?.betweenSteps(); // reading the next batch is no module's time
      const lines = valueLines ? writer.addLines(r.raw, valueLines === 'text') : null;
      out.results.push({
        baseOffset: b.baseOffset,
        baseTimestamp: b.baseTimestamp,
        lastOffset: b.lastOffset,
        raw: lines ?? writer.add(r.raw),
        ...(lines ? { lines: true } : {}),
        count: r.count,
        accumulators: live.chain.accumulators,
        error: r.error ? errorToWire(r.error) : null,
        skipped: r.skipped.map(errorToWire),
        ...(live.log?.length ? { log: live.log.splice(0) } : {}),
      });
      live.chain.release();
      if (r.error) break; // the session stops at a runtime error (policy stop)
    }
  } catch (err) {
    // Trap, status or memory limit: the instance is gone; the coordinator decides what next.
    out.fatal = errorToWire(err);
    live.chain.dispose();
    sessions.delete(sessionId);
    if (live.log?.length) out.fatalLog = live.log.splice(0);
  } finally {
    watch?.end();
  }
  out.metrics = live.chain.metrics;
  const frame = writer.finish(out);
  // Size the next frame of this session like this one, so it rarely has to grow.
  live.frameBytes = Math.max(64 * 1024, frame.length + (frame.length >> 2));
  return frame;
}

function batchTask(task: BatchTask): Uint8Array {
  const req = unpackFrame(task.frame);
  return run(
    task.session,
    req.seq,
    req.batches.map((b) => ({ ...b, lastOffset: -1 })),
  );
}

/** Splits and encodes lines here (see line-records.ts), then runs them as one batch. */
const lineEncoder = new LineEncoder();
function linesTask(task: LinesTask): Uint8Array {
  const { raw } = lineEncoder.encode(task.text);
  const batch = { baseOffset: task.baseOffset, baseTimestamp: task.baseTimestamp, lastOffset: -1, raw };
  return run(task.session, task.seq, [batch], task.valueLines ? 'raw' : null);
}

/**
 * The storage side (lmdb-js, codecs, checksums) is loaded with the first read task: a worker that
 * only gets batches or lines (`eddy transform`, produce-side transforms) never pays for it
 * (~50 ms of CPU per worker).
 */
type StorageModules = typeof import('../src/storage/partition-reader.js') &
  typeof import('../src/storage/batch-format.js');
let storage: StorageModules | null = null;
let loadingStorage: Promise<StorageModules> | null = null;
async function storageModules(): Promise<StorageModules> {
  // Tasks that wait here resume in arrival order (one promise), so reads still run in order.
  loadingStorage ??= Promise.all([
    import('../src/storage/partition-reader.js'),
    import('../src/storage/batch-format.js'),
  ]).then(([reader, format]) => {
    storage = { ...reader, ...format };
    return storage;
  });
  return loadingStorage;
}

/** lmdb-js calls run inside the termination handshake (see watch-slot.ts). */
function native<T>(f: () => T): T {
  return watch ? watch.duringNativeCall(f) : f();
}

/** Reads the planned batches from LMDB here, cut to [from, end), and runs them. */
function readTask(task: ReadTask, { PartitionReader, sliceBatch }: StorageModules): Uint8Array {
  const reader = native(() => PartitionReader.open(task.source));
  native(() => reader.renew());
  const last = task.end - 1;
  function* batches() {
    for (const key of task.keys) {
      const b = native(() => reader.batch(key));
      if (!b) continue; // removed by retention meanwhile
      const cut = b.baseOffset < task.from || b.lastOffset > last ? sliceBatch(b, task.from, last) : b;
      if (cut.count > 0) yield cut;
    }
  }
  return run(task.session, task.seq, batches(), task.valueLines ?? null);
}

export default async function handle(task: WorkerTask): Promise<unknown> {
  if ((task.op === 'batch' || task.op === 'lines' || task.op === 'read') && task.recycle)
    frameBuffers.give(task.recycle);
  switch (task.op) {
    case 'open':
      return open(task);
    case 'batch':
      return move(batchTask(task));
    case 'lines':
      return move(linesTask(task));
    case 'read':
      return move(readTask(task, storage ?? (await storageModules())));
    case 'ping':
      return { ok: true };
    case 'close':
      sessions.get(task.session)?.chain.dispose();
      sessions.delete(task.session);
      return { ok: true };
  }
}
