import { Agent, request } from 'node:http';

/**
 * Scrape clients for bench/observe, run in their own process (so their own work does not count as
 * the coordinator's): `n` clients that all GET `url` at once every `periodMs`, like `n` Prometheus
 * servers scraping one target. Prints how many answers came back and the CPU ms this process
 * used (on a small machine the clients compete with the streams for the same cores) when it gets
 * SIGTERM.
 */
const [url, n, periodMs] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4])];
const agent = new Agent({ keepAlive: true, maxSockets: n });
let answers = 0;
const one = () =>
  request(url, { agent }, (res) => {
    res.resume();
    res.on('end', () => {
      answers++;
    });
  })
    .on('error', () => {})
    .end();
const timer = setInterval(() => {
  for (let i = 0; i < n; i++) one();
}, periodMs);
process.on('SIGTERM', () => {
  clearInterval(timer);
  const cpu = process.cpuUsage();
  process.stdout.write(`${answers}\n${(cpu.user + cpu.system) / 1000}\n`);
  process.exit(0);
});
process.stdout.write('ready\n');
