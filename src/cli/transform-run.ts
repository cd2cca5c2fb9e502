import { createWriteStream, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ChainSession, type SessionBatchResult, type SessionStep, type Ticket } from '../coordinator/chain-session.js';
import { COORDINATOR_DEFAULTS } from '../coordinator/defaults.js';
import { fanOutInFlight, fansOut } from '../coordinator/fan-out.js';
import type { WorkerPool } from '../coordinator/pool.js';
import { anchorSteps, ModuleResolver, UnknownModuleError } from '../coordinator/resolve.js';
import type { EddyError } from '../errors.js';
import { indexRecords } from '../protocol/record.js';
import { valueLines } from '../protocol/value-lines.js';
import type { LoadOptions } from '../smartmodule/module.js';
import type { TransformStep } from '../smartmodule/transforms.js';
import { STORAGE_DEFAULTS } from '../storage/defaults.js';
import type { Storage } from '../storage/storage.js';
import { readChain } from './chain-options.js';
import { dataDir, handleClosedOutput, interruptSignal, isTTY, moduleLimits, OutputClosed, writeOut } from './common.js';
import { cliMessage } from './errors.js';
import type { CliIO } from './format.js';
import { Progress } from './progress.js';
import type { TransformCliOptions, TransformPlan } from './transform.js';
import {
  type InputBatch,
  inputChunks,
  inputReader,
  jsonBatches,
  type LinePiece,
  linePieces,
  pieceRecords,
  rawBatches,
} from './transform-input.js';

/**
 * What `eddy transform` runs (see transform.ts for the command and its plan): the chain on the
 * pool, the input in pieces or batches, the outputs in input order. Loaded only when the command
 * runs, so other commands do not load the pool.
 */

/**
 * The chain's steps, compiled. `.wasm` paths need nothing else; a registered name is looked up in
 * the data directory, opened read-only and only when a step needs it.
 */
async function resolveSteps(
  plan: TransformPlan,
  cmd: Command,
  io: CliIO,
  load: Pick<LoadOptions, 'memoryLimit' | 'recycleAfter'>,
): Promise<SessionStep[]> {
  const { steps, baseDir, source } = await readChain(plan.chain, io);
  let anchored: TransformStep[];
  try {
    anchored = anchorSteps(steps, { registry: null, baseDir }, source);
  } catch (err) {
    if (!(err instanceof UnknownModuleError)) throw err;
    const dir = dataDir(cmd, io);
    if (!existsSync(join(dir, 'data.mdb'))) throw err;
    let storage: Storage | null = null;
    try {
      const { openStorage } = await import('../open-storage.js');
      storage = await openStorage(dir, { readOnly: true, retentionCheckMs: 0 });
      anchored = anchorSteps(steps, { registry: storage.modules, baseDir }, source);
      return await new ModuleResolver(storage.modules, baseDir, load).steps(anchored, source);
    } finally {
      await storage?.close();
    }
  }
  return new ModuleResolver(null, baseDir, load).steps(anchored, source);
}

/** One output batch as bytes to write: values one per line straight from the frame, or `[key] value` / JSON records. */
function outputBytes(raw: Uint8Array, plan: TransformPlan): Uint8Array | string {
  if (plan.format !== 'json' && !plan.keyValue) return valueLines(raw);
  const idx = indexRecords(raw);
  let text = '';
  for (let i = 0; i < idx.count; i++) {
    const key = idx.key(i);
    const value = Buffer.from(idx.value(i)).toString('utf8');
    if (plan.format === 'json')
      text += `${JSON.stringify({ key: key === null ? null : Buffer.from(key).toString('utf8'), value })}\n`;
    else text += `[${key === null ? 'null' : Buffer.from(key).toString('utf8')}] ${value}\n`;
  }
  return text;
}

/** A submission as the output side sees it: its records by index (for errors and the skipped file). */
interface Submitted {
  baseOffset: number;
  count: number;
  bytes: number;
  /** The result's `raw` is the values as lines, to write as they are. */
  valueLines: boolean;
  record(index: number): { line: number; key: Uint8Array | null; value: Uint8Array };
  /** Done with the input (its result written): its memory may be reused. */
  release(): void;
}

