// Eddy embedded in an HTTP service: POST lines to store them as records, GET to stream them back
// through SmartModules running on every core. Run it with:
//   EDDY_DATA_DIR=/tmp/eddy-http PORT=8080 node examples/embedding/http-service.mjs
//   curl -X POST --data-binary $'apple\nkiwi\nbanana' localhost:8080/topics/fruit
//   curl 'localhost:8080/topics/fruit?uses=path/to/filter.wasm'          (one JSON record per line)
//   curl 'localhost:8080/topics/fruit?uses=keep-a&uses=upper&follow=1'   (registered names; keeps streaming)

import { once } from 'node:events';
import { createServer } from 'node:http';
import { open } from 'eddy';

const eddy = await open(process.env.EDDY_DATA_DIR ?? './eddy-data');
eddy.on('error', ({ stream, error }) => console.error(`[${stream}] ${error.message}`));

async function ensureTopic(name) {
  if (!eddy.listTopics().some((t) => t.name === name)) await eddy.createTopic(name, { partitions: 2 });
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks);
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const [, kind, topic] = url.pathname.split('/');
  if (kind !== 'topics' || !topic) return res.writeHead(404).end('try /topics/<name>\n');
  try {
    if (req.method === 'POST') {
      await ensureTopic(topic);
      const lines = (await readBody(req))
        .toString()
        .split('\n')
        .filter((l) => l.length > 0);
      // Resolves once the records are committed to disk.
      const acks = await eddy.produce(
        topic,
        lines.map((l) => ({ value: Buffer.from(l) })),
      );
      return res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(acks)}\n`);
    }
    if (req.method === 'GET') {
      const transforms = url.searchParams.getAll('uses').map((uses) => ({ uses }));
      await eddy.resolveTransforms(transforms); // unknown or invalid modules: a 400 before streaming starts
      const aborted = new AbortController();
      res.on('close', () => aborted.abort()); // the client went away: stop reading
      const records = eddy.consume(topic, {
        transforms,
        follow: url.searchParams.has('follow'),
        signal: aborted.signal,
      });
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      for await (const r of records) {
        const line = `${JSON.stringify({ partition: r.partition, offset: r.offset, value: Buffer.from(r.value).toString() })}\n`;
        if (!res.write(line)) await once(res, 'drain'); // a slow client slows the stream down (backpressure)
      }
      return res.end();
    }
    res.writeHead(405).end();
  } catch (err) {
    if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(`${err.message}\n`);
  }
});

server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () =>
  console.log(`listening on ${server.address().port}`),
);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () =>
    server.close(async () => {
      await eddy.close();
      process.exit(0);
    }),
  );
}
