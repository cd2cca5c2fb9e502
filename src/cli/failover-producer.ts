import { randomUUID } from 'node:crypto';
import type { Eddy } from '../eddy.js';
import { EddyError } from '../errors.js';
import { encodeRecordList } from '../storage/batch-format.js';
import { STORAGE_DEFAULTS } from '../storage/defaults.js';
import { DataDirLockedError } from '../storage/errors.js';
import { type Producer, type ProducerRecord, siphashRoundRobin } from '../storage/producer.js';
import {
  ConnectionLost,
  DataDirDeniedError,
  openRequest,
  type ProduceSession,
  RemoteProducer,
  WRITER_WAIT_MS,
  WriterGoneError,
  WriterRefusedError,
} from './remote-producer.js';
import { MAX_FRAME_BYTES, type OpenRequest, type SendEncodedRequest, type WireRecord } from './writer-protocol.js';

/**
 * `eddy produce` next to other writers of one data directory. Produces write side by side (shared
 * writers: LMDB's write lock orders their transactions). While a long-running writer holds the
 * directory to itself (`eddy run`, `eddy connector run`), a produce hands it encoded batches over
 * the data directory's socket instead. When that writer stops, it answers what it read, says so
 * and lets go, and the produce goes on by itself (or with the next such writer), sending what
 * went unanswered; when the writer is killed, the same happens, and the numbered batches (see
 * producer-sequences.ts) make sure that what the dead writer stored is not stored twice.
 */

/** Where records go, for the produce command. */
export interface ProduceTarget {
  send(record: ProducerRecord): Promise<unknown>;
  sendAll(records: readonly ProducerRecord[]): Promise<unknown>;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Records stored: by this process's producer, or acknowledged by the writer it handed them to. */
  readonly stored: number;
}

/** This process writing the data directory: its Eddy and producer. */
export interface LocalTarget {
  eddy: Eddy;
  producer: Producer;
}

export interface FailoverOptions {
  dataDir: string;
  session: ProduceSession;
  /** Opens the directory for writing and makes the producer; throws DataDirLockedError while another process holds it. */
  openLocal: () => Promise<LocalTarget>;
  /** Called once when a produce waits for a holder that neither serves nor lets go. */
  onWait?: (err: DataDirLockedError, waitMs: number) => void;
  waitMs?: number;
}

/** Room a frame needs beside the records' bytes (msgpack headers). */
const FRAME_SLACK = 64 * 1024;
/** A holder that is only starting to serve is not worth a message until this long. */
const QUIET_WAIT_MS = 1000;

type DataRequest = SendEncodedRequest | { op: 'send'; records: WireRecord[] };

/** A request handed to another process's writer, not answered yet. */
interface Sent {
  req: DataRequest;
  records: number;
  resolve(): void;
  reject(err: unknown): void;
}

export class FailoverProducer implements ProduceTarget {
  /** Names this producer's numbered batches (random: no two processes share it). */
  private readonly id = randomUUID();
  private nextSeq = 0;
  private local: LocalTarget | null = null;
  private remote: RemoteProducer | null = null;
  private request: OpenRequest | null = null;
  /** Requests handed to `remote`, in order: its replies come in that order. */
  private unacked: Sent[] = [];
  private acknowledged = 0;
  private switching: Promise<void> | null = null;
  /** The last of the calls made during a failover, issued one after another once it is over. */
  private parked: Promise<void> | null = null;
  private failure: unknown = null;
  private readonly partitioner = siphashRoundRobin();

  private constructor(private readonly options: FailoverOptions) {}

  /** Opens the directory to write it, or joins the process that holds it. */
  static async open(options: FailoverOptions): Promise<FailoverProducer> {
    const p = new FailoverProducer(options);
    await p.connect();
    return p;
  }

  /** This process's Eddy while it writes the directory itself. */
  get eddy(): Eddy | null {
    return this.local?.eddy ?? null;
  }

  get stored(): number {
    return this.acknowledged + (this.local?.producer.stored ?? 0);
  }

  send(record: ProducerRecord): Promise<unknown> {
    return this.sendAll([record]);
  }