function batchInput(input: InputBatch): Submitted {
  let idx: ReturnType<typeof indexRecords> | undefined;
  return {
    baseOffset: input.baseOffset,
    count: input.count,
    bytes: input.bytes,
    valueLines: false,
    record(i) {
      idx ??= indexRecords(input.raw);
      return { line: input.lineNos[i]!, key: idx.key(i), value: idx.value(i) };
    },
    release() {},
  };
}

function pieceInput(piece: LinePiece, valueLines: boolean): Submitted {
  let records: ReturnType<typeof pieceRecords> | undefined;
  return {
    baseOffset: piece.baseOffset,
    count: piece.count,
    bytes: piece.bytes,
    valueLines,
    record(i) {
      records ??= pieceRecords(piece);
      const { line, value } = records(i);
      return { line, key: null, value };
    },
    release: () => piece.release(),
  };
}

/** The records of `input` a skipping result stepped over: a rejected record by its offset, a dropped batch whole. */
function skippedOf(b: SessionBatchResult, input: Submitted): { index: number; error: EddyError }[] {
  const out: { index: number; error: EddyError }[] = [];
  for (const error of b.skipped) {
    const at = (error as { offset?: unknown }).offset;
    if (error.code === 'EDDY_SM_RUNTIME' && typeof at === 'number') out.push({ index: at - input.baseOffset, error });
    else for (let i = 0; i < input.count; i++) out.push({ index: i, error });
  }
  return out.sort((a, b) => a.index - b.index);
}

/**
 * Runs a planned transform on `pool`, started by the caller (see the command's action), which it
 * closes. A chain that does not fan out (aggregate, look-back) runs on one of its workers.
 */
