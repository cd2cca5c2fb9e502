import { connect, type Socket } from 'node:net';

/**
 * Scrape clients for bench/observe, run in their own process (so their own work does not count as
 * the coordinator's): `n` clients that all GET `url` at once every `periodMs`, like `n` Prometheus
 * servers scraping one target. Prints `ready` once all are connected, then, on SIGTERM, how many
 * answers came back and the CPU ms this process used since (on a small machine the clients
 * compete with the streams for the same cores).
 *
 * Each client is one kept-alive `node:net` connection that writes a fixed request and reads the
 * answer by its Content-Length (or its chunks, should the server ever send them), without
 * node:http's client: that one costs more than a millisecond of CPU a request, which on two cores
 * made the bench measure its own clients more than the endpoint.
 */
const [url, n, periodMs] = [new URL(process.argv[2]!), Number(process.argv[3]), Number(process.argv[4])];
const request = Buffer.from(
  `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: keep-alive\r\n\r\n`,
  'latin1',
);
const EMPTY = Buffer.alloc(0);
const CRLF2 = Buffer.from('\r\n\r\n');
let answers = 0;

class Client {
  private socket: Socket | null = null;
  /** Bytes of a head (or of chunk framing) not complete yet. */
  private pending: Buffer = EMPTY;
  /** Body bytes still to come of a sized answer, or of the current chunk (its CRLF included). */
  private left = 0;
  private chunked = false;

  open(): Promise<void> {
    return new Promise((resolve) => {
      const s = connect(Number(url.port), url.hostname, () => resolve());
      s.setNoDelay(true);
      s.on('data', (d: Buffer) => this.read(d));
      s.on('error', () => {});
      s.on('close', () => {
        // Closed by the server (or refused): the next request opens another.
        if (this.socket === s) this.socket = null;
        resolve();
      });
      this.socket = s;
      this.pending = EMPTY;
      this.left = 0;
      this.chunked = false;
    });
  }

  /** Requests are pipelined: one still answering does not hold the next back. */
  get(): void {
    if (this.socket) this.socket.write(request);
    else void this.open().then(() => this.socket?.write(request));
  }

  private read(data: Buffer): void {
    let d = data;
    while (d.length > 0) {
      if (this.left > 0) {
        const k = Math.min(this.left, d.length);
        this.left -= k;
        d = d.subarray(k);
        if (this.left === 0 && !this.chunked) answers++;
        continue;
      }
      d = this.pending.length > 0 ? Buffer.concat([this.pending, d]) : d;
      this.pending = EMPTY;
      if (this.chunked) {
        // A chunk's size line; size 0 is the last chunk, followed by an empty line (no trailers sent).
        const eol = d.indexOf('\r\n');
        const size = eol < 0 ? -1 : Number.parseInt(d.toString('latin1', 0, eol), 16);
        if (size < 0 || (size === 0 && d.length < eol + 4)) {
          this.pending = d;
          return;
        }
        if (size === 0) {
          this.chunked = false;
          answers++;
          d = d.subarray(eol + 4);
        } else {
          this.left = size + 2;
          d = d.subarray(eol + 2);
        }
        continue;
      }
      const end = d.indexOf(CRLF2);
      if (end < 0) {
        this.pending = d;
        return;
      }
      const head = d.toString('latin1', 0, end).toLowerCase();
      d = d.subarray(end + 4);
      const length = /\r\ncontent-length: *(\d+)/.exec(head);
      if (length) {
        this.left = Number(length[1]);
        if (this.left === 0) answers++;
      } else if (/\r\ntransfer-encoding: *chunked/.test(head)) this.chunked = true;
      else answers++;
    }
  }
}

const clients = Array.from({ length: n }, () => new Client());
await Promise.all(clients.map((c) => c.open()));
const timer = setInterval(() => {
  for (const c of clients) c.get();
}, periodMs);
// Counted from here: the process' start and the connections are not the scrapes' cost.
const cpu0 = process.cpuUsage();
process.on('SIGTERM', () => {
  clearInterval(timer);
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(`${answers}\n${(cpu.user + cpu.system) / 1000}\n`);
  process.exit(0);
});
process.stdout.write('ready\n');