  sendAll(records: readonly ProducerRecord[]): Promise<unknown> {
    if (!this.parked && !this.switching) return this.sendNow(records);
    // Calls made during a failover are issued after it, behind what it sent again, one after
    // another in call order (a call made just as it ends must not overtake them).
    let stored: Promise<unknown> = Promise.resolve();
    const issued = (this.parked ?? Promise.resolve()).then(async () => {
      while (this.switching) await this.switching.catch(() => {});
      stored = this.sendNow(records);
    });
    this.parked = issued;
    void issued.then(() => {
      if (this.parked === issued) this.parked = null;
    });
    return issued.then(() => stored);
  }

  /** Issues `records` now (synchronously: calls are stored in the order they are issued). */
  private sendNow(records: readonly ProducerRecord[]): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.local) return this.local.producer.sendAll(records);
    try {
      return Promise.all(this.requestsOf(records).map((req) => this.hand(req.req, req.records)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async flush(): Promise<void> {
    for (;;) {
      if (this.switching) await this.switching;
      if (this.failure) throw this.failure;
      if (this.local) return this.local.producer.flush();
      const remote = this.remote!;
      try {
        await remote.request({ op: 'flush' });
        return;
      } catch (err) {
        if (!(err instanceof ConnectionLost)) throw err;
        this.lost(remote, err);
      }
    }
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      if (this.switching) await this.switching.catch(() => {});
      const local = this.local;
      this.local = null;
      this.remote?.end();
      if (local) {
        await local.producer.close().catch(() => {});
        await local.eddy.close();
      }
    }
  }

  /** Records as requests for `remote`: encoded batches per partition when it takes them, else records. */
  private requestsOf(records: readonly ProducerRecord[]): { req: DataRequest; records: number }[] {
    const partitions = this.remote!.opened.encodedPartitions;
    if (partitions === undefined) {
      const wire: WireRecord[] = records.map((r) => ({
        value: typeof r.value === 'string' ? Buffer.from(r.value) : r.value,
        ...(r.key != null ? { key: typeof r.key === 'string' ? Buffer.from(r.key) : r.key } : {}),
        ...(r.partition !== undefined ? { partition: r.partition } : {}),
      }));
      return [...framesOf(wire)].map((batch) => ({ req: { op: 'send', records: batch }, records: batch.length }));
    }
    // Placed as a local producer places them (same partitioner), then encoded here: the writer only checks and stores bytes.
    const byPartition = new Map<number, ProducerRecord[]>();
    for (const r of records) {
      const p = r.partition ?? this.partitioner(r.key == null ? null : toBytes(r.key), partitions);
      let list = byPartition.get(p);
      if (!list) byPartition.set(p, (list = []));
      list.push(r);
    }
    const now = Date.now();
    const batchBytes = this.options.session.options.batchSize ?? STORAGE_DEFAULTS.producerBatchBytes;
    const out: { req: DataRequest; records: number }[] = [];
    for (const [partition, list] of byPartition) {
      for (const b of batchesOf(list, batchBytes)) {
        const raw = encodeRecordList(b.map(keyValue), now, now);
        out.push({
          req: { op: 'sendEncoded', raw, baseTimestamp: now, partition, seq: this.nextSeq++ },
          records: b.length,
        });
      }
    }
    return out;
  }

  /** Hands one request to the writer; resolves when it is stored (by that writer or, after a failover, the next). */
  private hand(req: DataRequest, records: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const sent: Sent = { req, records, resolve, reject };
      this.issue(sent);
    });
  }

  private issue(sent: Sent): void {
    const remote = this.remote!;
    this.unacked.push(sent);
    remote.request(sent.req).then(
      () => {
        this.unacked.splice(this.unacked.indexOf(sent), 1);
        this.acknowledged += sent.records;
        sent.resolve();
      },
      (err) => {
        if (err instanceof ConnectionLost) {
          this.lost(remote, err);
          return;
        }
        this.unacked.splice(this.unacked.indexOf(sent), 1);
        sent.reject(err);
      },
    );
  }

  /** The writer behind `remote` stopped or died: the first report starts the failover. */
  private lost(remote: RemoteProducer, err: ConnectionLost): void {
    if (remote !== this.remote || this.switching) return;
    this.switching = this.failover(err).finally(() => {
      this.switching = null;
    });
    this.switching.catch(() => {});
  }

  private async failover(err: ConnectionLost): Promise<void> {
    const pending = this.unacked.splice(0);
    this.remote = null;
    // A dead writer may have stored any of its unanswered requests: only numbered batches can be
    // sent again safely (records through a transform or a deduplicating topic cannot).
    const uncertain = !err.handedOver && pending.some((p) => p.req.op !== 'sendEncoded' || p.req.seq === undefined);
    try {
      if (uncertain) throw new WriterGoneError(this.acknowledged, err);
      await this.connect();
    } catch (e) {
      this.failure = e;
      for (const p of pending) p.reject(e);
      return;
    }
    const local = this.local;
    const stored = new Map(
      local ? local.eddy.storage.producerSequences.stored(this.id) : (this.remote!.opened.storedSeqs ?? []),
    );
    for (const p of pending) {
      const req = p.req;
      if (req.op === 'sendEncoded' && req.seq !== undefined && req.seq <= (stored.get(req.partition ?? 0) ?? -1)) {
        // The writer that died had stored it.
        this.acknowledged += p.records;
        p.resolve();
      } else if (local) {
        const done =
          req.op === 'sendEncoded'
            ? local.producer.sendEncoded(req)
            : local.producer.sendAll(req.records.map((r) => ({ ...r, key: r.key ?? null })));
        done.then(() => p.resolve(), p.reject);
      } else {
        this.issue(p);
      }
    }
  }

  /**
   * Opens the directory, or joins the process that holds and serves it. A holder that does not
   * serve (`eddy topic create`, a starting writer) is waited for, up to `waitMs`; then its
   * DataDirLockedError stands.
   */
  private async connect(): Promise<void> {
    const { dataDir, waitMs = WRITER_WAIT_MS, onWait } = this.options;
    const started = Date.now();
    let told = false;
    let refused = 0;
    for (;;) {
      try {
        this.local = await this.options.openLocal();
        return;
      } catch (err) {
        // A user who may not write the directory (a member of the socket's group) may still produce through the writer.
        const denied = ['EACCES', 'EPERM'].includes((err as NodeJS.ErrnoException).code ?? '');
        if (!(err instanceof DataDirLockedError) && !denied) throw err;
        this.request ??= await openRequest(this.options.session, this.id);
        let remote: RemoteProducer | null = null;
        try {
          remote = await RemoteProducer.open(dataDir, this.request);
        } catch (e) {
          // Refused twice while the holder still holds the directory: it is full. (Once: it may have died just then.)
          if (!(e instanceof WriterRefusedError) || ++refused > 1) throw e;
        }
        if (remote) {
          this.remote = remote;
          return;
        }
        if (denied) throw new DataDirDeniedError(dataDir, err);
        const waited = Date.now() - started;
        if (waited >= waitMs) throw err;
        if (!told && waited >= QUIET_WAIT_MS) {
          told = true;
          onWait?.(err as DataDirLockedError, waitMs);
        }
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 50));
      }
    }
  }
}