export async function runTransform(
  plan: TransformPlan,
  o: TransformCliOptions,
  cmd: Command,
  io: CliIO,
  pool: WorkerPool,
): Promise<number> {
  let steps: SessionStep[];
  let deadlineMs: number | undefined;
  try {
    const { deadlineMs: deadline, ...load } = moduleLimits(o);
    deadlineMs = deadline;
    steps = await resolveSteps(plan, cmd, io, load);
  } catch (err) {
    await pool.close();
    throw err;
  }
  const stateless = fansOut(steps, plan.fanOut);
  // Enough submissions in flight to keep every worker busy while the main thread reads and writes.
  const maxInFlight = stateless ? fanOutInFlight(pool.size) : COORDINATOR_DEFAULTS.maxInFlight;
  const session = new ChainSession(pool, {
    id: 'transform',
    steps,
    policy: plan.policy,
    deadlineMs: deadlineMs ?? COORDINATOR_DEFAULTS.deadlineMs,
    maxInFlight,
    stateless,
    ...(plan.aggregateInitial ? { initialAccumulator: plan.aggregateInitial } : {}),
  });
  const fileOut = plan.output === null ? null : createWriteStream(plan.output);
  const out: CliIO = fileOut ? { ...io, stdout: fileOut } : io;
  let skippedOut: ReturnType<typeof createWriteStream> | null = null;
  const releaseOutput = handleClosedOutput();
  const interrupt = interruptSignal(io);
  const total =
    plan.files.length > 0 && !plan.files.includes('-') ? plan.files.reduce((s, f) => s + statSync(f).size, 0) : null;
  const progress = new Progress(io.stderr, { total, tty: true, force: false });
  const showProgress = isTTY(io.stderr) && (fileOut !== null || !isTTY(io.stdout));
  let records = 0;
  let written = 0;
  let skipped = 0;
  try {
    await session.start();
    const window: { ticket: Ticket; input: Submitted }[] = [];
    /** Writes the oldest result; false when the chain stopped (policy stop). */
    const drainOne = async (): Promise<boolean> => {
      const { ticket, input } = window.shift()!;
      const r = await ticket.result;
      // Values as lines are written straight from the result's memory: it goes back to the
      // workers only once every write of it is done (a file stream writes later, from a thread).
      let writing = 0;
      let drained = false;
      const release = () => {
        drained = true;
        if (writing === 0) r.release();
      };
      const wrote = () => {
        if (--writing === 0 && drained) r.release();
      };
      for (const b of r.batches) {
        const bytes = input.valueLines ? b.raw : outputBytes(b.raw, plan);
        written += b.count;
        if (bytes.length > 0 && input.valueLines) {
          writing++;
          await writeOut(out, bytes, wrote);
        } else if (bytes.length > 0) await writeOut(out, bytes);
        for (const s of plan.policy === 'skip' ? skippedOf(b, input) : []) {
          skippedOut ??= createWriteStream(plan.skippedFile);
          skipped++;
          const rec = input.record(s.index);
          const line = {
            line: rec.line,
            error: { code: s.error.code, message: s.error.message.split('\n')[0] },
            key: rec.key === null ? null : Buffer.from(rec.key).toString('utf8'),
            value: Buffer.from(rec.value).toString('utf8'),
          };
          if (!skippedOut.write(`${JSON.stringify(line)}\n`))
            await new Promise<void>((res) => skippedOut!.once('drain', () => res()));
        }
        if (b.error) {
          release();
          const at = (b.error as { offset?: unknown }).offset;
          const where =
            typeof at === 'number'
              ? `\n    Input: ${plan.format === 'raw' ? 'file' : 'line'} ${input.record(at - input.baseOffset).line}`
              : '';
          progress.clear();
          io.stderr.write(`Error: ${cliMessage(b.error)}${where}\n`);
          io.stderr.write('hint: --policy skip steps over records a module rejects (they go to a side file)\n');
          return false;
        }
      }
      release();
      input.release();
      if (showProgress) progress.add(input.bytes, input.count);
      return true;
    };
    const maxLine = STORAGE_DEFAULTS.maxRecordBytes;
    const chunks = () => inputChunks(plan.files, io.stdin);
    if (plan.format === 'lines') {
      // Lines are split into records on the workers; values come back as lines, ready to write.
      const valueLines = !plan.keyValue;
      for await (const piece of linePieces(inputReader(plan.files, io.stdin), maxLine)) {
        if (interrupt.signal.aborted) break;
        records += piece.count;
        if (piece.count === 0) continue;
        const ticket = await session.submitLines({
          text: piece.text,
          baseOffset: piece.baseOffset,
          baseTimestamp: Date.now(),
          valueLines,
        });
        window.push({ ticket, input: pieceInput(piece, valueLines) });
        if (window.length >= maxInFlight && !(await drainOne())) return 1;
      }
    } else {
      const batches = plan.format === 'raw' ? rawBatches(plan.files, io.stdin) : jsonBatches(chunks(), maxLine);
      for await (const input of batches) {
        if (interrupt.signal.aborted) break;
        records += input.count;
        if (input.count === 0) continue;
        window.push({
          ticket: await session.submit({ baseOffset: input.baseOffset, baseTimestamp: Date.now(), raw: input.raw }),
          input: batchInput(input),
        });
        if (window.length >= maxInFlight && !(await drainOne())) return 1;
      }
    }
    while (window.length > 0) if (!(await drainOne())) return 1;
    if (showProgress) progress.finish();
    if (skipped > 0) {
      io.stderr.write(
        `skipped ${skipped} of ${records} record${records === 1 ? '' : 's'} a module rejected; they are in ${plan.skippedFile}\n`,
      );
    }
    if (interrupt.signal.aborted) {
      io.stderr.write(`interrupted after ${records} records (${written} written)\n`);
      return 130;
    }
    return 0;
  } catch (err) {
    if (err instanceof OutputClosed) return 0;
    throw err;
  } finally {
    interrupt.dispose();
    releaseOutput();
    await session.close();
    await pool.close();
    const sk = skippedOut as ReturnType<typeof createWriteStream> | null;
    if (sk) await new Promise((res) => sk.end(res));
    if (fileOut) await new Promise((res) => fileOut.end(res));
  }
}
