// ava's settings. Test files run in separate processes, `concurrency` files at a time (ava's
// default is the number of cores, 2 in CI). Most of the slow files spend their time waiting (on
// Kafka brokers, group rebalances and child processes) rather than computing, so three at once
// keep two cores busier; and the slowest files start first, so that none of them starts near the
// end and runs on alone after the rest have finished. The order only schedules: every file still
// runs in its own process with its own data, brokers and directories.
const slowFirst = [
  'cli-hostile',
  'kafka-brokers',
  'kafka-derive',
  'kafka-state',
  'kafka-kill',
  'bench-cli',
  'connectors-kafka',
  'sdk-cli',
  'kafka-netns',
  'fluvio-json-serde',
  'concurrent-produce',
  'transform-step',
];

const rank = (file) => {
  const i = slowFirst.findIndex((name) => file.endsWith(`/${name}.test.js`));
  return i < 0 ? slowFirst.length : i;
};

export default {
  files: ['dist/test/**/*.test.js'],
  timeout: '2m',
  workerThreads: false,
  concurrency: 3,
  sortTestFiles: (a, b) => rank(a) - rank(b) || a.localeCompare(b, [], { numeric: true }),
};