const toBytes = (v: Uint8Array | string): Uint8Array => (typeof v === 'string' ? Buffer.from(v) : v);

const keyValue = (r: ProducerRecord): ProducerRecord =>
  r.key != null ? { key: r.key, value: r.value } : { value: r.value };

function tooLarge(bytes: number): EddyError {
  return new EddyError(
    'EDDY_RECORD_TOO_LARGE',
    `a record of ${bytes} bytes is larger than a produce through eddy run can carry (${MAX_FRAME_BYTES - FRAME_SLACK} bytes); stop eddy run to produce it directly`,
  );
}

/** Records in frames below the limit; a record that alone is over it cannot go through the socket. */
function* framesOf(records: readonly WireRecord[]): Generator<WireRecord[]> {
  let batch: WireRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = r.value.length + (r.key?.length ?? 0) + 32;
    if (size > MAX_FRAME_BYTES - FRAME_SLACK) throw tooLarge(size - 32);
    if (bytes + size > MAX_FRAME_BYTES - FRAME_SLACK) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(r);
    bytes += size;
  }
  if (batch.length) yield batch;
}

/** Records cut into batches of about `bytes` (keys + values), as the producer batches them; a record alone may be larger. */
function batchesOf(records: readonly ProducerRecord[], bytes: number): ProducerRecord[][] {
  const out: ProducerRecord[][] = [];
  let start = 0;
  let size = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const n = r.value.length + (r.key?.length ?? 0) + 8;
    if (n + 24 > MAX_FRAME_BYTES - FRAME_SLACK) throw tooLarge(n - 8);
    if (i > start && size + n > bytes) {
      out.push(records.slice(start, i));
      start = i;
      size = 0;
    }
    size += n;
  }
  if (start < records.length) out.push(records.slice(start));
  return out;
}
