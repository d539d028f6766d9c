import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Pool } from 'undici';

// The cheapest hops Node can make, as the benchmark's reference for what a chain of processes
// costs on this machine: `serve <port> <file>` answers every request with the file's bytes as
// JSON; `proxy <port> <target-url> [connections]` passes every GET to the target over a keep-alive
// pool of that many connections (128 unless told) and streams the answer back. No routing, no
// headers added, no counting, no logs.
const [mode, port, arg, connections = '128'] = process.argv.slice(2);
if ((mode !== 'serve' && mode !== 'proxy') || !port || !arg) {
  process.stderr.write('usage: bare-hop serve <port> <file> | bare-hop proxy <port> <target-url> [connections]\n');
  process.exit(2);
}

let handler: Parameters<typeof createServer>[1];
if (mode === 'serve') {
  const body = readFileSync(arg);
  handler = (_req, res) => {
    res.writeHead(200, ['content-type', 'application/json; charset=utf-8', 'content-length', String(body.length)]);
    res.end(body);
  };
} else {
  const pool = new Pool(arg, { connections: Number(connections), pipelining: 1 });
  handler = (req, res) => {
    pool.stream(
      { path: req.url ?? '/', method: 'GET' },
      ({ statusCode, headers }) => {
        // Both are always there: the bare server sets them.
        res.writeHead(statusCode, [
          'content-type',
          String(headers['content-type']),
          'content-length',
          String(headers['content-length']),
        ]);
        return res;
      },
      (err) => {
        if (err && !res.headersSent) {
          res.writeHead(502);
          res.end();
        }
      },
    );
  };
}
const server = createServer({ keepAliveTimeout: 60_000 }, handler);
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));
